"""Shards of a resumable map: one JSON-lines file per finished batch, each with a sha256 sidecar."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.store._canonical import canonical_json, fingerprint
from harness.store._errors import StoreError
from harness.store._sidecar import META_SUFFIX, read_verified, remove_with_sidecar, write_with_sidecar

__all__ = ["SHARD_SUFFIX", "check_batch", "load_shards", "write_shard"]

_LOG = logging.getLogger(__name__)

SHARD_SUFFIX = ".jsonl"


def load_shards(shard_dir: Path) -> dict[str, dict[str, Any]]:
    """Read every valid shard in ``shard_dir``; corrupted ones are logged, deleted and skipped.

    Args:
        shard_dir: The key's shard folder (may not exist yet).

    Returns:
        Results by id, from all valid shards.
    """
    if not shard_dir.is_dir():
        return {}
    names = {p.name for p in shard_dir.glob(f"*{SHARD_SUFFIX}")}
    # A sidecar whose shard is gone still names a shard, so it gets reported and cleaned up too.
    names |= {p.name.removesuffix(META_SUFFIX) for p in shard_dir.glob(f"*{SHARD_SUFFIX}{META_SUFFIX}")}
    results: dict[str, dict[str, Any]] = {}
    for name in sorted(names):
        path = shard_dir / name
        data, problem = read_verified(path)
        rows = None if data is None else _parse_shard(data)
        if rows is None:
            _LOG.warning(
                "shard %s is corrupted (%s); discarding it, its ids will be recomputed",
                path,
                problem or "unreadable JSON lines",
            )
            remove_with_sidecar(path)
            continue
        for item_id, result in rows:
            results.setdefault(item_id, result)
    return results


def _parse_shard(data: bytes) -> list[tuple[str, dict[str, Any]]] | None:
    rows = []
    try:
        for line in data.decode("utf-8").splitlines():
            record = json.loads(line)
            item_id, result = record["id"], record["result"]
            if not isinstance(item_id, str) or not isinstance(result, dict):
                return None
            rows.append((item_id, result))
    except (ValueError, KeyError, TypeError):
        return None
    return rows


def check_batch(out: Any, batch: Sequence[str], *, stage: str) -> list[Mapping[str, Any]]:
    """Check that ``compute_batch`` returned one dict per id of ``batch``.

    Args:
        out: What ``compute_batch(batch)`` returned.
        batch: The ids it was given.
        stage: The map's stage, for the error message.

    Returns:
        ``out`` as a list.

    Raises:
        StoreError: ``out`` is not a list/tuple, has the wrong length, or holds a non-dict.
    """
    where = f"resumable_map(stage={stage!r})"
    if not isinstance(out, list | tuple):
        raise StoreError(
            f"{where}: compute_batch returned {type(out).__name__} for a batch of {len(batch)} ids "
            f"(first id {batch[0]!r}); it must return a list with one dict per id, in the same order"
        )
    if len(out) != len(batch):
        raise StoreError(
            f"{where}: compute_batch returned {len(out)} results for a batch of {len(batch)} ids "
            f"(first id {batch[0]!r}); it must return exactly one dict per id, in the same order"
        )
    for item_id, result in zip(batch, out, strict=True):
        if not isinstance(result, Mapping):
            raise StoreError(
                f"{where}: compute_batch returned {type(result).__name__} for id {item_id!r}; "
                "each result must be a dict"
            )
    return list(out)


def write_shard(
    shard_dir: Path,
    batch: Sequence[str],
    results: Sequence[Mapping[str, Any]],
    *,
    stage: str,
    key_parts: dict[str, Any],
) -> dict[str, dict[str, Any]]:
    """Write one finished batch as a shard with its sidecar.

    Args:
        shard_dir: The key's shard folder.
        batch: The batch's ids.
        results: One dict per id (already checked by :func:`check_batch`).
        stage: The map's stage (provenance).
        key_parts: The map's JSON-ready key parts (provenance).

    Returns:
        The results by id exactly as a later run will read them back (JSON round trip).

    Raises:
        StoreError: A result cannot be represented in JSON.
    """
    lines = []
    for item_id, result in zip(batch, results, strict=True):
        try:
            lines.append(canonical_json({"id": item_id, "result": result}))
        except (TypeError, ValueError) as err:
            raise StoreError(
                f"resumable_map(stage={stage!r}): the result for id {item_id!r} is not JSON ({err}); "
                "return plain JSON types from compute_batch"
            ) from err
    name = f"shard-{fingerprint(list(batch))[:16]}{SHARD_SUFFIX}"
    write_with_sidecar(
        shard_dir / name, ("\n".join(lines) + "\n").encode("ascii"), stage=stage, key_parts=key_parts
    )
    return {item_id: json.loads(line)["result"] for item_id, line in zip(batch, lines, strict=True)}
