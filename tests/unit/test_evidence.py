"""Row-level evidence files: parsing, validation errors, pairing, and the assertion stage on planted rows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.claims._assess import assess
from harness.claims._evidence import Evidence, parse_rows, read_rows, rows_text, write_rows
from harness.claims._spec import ClaimSpec
from harness.errors import DataError

SLOPE = {
    "statement": "Scaling the H-neurons lowers the counterfactual margin.", "stage": "control",
    "evidence": "intervention", "intervention": {"kind": "neuron_scaling", "alphas": [0, 1, 2]},
    "benchmark": {"kind": "counterfactual", "metric": "target_margin"}, "estimand": {"kind": "dose_slope"},
    "interval": {"n_resamples": 500}, "pass_rule": {"kind": "upper_below", "threshold": 0},
    "controls": [{"kind": "random_neurons", "seeds": 2}],
    "externalities": [{"benchmark": {"kind": "heldout_text", "metric": "nll"}}],
}


def _lines(*rows):
    return "\n".join(json.dumps(r) for r in rows) + "\n"


def _slope_rows(n=30, slope=-0.5, seed=0, drop=None):
    rng = np.random.default_rng(seed)
    ev = Evidence(rows=[])
    ids = [f"q{i}" for i in range(n)]
    base = rng.normal(size=n)
    for a in (0.0, 1.0, 2.0):
        ev.add("treatment", ids, base + slope * a + rng.normal(0, 0.1, n), alpha=a)
        for s in range(2):
            ev.add(f"control/random_neurons/{s}", ids, base + rng.normal(0, 0.1, n), alpha=a)
    for a in (1.0, 2.0):  # externalities: the no-op (1 for neuron scaling) and the largest alpha
        ev.add("externality/0/heldout_text/nll", [f"t{i}" for i in range(6)], 3.0 + a * rng.random(6), alpha=a)
    if drop is not None:
        ev.rows = [r for r in ev.rows if not drop(r)]
    return ev


def test_rows_round_trip_exactly_and_the_decision_is_identical(tmp_path):
    spec = ClaimSpec.model_validate(SLOPE)
    ev = _slope_rows()
    ev.header = {"claim_id": "x", "model_fingerprint": "m"}
    write_rows(tmp_path / "r.jsonl", ev)
    back = read_rows(tmp_path / "r.jsonl")
    assert back.rows == ev.rows and back.header == ev.header
    a, b = assess(spec, ev), assess(spec, back)
    assert a.interval == b.interval and a.controls == b.controls and a.p_value == b.p_value
    assert a.verdict == "SUPPORTED" and a.interval.high < 0 and len(a.controls) == 2
    assert a.details["externalities"][0]["n_items"] == 6


def test_a_planted_null_is_not_supported():
    spec = ClaimSpec.model_validate(SLOPE)
    assert assess(spec, _slope_rows(slope=0.0, seed=3)).verdict != "SUPPORTED"


def test_rows_are_paired_by_id_not_by_file_order():
    spec = ClaimSpec.model_validate(SLOPE)
    ev = _slope_rows()
    shuffled = Evidence(rows=[r for r in ev.rows if r["condition"] == "treatment"]
                        + [r for r in reversed(ev.rows) if r["condition"] != "treatment"])
    assert assess(spec, ev).controls == assess(spec, shuffled).controls


@pytest.mark.parametrize(("text", "message"), [
    ('{"id": "q1", "condition": "treatment", "alpha": 0, "value": 1}\n'
     '{"id": "q1", "condition": "treatment", "alpha": 0, "value": 2}\n', "<f>:2: duplicate row for id 'q1'"),
    ('{"id": "q1", "condition": "treatment", "value": NaN}\n', "value must be a finite number"),
    ('{"id": "q1", "condition": "treatment"}\n', "row has no 'value'"),
    ('{"id": "q1", "condition": "treatment", "value": 1, "score": 2}\n', "unknown field(s) ['score']"),
    ('{"id": "q1", "condition": "detector", "value": 1, "label": 2}\n', "label must be 0 or 1"),
    ('{"id": "q1", "condition": "t", "value": 1}\n{"header": {}}\n', "header line may only be the first"),
    ('{"header": {"format": "harness-rows", "version": 9}}\n{"id": "q", "condition": "t", "value": 1}\n',
     "version 9"),
    ("not json\n", "<f>:1: not JSON"),
    ("\n", "no rows"),
])
def test_malformed_rows_name_the_line_and_the_fix(text, message):
    with pytest.raises(DataError) as err:
        parse_rows(text, "<f>")
    assert message in str(err.value)


def test_missing_condition_missing_alpha_and_unpaired_items_are_errors():
    spec = ClaimSpec.model_validate(SLOPE)
    with pytest.raises(DataError, match=r"no rows for condition 'control/random_neurons/1'.*present: treatment"):
        assess(spec, _slope_rows(drop=lambda r: r["condition"] == "control/random_neurons/1"))
    with pytest.raises(DataError, match=r"'treatment' has no rows at alpha \[2.0\]"):
        assess(spec, _slope_rows(drop=lambda r: r["condition"] == "treatment" and r["alpha"] == 2.0))
    with pytest.raises(DataError, match=r"'control/random_neurons/0' at alpha 1.0 is unpaired with the treatment: "
                                        r"1 item\(s\) missing \(e.g. \['q5'\]\)"):
        assess(spec, _slope_rows(drop=lambda r: r["condition"] == "control/random_neurons/0" and r["id"] == "q5"
                                 and r["alpha"] == 1.0))
    with pytest.raises(DataError, match=r"'treatment' at alpha 2.0 is unpaired with the first alpha"):
        assess(spec, _slope_rows(drop=lambda r: r["condition"] == "treatment" and r["id"] == "q7"
                                 and r["alpha"] == 2.0))


def test_mixed_judge_versions_are_never_pooled():
    spec = ClaimSpec.model_validate(SLOPE)
    ev = _slope_rows()
    for k, r in enumerate(ev.rows):
        r["judge"] = "alias-v1" if k % 2 else "alias-v2"
    with pytest.raises(DataError, match="mix judge versions"):
        assess(spec, ev)


def test_detection_rows_need_labels_and_controls_pair_with_the_detector():
    spec = ClaimSpec.model_validate({
        "statement": "A probe predicts wrong answers.", "stage": "localization", "evidence": "readout",
        "estimand": {"kind": "detector_auroc"}, "interval": {"n_resamples": 300},
        "pass_rule": {"kind": "lower_above", "threshold": 0.5}, "controls": [{"kind": "shuffled_labels", "seeds": 1}]})
    rng = np.random.default_rng(0)
    ids = [f"q{i}" for i in range(40)]
    y = np.arange(40) % 2
    ev = Evidence(rows=[])
    ev.add("detector", ids, y * 2.0 + rng.normal(0, 0.5, 40), labels=y)
    ev.add("control/shuffled_labels/0", ids[::-1], rng.normal(size=40))
    a = assess(spec, ev)
    assert a.verdict == "SUPPORTED" and a.interval.estimate > 0.9 and a.details["n_test"] == 40
    no_labels = parse_rows(rows_text(ev).replace(', "label": 1', "").replace(', "label": 0', ""), "<f>")
    with pytest.raises(DataError, match="'detector' rows need a 'label'"):
        assess(spec, no_labels)
    ev.rows = [r for r in ev.rows if not (r["condition"].startswith("control") and r["id"] == "q3")]
    with pytest.raises(DataError, match="unpaired with the detector rows"):
        assess(spec, ev)
