"""A judged claim on the tiny model: one set of greedy answers graded by a judge panel, with an LLM
adjudicator served over real HTTP on loopback; a warm re-run makes no judge call."""

from __future__ import annotations

import json
import re

import pytest
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


@pytest.fixture(scope="module")
def tiny_qa_judgeable(tiny_qa, tmp_path_factory):
    """tiny_qa with aliases the tiered judge accepts: it refuses an alias that normalizes to nothing (the tiny
    model's answers can be all punctuation), so such questions get an alias the model never says."""
    from harness.judges import normalize_answer

    rows = [json.loads(line) for line in tiny_qa.read_text().splitlines()]
    data = tmp_path_factory.mktemp("judgeable") / "qa.jsonl"
    data.write_text("".join(json.dumps({**r, "aliases": r["aliases"] if normalize_answer(r["aliases"][0]) else
                                        ["zzqx"]}) + "\n" for r in rows))
    return data


def test_judged_claim_reports_the_panel_on_one_set_of_answers(pytester, tiny_qa_judgeable):
    data = tiny_qa_judgeable
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

    from harness.claims._panel import grade
    from harness.claims._session import Session
    from harness.claims._spec import JudgeSpec

    items = [SimpleNamespace(id=f"q{i}", question=f"Capital of country {i}?", aliases=["Paris"]) for i in range(4)]
    answers = ["Paris or Lyon", "Paris", "either Paris or Rome", "Berlin"]
    judge = JudgeSpec.model_validate({"kind": "tiered_alias", "adjudicator": {"endpoint": "loopback"}})
    session = Session(store_root=tmp_path / "store")
    g = grade(judge, items, answers, session.store, tiny)
    values, tag, info = g.values, g.tag, g.info
    assert info["labels"] == {"adjudicate": 2, "correct": 1, "incorrect": 1}
    adj = info["adjudicated"]
    assert adj["n"] == 2 and adj["calls"] >= 2 and adj["cache_hits"] == 0
    assert tag.startswith("tiered_alias@p2/s1+simpleqa_grade@p1/s1:") and values[1] == 1.0 and values[3] == 0.0
    with caplog.at_level("INFO"):
        g2 = grade(judge, items, answers, session.store, tiny)
    again, tag2, info2 = g2.values, g2.tag, g2.info
    assert info2["adjudicated"]["calls"] == 0 and info2["adjudicated"]["cache_hits"] == 2
    assert again == values and tag2 == tag
    assert re.search(r"adjudicator \S+: 0 calls \(0 retries, 0 failures\), 2 cache hits", caplog.text)


PANEL_ITI = """\
statement: ITI on the tiny model lowers its greedy QA accuracy under every judge of the panel.
stage: externality
evidence: intervention
model: {kind: tiny}
intervention: {kind: iti, top_k: 2, alphas: [0, 8]}
benchmark: {kind: qa, path: %(data)s, metric: accuracy, limit: 20, max_new_tokens: 4}
judges:
  - {kind: alias}
  - {kind: tiered_alias}
  - {kind: llm, rubric: simpleqa_grade, endpoint: loopback}
panel: {require: every}
estimand: {kind: delta, scale: 100}
interval: {method: newcombe}  # a paired 0/1 difference
pass_rule: {kind: upper_below, threshold: 0}
controls: [{kind: random_heads, seeds: 2}]
externalities:
  - benchmark: {kind: heldout_text, metric: nll, limit: 10}
"""


def _run_claims(pytester, *extra):
    args = ["claims", f"--claims-results={pytester.path / 'results'}", f"--claims-store={pytester.path / 'store'}",
            "-p", "no:cacheprovider", "-o", "log_cli=true", "--log-cli-level=INFO", *extra]
    res = pytester.runpytest_subprocess(*args)
    return res, res.stdout.str()


def test_intervention_claim_graded_by_a_panel_over_http(pytester, tiny_qa_judgeable):
    """Every arm's answers at every alpha are graded by three judges (one an LLM judge served on loopback);
    each judge decides the claim on its own rows, the panel requires all three; a warm re-run makes no judge
    call and a replay from the store re-decides it without a model, identically."""
    claims = pytester.mkdir("claims")
    (claims / "tiny_panel.yaml").write_text(PANEL_ITI % {"data": tiny_qa_judgeable})
    res, out = _run_claims(pytester)
    assert res.ret in (0, 1), out
    result = json.loads((pytester.path / "results" / "tiny_panel.json").read_text())
    panel = result["details"]["panel"]
    verdicts = [j["verdict"] for j in panel["judges"]]
    assert len(verdicts) == 3 and panel["require"] == "every"
    assert (result["verdict"] == "SUPPORTED") == all(v == "SUPPORTED" for v in verdicts)
    assert panel["judges"][2]["judge"].startswith("simpleqa_grade@p1/s1:")
    assert len(panel["agreement"]) == 3 and len(panel["between_judges"]) == 2
    assert len(result["controls"]) == 2 and result["details"]["externalities"][0]["n_items"] == 10
    rows = [json.loads(r) for r in (pytester.path / "results" / "tiny_panel.rows.jsonl").read_text().splitlines()[1:]]
    conds = {r["condition"] for r in rows}
    assert {f"judge/{k}/{arm}" for k in range(3) for arm in ("treatment", "control/random_heads/0",
                                                               "control/random_heads/1")} <= conds
    assert all("judge" in r for r in rows if r["condition"].startswith("judge/"))
    assert len([r for r in rows if r["condition"] == "judge/2/treatment"]) == 20 * 2
    grading = result["details"]["panel_grading"]
    assert grading["n_answers"] == 20 * 2 * 3 and grading["judges"][2]["calls"] > 0
    assert re.search(r"judge simpleqa_grade@p1/s1:\S+: \d+ calls", out)

    _res2, out2 = _run_claims(pytester)  # warm: answers and verdicts come from the store
    again = json.loads((pytester.path / "results" / "tiny_panel.json").read_text())
    assert again["details"]["panel_grading"]["judges"][2]["calls"] == 0
    assert re.search(r"judge simpleqa_grade@p1/s1:\S+: 0 calls", out2)
    assert again["interval"] == result["interval"] and again["details"]["panel"] == panel

    _res3, _ = _run_claims(pytester, "--claims-replay")
    replayed = json.loads((pytester.path / "results" / "tiny_panel.json").read_text())
    assert replayed["interval"] == result["interval"] and replayed["verdict"] == result["verdict"]
    assert replayed["details"]["panel"]["judges"] == panel["judges"]


VALIDATE = """\
statement: The tiered alias judge agrees with the hand labels on most of these answers.
stage: measurement
evidence: readout
model: {kind: tiny}
judges:
  - {kind: alias}
  - {kind: tiered_alias}
  - {kind: llm, rubric: simpleqa_grade, endpoint: loopback}
estimand: {kind: judge_validation, judge: 1, gold: %(gold)s, calibration: %(cal)s}
interval: {method: percentile, n_resamples: 300}
pass_rule: {kind: lower_above, threshold: 0.5}
"""


def test_judge_validation_claim_excludes_calibration_rows(pytester):
    """Gold-labelled answers graded by a panel (the LLM judge is the tiny model over loopback HTTP); rows of
    the calibration questions never reach the validation, and every row carries its question as cluster."""
    from harness.claims._splits import manifest, write_manifest

    answers = [("Paris", "correct"), ("Paris or Lyon", "incorrect"), ("", "not_attempted"), ("Lyon", "incorrect")]
    gold_rows = []
    for q in range(42):  # 40 validation questions: a cluster bootstrap is refused below 40 clusters
        for k, (text, label) in enumerate(answers[: 2 + q % 3]):
            gold_rows.append({"row_id": f"q{q}/{k}", "prompt_id": f"q{q}", "question": f"Capital of country {q}?",
                              "aliases": ["Paris"], "answer": text, "gold": label})
    gold = pytester.path / "gold.jsonl"
    gold.write_text("".join(json.dumps(r) + "\n" for r in gold_rows))
    cal_ids = [r["row_id"] for r in gold_rows if r["prompt_id"] in ("q0", "q1")]
    write_manifest(pytester.path / "cal.json", manifest("judge_calibration", cal_ids, locked=True))
    claims = pytester.mkdir("claims")
    (claims / "tiny_validate.yaml").write_text(VALIDATE % {"gold": gold, "cal": pytester.path / "cal.json"})
    res, out = _run_claims(pytester)
    assert res.ret in (0, 1), out
    result = json.loads((pytester.path / "results" / "tiny_validate.json").read_text())
    d = result["details"]
    assert d["n_gold"] == len(gold_rows) and d["n_validation"] == len(gold_rows) - len(cal_ids)
    assert d["n_rows"] == d["n_validation"] and d["n_questions"] == 40
    assert d["splits"]["calibration"]["n"] == len(cal_ids) and d["splits"]["validation"]["locked"]
    tiered = d["panel"][1]
    # the tiered judge gets these rows right (exact match, a hedge it cannot decide, empty, a wrong city)
    assert tiered["accuracy"]["estimate"] == 1.0 and result["interval"]["method"] == "cluster-percentile"
    assert d["panel"][0]["judge"] == "alias_match@p1/s1" and d["panel"][0]["precision"]["estimate"] < 1.0
    rows = [json.loads(r) for r in (pytester.path / "results" / "tiny_validate.rows.jsonl").read_text().splitlines()[1:]]
    assert {r["cluster"] for r in rows} == {f"q{q}" for q in range(2, 42)}
    assert not {r["id"] for r in rows} & set(cal_ids)
