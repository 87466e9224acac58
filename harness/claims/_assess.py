"""The assertion stage: a claim's interval, controls, p-value and verdict from its row-level evidence only.

Live runs and replays both end here, on the same rows in the same order, so a replay reproduces the live
interval bit for bit. Pure numpy/scipy: no model, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.claims._evidence import Evidence, paired_column
from harness.claims._result import ControlOut, IntervalOut, apply_rule
from harness.claims._spec import ClaimSpec
from harness.errors import DataError

ASSESS_VERSION = "assess-v1"
"""Code version of the assertion stage (in the ledger: a change makes records stale)."""


@dataclass
class Assessment:
    """What the assertion stage decides."""

    verdict: str
    reason: str
    rule: str
    interval: IntervalOut
    controls: list[ControlOut] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    p_value: float | None = None
    p_method: str = ""
    per_item: tuple[list[str], np.ndarray] | None = None
    """Intervention claims: item ids and the per-item values the estimand averages (not recorded; a judge
    panel compares judges on them)."""


def _out(iv: Any) -> IntervalOut:
    return IntervalOut(**iv.model_dump())


def _iv_kwargs(spec: ClaimSpec) -> dict[str, Any]:
    return {"level": spec.interval.level, "n_resamples": spec.interval.n_resamples, "seed": spec.interval.seed,
            "method": spec.interval.method}


def treatment_condition() -> str:
    return "treatment"


def control_condition(kind: str, seed: int) -> str:
    return f"control/{kind}/{seed}"


def externality_condition(index: int, benchmark: str, metric: str) -> str:
    return f"externality/{index}/{benchmark}/{metric}"


def assess(spec: ClaimSpec, ev: Evidence) -> Assessment:
    """Decide a claim from its rows.

    Raises:
        DataError: the rows lack a condition or alpha the claim needs, or arms are unpaired.
    """
    _check_single_judge(ev)
    if spec.estimand.kind == "judged_accuracy_difference":
        return _assess_judged(spec, ev)
    if spec.estimand.kind == "judge_validation":
        return _assess_judge_validation(spec, ev)
    if spec.intervention is not None:
        if spec.judges:
            from harness.claims._assess_panel import assess_panel

            return assess_panel(spec, ev)
        return _assess_intervention(spec, ev)
    return _assess_detection(spec, ev)


def _assess_judge_validation(spec: ClaimSpec, ev: Evidence) -> Assessment:
    """Every judge's accuracy, precision and recall against the gold labels (question-clustered bootstrap);
    the pass rule reads ``estimand.metric`` of ``estimand.judge``. Refuses rows a judge was calibrated on."""
    from harness.claims._detection import resolve_path
    from harness.claims._splits import check_disjoint, manifest, read_manifest
    from harness.stats import judge_validation

    est = spec.estimand
    assert est.kind == "judge_validation"
    ids, _, gold = ev.column(f"judge/{est.judge}")
    if gold is None:
        raise DataError(f"{ev.source}: judge rows need the gold call as 'label' (1 = correct). Fix: add it.")
    clusters = ev.clusters(f"judge/{est.judge}")
    if est.calibration is not None:  # also on replay: a row file made elsewhere may hold calibration rows
        check_disjoint(read_manifest(resolve_path(est.calibration, "estimand.calibration")), manifest("validation rows", ids))
    panel = []
    headline = None
    for k in range(len(spec.judges)):
        pred, labels = paired_column(ev, f"judge/{k}", ids)
        if labels is None or not np.array_equal(labels, gold):
            raise DataError(f"{ev.source}: judge/{k} rows carry other gold labels than judge/{est.judge}. Fix: "
                            "label every judge's rows from the same gold file.")
        tag = next(r.get("judge", "") for r in ev.rows if r["condition"] == f"judge/{k}")
        ivs = judge_validation((pred > 0.5).astype(int).tolist(), gold.tolist(), positive=1, clusters=clusters,
                               level=spec.interval.level, n_resamples=spec.interval.n_resamples,
                               seed=spec.interval.seed)
        outs = {m: _out(iv) for m, iv in ivs.items()}
        panel.append({"judge": tag, **{m: o.model_dump() for m, o in outs.items()},
                      "called_correct": int((pred > 0.5).sum())})
        if k == est.judge:
            headline = outs[est.metric]
    assert headline is not None
    details = {"n_rows": len(ids), "n_questions": len(set(clusters)) if clusters else len(ids),
               "gold_correct": int(gold.sum()), "metric": est.metric, "panel": panel}
    verdict, reason, rule = apply_rule(spec.pass_rule, headline.low, headline.high)
    return Assessment(verdict, reason, rule, headline, [], details)


def _assess_judged(spec: ClaimSpec, ev: Evidence) -> Assessment:
    """Accuracy under one judge minus another on the same answers, with every judge's accuracy, pairwise
    Cohen's kappa and exact McNemar beside it."""
    from harness.errors import StatsError
    from harness.stats import kappa_ci, mcnemar_exact, mean_ci, paired_difference_ci

    est = spec.estimand
    assert est.kind == "judged_accuracy_difference"
    ids, _, _ = ev.column(f"judge/{est.baseline}")
    cols = [paired_column(ev, f"judge/{k}", ids)[0] for k in range(len(spec.judges))]
    tags = [next(r.get("judge", "") for r in ev.rows if r["condition"] == f"judge/{k}") for k in range(len(cols))]
    kw = _iv_kwargs(spec)
    iv = paired_difference_ci(cols[est.judge] * est.scale, cols[est.baseline] * est.scale, **kw)
    panel = [{"judge": tags[k], "accuracy": _out(mean_ci(c * est.scale, **kw)).model_dump()}
             for k, c in enumerate(cols)]
    pairs = []
    for a in range(len(cols)):
        for b in range(a + 1, len(cols)):
            try:
                kappa: Any = _out(kappa_ci(cols[a].tolist(), cols[b].tolist(), seed=spec.interval.seed,
                                           n_resamples=spec.interval.n_resamples, level=spec.interval.level)
                                  ).model_dump()
            except StatsError as exc:
                kappa = f"undefined ({exc})"
            pairs.append({"judges": [a, b], "kappa": kappa, "n_disagree": int((cols[a] != cols[b]).sum()),
                          "mcnemar": mcnemar_exact(cols[a] > 0.5, cols[b] > 0.5).to_dict()})
    mc = mcnemar_exact(cols[est.baseline] > 0.5, cols[est.judge] > 0.5)
    details = {"n_items": len(ids), "panel": panel, "pairs": pairs}
    iv_out = _out(iv)
    verdict, reason, rule = apply_rule(spec.pass_rule, iv_out.low, iv_out.high)
    return Assessment(verdict, reason, rule, iv_out, [], details, mc.p_value, "exact McNemar, judge vs baseline")


def _check_single_judge(ev: Evidence) -> None:
    judges: dict[str, set[str]] = {}
    for r in ev.rows:  # one arm, one judge; the arms of a panel (judge/<i>) differ by design
        if "judge" in r:
            arm = r["condition"] if r["condition"].startswith("judge/") else r["condition"].split("/")[0]
            judges.setdefault(arm, set()).add(r["judge"])
    for arm, versions in judges.items():
        if len(versions) > 1:
            raise DataError(f"{ev.source}: rows of {arm!r} mix judge versions {sorted(versions)}; one estimand "
                            "never pools two judges. Fix: re-judge all rows with one version.")


# --- intervention claims -------------------------------------------------------------------------------


def _single(spec: ClaimSpec, alphas: tuple[float, ...], Y: np.ndarray, noop: float) -> tuple[Any, np.ndarray]:
    """Interval of a dose_slope / delta estimand and the per-item values it averages."""
    from harness.stats import delta_ci, dose_slope_ci, item_slopes

    est = spec.estimand
    if est.kind == "dose_slope":
        return dose_slope_ci(alphas, Y * est.scale, **_iv_kwargs(spec)), item_slopes(alphas, Y * est.scale)
    if est.kind == "slope_minus_control":
        return dose_slope_ci(alphas, Y * est.scale, **_iv_kwargs(spec)), item_slopes(alphas, Y * est.scale)
    assert est.kind == "delta"
    frm = noop if est.frm is None else est.frm
    to = max(alphas) if est.to is None else est.to
    if spec.interval.method == "newcombe":  # a closed form on the 0/1 outcomes, then scaled (scale > 0 or not)
        raw = delta_ci(Y, alphas, frm, to, level=spec.interval.level, seed=spec.interval.seed, method="newcombe")
        low, high = sorted((raw.low * est.scale, raw.high * est.scale))
        iv = raw.model_copy(update={"estimate": raw.estimate * est.scale, "low": low, "high": high})
    else:
        iv = delta_ci(Y * est.scale, alphas, frm, to, **_iv_kwargs(spec))
    return iv, (Y[:, alphas.index(to)] - Y[:, alphas.index(frm)]) * est.scale


def _assess_intervention(spec: ClaimSpec, ev: Evidence) -> Assessment:
    from harness.stats import item_slopes, sign_flip_p, slope_difference

    assert spec.intervention is not None and spec.benchmark is not None
    alphas, noop = spec.intervention.alphas, spec.intervention.noop
    ids, Y = ev.matrix(treatment_condition(), alphas)
    C, controls = [], []
    for control in spec.controls:
        for seed in range(control.seeds):
            _, Cs = ev.matrix(control_condition(control.kind, seed), alphas, ids)
            C.append(Cs)
            civ, _ = _single(spec, alphas, Cs, noop)
            controls.append(ControlOut(kind=control.kind, seed=seed, interval=_out(civ)))
    details: dict[str, Any] = {"alphas": list(alphas), "benchmark": spec.benchmark.kind,
                               "metric": spec.benchmark.metric, "n_items": len(ids),
                               "mean_by_alpha": {str(a): round(float(Y[:, k].mean()), 4) for k, a in enumerate(alphas)}}
    scale = getattr(spec.estimand, "scale", 1.0)
    if spec.estimand.kind == "slope_minus_control":
        comp = slope_difference(alphas, Y * scale, np.stack(C) * scale, treat_ids=ids, control_ids=ids,
                                seed=spec.interval.seed, level=spec.interval.level,
                                n_resamples=spec.interval.n_resamples,
                                method="percentile" if spec.interval.method == "percentile" else "bca",
                                alternative="greater" if spec.pass_rule.kind != "upper_below" else "less")
        iv = comp.interval
        per_item = (item_slopes(alphas, Y) - np.mean([item_slopes(alphas, c) for c in C], axis=0)) * scale
        p_value, p_method = comp.p_value, comp.p_method
        details.update({"treatment_slope": comp.treatment_slope, "control_mean_slope": comp.control_mean_slope,
                        "control_slopes": comp.control_slopes, "rank": comp.rank_summary, "rank_p": comp.rank_p,
                        "rank_p_min": comp.rank_p_min})
    else:
        iv, per_item = _single(spec, alphas, Y, noop)
        p_value = sign_flip_p(per_item, alternative="two-sided", n_permutations=10_000, seed=spec.interval.seed)
        p_method = "sign-flip permutation on per-item values, two-sided"
    power = _mde(spec, per_item)
    if power:
        details["power"] = power
    details["externalities"] = _externalities(spec, ev, noop)
    if spec.benchmark.binary and len(alphas) >= 2:
        from harness.stats import mcnemar_exact

        top = alphas.index(max(alphas))
        details["mcnemar_noop_vs_max"] = mcnemar_exact(Y[:, alphas.index(noop)] > 0.5, Y[:, top] > 0.5).to_dict()
    iv_out = _out(iv)
    verdict, reason, rule = _intervention_verdict(spec, iv_out, controls, power)
    return Assessment(verdict, reason, rule, iv_out, controls, details, p_value, p_method, (ids, per_item))


def _externalities(spec: ClaimSpec, ev: Evidence, noop: float) -> list[dict[str, Any]]:
    """Capability costs under the treatment edit: mean per alpha and the paired change from the no-op."""
    from harness.stats import delta_ci

    assert spec.intervention is not None
    out = []
    for k, ext in enumerate(spec.externalities):
        alphas = externality_alphas(spec, k)
        ids, Y = ev.matrix(externality_condition(k, ext.benchmark.kind, ext.benchmark.metric), alphas)
        rows = []
        # a 0/1 cost gets the paired score interval (a bootstrap under-covers with few discordant items)
        kw = {**_iv_kwargs(spec), "method": "newcombe" if ext.benchmark.binary else
              ("percentile" if spec.interval.method == "percentile" else "bca")}
        for a in alphas[1:]:
            iv = _out(delta_ci(Y, alphas, noop, a, **kw))
            rows.append({"alpha": a, "delta": iv.model_dump(), "text": iv.text()})
        out.append({"benchmark": ext.benchmark.kind, "metric": ext.benchmark.metric, "n_items": len(ids),
                    "mean_by_alpha": {str(a): round(float(Y[:, j].mean()), 4) for j, a in enumerate(alphas)},
                    "change_from_noop": rows})
    return out


def externality_alphas(spec: ClaimSpec, index: int) -> tuple[float, ...]:
    """The no-op first, then the externality's alphas (default: the largest alpha of the grid)."""
    assert spec.intervention is not None
    ext = spec.externalities[index]
    return tuple(dict.fromkeys((spec.intervention.noop, *(ext.alphas or (max(spec.intervention.alphas),)))))


def _mde(spec: ClaimSpec, per_item: np.ndarray) -> dict[str, Any] | None:
    """Minimum detectable effect at the run's n and the observed per-item spread."""
    from harness.stats import minimum_detectable_effect

    if spec.power is None:
        return None
    sd = float(np.std(per_item, ddof=1))
    mde = minimum_detectable_effect(len(per_item), sd, alpha=spec.power.alpha, power=spec.power.power,
                                    alternative="two-sided")
    return {"mde": round(float(mde), 5), "min_effect": spec.power.min_effect, "n": len(per_item),
            "per_item_sd": round(sd, 5), "underpowered": bool(mde > spec.power.min_effect),
            "method": f"normal approximation, two-sided alpha {spec.power.alpha}, power {spec.power.power}, "
                      "sd of the per-item values the estimand averages"}


def _intervention_verdict(spec: ClaimSpec, iv: IntervalOut, controls: list[ControlOut],
                          power: dict[str, Any] | None) -> tuple[str, str, str]:
    verdict, reason, rule = apply_rule(spec.pass_rule, iv.low, iv.high)
    kind = spec.pass_rule.kind
    if controls and spec.estimand.kind != "slope_minus_control" and kind in ("lower_above", "upper_below"):
        sign = 1 if kind == "lower_above" else -1
        beaten = [c for c in controls if sign * c.interval.estimate >= sign * iv.estimate]
        if verdict == "SUPPORTED" and beaten:
            verdict = "INCONCLUSIVE"
            reason += f"; but {len(beaten)} of {len(controls)} control seeds did at least as well as the treatment"
        elif verdict == "SUPPORTED":
            reason += f"; treatment beats all {len(controls)} control seeds"
    if power and power["underpowered"] and kind in ("includes", "within") and verdict == "SUPPORTED":
        verdict = "INCONCLUSIVE"
        reason += (f"; underpowered: the minimum detectable effect {power['mde']:.3g} exceeds the effect of "
                   f"interest {power['min_effect']}, so 'no effect' is not shown")
    return verdict, reason, rule


# --- detection claims ----------------------------------------------------------------------------------


def _detector_interval(spec: ClaimSpec, scores: np.ndarray, y: np.ndarray, baseline: np.ndarray | None) -> Any:
    from harness.stats import accuracy_ci, auroc_ci, paired_auroc_difference_ci

    kind = spec.estimand.kind
    if kind == "detector_auroc":
        return auroc_ci(scores, y, **_iv_kwargs(spec))
    if kind == "detector_accuracy":
        return accuracy_ci((scores > 0).astype(int), y, **_iv_kwargs(spec))
    if kind in ("detector_auroc_minus_length", "detector_auroc_difference"):
        assert baseline is not None
        return paired_auroc_difference_ci(scores, baseline, y, **_iv_kwargs(spec))
    raise AssertionError(f"no detector interval for {kind}")


def _assess_detection(spec: ClaimSpec, ev: Evidence) -> Assessment:
    from harness.stats import auroc, refit_auroc_ci, seed_percentile_interval

    kind = spec.estimand.kind
    details: dict[str, Any] = {}
    ids: list[str] = []
    y: np.ndarray | None = None
    if kind == "h_neuron_percent":
        _, pct, _ = ev.column("h_neuron_percent")
        iv = seed_percentile_interval(pct, level=spec.interval.level).model_copy(update={"estimate": float(pct[0])})
        details["percent_per_refit"] = [round(float(p), 5) for p in pct]
    else:
        ids, scores, y = ev.column("detector")
        if y is None:
            raise DataError(f"{ev.source}: the 'detector' rows need a 'label' (1 = hallucination). Fix: add it.")
        details.update({"n_test": len(ids), "n_positive": int(y.sum())})
        if kind == "shuffled_label_auroc":
            assert spec.estimand.kind == "shuffled_label_auroc"
            refits = np.stack([paired_column(ev, f"refit/{s}", ids)[0] for s in range(spec.estimand.seeds)])
            iv = refit_auroc_ci(refits, y, level=spec.interval.level, n_resamples=spec.interval.n_resamples,
                                seed=spec.interval.seed)
            details.update({"per_seed_test_auroc": [round(float(auroc(s, y)), 4) for s in refits],
                            "treatment_test_auroc": round(float(auroc(scores, y)), 4)})
        else:
            base = paired_column(ev, "baseline", ids)[0] if kind in (
                "detector_auroc_minus_length", "detector_auroc_difference") else None
            iv = _detector_interval(spec, scores, y, base)
            if kind == "detector_auroc_difference":
                assert base is not None
                details.update({"this_test_auroc": round(float(auroc(scores, y)), 4),
                                "baseline_test_auroc": round(float(auroc(base, y)), 4)})
    iv_out = _out(iv)
    verdict, reason, rule = apply_rule(spec.pass_rule, iv_out.low, iv_out.high)
    controls: list[ControlOut] = []
    for control in spec.controls:
        assert y is not None  # controls only go with detector_auroc / detector_accuracy (spec validator)  # shuffled labels: the same estimand on a detector fitted to permuted labels
        for seed in range(control.seeds):
            cscores = paired_column(ev, control_condition(control.kind, seed), ids)[0]
            civ = _detector_interval(spec, cscores, y, None)
            controls.append(ControlOut(kind=control.kind, seed=seed, interval=_out(civ)))
    if controls and verdict == "SUPPORTED":
        beaten = [c for c in controls if c.interval.estimate >= iv_out.estimate]
        if beaten:
            verdict = "INCONCLUSIVE"
            reason += f"; but {len(beaten)} control seed(s) scored at least the treatment's estimate"
        else:
            reason += f"; treatment beats all {len(controls)} control seeds"
    return Assessment(verdict, reason, rule, iv_out, controls, details)
