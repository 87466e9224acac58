"""The compute stage of judged claims: greedy answers to the claim's questions, graded by every judge of its
panel (deterministic tiers, optionally an LLM adjudicator over HTTP), as one row arm per judge.

Greedy answers share the detection pipeline's cached greedy stage; LLM verdicts are cached by (judge model,
rubric, versions, input), so a warm re-run makes no judge call.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

from harness.claims._evidence import Evidence
from harness.claims._spec import ClaimSpec, JudgeSpec

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
    ev = Evidence(rows=[])
    live: dict[str, Any] = {"model": lm.model_id, "n_questions": len(items), "judges": []}
    for k, judge in enumerate(spec.judges):
        values, tag, info = _grade(judge, items, answers, spec, session, lm)
        for item_id, v in zip(ids, values, strict=True):
            ev.rows.append({"id": item_id, "condition": judge_condition(k), "value": v, "judge": tag})
        live["judges"].append({"index": k, "judge": tag, **info})
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


def _grade(judge: JudgeSpec, items: list[Any], answers: dict[str, str], spec: ClaimSpec, session: Any,
           lm: Any) -> tuple[list[float], str, dict[str, Any]]:
    """One judge's 0/1 grades in item order, its version tag and what a reader needs (tier counts, calls)."""
    from harness.judges import AliasJudge, TieredAliasJudge, alias_match, first_line, tier_counts

    if judge.kind == "alias":
        aj = AliasJudge()
        return ([float(alias_match(answers[str(it.id)], it.aliases)) for it in items],
                f"{aj.name}@p{aj.version}/s1", {})
    tj = TieredAliasJudge()
    verdicts = tj.judge_many([str(it.id) for it in items], [first_line(answers[str(it.id)]) for it in items],
                             [list(it.aliases) for it in items])
    values = [1.0 if v.label == "correct" else 0.0 for v in verdicts]
    info: dict[str, Any] = {"tiers": tier_counts(verdicts), "labels": dict(Counter(v.label for v in verdicts))}
    tag = tj.tag
    todo = [k for k, v in enumerate(verdicts) if v.label == "adjudicate"]
    if judge.adjudicator is None or not todo:
        return values, tag, info
    from harness.judges import LLMJudge

    with _endpoint(judge, lm) as endpoint:
        llm = LLMJudge(judge.adjudicator.rubric, endpoint, session.store)
        try:
            out = llm.judge_many([{"id": str(items[k].id), "question": items[k].question,
                                   "gold_target": items[k].aliases[0],
                                   "predicted_answer": first_line(answers[str(items[k].id)])}
                                  for k in todo])
        finally:
            llm.close()
    for k, v in zip(todo, out, strict=True):
        values[k] = 1.0 if v.label == "correct" else 0.0
    info["adjudicated"] = {"n": len(todo), "labels": dict(Counter(v.label for v in out)),
                           "judge_model": endpoint.model, "calls": llm.stats.calls,
                           "cache_hits": llm.stats.cache_hits, "stats": llm.stats.summary()}
    log.info("adjudicator %s: %s", out[0].tag if out else judge.adjudicator.rubric, llm.stats.summary())
    return values, f"{tag}+{out[0].tag}:{endpoint.model}" if out else tag, info


@contextlib.contextmanager
def _endpoint(judge: JudgeSpec, lm: Any) -> Iterator[Any]:
    from harness.judges import JudgeEndpoint, serve_model

    assert judge.adjudicator is not None
    if judge.adjudicator.endpoint == "env":
        yield JudgeEndpoint.from_env()
        return
    from harness.judges._server import default_model_name
    from harness.store import fingerprint

    # the served name carries the weights' fingerprint: the verdict cache is keyed by the judge model's name
    name = f"{default_model_name(lm)}-{fingerprint(lm.fingerprint)[:12]}"
    with serve_model(lm, model_name=name) as server:  # the claim's own model, on 127.0.0.1, over real HTTP
        yield JudgeEndpoint(base_url=server.base_url, model=name, api_key="loopback")
