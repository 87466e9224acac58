"""Unit tests of harness.store: canonical JSON, atomic writes, artifacts, resumable maps, progress lines."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import logging
import multiprocessing
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from harness.store import (
    ArtifactStore,
    DiskFullError,
    Progress,
    StoreError,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_many,
    atomic_write_text,
    canonical_json,
    data_dir,
    fingerprint,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def _subprocess_env() -> dict[str, str]:
    """Environment for a child Python that must import harness from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


# --- canonical_json / fingerprint ---------------------------------------------------------------

_json_leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
_json_leaves |= st.floats(allow_nan=False, allow_infinity=False)
_json_values = st.recursive(
    _json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


def _shuffled(value: object, rng: random.Random) -> object:
    """Same JSON value with every dict rebuilt in a random insertion order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


@settings(max_examples=200, deadline=None)
@given(value=_json_values, seed=st.integers(0, 2**32 - 1))
def test_canonical_json_is_order_independent(value: object, seed: int) -> None:
    shuffled = _shuffled(value, random.Random(seed))
    assert canonical_json(shuffled) == canonical_json(value)
    assert fingerprint(shuffled) == fingerprint(value)
    assert json.loads(canonical_json(value)) == value


def test_canonical_json_is_compact_sorted_and_converts_types() -> None:
    class Spec(BaseModel):
        layer: int
        alpha: float

    @dataclasses.dataclass
    class Point:
        y: tuple[int, int]
        x: Path

    value = {
        "b": (1, 2.5),
        "a": Spec(layer=3, alpha=0.1),
        "c": Point(y=(1, 2), x=Path("data") / "x.npz"),
        "d": [np.int64(7), np.float32(0.5), np.bool_(True)],
        "e": {3: "int keys become strings"},
    }
    assert canonical_json(value) == (
        '{"a":{"alpha":0.1,"layer":3},"b":[1,2.5],"c":{"x":"data/x.npz","y":[1,2]},'
        '"d":[7,0.5,true],"e":{"3":"int keys become strings"}}'
    )
    # repr-stable floats: the shortest round-trip form, and 1 vs 1.0 stay distinct
    assert canonical_json(0.1 + 0.2) == "0.30000000000000004"
    assert canonical_json(1) != canonical_json(1.0)


def test_canonical_json_errors_name_the_location() -> None:
    with pytest.raises(ValueError, match=r"non-finite float nan at \$\.stats\.mean"):
        canonical_json({"stats": {"mean": float("nan")}})
    with pytest.raises(TypeError, match=r"cannot encode bytes at \$\.rows\[1\]"):
        canonical_json({"rows": [1, b"raw"]})


def test_fingerprint_is_stable() -> None:
    value = {"model": "gemma-3-270m", "layers": (3, 5), "alpha": 0.5}
    expected = hashlib.sha256(b'{"alpha":0.5,"layers":[3,5],"model":"gemma-3-270m"}').hexdigest()
    assert fingerprint(value) == expected
    assert fingerprint(dict(reversed(list(value.items())))) == expected
    assert fingerprint({**value, "alpha": 0.25}) != expected


# --- atomic writes ----------------------------------------------------------------------------


def test_atomic_write_creates_parents_and_leaves_no_temp_files(tmp_path: Path) -> None:
    atomic_write_bytes(tmp_path / "a" / "b" / "x.bin", b"\x00\x01")
    atomic_write_text(tmp_path / "a" / "t.txt", "héllo")
    atomic_write_json(tmp_path / "a" / "j.json", {"b": 1, "a": (2,)})
    atomic_write_bytes(tmp_path / "a" / "b" / "x.bin", b"second")  # overwrite
    assert (tmp_path / "a" / "b" / "x.bin").read_bytes() == b"second"
    assert (tmp_path / "a" / "t.txt").read_text(encoding="utf-8") == "héllo"
    assert (tmp_path / "a" / "j.json").read_text() == '{"a":[2],"b":1}\n'
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["j.json", "t.txt", "x.bin"]


def test_atomic_write_failure_keeps_old_file_and_removes_temp(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "x.txt"
    atomic_write_text(target, "old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new content")
    assert target.read_text() == "old"
    assert _temp_files(tmp_path) == []


def test_atomic_write_never_exposes_partial_file(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "x.bin"
    old, new = b"a" * 1_000_000, b"b" * 2_000_000
    atomic_write_bytes(target, old)
    seen_at_fsync = []
    real_fsync = os.fsync

    def spying_fsync(fd: int) -> None:
        seen_at_fsync.append(target.read_bytes())  # new bytes are fully written, not yet visible
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spying_fsync)
    atomic_write_bytes(target, new)
    monkeypatch.undo()
    assert seen_at_fsync[0] == old
    assert target.read_bytes() == new

    # A reader racing a writer only ever sees one complete version or the other.
    stop, seen = threading.Event(), set()

    def reader() -> None:
        while not stop.is_set():
            seen.add(len(target.read_bytes()))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(40):
            atomic_write_bytes(target, old if i % 2 else new)
    finally:
        stop.set()
        thread.join()
    assert seen <= {len(old), len(new)}
    assert _temp_files(tmp_path) == []


def _disk_fills_at(monkeypatch, nth: int) -> list[int]:
    """Make the ``nth`` fsync of a regular file (and every later one) fail with ENOSPC, as a full disk with
    delayed allocation reports it. (A real full tmpfs is in tests/plugin/test_resume.py.)"""
    real, calls = os.fsync, []

    def fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            calls.append(fd)
            if len(calls) >= nth:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


@pytest.mark.parametrize("nth", [1, 2])
def test_a_full_disk_changes_no_file_of_a_pair_and_says_so(tmp_path: Path, monkeypatch, nth: int) -> None:
    rows, result = tmp_path / "c.rows.jsonl", tmp_path / "c.json"
    atomic_write_many([(rows, b"old rows\n"), (result, b"old result\n")])
    _disk_fills_at(monkeypatch, nth)  # the first file's temp, or the second's
    with pytest.raises(DiskFullError) as err:
        atomic_write_many([(rows, b"new rows\n"), (result, b"new result\n")])
    assert isinstance(err.value, OSError) and err.value.errno == errno.ENOSPC
    msg = str(err.value)
    assert msg.startswith(f"no space left on device while writing {rows}, {result} (20 bytes; ")
    assert "Every file kept its previous content and no partial file was left. Fix: free space" in msg
    assert "a re-run resumes from everything already stored" in msg
    assert (rows.read_bytes(), result.read_bytes()) == (b"old rows\n", b"old result\n")
    assert _temp_files(tmp_path) == []


def test_a_full_disk_mid_map_keeps_the_finished_shards_whole_and_resumes(tmp_path: Path, monkeypatch, caplog) -> None:
    store, ids = ArtifactStore(tmp_path), [str(i) for i in range(10)]
    _disk_fills_at(monkeypatch, 5)  # shards 1 and 2 (data + sidecar each) fit; the third does not
    done: list[str] = []
    with pytest.raises(DiskFullError, match=r"no space left on device while writing .*shard-"):
        store.resumable_map("sq", {"v": 1}, ids, _squares(done), batch_size=3, progress_label="sq")
    assert done == ids[:9]
    files = sorted(p.name for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".lock")
    assert len(files) == 4 and _temp_files(tmp_path) == []  # two whole pairs, no orphan, no temp
    monkeypatch.undo()
    again: list[str] = []
    with caplog.at_level(logging.WARNING, logger="harness.store"):
        out = store.resumable_map("sq", {"v": 1}, ids, _squares(again), batch_size=3, progress_label="sq")
    assert again == ids[6:] and out == {i: {"square": int(i) ** 2} for i in ids}
    assert "corrupted" not in caplog.text  # nothing half-written was there to discard


def test_a_full_disk_when_replacing_an_artifact_keeps_the_old_pair_valid(tmp_path: Path, monkeypatch) -> None:
    store = ArtifactStore(tmp_path)
    store.put_json("evidence", {"claim": "c"}, {"rows": [1, 2]})
    _disk_fills_at(monkeypatch, 2)  # the new data's temp fits, its sidecar's does not
    with pytest.raises(DiskFullError):
        store.put_json("evidence", {"claim": "c"}, {"rows": [1, 2, 3]})
    monkeypatch.undo()
    assert store.get_json("evidence", {"claim": "c"}) == {"rows": [1, 2]}
    assert _temp_files(tmp_path) == []


def test_data_dir_uses_env_or_repo_data(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "elsewhere"))
    assert data_dir() == (tmp_path / "elsewhere").resolve()
    monkeypatch.delenv("HARNESS_DATA_DIR")
    assert data_dir() == REPO_ROOT / "data"


# --- get_or_compute -------------------------------------------------------------------------


def test_get_or_compute_json_computes_once_then_reuses(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    calls = []

    def compute() -> dict:
        calls.append(1)
        return {"acc": 0.5, "pair": (1, 2)}

    first = store.get_or_compute_json("judge", {"model": "m", "n": 3}, compute)
    second = store.get_or_compute_json("judge", {"n": 3, "model": "m"}, compute)  # key order is irrelevant
    assert len(calls) == 1
    assert first == second == {"acc": 0.5, "pair": [1, 2]}  # a hit and a miss return the same JSON
    store.get_or_compute_json("judge", {"model": "m", "n": 4}, compute)
    assert len(calls) == 2


def test_artifact_layout_and_sidecar(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    store.get_or_compute_json("stats/ci", {"seed": 1}, lambda: [1, 2, 3])
    key = fingerprint({"stage": "stats/ci", "seed": 1})
    path = tmp_path / "stats" / "ci" / key[:2] / f"{key}.json"
    assert store.artifact_path("stats/ci", {"seed": 1}, "json") == path
    assert (path.parent / f"{key}.lock").exists()
    meta = json.loads((path.parent / f"{key}.json.meta.json").read_text())
    assert set(meta) == {"sha256", "stage", "key_parts", "created", "bytes"}
    assert meta["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert meta["bytes"] == path.stat().st_size
    assert (meta["stage"], meta["key_parts"]) == ("stats/ci", {"seed": 1})


def test_get_or_compute_npz_round_trips_arrays(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    rng = np.random.default_rng(0)
    arrays = {"acts": rng.standard_normal((3, 4)).astype(np.float32), "labels": np.array([1, 0, 1])}
    calls = []

    def compute() -> dict[str, np.ndarray]:
        calls.append(1)
        return arrays

    store.get_or_compute_npz("activations", {"layer": 3}, compute)
    again = store.get_or_compute_npz("activations", {"layer": 3}, compute)
    assert len(calls) == 1
    assert list(again) == ["acts", "labels"]
    for name, array in arrays.items():
        assert again[name].dtype == array.dtype
        np.testing.assert_array_equal(again[name], array)


def test_bad_inputs_raise_clear_errors(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    with pytest.raises(StoreError, match="not a safe relative folder name"):
        store.get_or_compute_json("../escape", {}, dict)
    with pytest.raises(StoreError, match="may not contain 'stage'"):
        store.get_or_compute_json("judge", {"stage": "x"}, dict)
    with pytest.raises(StoreError, match="not JSON"):
        store.get_or_compute_json("judge", {}, lambda: {"x": object()})
    with pytest.raises(StoreError, match="dtype object, which needs pickle"):
        store.get_or_compute_npz("acts", {}, lambda: {"x": np.array([{}, None], dtype=object)})


@pytest.mark.parametrize("ext", ["json", "npz"])
@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "drop_sidecar"])
def test_corrupted_artifact_is_recomputed(tmp_path: Path, caplog, ext: str, damage: str) -> None:
    store = ArtifactStore(tmp_path)
    calls = []

    def get() -> object:
        def compute() -> object:
            calls.append(1)
            return {"x": np.arange(50)} if ext == "npz" else {"x": list(range(50))}

        method = store.get_or_compute_npz if ext == "npz" else store.get_or_compute_json
        return method("stage", {"k": 1}, compute)

    get()
    path = store.artifact_path("stage", {"k": 1}, ext)
    data = bytearray(path.read_bytes())
    if damage == "flip_byte":
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "truncate":
        path.write_bytes(bytes(data[:-10]))
    else:
        path.with_name(path.name + ".meta.json").unlink()
    with caplog.at_level(logging.WARNING, logger="harness.store"):
        value = get()
    assert len(calls) == 2
    assert np.array_equal(np.asarray(value["x"]), np.arange(50))
    reason = "missing sidecar" if damage == "drop_sidecar" else "sha256 mismatch"
    assert f"artifact {path} is corrupted ({reason}" in caplog.text
    assert "recomputing" in caplog.text
    get()  # repaired: reused, no new warning
    assert len(calls) == 2


# --- resumable_map ------------------------------------------------------------------------


def _squares(log: list[str]):
    def compute_batch(batch: list[str]) -> list[dict]:
        log.extend(batch)
        return [{"square": int(i) ** 2} for i in batch]

    return compute_batch


def test_resumable_map_resumes_after_an_exception(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    ids = [str(i) for i in range(8)]
    computed: list[str] = []
    ok = _squares(computed)

    def failing(batch: list[str]) -> list[dict]:
        if len(computed) == 4:  # 2 of 4 batches done
            raise RuntimeError("worker crashed")
        return ok(batch)

    with pytest.raises(RuntimeError, match="worker crashed"):
        store.resumable_map("sq", {"v": 1}, ids, failing, batch_size=2, progress_label="sq")
    assert computed == ids[:4]
    computed.clear()
    result = store.resumable_map("sq", {"v": 1}, ids, ok, batch_size=2, progress_label="sq")
    assert computed == ids[4:]
    assert list(result) == ids
    assert result == {i: {"square": int(i) ** 2} for i in ids}


_KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from harness.store import ArtifactStore

    root, log, kill_at = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    calls = {"compute": 0, "replace": 0}

    def die_on(point, n):
        calls[point] += 1
        if point == kill_at and calls[point] == n:
            os.kill(os.getpid(), signal.SIGKILL)

    real_replace = os.replace

    def replace_then_maybe_die(src, dst):
        # a shard is written as a pair: both temp files, then the data's rename, then the sidecar's; the
        # third shard's renames are calls 5 and 6
        calls["replace"] += 1
        if (kill_at, calls["replace"]) in (("replace", 5), ("sidecar", 6)):
            # replace: the third shard's temp files are complete but never renamed; sidecar: its data is
            # renamed into place, its sidecar never will be
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst)

    os.replace = replace_then_maybe_die

    def compute_batch(batch):
        die_on("compute", 3)
        with log.open("a") as handle:
            handle.write("".join(i + "\\n" for i in batch))
        return [{"square": int(i) ** 2} for i in batch]

    ids = [str(i) for i in range(10)]
    ArtifactStore(root).resumable_map("sq", {"v": 1}, ids, compute_batch, batch_size=3, progress_label="sq")
    """
)


@pytest.mark.parametrize("kill_at", ["compute", "sidecar", "replace"])
def test_resumable_map_resumes_after_sigkill(tmp_path: Path, caplog, kill_at: str) -> None:
    root, log = tmp_path / "store", tmp_path / "computed.txt"
    proc = subprocess.run(
        [sys.executable, "-c", _KILL_SCRIPT, str(root), str(log), kill_at],
        env=_subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    ids = [str(i) for i in range(10)]
    done_before_kill = log.read_text().split()
    assert done_before_kill == (ids[:6] if kill_at == "compute" else ids[:9])

    computed: list[str] = []
    with caplog.at_level(logging.WARNING, logger="harness.store"):
        result = ArtifactStore(root).resumable_map(
            "sq", {"v": 1}, ids, _squares(computed), batch_size=3, progress_label="sq"
        )
    assert computed == ids[6:]  # only the ids of the two batches that never got a valid shard
    assert result == {i: {"square": int(i) ** 2} for i in ids}
    assert ("missing sidecar" in caplog.text) == (kill_at == "sidecar")
    assert _temp_files(root) == []


def test_resumable_map_discards_corrupted_shard(tmp_path: Path, caplog) -> None:
    store = ArtifactStore(tmp_path)
    ids = [str(i) for i in range(6)]
    store.resumable_map("sq", {"v": 1}, ids, _squares([]), batch_size=2, progress_label="sq")
    shard = next(p for p in tmp_path.rglob("*.jsonl") if '"id":"2"' in p.read_text())
    shard.write_text(shard.read_text().replace("4", "5"))  # silently wrong result for id 2
    computed: list[str] = []
    with caplog.at_level(logging.WARNING, logger="harness.store"):
        result = store.resumable_map(
            "sq", {"v": 1}, ids, _squares(computed), batch_size=2, progress_label="sq"
        )
    assert computed == ["2", "3"]
    assert result["2"] == {"square": 4}
    assert f"shard {shard} is corrupted (sha256 mismatch)" in caplog.text


def test_resumable_map_computes_only_new_ids(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    computed: list[str] = []
    store.resumable_map("sq", {"v": 1}, ["1", "2"], _squares(computed), batch_size=5, progress_label="sq")
    result = store.resumable_map(
        "sq", {"v": 1}, ["3", "2", "1"], _squares(computed), batch_size=5, progress_label="sq"
    )
    assert computed == ["1", "2", "3"]
    assert list(result) == ["3", "2", "1"]


@pytest.mark.parametrize(
    ("compute_batch", "message"),
    [
        (lambda batch: [{"ok": 1}] * (len(batch) - 1), "returned 1 results for a batch of 2 ids"),
        (lambda batch: ["not a dict"] * len(batch), "returned str for id '1'"),
        (lambda batch: {"1": {}}, "returned dict for a batch of 2 ids"),
    ],
)
def test_resumable_map_validates_batch_results(tmp_path: Path, compute_batch, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        ArtifactStore(tmp_path).resumable_map(
            "sq", {}, ["1", "2"], compute_batch, batch_size=2, progress_label="sq"
        )


def test_resumable_map_rejects_duplicate_ids(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"duplicated: \['a'\]"):
        ArtifactStore(tmp_path).resumable_map(
            "sq", {}, ["a", "b", "a"], _squares([]), batch_size=2, progress_label="x"
        )


# --- concurrency ----------------------------------------------------------------------------


def _concurrent_worker(root: str, counter: str, out: str, barrier) -> None:
    def compute() -> dict:
        with open(counter, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
        time.sleep(0.5)
        return {"answer": 42}

    barrier.wait()
    value = ArtifactStore(Path(root)).get_or_compute_json("shared", {"k": 1}, compute)
    Path(out).write_text(json.dumps(value), encoding="utf-8")


def test_concurrent_processes_compute_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    counter = tmp_path / "counter.txt"
    outs = [tmp_path / f"out{i}.json" for i in range(2)]
    procs = [
        ctx.Process(
            target=_concurrent_worker, args=(str(tmp_path / "store"), str(counter), str(out), barrier)
        )
        for out in outs
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0, 0]
    assert len(counter.read_text().splitlines()) == 1
    assert [json.loads(out.read_text()) for out in outs] == [{"answer": 42}] * 2


def test_lock_timeout_raises_store_error(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path, lock_timeout_s=0.1)
    path = store.artifact_path("shared", {"k": 1}, "json")
    path.parent.mkdir(parents=True)
    with (
        FileLock(path.parent / f"{store.key('shared', {'k': 1})}.lock"),
        pytest.raises(StoreError, match="timed out"),
    ):
        store.get_or_compute_json("shared", {"k": 1}, dict)


# --- progress -------------------------------------------------------------------------------


class _FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_rate_limits_lines(caplog) -> None:
    clock, logger = _FakeClock(), logging.getLogger("test_store.progress")
    progress = Progress("items", total=1500, logger=logger, min_interval_s=20.0, clock=clock)
    with caplog.at_level(logging.INFO, logger=logger.name), progress:
        for _ in range(150):  # 150 s at 10 items/s, one update a second
            clock.now += 1.0
            progress.update(10)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 8  # t = 20, 40, ..., 140, then completion at t = 150
    assert lines[3] == "items: 800/1500 (53%), 10.0 items/s, ~70 s left"
    assert lines[-1] == "items: 1500/1500 (100%), 10.0 items/s, done in 2 min"
    assert all(r.levelno == logging.INFO for r in caplog.records)


def test_progress_close_logs_final_partial_count_once(caplog) -> None:
    clock, logger = _FakeClock(), logging.getLogger("test_store.progress")
    with caplog.at_level(logging.INFO, logger=logger.name):
        progress = Progress("rows", total=100, logger=logger, initial=40, clock=clock)
        clock.now = 5.0
        progress.update(10)  # not due yet: nothing logged
        assert caplog.records == []
        progress.close()
        progress.close()
    assert [r.getMessage() for r in caplog.records] == ["rows: 50/100 (50%), 2.0 items/s, ~25 s left"]


# --- imports --------------------------------------------------------------------------------


def test_store_does_not_import_heavy_libraries() -> None:
    code = "import sys, harness.store; print(sorted({'torch', 'transformers', 'sklearn'} & set(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=_subprocess_env(), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_put_json_replaces_and_get_json_refuses_corrupted(tmp_path, caplog):
    store = ArtifactStore(tmp_path)
    assert store.get_json("evidence", {"k": 1}) is None  # absent: None, nothing created
    assert not (tmp_path / "evidence").exists()
    store.put_json("evidence", {"k": 1}, {"text": "a"})
    store.put_json("evidence", {"k": 1}, {"text": "b"})  # the latest wins
    assert store.get_json("evidence", {"k": 1}) == {"text": "b"}
    path = store.artifact_path("evidence", {"k": 1}, "json")
    path.write_bytes(path.read_bytes().replace(b'"b"', b'"c"'))
    with caplog.at_level(logging.WARNING):
        assert store.get_json("evidence", {"k": 1}) is None
    assert "is corrupted" in caplog.text
    with pytest.raises(StoreError, match="not JSON"):
        store.put_json("evidence", {"k": 2}, {"x": object()})
