"""Provenance sidecars (``<file>.meta.json``) that record a file's sha256, and reading files against them."""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import hashlib
import json
from pathlib import Path
from typing import Any

from harness.store._atomic import TEMP_SUFFIX, atomic_write_many
from harness.store._canonical import canonical_json

__all__ = [
    "META_SUFFIX",
    "read_verified",
    "remove_stale_temps",
    "remove_with_sidecar",
    "sidecar_path",
    "write_with_sidecar",
]

META_SUFFIX = ".meta.json"


def sidecar_path(path: Path) -> Path:
    """Return the sidecar of ``path``: the same name plus ``.meta.json``."""
    return path.with_name(path.name + META_SUFFIX)


def write_with_sidecar(path: Path, data: bytes, *, stage: str, key_parts: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` and its sidecar, each atomically, as a pair (:func:`atomic_write_many`).

    Both are written to temporary files before either is moved into place, so a full disk leaves the old
    pair (or nothing) and no orphan file. The data is moved first: a process killed between the two renames
    leaves a file whose sidecar is missing or names another sha256, which readers treat as corrupted, never
    as valid.

    Args:
        path: Destination file.
        data: Its full content.
        stage: Pipeline stage, recorded for provenance.
        key_parts: The (JSON-ready) key parts, recorded for provenance.
    """
    meta = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "stage": stage,
        "key_parts": key_parts,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "bytes": len(data),
    }
    atomic_write_many([(path, data), (sidecar_path(path), (canonical_json(meta) + "\n").encode("utf-8"))])


def read_verified(path: Path) -> tuple[bytes | None, str | None]:
    """Read ``path`` and check it against its sidecar's sha256.

    Args:
        path: The file to read.

    Returns:
        ``(data, None)`` when the file matches its sidecar, ``(None, None)`` when neither exists, and
        ``(None, reason)`` when something is wrong (missing sidecar or file, unreadable, sha256 mismatch).
    """
    meta_path = sidecar_path(path)
    has_data, has_meta = path.exists(), meta_path.exists()
    if not has_data and not has_meta:
        return None, None
    if not has_meta:
        return None, f"missing sidecar {meta_path.name}"
    if not has_data:
        return None, f"file missing, sidecar {meta_path.name} left alone"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        expected = meta["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return None, f"unreadable sidecar {meta_path.name}: {err!r}"
    try:
        data = path.read_bytes()
    except OSError as err:
        return None, f"unreadable: {err!r}"
    if hashlib.sha256(data).hexdigest() != expected:
        return None, "sha256 mismatch"
    return data, None


def remove_with_sidecar(path: Path) -> None:
    """Delete ``path`` and its sidecar if they exist."""
    for victim in (path, sidecar_path(path)):
        with contextlib.suppress(FileNotFoundError):
            victim.unlink()


def remove_stale_temps(folder: Path, prefix: str = ".") -> None:
    """Delete temporary files that a killed writer left in ``folder``.

    Call this only while holding the lock that guards every writer of these files.

    Args:
        folder: Where to look (a missing folder is fine).
        prefix: Only temp files whose name starts with this are removed.
    """
    if not folder.is_dir():
        return
    for tmp in folder.glob(f"{glob.escape(prefix)}*{TEMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
