"""The assertion stage of an intervention claim graded by a panel of judges: the claim decided under each
judge on the same generated answers, then one verdict by the panel's rule.

Rows of judge ``i`` live under ``judge/<i>/<arm>`` (``judge/1/treatment``, ``judge/1/control/random_heads/3``,
``judge/1/externality/0/qa/accuracy``); each judge's arms are assessed exactly as a single-judge claim would
be. Beside the verdicts: agreement between every pair of judges on the treatment's answers (Cohen's kappa,
clustered by item, and exact McNemar at the top alpha) and the between-judge difference of the estimand,
paired on items. Pure numpy/scipy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.claims._evidence import Evidence
from harness.claims._spec import ClaimSpec
from harness.errors import StatsError


def panel_condition(judge: int, arm: str) -> str:
    """The row condition of one arm graded by panel judge ``judge``."""
    return f"judge/{judge}/{arm}"


def combine(require: str, verdicts: list[str]) -> tuple[str, str]:
    """The panel's verdict from the verdict under each judge.

    every: SUPPORTED when every judge supports the claim, REFUTED when any judge refutes it, else
    INCONCLUSIVE. not_every (the claim states its conclusion depends on the evaluator): SUPPORTED when at least
    one judge supports it and at least one does not, REFUTED when every judge supports it, INCONCLUSIVE when
    none does (no judge shows the conclusion, so no dependence on the judge is shown either).
    """
    n_sup = verdicts.count("SUPPORTED")
    if require == "every":
        if n_sup == len(verdicts):
            return "SUPPORTED", f"holds under all {len(verdicts)} judges"
        if "REFUTED" in verdicts:
            return "REFUTED", f"refuted under {verdicts.count('REFUTED')} of {len(verdicts)} judges"
        return "INCONCLUSIVE", f"shown under {n_sup} of {len(verdicts)} judges only"
    if n_sup and n_sup < len(verdicts):
        return "SUPPORTED", f"shown under {n_sup} of {len(verdicts)} judges and not under the others"
    if n_sup == len(verdicts):
        return "REFUTED", f"holds under all {len(verdicts)} judges: the conclusion does not depend on the judge"
    return "INCONCLUSIVE", "shown under no judge, so no dependence on the judge is shown"


def assess_panel(spec: ClaimSpec, ev: Evidence) -> Any:
    """Decide an intervention claim under every judge of its panel, then by ``spec.panel``'s rule."""
    from harness.claims._assess import Assessment, _assess_intervention

    assert spec.intervention is not None
    require = spec.panel.require if spec.panel is not None else "every"
    primary = spec.panel.primary if spec.panel is not None else 0
    shared = [r for r in ev.rows if r["condition"].startswith("externality/")]  # graded once, not per judge
    per = []
    for k in range(len(spec.judges)):
        sub = ev.select(f"judge/{k}/")
        sub.rows += shared
        per.append(_assess_intervention(spec, sub))
    tags = [_tag(ev, k) for k in range(len(spec.judges))]
    verdict, why = combine(require, [a.verdict for a in per])
    head = per[primary]
    judges = " | ".join(f"{tags[k]}: {a.verdict} {a.interval.estimate:.3g} [{a.interval.low:.3g}, "
                        f"{a.interval.high:.3g}]" for k, a in enumerate(per))
    reason = f"panel ({require}): {why} -- {judges}"
    rule = f"{head.rule}, under {'every judge' if require == 'every' else 'some but not every judge'} of the panel"
    details = dict(head.details)
    details["panel"] = {
        "require": require, "primary": primary,
        "judges": [{"judge": tags[k], "verdict": a.verdict, "reason": a.reason,
                    "interval": a.interval.model_dump(), "p_value": a.p_value,
                    "mean_by_alpha": a.details.get("mean_by_alpha"),
                    "controls": [c.interval.estimate for c in a.controls]} for k, a in enumerate(per)],
        "agreement": _agreement(spec, ev, tags),
        "between_judges": _between(spec, per, tags, primary),
    }
    return Assessment(verdict, reason, rule, head.interval, head.controls, details, head.p_value,
                      f"{head.p_method} (judge {tags[primary]})" if head.p_method else "", head.per_item)


def _tag(ev: Evidence, k: int) -> str:
    prefix = f"judge/{k}/"
    return next((r["judge"] for r in ev.rows if r["condition"].startswith(prefix) and "judge" in r), f"judge {k}")


def _treatment_calls(spec: ClaimSpec, ev: Evidence, k: int) -> tuple[list[str], np.ndarray]:
    """Judge k's values on every (item, alpha) of the treatment, items in file order, alphas in grid order."""
    assert spec.intervention is not None
    ids, Y = ev.matrix(panel_condition(k, "treatment"), spec.intervention.alphas)
    return ids, Y


def _agreement(spec: ClaimSpec, ev: Evidence, tags: list[str]) -> list[dict[str, Any]]:
    """Pairwise agreement on the treatment's answers at every alpha; values above 0.5 count as 'yes' for a
    graded judge (the kappa then compares the binarised calls, said in the record)."""
    from harness.stats import kappa_ci, mcnemar_exact

    assert spec.intervention is not None
    alphas = spec.intervention.alphas
    top = alphas.index(max(alphas))
    calls = [_treatment_calls(spec, ev, k) for k in range(len(tags))]
    ids = calls[0][0]
    out = []
    for a in range(len(tags)):
        for b in range(a + 1, len(tags)):
            Ya = calls[a][1]
            Yb = ev.matrix(panel_condition(b, "treatment"), alphas, ids)[1]
            xa, xb = (Ya > 0.5).astype(int), (Yb > 0.5).astype(int)
            graded = bool(np.any((Ya > 0) & (Ya < 1)) or np.any((Yb > 0) & (Yb < 1)))
            rec: dict[str, Any] = {"judges": [tags[a], tags[b]], "n_answers": int(xa.size),
                                   "n_disagree": int((xa != xb).sum())}
            try:
                rec["kappa"] = kappa_ci(xa.ravel().tolist(), xb.ravel().tolist(),
                                        clusters=[i for i in ids for _ in alphas], seed=spec.interval.seed,
                                        n_resamples=spec.interval.n_resamples,
                                        level=spec.interval.level).model_dump()
            except StatsError as exc:
                rec["kappa"] = f"undefined ({exc})"
            rec["mcnemar_at_top_alpha"] = mcnemar_exact(xa[:, top] > 0, xb[:, top] > 0).to_dict()
            if graded:
                rec["note"] = "graded scores binarised at 0.5 for kappa and McNemar"
            out.append(rec)
    return out


def _between(spec: ClaimSpec, per: list[Any], tags: list[str], primary: int) -> list[dict[str, Any]]:
    """Each judge's per-item estimand values minus the primary judge's, paired on items (bootstrap over
    items; the control seeds of a slope difference are held at their mean here)."""
    from harness.stats import paired_difference_ci

    ids0, v0 = per[primary].per_item
    out = []
    for k, a in enumerate(per):
        if k == primary:
            continue
        ids, v = a.per_item
        pos = {i: j for j, i in enumerate(ids)}
        vk = np.array([v[pos[i]] for i in ids0])
        iv = paired_difference_ci(vk, v0, level=spec.interval.level, n_resamples=spec.interval.n_resamples,
                                  seed=spec.interval.seed, method="percentile")
        out.append({"judge": tags[k], "minus": tags[primary], "difference": iv.model_dump(),
                    "method": "percentile bootstrap over items of the per-item estimand values"})
    return out
