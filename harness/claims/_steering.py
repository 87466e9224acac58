"""The compute stage of intervention claims: dose-response of the treatment and of every control seed on the
same items, and the externalities under the same edit, as row-level evidence (``_assess`` decides).

Every (edit, alpha, benchmark) condition's per-item outcomes are cached, so an interrupted run resumes at the
condition it stopped in and a re-run only reads files.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from harness.claims._edits import Edit, Treatment, build_treatment
from harness.claims._evaluate import Evaluator, load_benchmark
from harness.claims._evidence import Evidence
from harness.claims._spec import ClaimSpec

log = logging.getLogger(__name__)


def _outcomes(store: Any, ev: Evaluator, edit: Edit, alpha: float) -> tuple[np.ndarray, dict[str, Any]]:
    """Per-item outcomes of one condition (cached). At the edit's identity alpha no hook is registered, so
    that condition is shared by the treatment and every control."""
    clean, key = _condition_key(ev, edit, alpha)

    def compute() -> dict[str, Any]:
        t = time.time()
        if clean:
            y = ev.run()
        else:
            with edit.make(alpha):
                y = ev.run()
        log.info("%s %s alpha=%s: mean %.4f (%.1f s)", ev.spec.kind, "clean" if clean else edit.kind, alpha,
                 float(np.mean(y)), time.time() - t)
        return {"ids": ev.ids, "y": [float(v) for v in y], "extras": ev.extras}

    rec = store.get_or_compute_json("outcomes", key, compute)
    if rec["ids"] != ev.ids:
        raise AssertionError("cached outcomes are for different items; the comparison would be unpaired")
    return np.asarray(rec["y"], dtype=np.float64), rec.get("extras", {})


def _condition_key(ev: Evaluator, edit: Edit, alpha: float) -> tuple[bool, dict[str, Any]]:
    from harness.store import fingerprint

    clean = edit.identity_at is not None and alpha == edit.identity_at
    return clean, {**ev.key(), "edit": "none" if clean else edit.kind,
                   "units": "none" if clean else fingerprint(edit.units), "alpha": None if clean else alpha}


def _answers(store: Any, ev: Evaluator, edit: Edit, alpha: float) -> list[str]:
    """Generated answers of one condition (cached, so every judge of a panel, now or later, grades the same
    texts and a re-run generates nothing)."""
    clean, key = _condition_key(ev, edit, alpha)

    def compute() -> dict[str, Any]:
        t = time.time()
        if clean:
            texts = ev.answers()
        else:
            with edit.make(alpha):
                texts = ev.answers()
        log.info("%s answers %s alpha=%s: %d texts (%.1f s)", ev.spec.kind, "clean" if clean else edit.kind, alpha,
                 len(texts), time.time() - t)
        return {"ids": ev.ids, "texts": texts}

    rec = store.get_or_compute_json("answers", key, compute)
    if rec["ids"] != ev.ids:
        raise AssertionError("cached answers are for different items; the comparison would be unpaired")
    return list(rec["texts"])


def _panel_rows(spec: ClaimSpec, session: Any, lm: Any, ev: Evaluator, evidence: Evidence,
                arms: list[tuple[str, Edit]], alphas: tuple[float, ...]) -> dict[str, Any]:
    """Every arm's answers at every alpha, graded by every judge of the claim's panel, as rows
    ``judge/<k>/<arm>``. Each judge grades all answers in one call (an LLM judge's requests run concurrently
    and are cached), so a warm re-run makes no judge call."""
    from harness.claims._assess_panel import panel_condition
    from harness.claims._panel import grade

    cells = [(arm, a, _answers(session.store, ev, edit, a)) for arm, edit in arms for a in alphas]
    texts = [t for _, _, ts in cells for t in ts]
    items = ev.items * len(cells)
    info: dict[str, Any] = {"n_answers": len(texts), "judges": []}
    graded = []
    for k, judge in enumerate(spec.judges):
        g = grade(judge, items, texts, session.store, lm)
        n = len(ev.items)
        for c, (arm, a, _) in enumerate(cells):
            evidence.add(panel_condition(k, arm), ev.ids, g.values[c * n:(c + 1) * n], alpha=a, judge=g.tag)
        info["judges"].append({"index": k, "judge": g.tag, **g.info})
        graded.append(g.values)
    # answers the judges disagree on (treatment arm first), so a reader can see what each judge did
    n = len(ev.items)
    flips: list[dict[str, Any]] = []
    for c, (arm, a, ts) in enumerate(cells):
        for j, t in enumerate(ts):
            calls = [v[c * n + j] for v in graded]
            if len({v > 0.5 for v in calls}) > 1 and len(flips) < 12:
                it = ev.items[j]
                flips.append({"id": str(it.id), "arm": arm, "alpha": a, "answer": t.strip()[:300],
                              "question": getattr(it, "question", getattr(it, "goal", "")),
                              "aliases": list(getattr(it, "aliases", ())[:3]), "calls": calls})
    info["disagreements"] = flips
    return info


def conditions_per_pass(device: Any) -> int:
    """How many conditions share one batched pass: ``HARNESS_CONDITIONS_PER_PASS``, else 1 on a CPU and 8 on
    a GPU. On 2 CPU cores ``make bench`` measured 1.15x and 1.24x in two runs with 3 conditions per pass
    (outcomes within 2e-5 nats of one at a time); the CPU default stays 1 so a CPU run reproduces the stored
    outcomes bit for bit. The random-set controls take about 13 of a cold run's 43 minutes, so grouping would
    save 2-3 minutes there (README, "Measured")."""
    import os

    env = os.environ.get("HARNESS_CONDITIONS_PER_PASS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            from harness.errors import HarnessError

            raise HarnessError(f"HARNESS_CONDITIONS_PER_PASS={env!r} is not a positive integer. Fix: unset it or "
                               "set e.g. 4.")
        return int(env)
    return 1 if getattr(device, "type", "cpu") == "cpu" else 8


def _grouped_outcomes(store: Any, ev: Evaluator, edits: list[Edit], alphas: tuple[float, ...], per_pass: int) -> None:
    """Fill the outcomes cache for every uncached (edit, alpha) condition, ``per_pass`` conditions per batched
    pass (rows carry their condition's edit); ``_outcomes`` then reads them like any cached condition."""
    if per_pass <= 1 or not ev.groupable or any(e.grouped is None for e in edits):
        return
    todo = []
    for edit in edits:
        for a in alphas:
            clean, key = _condition_key(ev, edit, a)
            if not clean and store.get_json("outcomes", key) is None:
                todo.append((edit, a, key))
    for k in range(0, len(todo), per_pass):
        chunk = todo[k:k + per_pass]
        t = time.time()
        assert chunk[0][0].grouped is not None
        with chunk[0][0].grouped([(e.units, a) for e, a, _ in chunk]):
            Y = ev.run_grouped(len(chunk))
        for (_, _, key), y in zip(chunk, Y, strict=True):
            store.put_json("outcomes", key, {"ids": ev.ids, "y": [float(v) for v in y], "extras": {}})
        log.info("%s %d conditions in one batched pass (%.1f s)", ev.spec.kind, len(chunk), time.time() - t)


def _dose(store: Any, ev: Evaluator, edit: Edit, alphas: tuple[float, ...]) -> tuple[np.ndarray, list[Any]]:
    cols, extras = [], []
    for a in alphas:
        y, ex = _outcomes(store, ev, edit, a)
        cols.append(y)
        extras.append(ex)
    return np.stack(cols, axis=1), extras  # [n_items, n_alphas]



def _add_arm(evidence: Evidence, condition: str, ids: list[str], alphas: tuple[float, ...], Y: np.ndarray) -> None:
    for k, a in enumerate(alphas):
        evidence.add(condition, ids, Y[:, k], alpha=a)


def intervention_evidence(spec: ClaimSpec, session: Any, lm: Any, det: Any,
                          timings: dict[str, float]) -> tuple[Evidence, dict[str, Any], dict[str, str]]:
    """The compute stage of an intervention claim: every arm's per-item outcomes as rows.

    Returns:
        The evidence, details only a live run knows (units edited, side counts such as parse failures) and the
        data fingerprints of the items used.
    """
    from harness.claims._assess import (
        control_condition,
        externality_alphas,
        externality_condition,
        treatment_condition,
    )
    from harness.claims._detection import data_fingerprint, load_items

    assert spec.intervention is not None and spec.benchmark is not None
    t = time.time()
    qa_items = det.items if det is not None else load_items(spec.data)
    items = load_benchmark(spec.benchmark, qa_items=qa_items)
    treat: Treatment = build_treatment(spec, lm, det, items, store=session.store)
    if treat.eval_ids is not None:
        items = [it for it in items if str(it.id) in treat.eval_ids]
    ev = Evaluator(lm, spec.benchmark, items, spec.model.prompt_style)
    alphas = spec.intervention.alphas
    timings["edit_setup_s"] = round(time.time() - t, 2)
    evidence = Evidence(rows=[])
    live: dict[str, Any] = {"model": lm.model_id, "intervention": spec.intervention.kind, **treat.info}
    arms = [(treatment_condition(), treat.edit)] + [
        (control_condition(c.kind, seed), treat.control(seed)) for c in spec.controls for seed in range(c.seeds)]
    if spec.judges:  # a panel grades the generated answers of every arm and alpha
        t = time.time()
        live["panel_grading"] = _panel_rows(spec, session, lm, ev, evidence, arms, alphas)
        timings["panel_s"] = round(time.time() - t, 2)
    else:
        t = time.time()
        _grouped_outcomes(session.store, ev, [e for _, e in arms], alphas, conditions_per_pass(lm.device))
        timings["grouped_s"] = round(time.time() - t, 2)
        extras: list[Any] = []
        for k, (condition, edit) in enumerate(arms):
            t = time.time()
            Y, ex = _dose(session.store, ev, edit, alphas)
            _add_arm(evidence, condition, ev.ids, alphas, Y)
            if k == 0:
                extras = ex
                timings["treatment_s"] = round(time.time() - t, 2)
            else:
                timings["controls_s"] = round(timings.get("controls_s", 0.0) + time.time() - t, 2)
        side = {str(a): e for a, e in zip(alphas, extras, strict=True) if e}
        if side:
            live["side_counts_by_alpha"] = side
    t = time.time()
    ext_side = []
    for k, ext in enumerate(spec.externalities):
        ext_items = load_benchmark(ext.benchmark, qa_items=qa_items, field=f"externalities.{k}.benchmark.path")
        ext_ev = Evaluator(lm, ext.benchmark, ext_items, spec.model.prompt_style)
        ext_alphas = externality_alphas(spec, k)
        Ye, ext_extras = _dose(session.store, ext_ev, treat.edit, ext_alphas)
        _add_arm(evidence, externality_condition(k, ext.benchmark.kind, ext.benchmark.metric), ext_ev.ids,
                 ext_alphas, Ye)
        ext_side.append({str(a): e for a, e in zip(ext_alphas, ext_extras, strict=True) if e})
    if any(ext_side):
        live["externality_side_counts"] = ext_side
    timings["externalities_s"] = round(time.time() - t, 2)
    fps = {"questions": det.data_fingerprint if det is not None else data_fingerprint(qa_items),
           "benchmark": ev.key()["items"]}
    return evidence, live, fps
