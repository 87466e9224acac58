"""The ledger record and the regression gate's decisions."""

from __future__ import annotations

import pytest

from harness.claims._ledger import gate, ledger_record, read_ledger, write_ledger
from harness.errors import SpecError


def _result(verdict="SUPPORTED", est=0.8, low=0.7, high=0.9, spec="s1"):
    return {"claim_id": "c", "verdict": verdict, "interval": {"estimate": est, "low": low, "high": high,
                                                              "method": "bca", "level": 0.95, "n": 100},
            "controls": [{"interval": {"estimate": 0.5}}], "p_value": 0.01, "details": {"power": {"mde": 0.1}},
            "provenance": {"spec_hash": spec, "model_fingerprint": "m", "data_fingerprints": {"q": "d"},
                           "git": {"commit": "abc", "dirty": False}, "packages": {"harness": "0.1.0", "numpy": "2"}}}


def test_record_keeps_what_the_gate_and_a_reader_need():
    r = ledger_record(_result())
    assert (r["verdict"], r["estimate"], r["low"], r["high"], r["n"], r["mde"]) == ("SUPPORTED", 0.8, 0.7, 0.9, 100, 0.1)
    assert r["controls"] == [0.5] and r["spec_hash"] == "s1" and r["commit"] == "abc"
    assert r["packages"] == {"harness": "0.1.0"}


@pytest.mark.parametrize("now,status,words", [
    (_result(), "ok", "matches its baseline"),
    (_result(verdict="INCONCLUSIVE", est=0.75, low=0.45, high=0.95), "regression", "SUPPORTED to INCONCLUSIVE"),
    (_result(est=0.95, low=0.92, high=0.97), "regression", "left the baseline interval"),
    (_result(spec="s2", est=0.95, low=0.92, high=0.97), "stale", "spec_hash"),
    (_result(spec="s2", verdict="REFUTED"), "regression", "SUPPORTED to REFUTED"),
])
def test_gate_decisions(now, status, words):
    out = gate(ledger_record(now), ledger_record(_result()))
    assert out.status == status and words in out.message


def test_gate_on_an_inconclusive_baseline_only_watches_the_estimate():
    base = ledger_record(_result(verdict="INCONCLUSIVE", est=0.5, low=0.3, high=0.7))
    assert gate(ledger_record(_result(verdict="INCONCLUSIVE", est=0.55, low=0.3, high=0.8)), base).status == "ok"
    assert gate(ledger_record(_result(verdict="SUPPORTED", est=0.8)), base).status == "regression"


def test_new_claim_and_ledger_round_trip(tmp_path):
    assert gate(ledger_record(_result()), None).status == "new"
    path = tmp_path / "reports" / "ledger.json"
    assert read_ledger(path) == {}
    write_ledger(path, {"c": ledger_record(_result())})
    assert read_ledger(path)["c"]["estimate"] == 0.8
    path.write_text("{not json")
    with pytest.raises(SpecError, match=r"malformed.*--claims-update-baseline"):
        read_ledger(path)


def test_a_changed_stage_code_version_makes_the_record_stale():
    def with_code(versions):
        r = _result()
        r["provenance"]["code_versions"] = versions
        return ledger_record(r)

    base = with_code({"cett": "cett-v1", "assess": "assess-v1"})
    assert gate(with_code({"cett": "cett-v1", "assess": "assess-v1"}), base).status == "ok"
    out = gate(with_code({"cett": "cett-v2", "assess": "assess-v1"}), base)
    assert out.status == "stale" and "code of stage(s) cett: cett-v1 -> cett-v2" in out.message
    out = gate(with_code({"cett": "cett-v1", "assess": "assess-v1", "eval": "eval-v1"}), base)
    assert out.status == "stale" and "eval: None -> eval-v1" in out.message
