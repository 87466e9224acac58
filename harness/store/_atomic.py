"""Atomic file writes: readers see the old file or the whole new one, never a partial write."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

from harness.store._canonical import canonical_json

__all__ = ["TEMP_SUFFIX", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "temp_prefix"]

TEMP_SUFFIX = ".tmp"
"""Suffix of in-flight temporary files; a process killed mid-write leaves one behind."""

_FILE_MODE = 0o644  # mkstemp creates 0600; artifacts should be readable like any other file


def temp_prefix(name: str) -> str:
    """Return the prefix of the temporary files used while writing a file called ``name``.

    Args:
        name: The final file name (no folder).

    Returns:
        A hidden-file prefix; temp files are ``<prefix><random><TEMP_SUFFIX>`` in the same folder.
    """
    return f".{name}."


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, creating parent folders.

    The bytes go to a temporary file in the same folder, which is flushed, fsynced and then moved over
    ``path`` with ``os.replace``; the folder is fsynced too so the rename survives a power cut. On any
    error the temporary file is removed and ``path`` keeps its previous content (if any).

    Args:
        path: Destination file.
        data: The full new content.

    Raises:
        OSError: The folder cannot be created or written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=temp_prefix(target.name), suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if hasattr(os, "fchmod"):  # POSIX only
                os.fchmod(handle.fileno(), _FILE_MODE)
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(target.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write_bytes`.

    Args:
        path: Destination file.
        text: The full new content.
    """
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as canonical JSON plus a newline to ``path`` atomically.

    Args:
        path: Destination file.
        obj: Any value :func:`harness.store.canonical_json` accepts.

    Raises:
        TypeError: ``obj`` cannot be represented in JSON.
        ValueError: ``obj`` holds a NaN or infinite float.
    """
    atomic_write_text(path, canonical_json(obj) + "\n")


def _fsync_dir(folder: Path) -> None:
    # Makes the rename durable; some platforms/filesystems cannot open or fsync a folder.
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
