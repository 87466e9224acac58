"""The pytest plugin, through pytester: collection, did-you-mean errors, verdict reports, xdist."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch  # imported before any in-process pytester run (see below)
import transformers  # noqa: F401

import harness.claims._run
import harness.models  # noqa: F401

pytest_plugins = ["pytester"]
# Tests that run a model use runpytest_subprocess: an in-process run restores sys.modules afterwards, which
# drops torch/transformers submodules first imported inside it, and re-importing them crashes C extensions.
# Collection-only tests (invalid specs) stay in-process; the heavy stack is imported above, before any
# in-process run, so no worker imports torch for the first time after a sys.modules restore.

GOOD = """\
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
interval: {n_resamples: 300}
pass_rule: {kind: lower_above, threshold: 0.5}
controls: [{kind: shuffled_labels, seeds: 2}]
"""


def _claims(pytester, files):
    d = pytester.mkdir("claims")
    for name, text in files.items():
        (d / f"{name}.yaml").write_text(text)
    return d


def test_claim_runs_on_a_real_tiny_model_and_reports(pytester, tiny_qa):
    _claims(pytester, {"tiny_probe": GOOD % {"data": tiny_qa}})
    res = pytester.runpytest_subprocess("claims", f"--claims-results={pytester.path / 'results'}",
                                        f"--claims-store={pytester.path / 'store'}", "-p", "no:cacheprovider")
    out = res.stdout.str()
    assert "claim verdicts" in out
    result = json.loads((pytester.path / "results" / "tiny_probe.json").read_text())
    assert result["verdict"] in ("SUPPORTED", "REFUTED", "INCONCLUSIVE")
    assert len(result["controls"]) == 2
    iv = result["interval"]
    assert iv["low"] <= iv["estimate"] <= iv["high"] and iv["method"].startswith("stratified")
    if result["verdict"] == "SUPPORTED":
        res.assert_outcomes(passed=1)
    else:  # the failure report shows estimate, interval, rule and each control seed
        res.assert_outcomes(failed=1)
        assert "estimate:" in out and "rule:" in out and "control shuffled_labels seed 1" in out


def test_invalid_claim_names_file_field_and_did_you_mean(pytester):
    bad = textwrap.dedent("""\
        statement: Neurons predict hallucination in the tiny model.
        stage: localization
        evidence: readout
        estimand: {kind: detector_auroc}
        pass_rule: {kind: lower_above, treshold: 0.5}
        pipline: {}
        """)
    _claims(pytester, {"bad_claim": bad})
    res = pytester.runpytest("claims")
    out = res.stdout.str()
    assert "bad_claim.yaml" in out
    assert "pass_rule.lower_above.treshold" in out and "Did you mean: threshold?" in out
    assert "Did you mean: pipeline?" in out
    assert res.ret != 0


def test_unknown_kind_lists_available(pytester):
    bad = GOOD.replace("detector_auroc", "detector_aurok") % {"data": "x.jsonl"}
    _claims(pytester, {"typo_kind": bad})
    out = pytester.runpytest("claims").stdout.str()
    assert "unknown kind 'detector_aurok'" in out and "Did you mean: detector_auroc?" in out


def test_causal_wording_on_a_readout_is_rejected(pytester):
    bad = GOOD.replace("predicts its wrong answers", "causes its wrong answers") % {"data": "x.jsonl"}
    _claims(pytester, {"causal": bad})
    out = pytester.runpytest("claims").stdout.str()
    assert "worded causally" in out and "'causes'" in out


def test_gpu_claim_is_skipped_with_reason(pytester):
    text = GOOD.replace("model: {kind: tiny}", "model: {kind: hf, path: google/gemma-3-4b-it, requires_gpu: true}")
    _claims(pytester, {"gpu_claim": text % {"data": "x.jsonl"}})
    res = pytester.runpytest_subprocess("claims", "-rs")

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    res.assert_outcomes(skipped=1)
    assert "needs a CUDA GPU" in res.stdout.str()


def test_xdist_runs_claims(pytester, tiny_qa):
    files = {f"probe_{i}": GOOD % {"data": tiny_qa} for i in range(2)}
    _claims(pytester, files)
    res = pytester.runpytest_subprocess("claims", "-n", "2", "--dist", "loadgroup", "-v",
                                        f"--claims-results={pytester.path / 'results'}",
                                        f"--claims-store={pytester.path / 'store'}")
    # claims on one model run on one worker, which loads it once (despite pytest-xdist#1386)
    workers = {line.split("]")[0] for line in res.stdout.lines if "probe_" in line and line.startswith("[gw")}
    assert len(workers) == 1, res.stdout.str()
    names = sorted(p.name for p in (pytester.path / "results").iterdir())
    assert [n for n in names if not n.startswith("_")] == ["probe_0.json", "probe_0.rows.jsonl", "probe_1.json",
                                                           "probe_1.rows.jsonl"]
    # the controller writes the run's ledger from both workers' results
    ledger = json.loads((pytester.path / "results" / "_ledger.json").read_text())
    assert [r["claim_id"] for r in ledger["claims"]] == ["probe_0", "probe_1"]
    assert "claim verdicts" in res.stdout.str()


def test_plugin_imports_no_heavy_modules():
    code = ("import sys, harness.claims.plugin; "
            "bad=[m for m in ('torch','transformers','sklearn') if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_missing_data_file_is_a_clear_error_without_traceback(pytester, tmp_path):
    missing = tmp_path / "nope.jsonl"
    _claims(pytester, {"no_data": GOOD % {"data": missing}})
    res = pytester.runpytest_subprocess("claims", f"--claims-store={pytester.path / 'store'}")
    out = res.stdout.str()
    res.assert_outcomes(failed=1)
    assert "claim no_data could not run: DataError" in out and str(missing) in out
    assert "Traceback" not in out and "site-packages" not in out
