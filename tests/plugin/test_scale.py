"""Scale-out: claims computed by submitit's local executor into a store that pytest then asserts from."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.scale import JobFailed, check_claims, compute_claim, plan_jobs, submit_claims, wait_for
from harness.scale.__main__ import main

pytest_plugins = ["pytester"]

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
interval: {n_resamples: 300, seed: %(seed)s}
pass_rule: {kind: lower_above, threshold: 0.5}
controls: [{kind: shuffled_labels, seeds: %(seed)s}]
"""
GPU = "model: {kind: hf, path: google/gemma-3-4b-it, requires_gpu: true}"


def _write(folder: Path, files: dict[str, str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text)
    return [folder / f"{name}.yaml" for name in files]


def _snapshot(store: Path) -> dict[str, tuple[str, int]]:
    """Path -> (sha256, mtime) of every file in the store."""
    return {str(p.relative_to(store)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(store.rglob("*")) if p.is_file()}


def _intervals(results: Path) -> dict[str, tuple[str, float, float, float]]:
    out = {}
    for p in sorted(results.glob("[!_]*.json")):
        r = json.loads(p.read_text())
        out[p.stem] = (r["verdict"], r["interval"]["estimate"], r["interval"]["low"], r["interval"]["high"])
    return out


def test_local_jobs_fill_the_store_and_pytest_asserts_from_it_computing_nothing(pytester, tiny_qa):
    # two claims sharing the model, data, labels and features (computed once, under the store's locks)
    paths = _write(pytester.path / "claims", {f"probe_{s}": GOOD % {"data": tiny_qa, "seed": s} for s in (1, 2)})
    store, results = pytester.path / "store", pytester.path / "results"
    jobs = submit_claims(paths, store_root=store, results_dir=results, folder=pytester.path / "jobs",
                         executor="local", cpus_per_task=1, timeout_min=5)
    assert [j.claim_ids for j in jobs] == [("probe_1",), ("probe_2",)]  # one job per claim by default
    summaries = wait_for(jobs)

    assert [s["claim_id"] for s in summaries] == ["probe_1", "probe_2"]
    computed = _intervals(results)
    assert sorted(computed) == ["probe_1", "probe_2"]
    for s in summaries:
        verdict, est, low, high = computed[s["claim_id"]]
        assert verdict == s["verdict"] in ("SUPPORTED", "REFUTED", "INCONCLUSIVE")
        assert low <= est <= high and (s["low"], s["high"]) == (low, high)
    before = _snapshot(store)
    assert any(k.endswith(".npz") for k in before) and any(".shards/" in k for k in before)

    assert (results / "probe_1.rows.jsonl").exists()
    # the assertion stage, as on any other machine with the store mounted: from the stored rows, no model
    res = pytester.runpytest_subprocess("claims", f"--claims-store={store}", "--claims-replay",
                                        f"--claims-results={pytester.path / 'replayed'}", "-p", "no:cacheprovider")
    assert "claim verdicts" in res.stdout.str()
    assert _intervals(pytester.path / "replayed") == computed
    replayed = json.loads((pytester.path / "replayed" / "probe_1.json").read_text())
    assert replayed["details"]["replayed_from"].startswith("store evidence/")
    assert "model_load_s" not in replayed["timings"]
    unlocked = {k: v for k, v in before.items() if not k.endswith(".lock")}
    assert {k: v for k, v in _snapshot(store).items() if not k.endswith(".lock")} == unlocked  # replay only reads
    # or a plain live run on the warm store: every stage is read, none recomputed
    res = pytester.runpytest_subprocess("claims", f"--claims-store={store}",
                                        f"--claims-results={pytester.path / 'asserted'}", "-p", "no:cacheprovider")
    assert "claim verdicts" in res.stdout.str()
    assert _intervals(pytester.path / "asserted") == computed
    after = _snapshot(store)
    assert after.keys() == before.keys()  # no new artifact
    # a live run may re-save a small derived record (same bytes; its sidecar's "created" time changes), but
    # the model's work is read, not redone: generations (.shards) and activations (.npz) are untouched
    artifacts = [k for k in before if not k.endswith((".meta.json", ".lock"))]
    assert [k for k in artifacts if after[k][0] != before[k][0]] == []
    model_work = [k for k in before if ".shards/" in k or k.endswith(".npz")]
    assert model_work and [k for k in model_work if after[k] != before[k]] == []


def test_bad_input_is_reported_before_anything_is_submitted(tmp_path, capsys):
    good, bad = _write(tmp_path / "claims", {
        "good": GOOD % {"data": "x.jsonl", "seed": 1},
        "bad": GOOD.replace("pass_rule:", "pass_rle:") % {"data": "x.jsonl", "seed": 1}})
    missing = tmp_path / "claims" / "god.yaml"
    with pytest.raises(SpecError) as err:
        submit_claims([good, bad, missing, tmp_path / "nowhere"], store_root=tmp_path / "store",
                      results_dir=tmp_path / "results", folder=tmp_path / "jobs")
    msg = str(err.value)
    assert "nothing was submitted; 3 problem(s)" in msg
    assert f"{bad}: invalid claim spec" in msg and "Did you mean: pass_rule?" in msg
    assert f"{missing}: no such claim file. Did you mean: {tmp_path / 'claims' / 'good.yaml'}?" in msg
    assert f"{tmp_path / 'nowhere'}: no such claim file. Check the path" in msg
    assert not (tmp_path / "jobs").exists() and not (tmp_path / "store").exists()

    # the same through the CLI: exit 2, the problems on stderr, nothing submitted
    assert main(["submit", str(bad), str(missing), "--folder", str(tmp_path / "jobs")]) == 2
    assert "2 problem(s)" in capsys.readouterr().err and not (tmp_path / "jobs").exists()


def test_two_files_with_one_claim_id_are_refused(tmp_path):
    a = _write(tmp_path / "a" / "claims", {"same": GOOD % {"data": "x.jsonl", "seed": 1}})
    b = _write(tmp_path / "b" / "claims", {"same": GOOD % {"data": "x.jsonl", "seed": 1}})
    with pytest.raises(SpecError, match="claim id 'same' is used by two files"):
        check_claims(a + b)
    assert len(check_claims(a + a)) == 1  # one file given twice runs once


def test_failing_job_names_claim_job_id_and_log(tmp_path, capsys):
    missing = tmp_path / "nope.jsonl"
    (path,) = _write(tmp_path / "claims", {"no_data": GOOD % {"data": missing, "seed": 1}})
    rc = main(["submit", str(path), "--executor", "local", "--store", str(tmp_path / "store"), "--results",
               str(tmp_path / "results"), "--folder", str(tmp_path / "jobs"), "--cpus-per-task", "1",
               "--timeout-min", "5", "--wait"])
    out, err = capsys.readouterr()
    assert rc == 1
    (job_line,) = out.splitlines()
    job_id, log = job_line.split()[1], Path(job_line.split("log ")[1])
    assert job_line == f"job {job_id}  no_data  log {log}" and log.is_file()
    assert f"job {job_id} (claims no_data) failed" in err and f"stderr log: {log}" in err
    assert "claim no_data" in err and "DataError" in err and str(missing) in err
    assert "Traceback" not in err  # the error line, not the job's traceback (that is in the log)
    assert "Traceback" in log.read_text()
    assert not (tmp_path / "results").exists()


def test_wait_for_keeps_the_finished_claims_of_a_partly_failed_run(tmp_path):
    class Done:
        job_id, paths = "1", type("P", (), {"stderr": tmp_path / "1_0_log.err"})

        def result(self):
            return [{"claim_id": "ok"}]

    class Failed(Done):
        job_id = "2"

        def result(self):
            from submitit.core.utils import UncompletedJobError

            raise UncompletedJobError("Job 2 has not produced any output (state: TIMEOUT)")

    from harness.scale import ClaimJob

    with pytest.raises(JobFailed) as err:
        wait_for([ClaimJob(("ok",), ("ok.yaml",), Done()), ClaimJob(("slow",), ("slow.yaml",), Failed())])
    assert err.value.summaries == [{"claim_id": "ok"}]
    assert "1 of 2 job(s) failed" in str(err.value) and "job 2 (claims slow) failed" in str(err.value)
    assert "state: TIMEOUT" in str(err.value)


def test_jobs_hold_one_model_each(tmp_path):
    files = {f"tiny_{i}": GOOD % {"data": "x.jsonl", "seed": i + 1} for i in range(3)}
    files |= {f"gpu_{i}": (GOOD % {"data": "x.jsonl", "seed": i + 1}).replace("model: {kind: tiny}", GPU)
              for i in range(2)}
    checked = check_claims(_write(tmp_path / "claims", files))
    names = [[p.stem for p in job] for job in plan_jobs(checked, claims_per_job=2)]
    assert names == [["tiny_0", "tiny_1"], ["tiny_2"], ["gpu_0", "gpu_1"]]
    assert len(plan_jobs(checked)) == 5
    assert len(plan_jobs(checked, max_jobs=2)) == 2  # 3 claims per job at most; models never share one


def test_claim_that_cannot_run_here_is_skipped_with_reason(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    (path,) = _write(tmp_path / "claims", {"gpu_claim": (GOOD % {"data": "x.jsonl", "seed": 1}).replace(
        "model: {kind: tiny}", GPU)})
    s = compute_claim(str(path), str(tmp_path / "store"), str(tmp_path / "results"))
    assert s["verdict"] == "SKIPPED" and "needs a CUDA GPU" in s["reason"] and s["estimate"] is None
    assert not (tmp_path / "results").exists()


def test_import_is_light():
    code = ("import sys, harness.scale; bad=[m for m in ('torch','submitit','transformers') if m in sys.modules]; "
            "print(bad); sys.exit(bool(bad))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_slurm_array_script_carries_the_resources(tmp_path, monkeypatch):
    """No cluster here: stand-in srun/sbatch record the array script submitit would hand to Slurm."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {tmp_path}/sbatch.sh\necho "Submitted batch job 4242"\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    paths = _write(tmp_path / "claims", {f"c{i}": GOOD % {"data": "x.jsonl", "seed": i + 1} for i in range(3)})
    jobs = submit_claims(paths, store_root=tmp_path / "store", results_dir=tmp_path / "results",
                         folder=tmp_path / "jobs", executor="slurm", slurm_partition="gpu", gpus_per_node=1,
                         cpus_per_task=8, array_parallelism=2)
    assert [(j.claim_ids, j.job_id) for j in jobs] == [(("c0",), "4242_0"), (("c1",), "4242_1"), (("c2",), "4242_2")]
    assert jobs[1].stderr_path == tmp_path / "jobs" / "4242_1_0_log.err"
    script = (tmp_path / "sbatch.sh").read_text()
    for line in ("--array=0-2%2", "--partition=gpu", "--gpus-per-node=1", "--cpus-per-task=8", "--mem=16GB",
                 "--time=360", "export OMP_NUM_THREADS=8 MKL_NUM_THREADS=8"):
        assert line in script
