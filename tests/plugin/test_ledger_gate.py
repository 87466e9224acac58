"""The ledger and the regression gate through pytest, on a real tiny-model claim."""

from __future__ import annotations

import json

import pytest
import torch  # noqa: F401  (heavy stack imported before pytester runs; see test_plugin.py)
import transformers  # noqa: F401

import harness.claims._run  # noqa: F401

pytest_plugins = ["pytester"]

CLAIM = """\
statement: A probe on the tiny model's CETT features predicts its wrong answers.
stage: localization
evidence: readout
model: {kind: tiny}
data: {kind: qa_jsonl, path: %(data)s}
pipeline:
  labels: {mode: greedy}
  split: {length_match: none, train: 0.5, val: 0.25}
  sampling: {max_new_tokens: 4, batch_size: 64}
estimand: {kind: detector_auroc}
interval: {n_resamples: %(n)d}
pass_rule: {kind: lower_above, threshold: 0.0}
"""


def _run(pytester, *args):
    res = pytester.runpytest_subprocess("claims", f"--claims-results={pytester.path / 'results'}",
                                        f"--claims-store={pytester.path / 'store'}", "-p", "no:cacheprovider",
                                        f"--claims-ledger={pytester.path / 'ledger.json'}", *args)
    return res, res.stdout.str()


def test_baseline_gate_regression_and_stale(pytester, tiny_qa):
    claims = pytester.mkdir("claims")
    (claims / "tiny_probe.yaml").write_text(CLAIM % {"data": tiny_qa, "n": 300})
    ledger = pytester.path / "ledger.json"
    res, _ = _run(pytester, "--claims-update-baseline")
    res.assert_outcomes(passed=1)  # AUROC above 0 always holds: a SUPPORTED baseline
    base = json.loads(ledger.read_text())["claims"][0]
    assert base["claim_id"] == "tiny_probe" and base["verdict"] == "SUPPORTED" and base["spec_hash"]
    assert json.loads((pytester.path / "results" / "_ledger.json").read_text())["claims"][0] == base

    res, out = _run(pytester, "--claims-gate")
    assert res.ret == 0 and "matches its baseline" in out

    moved = {**base, "estimate": base["high"] + 1.0, "low": base["high"] + 0.5, "high": base["high"] + 2.0}
    ledger.write_text(json.dumps({"version": 1, "claims": [moved]}))
    res, out = _run(pytester, "--claims-gate")
    assert res.ret == 10 and "REGRESSION tiny_probe: estimate" in out and "left the baseline interval" in out

    ledger.write_text(json.dumps({"version": 1, "claims": [base]}))
    (claims / "tiny_probe.yaml").write_text(CLAIM % {"data": tiny_qa, "n": 400})  # one spec field changed
    res, out = _run(pytester, "--claims-gate")
    assert res.ret == 0 and "STALE" in out and "spec_hash changed" in out


def test_a_flipped_ledger_verdict_fails_the_gate_with_a_readable_message(pytester, tiny_qa):
    claims = pytester.mkdir("claims")
    strict = (CLAIM % {"data": tiny_qa, "n": 300}).replace("threshold: 0.0", "threshold: 0.999")
    (claims / "tiny_probe.yaml").write_text(strict)  # an AUROC above 0.999 on a random model: not SUPPORTED
    res, _ = _run(pytester, "--claims-update-baseline")
    ledger = pytester.path / "ledger.json"
    base = json.loads(ledger.read_text())["claims"][0]
    assert base["verdict"] in ("REFUTED", "INCONCLUSIVE")
    res, out = _run(pytester, "--claims-gate", "--claims-replay")  # from the stored rows: no model needed
    assert res.ret == 0 and "matches its baseline" in out
    ledger.write_text(json.dumps({"version": 1, "claims": [{**base, "verdict": "SUPPORTED"}]}))
    res, out = _run(pytester, "--claims-gate", "--claims-replay")
    assert res.ret == 10
    assert f"REGRESSION tiny_probe: verdict regressed from SUPPORTED to {base['verdict']} (estimate" in out


def test_gate_exit_code_for_an_infrastructure_error(pytester, tmp_path):
    claims = pytester.mkdir("claims")
    (claims / "broken.yaml").write_text(CLAIM % {"data": tmp_path / "missing.jsonl", "n": 300})
    res, out = _run(pytester, "--claims-gate")
    assert res.ret == 11 and "INFRASTRUCTURE" in out


@pytest.mark.parametrize("flag", ["--claims-gate", "--claims-update-baseline"])
def test_gate_options_are_documented(pytester, flag):
    assert flag in pytester.runpytest("--help").stdout.str()
