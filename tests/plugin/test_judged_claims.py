"""A judged claim on the tiny model: one set of greedy answers graded by a judge panel, with an LLM
adjudicator served over real HTTP on loopback; a warm re-run makes no judge call."""

from __future__ import annotations

import json
import re

import torch  # noqa: F401  (heavy stack imported before pytester runs; see test_plugin.py)
import transformers  # noqa: F401

import harness.claims._run  # noqa: F401

pytest_plugins = ["pytester"]

JUDGED = """\
statement: Adjudicating hedged alias matches with an LLM judge changes the tiny model's measured accuracy.
stage: measurement
evidence: readout
model: {kind: tiny}
data: {kind: qa_jsonl, path: %(data)s}
pipeline:
  sampling: {max_new_tokens: 4, batch_size: 64}
judges:
  - {kind: alias}
  - {kind: tiered_alias}
  - {kind: tiered_alias, adjudicator: {rubric: simpleqa_grade, endpoint: loopback}}
estimand: {kind: judged_accuracy_difference, judge: 2, baseline: 0}
interval: {n_resamples: 300, method: percentile}
pass_rule: {kind: lower_above, threshold: 0}
"""


def test_judged_claim_reports_the_panel_on_one_set_of_answers(pytester, tiny_qa, tmp_path):
    from harness.judges import normalize_answer

    # the tiered judge refuses an alias that normalizes to nothing (the tiny model's answers can be all
    # punctuation): such questions get an alias the model never says
    rows = [json.loads(line) for line in tiny_qa.read_text().splitlines()]
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps({**r, "aliases": r["aliases"] if normalize_answer(r["aliases"][0]) else
                                        ["zzqx"]}) + "\n" for r in rows))
    claims = pytester.mkdir("claims")
    (claims / "tiny_judged.yaml").write_text(JUDGED % {"data": data})
    args = ["claims", f"--claims-results={pytester.path / 'results'}", f"--claims-store={pytester.path / 'store'}",
            "-p", "no:cacheprovider"]
    res = pytester.runpytest_subprocess(*args)
    assert res.ret in (0, 1), res.stdout.str()
    result = json.loads((pytester.path / "results" / "tiny_judged.json").read_text())
    d = result["details"]
    assert [p["judge"] for p in d["panel"]][:2] == ["alias_match@p1/s1", "tiered_alias@p2/s1"]
    assert len(d["pairs"]) == 3 and all("mcnemar" in p and "kappa" in p for p in d["pairs"])
    assert d["n_items"] == 60 and result["interval"]["n"] == 60
    assert result["p_method"].startswith("exact McNemar")
    rows = (pytester.path / "results" / "tiny_judged.rows.jsonl").read_text().splitlines()[1:]
    assert {json.loads(r)["condition"] for r in rows} == {"judge/0", "judge/1", "judge/2"}
    assert len({json.loads(r)["judge"] for r in rows}) >= 2  # every arm stamped with its judge's version


def test_adjudication_goes_over_http_and_a_warm_rerun_makes_no_call(tiny, tmp_path, caplog):
    """The tiny model answers in gibberish, so the panel's adjudication path is driven here with hedged
    answers; the adjudicator is the tiny model served on loopback, reached through the openai client."""
    from types import SimpleNamespace

    from harness.claims._judged import _grade
    from harness.claims._session import Session
    from harness.claims._spec import JudgeSpec

    items = [SimpleNamespace(id=f"q{i}", question=f"Capital of country {i}?", aliases=["Paris"]) for i in range(4)]
    answers = {"q0": "Paris or Lyon", "q1": "Paris", "q2": "either Paris or Rome", "q3": "Berlin"}
    judge = JudgeSpec.model_validate({"kind": "tiered_alias", "adjudicator": {"endpoint": "loopback"}})
    session = Session(store_root=tmp_path / "store")
    values, tag, info = _grade(judge, items, answers, None, session, tiny)
    assert info["labels"] == {"adjudicate": 2, "correct": 1, "incorrect": 1}
    adj = info["adjudicated"]
    assert adj["n"] == 2 and adj["calls"] >= 2 and adj["cache_hits"] == 0
    assert tag.startswith("tiered_alias@p2/s1+simpleqa_grade@p1/s1:") and values[1] == 1.0 and values[3] == 0.0
    with caplog.at_level("INFO"):
        again, tag2, info2 = _grade(judge, items, answers, None, session, tiny)
    assert info2["adjudicated"]["calls"] == 0 and info2["adjudicated"]["cache_hits"] == 2
    assert again == values and tag2 == tag
    assert re.search(r"adjudicator \S+: 0 calls \(0 retries, 0 failures\), 2 cache hits", caplog.text)
