"""Judge panels and judge validation, decided from row-level evidence only (no model): the panel's rules,
per-judge verdicts on the same answers, calibration rows refused, and the specs that say what may be judged."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from pydantic import ValidationError

from harness.claims import ClaimSpec
from harness.claims._assess import assess
from harness.claims._assess_panel import combine
from harness.claims._evidence import Evidence
from harness.claims._splits import LeakageError, manifest, write_manifest
from harness.errors import DataError

PANEL = {
    "statement": "ITI lowers greedy QA accuracy under every judge of the panel.", "stage": "externality",
    "evidence": "intervention", "intervention": {"kind": "iti", "top_k": 2, "alphas": [0, 15]},
    "benchmark": {"kind": "qa", "metric": "accuracy"},
    "judges": [{"kind": "alias"}, {"kind": "tiered_alias"}],
    "estimand": {"kind": "delta", "scale": 100}, "interval": {"method": "newcombe"},
    "pass_rule": {"kind": "upper_below", "threshold": 0},
    "externalities": [{"benchmark": {"kind": "heldout_text", "metric": "nll"}}],
}


def _spec(**changes):
    d = copy.deepcopy(PANEL)
    d.update(changes)
    return ClaimSpec.model_validate(d)


@pytest.mark.parametrize("require,verdicts,want", [
    ("every", ["SUPPORTED", "SUPPORTED"], "SUPPORTED"),
    ("every", ["SUPPORTED", "INCONCLUSIVE"], "INCONCLUSIVE"),
    ("every", ["SUPPORTED", "REFUTED"], "REFUTED"),
    ("every", ["INCONCLUSIVE", "INCONCLUSIVE"], "INCONCLUSIVE"),
    ("not_every", ["SUPPORTED", "INCONCLUSIVE"], "SUPPORTED"),
    ("not_every", ["SUPPORTED", "REFUTED"], "SUPPORTED"),
    ("not_every", ["SUPPORTED", "SUPPORTED", "SUPPORTED"], "REFUTED"),
    ("not_every", ["REFUTED", "INCONCLUSIVE"], "INCONCLUSIVE"),
])
def test_panel_rules(require, verdicts, want):
    assert combine(require, verdicts)[0] == want


def _panel_rows(n=60, seed=0):
    """Judge 0 sees accuracy fall from ~70% to ~20% under the edit; judge 1 grades every answer the same at
    both alphas (it calls 40% correct whatever the edit does)."""
    rng = np.random.default_rng(seed)
    ids = [f"q{i}" for i in range(n)]
    clean = (rng.random(n) < 0.7).astype(float)
    edited = clean * (rng.random(n) < 0.25)
    flat = (rng.random(n) < 0.4).astype(float)
    ev = Evidence(rows=[])
    ev.add("judge/0/treatment", ids, clean, alpha=0, judge="alias_match@p1/s1")
    ev.add("judge/0/treatment", ids, edited, alpha=15, judge="alias_match@p1/s1")
    ev.add("judge/1/treatment", ids, flat, alpha=0, judge="tiered_alias@p2/s1")
    ev.add("judge/1/treatment", ids, flat, alpha=15, judge="tiered_alias@p2/s1")
    texts = [f"text-{i}" for i in range(20)]
    ev.add("externality/0/heldout_text/nll", texts, rng.normal(3, 0.2, 20), alpha=0)
    ev.add("externality/0/heldout_text/nll", texts, rng.normal(3.5, 0.2, 20), alpha=15)
    return ev, clean, edited, flat


def test_panel_decides_under_each_judge_and_by_its_rule():
    ev, clean, edited, flat = _panel_rows()
    every = assess(_spec(panel={"require": "every"}), ev)
    panel = every.details["panel"]
    per = {j["judge"]: j for j in panel["judges"]}
    assert per["alias_match@p1/s1"]["verdict"] == "SUPPORTED"
    assert per["tiered_alias@p2/s1"]["interval"]["estimate"] == 0.0
    # no discordant item: Newcombe's interval straddles 0 (a bootstrap gave [0, 0] and called it REFUTED,
    # certainty the 60 unchanged items do not carry; docs/validation.md)
    iv1 = per["tiered_alias@p2/s1"]["interval"]
    assert iv1["method"] == "newcombe-paired-score" and iv1["low"] < 0 < iv1["high"]
    assert per["tiered_alias@p2/s1"]["verdict"] == "INCONCLUSIVE"
    assert every.verdict == "INCONCLUSIVE"
    # the headline is the primary judge's interval, the same as a single-judge claim on its rows
    assert every.interval.estimate == pytest.approx(100 * (edited.mean() - clean.mean()))
    assert every.details["externalities"][0]["n_items"] == 20  # graded once, shared by every judge
    depends = assess(_spec(panel={"require": "not_every"}), ev)
    assert depends.verdict == "SUPPORTED" and "not under the others" in depends.reason
    # the judges differ on the estimand itself: judge 1 minus judge 0, paired on items, excludes zero
    diff = depends.details["panel"]["between_judges"][0]["difference"]
    assert diff["estimate"] == pytest.approx(-every.interval.estimate) and diff["low"] > 0
    pair = depends.details["panel"]["agreement"][0]
    calls0, calls1 = np.stack([clean, edited], 1), np.stack([flat, flat], 1)
    assert pair["n_disagree"] == int((calls0 != calls1).sum()) and pair["n_answers"] == 120
    mc = pair["mcnemar_at_top_alpha"]
    assert mc["b10"] + mc["b01"] == int((edited != flat).sum())


def test_primary_judge_sets_the_headline():
    ev, _clean, _, _flat = _panel_rows()
    a = assess(_spec(panel={"require": "not_every", "primary": 1}), ev)
    assert a.interval.estimate == 0.0 and "tiered_alias" in a.p_method


def test_a_panel_arm_that_mixes_judge_versions_is_refused():
    ev, *_ = _panel_rows()
    ev.rows[0]["judge"] = "alias_match@p2/s1"
    with pytest.raises(DataError, match="mix judge versions"):
        assess(_spec(), ev)


def test_missing_judge_rows_name_the_arm():
    ev, *_ = _panel_rows()
    ev.rows = [r for r in ev.rows if not r["condition"].startswith("judge/1/")]
    with pytest.raises(DataError, match="judge/1/"):
        assess(_spec(), ev)


VALIDATION = {
    "statement": "The tiered alias judge agrees with the gold labels on most answers.", "stage": "measurement",
    "evidence": "readout", "judges": [{"kind": "alias"}, {"kind": "tiered_alias"}],
    "estimand": {"kind": "judge_validation", "judge": 1, "metric": "accuracy", "gold": "gold.jsonl"},
    "interval": {"method": "percentile", "n_resamples": 400, "seed": 0},
    "pass_rule": {"kind": "lower_above", "threshold": 0.5},
}


def _validation_rows(n_q=40, per_q=3, seed=1):
    rng = np.random.default_rng(seed)
    ids = [f"p{q}/{k}" for q in range(n_q) for k in range(per_q)]
    clusters = [i.split("/")[0] for i in ids]
    gold = (rng.random(len(ids)) < 0.4).astype(int)
    good = np.where(rng.random(len(ids)) < 0.9, gold, 1 - gold)  # right 90% of the time
    lax = np.ones(len(ids))  # calls everything correct
    ev = Evidence(rows=[])
    ev.add("judge/0", ids, lax, labels=gold, judge="alias_match@p1/s1", clusters=clusters)
    ev.add("judge/1", ids, good, labels=gold, judge="tiered_alias@p2/s1", clusters=clusters)
    return ev, ids, gold, good


def test_judge_validation_reports_every_judge_against_gold():
    ev, _ids, gold, good = _validation_rows()
    a = assess(ClaimSpec.model_validate(VALIDATION), ev)
    assert a.interval.estimate == pytest.approx(float((good == gold).mean()))
    assert a.interval.method == "cluster-percentile" and a.verdict == "SUPPORTED"
    lax = a.details["panel"][0]
    assert lax["recall"]["estimate"] == 1.0 and lax["precision"]["estimate"] == pytest.approx(gold.mean())
    assert a.details["n_questions"] == 40 and a.details["gold_correct"] == int(gold.sum())
    spec = copy.deepcopy(VALIDATION)
    spec["estimand"]["metric"] = "precision"
    p = assess(ClaimSpec.model_validate(spec), ev)
    assert p.interval.estimate == pytest.approx(float(gold[good == 1].mean()))


def test_rows_a_judge_was_calibrated_on_are_refused(tmp_path):
    ev, ids, *_ = _validation_rows(n_q=42)  # 40 questions left after the calibration ones
    cal = tmp_path / "cal.json"
    write_manifest(cal, manifest("judge_calibration", ids[:6], locked=True))
    spec = copy.deepcopy(VALIDATION)
    spec["estimand"]["calibration"] = str(cal)
    with pytest.raises(LeakageError, match="6 item"):
        assess(ClaimSpec.model_validate(spec), ev)
    clean = Evidence(rows=[r for r in ev.rows if r["id"] not in ids[:6]])
    assert assess(ClaimSpec.model_validate(spec), clean).details["n_rows"] == len(ids) - 6


def test_judges_disagreeing_on_gold_labels_are_refused():
    ev, *_ = _validation_rows()
    ev.rows[0]["label"] = 1 - ev.rows[0]["label"]
    with pytest.raises(DataError, match="other gold labels"):
        assess(ClaimSpec.model_validate(VALIDATION), ev)


@pytest.mark.parametrize("base,changes,match", [
    (PANEL, {"panel": {"require": "every"}, "judges": [{"kind": "alias"}]}, "at least 2"),
    (PANEL, {"panel": {"primary": 2}}, "panel.primary = 2"),
    (PANEL, {"benchmark": {"kind": "counterfactual", "metric": "target_margin"}}, "generated metric"),
    (PANEL, {"judges": [{"kind": "refusal"}, {"kind": "alias"}]}, "cannot grade benchmark qa"),
    (PANEL, {"benchmark": {"kind": "jailbreakbench", "metric": "judged"}, "judges": []}, "needs judges"),
    (PANEL, {"externalities": [{"benchmark": {"kind": "jailbreakbench", "metric": "judged"}}]}, "judge panel"),
    (PANEL, {"judges": [{"kind": "llm"}, {"kind": "alias"}]}, "needs a rubric"),
    (VALIDATION, {"judges": []}, "list them"),
    (VALIDATION, {"interval": {"method": "bca"}}, "question-clustered"),
    (VALIDATION, {"panel": {"require": "every"}}, "panel: is read by intervention claims"),
    (VALIDATION, {"judges": [{"kind": "alias"}, {"kind": "llm", "rubric": "harmful_binary"}]}, "grades QA answers"),
])
def test_specs_say_what_a_judge_may_grade(base, changes, match):
    d = copy.deepcopy(base)
    d.update(changes)
    with pytest.raises(ValidationError, match=match):
        ClaimSpec.model_validate(d)


def test_gold_file_errors_name_line_and_fix(tmp_path):
    from harness.benchmarks import EMBEDDED_JUDGE_GOLD_PATH, load_judge_gold

    good = {"row_id": "q1/greedy", "prompt_id": "q1", "question": "Capital of France?", "aliases": ["Paris"],
            "answer": "Paris", "gold": "correct"}
    cases = [({**good, "gold": "right"}, "not one of correct"), ({**good, "aliases": "Paris"}, "non-empty list"),
             ({k: v for k, v in good.items() if k != "prompt_id"}, "missing field 'prompt_id'")]
    for row, match in cases:
        p = tmp_path / "g.jsonl"
        p.write_text(json.dumps(good | {"row_id": "q0/greedy"}) + "\n" + json.dumps(row) + "\n")
        with pytest.raises(DataError, match=match) as err:
            load_judge_gold(p)
        assert "line 2" in str(err.value)
    p.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    with pytest.raises(DataError, match="duplicate row_id"):
        load_judge_gold(p)
    shipped = load_judge_gold(EMBEDDED_JUDGE_GOLD_PATH)
    assert len(shipped) == 300 and {g.gold for g in shipped} == {"correct", "incorrect", "not_attempted"}
