"""The compute stage of judged claims: greedy answers to the claim's questions, graded by every judge of its
panel (deterministic tiers, optionally an LLM adjudicator over HTTP), as one row arm per judge.

Greedy answers share the detection pipeline's cached greedy stage; LLM verdicts are cached by (judge model,
rubric, versions, input), so a warm re-run makes no judge call.
"""

from __future__ import annotations

import logging
from typing import Any

from harness.claims._evidence import Evidence
from harness.claims._panel import grade
from harness.claims._spec import ClaimSpec

log = logging.getLogger(__name__)


def judge_condition(index: int) -> str:
    return f"judge/{index}"


def judged_evidence(spec: ClaimSpec, session: Any, lm: Any) -> tuple[Evidence, dict[str, Any], dict[str, str]]:
    """Rows ``judge/<i>`` (1.0 = judged correct) for every judge, live-only details and data fingerprints."""
    from harness.claims._detection import CODE_VERSIONS, _generate_stage, data_fingerprint, load_items
    from harness.generate import build_prompt

    items = load_items(spec.data)
    samp = spec.pipeline.sampling
    prompts = {it.id: build_prompt(lm.tokenizer, it.question, spec.model.prompt_style).ids for it in items}
    base = {"model": lm.fingerprint, "data": data_fingerprint(items), "prompt_style": spec.model.prompt_style,
            "max_new_tokens": samp.max_new_tokens, "code": CODE_VERSIONS["generate"]}
    greedy = _generate_stage(lm, session.store, prompts, None, base, "greedy", samp.batch_size,
                             max_new_tokens=samp.max_new_tokens, greedy=True)
    ids = [str(it.id) for it in items]
    answers = {str(i): g["text"] for i, g in greedy.items()}
    texts = [answers[i] for i in ids]
    ev = Evidence(rows=[])
    live: dict[str, Any] = {"model": lm.model_id, "n_questions": len(items), "judges": []}
    for k, judge in enumerate(spec.judges):
        g = grade(judge, items, texts, session.store, lm)
        for item_id, v in zip(ids, g.values, strict=True):
            ev.rows.append({"id": item_id, "condition": judge_condition(k), "value": v, "judge": g.tag})
        live["judges"].append({"index": k, "judge": g.tag, **g.info})
    est = spec.estimand
    assert est.kind == "judged_accuracy_difference"
    a, b = est.baseline, est.judge
    va = {r["id"]: r["value"] for r in ev.rows if r["condition"] == judge_condition(a)}
    vb = {r["id"]: r["value"] for r in ev.rows if r["condition"] == judge_condition(b)}
    by_id = {str(it.id): it for it in items}
    flips = [{"id": i, "question": by_id[i].question, "answer": answers[i].strip(), "aliases": by_id[i].aliases[:3],
              "baseline": va[i], "judge": vb[i]} for i in ids if va[i] != vb[i]]
    live["disagreements"] = {"n": len(flips), "examples": flips[:12]}
    return ev, live, {"questions": data_fingerprint(items)}


def calibration_split(spec: ClaimSpec, row_ids: list[str]) -> Any:
    """The locked manifest of gold rows the judges were calibrated on, checked against the gold file, or None.

    Raises:
        DataError: the manifest is not locked, or names rows the gold file does not have (another file's).
    """
    from harness.claims._detection import resolve_path
    from harness.claims._splits import read_manifest
    from harness.errors import DataError

    est = spec.estimand
    assert est.kind == "judge_validation"
    if est.calibration is None:
        return None
    cal = read_manifest(resolve_path(est.calibration, "estimand.calibration"))
    if not cal.locked:
        raise DataError(f"calibration manifest {est.calibration} is not locked: rows a judge was calibrated on "
                        "must be sealed. Fix: write it with locked=True (harness.claims._splits.write_manifest).")
    unknown = sorted(cal.ids - set(row_ids))
    if unknown:
        raise DataError(f"calibration manifest {est.calibration} names {len(unknown)} row(s) the gold file "
                        f"{est.gold} does not have (e.g. {unknown[:3]}): it belongs to another gold file. Fix: "
                        "point estimand.calibration at this file's manifest.")
    return cal


def gold_evidence(spec: ClaimSpec, session: Any, lm: Any) -> tuple[Evidence, dict[str, Any], dict[str, str]]:
    """Rows ``judge/<i>`` for every judge on the gold answers outside the calibration split: value = the
    judge's call (1.0 = correct), label = the gold call, cluster = the question."""
    from harness.benchmarks import load_judge_gold
    from harness.claims._detection import resolve_path
    from harness.claims._splits import manifest
    from harness.store import fingerprint

    est = spec.estimand
    assert est.kind == "judge_validation"
    gold = load_judge_gold(resolve_path(est.gold, "estimand.gold"))
    cal = calibration_split(spec, [g.id for g in gold])
    rows = [g for g in gold if cal is None or g.id not in cal.ids]
    live: dict[str, Any] = {"model": lm.model_id, "n_gold": len(gold), "n_validation": len(rows), "judges": []}
    if cal is not None:
        live["splits"] = {"calibration": cal.summary(),
                          "validation": manifest("judge_validation", [g.id for g in rows], locked=True).summary()}
    ev = Evidence(rows=[])
    ids, labels, clusters = [g.id for g in rows], [g.correct for g in rows], [g.prompt_id for g in rows]
    calls: list[list[float]] = []
    for k, judge in enumerate(spec.judges):
        g = grade(judge, rows, [r.answer for r in rows], session.store, lm)
        ev.add(judge_condition(k), ids, g.values, labels=labels, judge=g.tag, clusters=clusters)
        live["judges"].append({"index": k, "judge": g.tag, **g.info})
        calls.append(g.values)
    wrong = [{"id": r.id, "question": r.question, "answer": r.answer, "aliases": list(r.aliases[:3]),
              "gold": r.gold, "judge": v} for r, v in zip(rows, calls[est.judge], strict=True)
             if (v > 0.5) != bool(r.correct)]
    live["disagreements_with_gold"] = {"n": len(wrong), "examples": wrong[:12]}
    return ev, live, {"gold": fingerprint([repr(g) for g in gold])}
