"""Replay: a live run's row-level file re-asserts its claim without a model, bit for bit; so does the store."""

from __future__ import annotations

import json

import torch  # noqa: F401  (heavy stack imported before pytester runs; see test_plugin.py)
import transformers  # noqa: F401
from test_intervention_claims import NEURONS
from test_plugin import GOOD

import harness.claims._run  # noqa: F401

pytest_plugins = ["pytester"]


def _run(pytester, results, *args):
    res = pytester.runpytest_subprocess("claims", f"--claims-results={pytester.path / results}",
                                        f"--claims-store={pytester.path / 'store'}", "-p", "no:cacheprovider", *args)
    return res, res.stdout.str()


def _load(pytester, results, name):
    return json.loads((pytester.path / results / f"{name}.json").read_text())


def _decided(result):
    """Everything the assertion stage decides, as JSON (floats compared exactly)."""
    return {k: result[k] for k in ("verdict", "reason", "rule", "interval", "controls", "p_value", "p_method")}


def test_replay_of_written_rows_reproduces_the_live_run_bit_for_bit(pytester, tiny_qa):
    claims = pytester.mkdir("claims")
    (claims / "tiny_lever.yaml").write_text(NEURONS % {"data": tiny_qa})
    (claims / "tiny_probe.yaml").write_text(GOOD % {"data": tiny_qa})
    _run(pytester, "live")
    live = {n: _load(pytester, "live", n) for n in ("tiny_lever", "tiny_probe")}
    rows = {n: pytester.path / "live" / f"{n}.rows.jsonl" for n in live}
    header = json.loads(rows["tiny_lever"].read_text().splitlines()[0])["header"]
    assert header["format"] == "harness-rows" and header["model_fingerprint"] == live["tiny_lever"][
        "provenance"]["model_fingerprint"]
    conditions = {json.loads(line)["condition"] for line in rows["tiny_lever"].read_text().splitlines()[1:]}
    assert {"treatment", "control/random_neurons/0", "control/random_neurons/2",
            "externality/0/heldout_text/nll"} <= conditions

    # the same claims as replay specs of the files: no model is loaded, and the decision is identical
    for name in live:
        text = (claims / f"{name}.yaml").read_text().replace("model: {kind: tiny}", "model: {kind: tiny}\n"
                                                            f"replay: {{path: {rows[name]}}}")
        (claims / f"{name}.yaml").write_text(text)
    res, _ = _run(pytester, "replayed")
    supported = sum(r["verdict"] == "SUPPORTED" for r in live.values())
    res.assert_outcomes(passed=supported, failed=len(live) - supported)
    for name, result in live.items():
        again = _load(pytester, "replayed", name)
        assert _decided(again) == _decided(result), name
        assert again["details"]["replayed_from"] == str(rows[name])
        assert "model_load_s" not in again["timings"]
        prov = again["provenance"]
        assert prov["replay"]["source"] == str(rows[name])
        assert prov["model_fingerprint"] == result["provenance"]["model_fingerprint"]
        assert prov["data_fingerprints"] == result["provenance"]["data_fingerprints"]


def test_replay_mode_asserts_from_the_store_and_skips_what_it_lacks(pytester, tiny_qa):
    claims = pytester.mkdir("claims")
    (claims / "tiny_probe.yaml").write_text(GOOD % {"data": tiny_qa})
    _run(pytester, "live")
    live = _load(pytester, "live", "tiny_probe")

    # the pass rule and interval are assertion-stage fields: replay re-decides with them, no recompute
    (claims / "tiny_probe.yaml").write_text((GOOD % {"data": tiny_qa}).replace("threshold: 0.5", "threshold: 0.99"))
    (claims / "never_run.yaml").write_text((GOOD % {"data": tiny_qa}).replace("seeds: 2", "seeds: 3"))
    res, out = _run(pytester, "replayed", "--claims-replay", "-rs")
    again = _load(pytester, "replayed", "tiny_probe")
    assert again["interval"] == live["interval"] and again["controls"] == live["controls"]
    assert again["verdict"] in ("REFUTED", "INCONCLUSIVE")  # an AUROC on a random model is not above 0.99
    assert again["details"]["replayed_from"].startswith("store evidence/")
    assert "no stored evidence for this spec" in out and "never_run" in out
    res.assert_outcomes(failed=1, skipped=1)
    assert not (pytester.path / "replayed" / "tiny_probe.rows.jsonl").exists()  # replays write no rows


def test_a_bad_row_file_is_a_clear_error(pytester, tiny_qa, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"id": "q1", "condition": "detector", "value": 0.3, "label": 1}\n'
                    '{"id": "q1", "condition": "detector", "value": 0.5, "label": 0}\n')
    claims = pytester.mkdir("claims")
    (claims / "replayed.yaml").write_text((GOOD % {"data": tiny_qa}).replace(
        "model: {kind: tiny}", f"model: {{kind: tiny}}\nreplay: {{path: {rows}}}"))
    res, out = _run(pytester, "results")
    res.assert_outcomes(failed=1)
    assert f"{rows}:2: duplicate row for id 'q1'" in out and "Traceback" not in out
