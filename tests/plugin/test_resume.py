"""Crash safety of claim runs: a run SIGKILLed while sampling or while capturing CETT features resumes with
only the missing items or batches; a run that fills the disk (a real tiny tmpfs) fails with a clear error,
keeps no half-written file, and resumes once there is space; corrupted or half-written artifacts are detected
and recomputed. Every re-run gives the same result as an uninterrupted run."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("resume")  # under make test's -n 2, one worker runs the reference once

CLAIM_ID = "resume_probe"
# Samples at a near-zero temperature repeat the greedy answer, so the tiny model's relaxed labels are
# balanced; 80 questions x 6 samples in batches of 8 make the samples stage write 60 shards, which is
# slow enough (about 1 s) to kill the run in the middle of it. CETT features are captured two sequences at a
# time, so that stage stores dozens of parts too.
CLAIM = """\
statement: A probe on the tiny model's CETT features predicts its wrong answers.
stage: localization
evidence: readout
model: {kind: tiny}
data: {kind: qa_jsonl, path: %(data)s}
pipeline:
  labels: {mode: relaxed, screen: false, max_wrong_per_right: null}
  split: {length_match: none, train: 0.5, val: 0.25}
  sampling: {k: 6, temperature: 0.001, max_new_tokens: 8, batch_size: 8}
  features: {batch_size: 2}
estimand: {kind: detector_auroc}
interval: {n_resamples: 200}
pass_rule: {kind: lower_above, threshold: 0.0}
"""
N_QUESTIONS = 80
RUN_TIMEOUT_S = 300
CACHED = re.compile(r"(\w+): (\d+)/(\d+) items cached, computing (\d+) in batches of (\d+)")
CETT_CACHED = re.compile(r"cett: (\d+)/(\d+) batches cached, computing (\d+) in batches of (\d+)")


@pytest.fixture(scope="module")
def resume_qa(tmp_path_factory, tiny):
    """A QA file the tiny model gets about half right (aliases of even items are its greedy answers)."""
    from harness.generate import build_prompt, generate_batch

    questions = [f"What is entry {i} of table {i * 7 % 13}?" for i in range(N_QUESTIONS)]
    gens = generate_batch(tiny, [build_prompt(tiny.tokenizer, q).ids for q in questions], max_new_tokens=8)
    path = tmp_path_factory.mktemp("resume_qa") / "qa.jsonl"
    with path.open("w") as f:
        for i, (q, g) in enumerate(zip(questions, gens, strict=True)):
            alias = g.text if i % 2 == 0 and g.text.strip() else "zzqx"
            f.write(json.dumps({"id": f"q{i}", "question": q, "aliases": [alias]}) + "\n")
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory, resume_qa):
    """An uninterrupted run in a fresh store: its folder, store and result."""
    root = tmp_path_factory.mktemp("reference")
    _write_claim(root, resume_qa)
    _run_to_end(root, root / "store")
    return {"root": root, "store": root / "store", "result": _result(root)}


def test_sigkilled_run_resumes_with_only_the_missing_items(tmp_path, resume_qa, reference):
    _write_claim(tmp_path, resume_qa)
    store = tmp_path / "store"
    total = len(_shards(reference["store"], "samples"))
    total_items = sum(_n_lines(p) for p in _shards(reference["store"], "samples"))
    assert total > 2, f"the reference run wrote only {total} samples shards; the test needs many"

    _kill_when(tmp_path, store, lambda: len(_sidecars(store, "samples")) >= total // 4, f"{total // 4} samples shards")
    assert not (tmp_path / "results" / f"{CLAIM_ID}.json").exists()

    kept = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in _shards(store, "samples") if _valid(p)}
    n_kept = sum(_n_lines(p) for p in kept)
    assert 0 < len(kept) < total, (
        f"{len(kept)} of {total} samples shards were complete when the run was killed; the run finished "
        "before the kill could land mid-way. Enlarge the workload (N_QUESTIONS, sampling.k)")

    out = _run_to_end(tmp_path, store)
    computing = {m[0]: tuple(int(x) for x in m[1:]) for m in CACHED.findall(out)}
    assert "greedy" not in computing, f"the greedy stage finished before the kill, yet was recomputed:\n{out}"
    assert "samples" in computing, f"no 'samples: N/M items cached' line in the re-run's log:\n{out}"
    cached, n_items, n_computed, batch = computing["samples"]
    assert (cached, n_items, batch) == (n_kept, total_items, 8), out
    assert cached > 0 and n_computed == n_items - cached, out
    for path, (data, mtime) in kept.items():  # finished shards are read, never rewritten
        assert path.read_bytes() == data and path.stat().st_mtime_ns == mtime, path
    assert len(_shards(store, "samples")) == total and all(_valid(p) for p in _shards(store, "samples"))
    assert not list(store.rglob("*.tmp")), "temp files of the killed writer were left behind"
    assert _comparable(_result(tmp_path)) == _comparable(reference["result"])


@pytest.mark.parametrize("damage", ["truncated_shard", "flipped_npz"])
def test_corrupted_and_half_written_artifacts_are_recomputed(tmp_path, reference, damage):
    shutil.copytree(reference["root"], tmp_path, dirs_exist_ok=True)
    shutil.rmtree(tmp_path / "results")
    store = tmp_path / "store"
    if damage == "truncated_shard":
        # one shard is truncated under its sidecar; another one's writer "died" before os.replace, leaving
        # only its temp file (half the bytes) behind
        corrupted, half_written = _shards(store, "samples")[:2]
        original = {p: p.read_bytes() for p in (corrupted, half_written)}
        corrupted.write_bytes(original[corrupted][: len(original[corrupted]) // 2])
    else:
        # the fitted detector's bytes are flipped under its sidecar; the CETT features' writer "died"
        # before os.replace, leaving only its temp file behind
        (corrupted,) = _files(store, "fit", "*.npz")
        (half_written,) = _files(store, "cett", "*.npz")
        original = {p: p.read_bytes() for p in (corrupted, half_written)}
        data = bytearray(original[corrupted])
        mid = len(data) // 2
        data[mid : mid + 8] = bytes(b ^ 0xFF for b in data[mid : mid + 8])
        corrupted.write_bytes(bytes(data))
    temp = half_written.with_name(f".{half_written.name}.k3x9q1z_.tmp")  # atomic_write_bytes' naming
    temp.write_bytes(original[half_written][: len(original[half_written]) // 2])
    half_written.unlink()
    _sidecar(half_written).unlink()

    out = _run_to_end(tmp_path, store)
    assert re.search(rf"{re.escape(str(corrupted))} is corrupted \(sha256 mismatch\)", out), (
        f"no 'is corrupted' warning for {corrupted}:\n{out}")
    redone = {m[0]: tuple(int(x) for x in m[1:]) for m in CACHED.findall(out)}
    if damage == "truncated_shard":  # exactly the two damaged shards' items are sampled again
        total_items = sum(_n_lines(p) for p in _shards(reference["store"], "samples"))
        n_lost = sum(b.count(b"\n") for b in original.values())
        assert redone == {"samples": (total_items - n_lost, total_items, n_lost, 8)}, out
    else:
        assert not redone, f"no item should be recomputed:\n{out}"
        assert "capturing CETT features" in out, f"the half-written CETT features were not recomputed:\n{out}"
    for path, data in original.items():  # rewritten, byte for byte as before, under a valid sidecar
        assert path.read_bytes() == data and _valid(path), path
    assert not temp.exists() and not list(store.rglob("*.tmp")), "a leftover temp file was not cleaned up"
    assert _comparable(_result(tmp_path)) == _comparable(reference["result"])


def test_sigkilled_feature_capture_resumes_with_only_the_missing_batches(tmp_path, reference):
    shutil.copytree(reference["root"], tmp_path, dirs_exist_ok=True)
    shutil.rmtree(tmp_path / "results")
    store = tmp_path / "store"
    (features,) = _files(store, "cett", "*.npz")
    reference_features = features.read_bytes()
    features.unlink()
    _sidecar(features).unlink()
    assert not list((store / "cett_batches").rglob("*.npz")), "the reference run left CETT parts behind"
    n_labelled = reference["result"]["details"]["labels"]["n_labelled"]
    total = -(-n_labelled // 2)  # features.batch_size 2
    assert total > 8, f"only {total} CETT batches; the test needs many"

    _kill_when(tmp_path, store, lambda: len(_part_sidecars(store)) >= total // 4, f"{total // 4} CETT parts")
    kept = [p for p in _parts(store) if _valid(p)]
    assert 0 < len(kept) < total, f"{len(kept)} of {total} CETT parts stored when the run was killed"
    assert not features.exists() and not (tmp_path / "results" / f"{CLAIM_ID}.json").exists()

    out = _run_to_end(tmp_path, store)
    assert not CACHED.findall(out), f"no item should be sampled again:\n{out}"
    assert CETT_CACHED.findall(out) == [(str(len(kept)), str(total), str(total - len(kept)), "2")], out
    assert features.read_bytes() == reference_features  # bit for bit as one uninterrupted capture
    assert not _parts(store) and not list(store.rglob("*.tmp"))  # the parts are gone once assembled
    assert _comparable(_result(tmp_path)) == _comparable(reference["result"])


def test_a_full_disk_fails_clearly_keeps_nothing_half_written_and_resumes(tmp_path, resume_qa, reference, tiny_disk):
    _write_claim(tmp_path, resume_qa)
    # a tmpfs that holds the greedy answers and about half of the samples: the run fills it while sampling
    ref = reference["store"]
    size = _pages(_files(ref, "greedy", "*.shards/*")) + _pages(_files(ref, "samples", "*.shards/*")) // 2
    disk = tiny_disk(size)
    store, results = disk / "store", disk / "results"

    proc = subprocess.run(_pytest_cmd(store, tmp_path, results), cwd=tmp_path, capture_output=True, text=True,
                          env=_env(), timeout=RUN_TIMEOUT_S)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert (f"claim {CLAIM_ID} could not run: DiskFullError: no space left on device while writing {store}/"
            in out), out
    assert "Fix: free space on that disk, or point the store (--claims-store, HARNESS_DATA_DIR)" in out
    assert "Traceback" not in out
    assert not results.exists() or not list(results.iterdir())
    # nothing half-written: no temp file, and every file in the store is whole, under a matching sidecar
    assert not list(disk.rglob("*.tmp"))
    data = [p for p in store.rglob("*") if p.is_file() and p.suffix != ".lock" and not p.name.endswith(".meta.json")]
    assert all(_valid(p) for p in data), [p for p in data if not _valid(p)]
    assert len(list(store.rglob("*.meta.json"))) == len(data)
    kept = [p for p in _shards(store, "samples") if _valid(p)]
    n_kept = sum(_n_lines(p) for p in kept)
    assert kept, "the disk filled before any samples shard was stored; enlarge the tmpfs"

    tiny_disk(64 << 20)  # space again
    out = _run_to_end(tmp_path, store, results)
    computing = {m[0]: tuple(int(x) for x in m[1:]) for m in CACHED.findall(out)}
    assert "greedy" not in computing and computing["samples"][0] == n_kept, out
    assert _comparable(json.loads((results / f"{CLAIM_ID}.json").read_text())) == _comparable(reference["result"])


@pytest.fixture
def tiny_disk(tmp_path):
    """``mount(size_bytes)``: a tmpfs of that size at ``tmp_path/disk`` (remounted when called again)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    mounted = []

    def mount(size: int) -> Path:
        opts = f"size={size}" if not mounted else f"remount,size={size}"
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(mnt)], capture_output=True, text=True)
        if res.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip() or res.returncode}); a full disk is also "
                        "tested by injection in tests/unit/test_store.py::test_a_full_disk_*")
        mounted.append(size)
        return mnt

    yield mount
    if mounted:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _kill_when(root: Path, store: Path, ready, what: str) -> None:
    """Start the claim run and SIGKILL its process group as soon as ``ready()``."""
    log = root / "killed.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(_pytest_cmd(store, root), cwd=root, stdout=sink, stderr=subprocess.STDOUT,
                                env=_env(), start_new_session=True)
        try:
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while not ready():
                if proc.poll() is not None:
                    pytest.fail(f"the claim run exited (rc {proc.returncode}) before {what} were stored; "
                                f"log:\n{log.read_text()}")
                if time.monotonic() > deadline:
                    pytest.fail(f"fewer than {what} after {RUN_TIMEOUT_S} s; log:\n{log.read_text()}")
                time.sleep(0.002)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"the run was not killed (rc {proc.returncode})"


def _parts(store: Path) -> list[Path]:
    return _files(store, "cett_batches", "*.npz")


def _part_sidecars(store: Path) -> list[Path]:
    return _files(store, "cett_batches", "*.npz.meta.json")


def _pages(paths: list[Path], page: int = 4096) -> int:
    """Bytes a tmpfs needs for these files (each takes whole pages)."""
    return sum(-(-p.stat().st_size // page) * page for p in paths if p.is_file())


def _write_claim(root: Path, data: Path) -> None:
    (root / "claims").mkdir()
    (root / "claims" / f"{CLAIM_ID}.yaml").write_text(CLAIM % {"data": data})


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _pytest_cmd(store: Path, root: Path, results: Path | None = None) -> list[str]:
    return [sys.executable, "-m", "pytest", "claims", f"--claims-store={store}",
            f"--claims-results={results or root / 'results'}", "-p", "no:cacheprovider", "-o", "log_cli=true",
            "--log-cli-level=INFO"]


def _run_to_end(root: Path, store: Path, results: Path | None = None) -> str:
    """Run the claim in ``root`` to completion; return its output (the claim must pass)."""
    try:
        proc = subprocess.run(_pytest_cmd(store, root, results), cwd=root, capture_output=True, text=True,
                              env=_env(), timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the claim run took over {RUN_TIMEOUT_S} s; output so far:\n{exc.stdout}")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"the claim run failed (rc {proc.returncode}):\n{out}"
    return out


def _result(root: Path) -> dict:
    return json.loads((root / "results" / f"{CLAIM_ID}.json").read_text())


def _comparable(result: dict) -> dict:
    """A result without what legitimately differs between runs (timings, command line, host...)."""
    prov = result["provenance"]
    return {**{k: v for k, v in result.items() if k not in ("timings", "provenance")},
            "fingerprints": [prov["data_fingerprints"], prov["model_fingerprint"], prov["spec_hash"]]}


def _files(store: Path, stage: str, pattern: str) -> list[Path]:
    return sorted((store / stage).glob(f"*/{pattern}"))


def _shards(store: Path, stage: str) -> list[Path]:
    return _files(store, stage, "*.shards/shard-*.jsonl")


def _sidecars(store: Path, stage: str) -> list[Path]:
    return _files(store, stage, "*.shards/shard-*.jsonl.meta.json")


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def _valid(path: Path) -> bool:
    """Whether ``path`` exists and matches the sha256 its sidecar records."""
    meta = _sidecar(path)
    if not path.exists() or not meta.exists():
        return False
    return hashlib.sha256(path.read_bytes()).hexdigest() == json.loads(meta.read_text())["sha256"]


def _n_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n")
