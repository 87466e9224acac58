"""Content-addressed artifacts: ``root/<stage>/<key[:2]>/<key>.<ext>`` plus a sha256 sidecar, one lock per key."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from filelock import FileLock, Timeout

from harness.store._atomic import FULL_ERRNOS, disk_full_error
from harness.store._canonical import canonical_json, fingerprint, to_jsonable
from harness.store._errors import StoreError
from harness.store._progress import Progress
from harness.store._shards import check_batch, load_shards, write_shard
from harness.store._sidecar import (
    META_SUFFIX,
    read_verified,
    remove_stale_temps,
    remove_with_sidecar,
    write_with_sidecar,
)

__all__ = ["ArtifactStore"]

_LOG = logging.getLogger(__name__)
_T = TypeVar("_T")
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_EXT = re.compile(r"[a-z0-9]+(\.[a-z0-9]+)*")
_NPZ_DATE = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps: same arrays, same bytes


class ArtifactStore:
    """Cache of computed artifacts, keyed by the fingerprint of ``{"stage": stage, **key_parts}``.

    Every read is checked against the sidecar's sha256; anything missing, unreadable or mismatched is
    logged as a warning and recomputed, never used. A ``filelock.FileLock`` per key
    (``<key>.lock`` next to the artifact) makes concurrent processes computing the same key serialise:
    one computes, the others wait and then read its result.
    """

    def __init__(self, root: str | Path, *, lock_timeout_s: float | None = None) -> None:
        """Open (lazily: nothing is created until the first write) a store under ``root``.

        Args:
            root: The store's folder, typically ``data_dir() / "artifacts"``.
            lock_timeout_s: Longest wait for another process's lock on a key; ``None`` waits forever.
        """
        self.root = Path(root)
        self._lock_timeout_s = lock_timeout_s

    def key(self, stage: str, key_parts: Mapping[str, Any]) -> str:
        """Return the key (sha256 hex) of ``stage`` and ``key_parts``.

        Raises:
            StoreError: ``stage`` is not a safe relative folder name, or ``key_parts`` has a ``"stage"`` entry
                or is not JSON.
        """
        return self._key(stage, key_parts)[0]

    def artifact_path(self, stage: str, key_parts: Mapping[str, Any], ext: str) -> Path:
        """Return where the artifact of ``stage``/``key_parts`` with extension ``ext`` lives (or would)."""
        if not _EXT.fullmatch(ext):
            raise StoreError(
                f"ArtifactStore: extension {ext!r} is invalid; use lowercase letters/digits like 'json'"
            )
        key = self.key(stage, key_parts)
        return self._key_dir(stage, key) / f"{key}.{ext}"

    def get_or_compute_json(
        self, stage: str, key_parts: Mapping[str, Any], compute: Callable[[], Any]
    ) -> Any:
        """Return the cached JSON artifact, or call ``compute()``, store its result and return it.

        The value returned is always the stored JSON read back (tuples become lists, and so on), so a
        cache hit and a cache miss give equal values.

        Args:
            stage: Pipeline stage, a relative folder name such as ``"judge"`` or ``"activations/cett"``.
            key_parts: Everything the result depends on (model, dataset, config...).
            compute: Produces the value on a miss; must return something ``canonical_json`` accepts.

        Returns:
            The JSON value.

        Raises:
            StoreError: Bad stage/key parts, a non-JSON result, or a lock timeout.
        """
        key, parts = self._key(stage, key_parts)
        path = self._key_dir(stage, key) / f"{key}.json"
        with self._locked(stage, key):
            found, cached = self._load(path, lambda data: json.loads(data.decode("utf-8")))
            if found:
                return cached
            value = compute()
            try:
                text = canonical_json(value)
            except (TypeError, ValueError) as err:
                raise StoreError(
                    f"get_or_compute_json(stage={stage!r}): compute() returned a value that is not JSON ({err}); "
                    "return plain JSON types, or use get_or_compute_npz for arrays"
                ) from err
            write_with_sidecar(path, (text + "\n").encode("ascii"), stage=stage, key_parts=parts)
            _LOG.debug("stored %s", path)
            return json.loads(text)

    def put_json(self, stage: str, key_parts: Mapping[str, Any], value: Any) -> None:
        """Store (or replace) a JSON artifact under ``stage``/``key_parts``, atomically and under the key's lock.

        For records a run re-derives every time (e.g. a claim's row-level evidence), where the latest wins.

        Raises:
            StoreError: Bad stage/key parts, a non-JSON value, or a lock timeout.
        """
        key, parts = self._key(stage, key_parts)
        path = self._key_dir(stage, key) / f"{key}.json"
        try:
            text = canonical_json(value)
        except (TypeError, ValueError) as err:
            raise StoreError(f"put_json(stage={stage!r}): the value is not JSON ({err})") from err
        with self._locked(stage, key):
            write_with_sidecar(path, (text + "\n").encode("ascii"), stage=stage, key_parts=parts)

    def get_json(self, stage: str, key_parts: Mapping[str, Any]) -> Any | None:
        """The stored JSON artifact, or ``None`` when it is absent or corrupted (a corrupted one is logged)."""
        key, _ = self._key(stage, key_parts)
        path = self._key_dir(stage, key) / f"{key}.json"
        if not path.exists() and not path.with_name(path.name + META_SUFFIX).exists():
            return None
        with self._locked(stage, key):
            found, value = self._load(path, lambda data: json.loads(data.decode("utf-8")))
        return value if found else None

    def get_or_compute_npz(
        self, stage: str, key_parts: Mapping[str, Any], compute: Callable[[], Mapping[str, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        """Return the cached arrays, or call ``compute()``, store them as ``.npz`` and return them.

        Args:
            stage: Pipeline stage (see :meth:`get_or_compute_json`).
            key_parts: Everything the arrays depend on.
            compute: Produces ``{name: array}`` on a miss; object arrays are refused (they need pickle).

        Returns:
            ``{name: array}`` in the order ``compute`` gave them.

        Raises:
            StoreError: Bad stage/key parts, a bad result from ``compute``, or a lock timeout.
        """
        key, parts = self._key(stage, key_parts)
        path = self._key_dir(stage, key) / f"{key}.npz"
        with self._locked(stage, key):
            found, arrays = self._load(path, _decode_npz)
            if found and arrays is not None:
                return arrays
            arrays = _check_arrays(compute(), stage)
            write_with_sidecar(path, _encode_npz(arrays), stage=stage, key_parts=parts)
            _LOG.debug("stored %s", path)
            return arrays

    def exists(self, stage: str, key_parts: Mapping[str, Any], ext: str) -> bool:
        """Whether an artifact and its sidecar are on disk (not verified: a later read checks the sha256)."""
        path = self.artifact_path(stage, key_parts, ext)
        return path.exists() and path.with_name(path.name + META_SUFFIX).exists()

    def discard(self, stage: str, key_parts: Mapping[str, Any], ext: str) -> None:
        """Delete an artifact and its sidecar (under the key's lock), e.g. the parts of an assembled artifact."""
        key, _ = self._key(stage, key_parts)
        path = self.artifact_path(stage, key_parts, ext)
        if not path.exists() and not path.with_name(path.name + META_SUFFIX).exists():
            return
        with self._locked(stage, key):
            remove_with_sidecar(path)

    def resumable_map(
        self,
        stage: str,
        key_parts: Mapping[str, Any],
        ids: Sequence[str],
        compute_batch: Callable[[list[str]], list[dict[str, Any]]],
        *,
        batch_size: int,
        progress_label: str,
    ) -> dict[str, dict[str, Any]]:
        """Compute one JSON dict per id, in batches, keeping every finished batch on disk.

        Each batch of ids not yet stored is passed to ``compute_batch`` and its results are written as
        one shard (JSON lines plus a sha256 sidecar) in the key's shard folder. A run that is killed or
        raises resumes with only the missing ids; corrupted shards are discarded with a warning and
        their ids recomputed. The key's lock is held throughout, so a second process waits and then
        reuses the results. The key does not include ``ids``: calling again with more ids computes
        only the new ones.

        Args:
            stage: Pipeline stage (see :meth:`get_or_compute_json`).
            key_parts: Everything a per-item result depends on (but not the list of ids).
            ids: Unique item ids, in the order wanted back.
            compute_batch: Given a list of ids, returns a list with one dict per id, in the same order.
            batch_size: Most ids per ``compute_batch`` call (and per shard).
            progress_label: Label of the rate-limited progress lines.

        Returns:
            ``{id: result}`` in the order of ``ids``; results are as read back from JSON.

        Raises:
            StoreError: Duplicate or non-str ids, ``batch_size < 1``, a bad ``compute_batch`` result,
                or a lock timeout.
        """
        id_list = _check_ids(ids, stage)
        if batch_size < 1:
            raise StoreError(f"resumable_map(stage={stage!r}): batch_size must be >= 1, got {batch_size}")
        key, parts = self._key(stage, key_parts)
        shard_dir = self._key_dir(stage, key) / f"{key}.shards"
        with self._locked(stage, key):
            remove_stale_temps(shard_dir)
            stored = load_shards(shard_dir)
            results = {i: stored[i] for i in id_list if i in stored}
            missing = [i for i in id_list if i not in results]
            if not missing:
                _LOG.debug("%s: all %d items cached", progress_label, len(id_list))
                return {i: results[i] for i in id_list}
            _LOG.info(
                "%s: %d/%d items cached, computing %d in batches of %d",
                progress_label,
                len(results),
                len(id_list),
                len(missing),
                batch_size,
            )
            with Progress(progress_label, total=len(id_list), initial=len(results)) as progress:
                for start in range(0, len(missing), batch_size):
                    batch = missing[start : start + batch_size]
                    out = check_batch(compute_batch(list(batch)), batch, stage=stage)
                    results.update(write_shard(shard_dir, batch, out, stage=stage, key_parts=parts))
                    progress.update(len(batch))
        return {i: results[i] for i in id_list}

    def _key(self, stage: str, key_parts: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Validate inputs; return the key and the JSON-ready key parts."""
        _check_stage(stage)
        if not isinstance(key_parts, Mapping):
            raise StoreError(f"stage {stage!r}: key_parts must be a dict, got {type(key_parts).__name__}")
        if "stage" in key_parts:
            raise StoreError(
                f"stage {stage!r}: key_parts may not contain 'stage' (the stage is added to the key)"
            )
        try:
            parts = to_jsonable(dict(key_parts))
            return fingerprint({"stage": stage, **parts}), parts
        except (TypeError, ValueError) as err:
            raise StoreError(f"stage {stage!r}: key_parts cannot be fingerprinted ({err})") from err

    def _key_dir(self, stage: str, key: str) -> Path:
        return self.root / stage / key[:2]

    @contextlib.contextmanager
    def _locked(self, stage: str, key: str) -> Iterator[None]:
        folder = self._key_dir(stage, key)
        lock_path = folder / f"{key}.lock"
        timeout = -1 if self._lock_timeout_s is None else self._lock_timeout_s
        try:
            folder.mkdir(parents=True, exist_ok=True)
            lock = FileLock(lock_path, timeout=timeout)
            lock.acquire()
        except Timeout as err:  # before OSError: filelock's Timeout is a TimeoutError
            raise StoreError(
                f"timed out after {timeout} s waiting for lock {lock_path}; another process is computing "
                "this artifact. Wait for it, or raise lock_timeout_s"
            ) from err
        except OSError as err:
            if err.errno in FULL_ERRNOS:
                raise disk_full_error(err, [lock_path]) from err
            raise
        try:
            remove_stale_temps(folder, prefix=f".{key}.")  # left by a writer killed mid-write
            yield
        finally:
            lock.release()

    def _load(self, path: Path, decode: Callable[[bytes], _T]) -> tuple[bool, _T | None]:
        """Return ``(True, value)`` for a valid stored artifact, else ``(False, None)`` (warning if corrupted)."""
        data, problem = read_verified(path)
        if data is None:
            if problem is not None:
                _LOG.warning("artifact %s is corrupted (%s); recomputing", path, problem)
            return False, None
        try:
            return True, decode(data)
        except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as err:
            _LOG.warning("artifact %s is corrupted (unreadable: %r); recomputing", path, err)
            return False, None


def _check_stage(stage: str) -> None:
    if not isinstance(stage, str) or not all(_SEGMENT.fullmatch(seg) for seg in stage.split("/")):
        raise StoreError(
            f"stage {stage!r} is not a safe relative folder name; use letters, digits, '_', '-', '.' "
            "and '/' between parts, e.g. 'activations/cett'"
        )


def _check_ids(ids: Sequence[str], stage: str) -> list[str]:
    if isinstance(ids, str):
        raise StoreError(f"resumable_map(stage={stage!r}): ids must be a sequence of str, not one str")
    id_list = list(ids)
    bad = [i for i in id_list if not isinstance(i, str)]
    if bad:
        raise StoreError(
            f"resumable_map(stage={stage!r}): ids must be str; got {bad[0]!r} ({type(bad[0]).__name__})"
        )
    if len(set(id_list)) != len(id_list):
        dups = sorted(i for i, n in Counter(id_list).items() if n > 1)
        raise StoreError(f"resumable_map(stage={stage!r}): ids must be unique; duplicated: {dups[:5]}")
    return id_list


def _check_arrays(arrays: Any, stage: str) -> dict[str, np.ndarray]:
    where = f"get_or_compute_npz(stage={stage!r})"
    if not isinstance(arrays, Mapping):
        raise StoreError(
            f"{where}: compute() returned {type(arrays).__name__}; return a dict of name -> array"
        )
    out: dict[str, np.ndarray] = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not name:
            raise StoreError(f"{where}: array name {name!r} is invalid; use non-empty str names")
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise StoreError(
                f"{where}: array {name!r} has dtype object, which needs pickle; convert it to a numeric or "
                "fixed-width string dtype"
            )
        out[name] = array
    return out


def _encode_npz(arrays: Mapping[str, np.ndarray]) -> bytes:
    # np.savez with fixed timestamps (np.savez stamps the current time), uncompressed, no pickle.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_NPZ_DATE)
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
    return buffer.getvalue()


def _decode_npz(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}
