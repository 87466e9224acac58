"""Grading one set of generated answers with every judge of a claim's panel.

Used by judged claims (a panel over one greedy pass) and by intervention claims on a generated metric (every
arm and alpha graded by every judge). A judge returns one value per item: 1.0 / 0.0 for a binary judge (QA
answer correct; jailbreak response complied or harmful), the rubric's score in [0, 1] for a graded one.
LLM verdicts are cached by (judge model, rubric, versions, input), so a warm re-run makes no judge call.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.claims._spec import JudgeSpec

log = logging.getLogger(__name__)


@dataclass
class Graded:
    """One judge's values (item order), its version tag and what a reader needs (tier counts, calls)."""

    values: list[float]
    tag: str
    info: dict[str, Any] = field(default_factory=dict)


def judge_version(judge: JudgeSpec) -> str:
    """The version tag a judge stamps on its rows, known before it runs (an LLM judge's rows add the judge
    model's name): a change makes the claim's ledger record stale."""
    from harness.judges import AliasJudge, TieredAliasJudge, get_rubric

    if judge.kind == "alias":
        aj = AliasJudge()
        return f"{aj.name}@p{aj.version}/s1"
    if judge.kind == "refusal":
        return REFUSAL_TAG
    if judge.kind == "llm":
        assert judge.rubric is not None
        return get_rubric(judge.rubric).tag
    tag = TieredAliasJudge().tag
    return f"{tag}+{get_rubric(judge.adjudicator.rubric).tag}" if judge.adjudicator is not None else tag


REFUSAL_TAG = "refusal_pattern@p1/s1"


def grade(judge: JudgeSpec, items: list[Any], answers: list[str], store: Any, lm: Any) -> Graded:
    """Grade ``answers[i]`` (raw generated text) to ``items[i]`` with one judge.

    ``items`` are QA items (``id``, ``question``, ``aliases``) for QA judges and jailbreak behaviours (``id``,
    ``goal``) for behaviour judges; the claim's spec validator keeps the two apart.
    """
    if len(items) != len(answers):
        raise AssertionError(f"{len(items)} items but {len(answers)} answers")
    if judge.kind == "alias":
        return _alias(items, answers)
    if judge.kind == "tiered_alias":
        return _tiered(judge, items, answers, store, lm)
    if judge.kind == "refusal":
        return _refusal(answers)
    return _llm_all(judge, items, answers, store, lm)


def _alias(items: list[Any], answers: list[str]) -> Graded:
    from harness.judges import AliasJudge, alias_match

    aj = AliasJudge()
    return Graded([float(alias_match(a, it.aliases)) for it, a in zip(items, answers, strict=True)],
                  f"{aj.name}@p{aj.version}/s1")


def _refusal(answers: list[str]) -> Graded:
    from harness.judges import first_line, is_refusal

    refused = [bool(is_refusal(first_line(a))) or not a.strip() for a in answers]
    return Graded([0.0 if r else 1.0 for r in refused], REFUSAL_TAG,
                  {"refused": sum(refused), "complied": len(refused) - sum(refused)})


def _tiered(judge: JudgeSpec, items: list[Any], answers: list[str], store: Any, lm: Any) -> Graded:
    from harness.judges import TieredAliasJudge, first_line, tier_counts

    tj = TieredAliasJudge()
    verdicts = tj.judge_many([str(it.id) for it in items], [first_line(a) for a in answers],
                             [list(it.aliases) for it in items])
    values = [1.0 if v.label == "correct" else 0.0 for v in verdicts]
    info: dict[str, Any] = {"tiers": tier_counts(verdicts), "labels": dict(Counter(v.label for v in verdicts))}
    todo = [k for k, v in enumerate(verdicts) if v.label == "adjudicate"]
    if judge.adjudicator is None or not todo:
        return Graded(values, tj.tag, info)
    sub = JudgeSpec(kind="llm", rubric=judge.adjudicator.rubric, endpoint=judge.adjudicator.endpoint)
    out = _llm(sub, [items[k] for k in todo], [answers[k] for k in todo], store, lm, role="adjudicator")
    for k, v in zip(todo, out.values, strict=True):
        values[k] = v
    info["adjudicated"] = {"n": len(todo), **out.info}
    return Graded(values, f"{tj.tag}+{out.tag}", info)


def _llm_all(judge: JudgeSpec, items: list[Any], answers: list[str], store: Any, lm: Any) -> Graded:
    out = _llm(judge, items, answers, store, lm)
    return Graded(out.values, out.tag, out.info)


def _llm(judge: JudgeSpec, items: list[Any], answers: list[str], store: Any, lm: Any,
         role: str = "judge") -> Graded:
    from harness.judges import LLMJudge, first_line

    assert judge.rubric is not None
    if judge.reads == "qa":
        inputs = [{"id": str(it.id), "question": it.question, "gold_target": it.aliases[0],
                   "predicted_answer": first_line(a)} for it, a in zip(items, answers, strict=True)]
    else:
        inputs = [{"id": str(it.id), "behavior": it.goal, "response": a.strip()}
                  for it, a in zip(items, answers, strict=True)]
    with endpoint_for(judge, lm) as endpoint:
        llm = LLMJudge(judge.rubric, endpoint, store)
        try:
            out = llm.judge_many(inputs)
        finally:
            llm.close()
    tag = f"{out[0].tag}:{endpoint.model}" if out else f"{judge.rubric}:{endpoint.model}"
    log.info("%s %s: %s", role, tag, llm.stats.summary())
    info = {"labels": dict(Counter(v.label for v in out)), "judge_model": endpoint.model, "calls": llm.stats.calls,
            "cache_hits": llm.stats.cache_hits, "stats": llm.stats.summary()}
    return Graded([float(v.score) for v in out], tag, info)


@contextlib.contextmanager
def endpoint_for(judge: JudgeSpec, lm: Any) -> Iterator[Any]:
    """The judge's endpoint: from the environment, or the claim's own model served on 127.0.0.1."""
    from harness.judges import JudgeEndpoint, serve_model

    if judge.endpoint == "env":
        yield JudgeEndpoint.from_env()
        return
    from harness.judges._server import default_model_name
    from harness.store import fingerprint

    # the served name carries the weights' fingerprint: the verdict cache is keyed by the judge model's name
    name = f"{default_model_name(lm)}-{fingerprint(lm.fingerprint)[:12]}"
    with serve_model(lm, model_name=name) as server:  # the claim's own model, over real HTTP
        yield JudgeEndpoint(base_url=server.base_url, model=name, api_key="loopback")
