"""Atomic file writes: readers see the old file or the whole new one, never a partial write."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.store._canonical import canonical_json
from harness.store._errors import DiskFullError

__all__ = [
    "FULL_ERRNOS",
    "TEMP_SUFFIX",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_many",
    "atomic_write_text",
    "disk_full_error",
    "temp_prefix",
]

TEMP_SUFFIX = ".tmp"
"""Suffix of in-flight temporary files; a process killed mid-write leaves one behind."""

FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
"""errno values of a full disk or an exhausted quota."""

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
        DiskFullError: The filesystem is full (or over quota); nothing was changed.
        OSError: The folder cannot be created or written.
    """
    atomic_write_many([(path, data)])


def atomic_write_many(files: Sequence[tuple[str | os.PathLike[str], bytes]]) -> None:
    """Write several files so that a full disk or an error changes none of them.

    Every file's bytes go to its own fsynced temporary file first; only when all are written are they moved
    into place, one ``os.replace`` each. Space runs out while writing, never while renaming, so on a full disk
    every target keeps its previous content. (A process killed between two renames leaves some files new and
    some old; readers that need them paired check a hash, as the store's sidecars do.)

    Args:
        files: ``(destination, full new content)`` pairs.

    Raises:
        DiskFullError: The filesystem is full (or over quota); nothing was changed and no temp file is left.
        OSError: A folder cannot be created or written.
    """
    temps: list[tuple[str, Path]] = []
    try:
        for path, data in files:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=temp_prefix(target.name), suffix=TEMP_SUFFIX)
            temps.append((tmp_name, target))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                if hasattr(os, "fchmod"):  # POSIX only
                    os.fchmod(handle.fileno(), _FILE_MODE)
                os.fsync(handle.fileno())
        for tmp_name, target in temps:
            os.replace(tmp_name, target)
    except BaseException as err:
        for tmp_name, _ in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
        if isinstance(err, OSError) and err.errno in FULL_ERRNOS:
            raise disk_full_error(err, [p for p, _ in files], sum(len(d) for _, d in files)) from err
        raise
    for folder in dict.fromkeys(target.parent for _, target in temps):
        _fsync_dir(folder)


def disk_full_error(err: OSError, paths: Sequence[str | os.PathLike[str]], size: int | None = None) -> DiskFullError:
    """The error for a write that ran out of space: what, where, how much was free, and the fix.

    Args:
        err: The ENOSPC / EDQUOT error.
        paths: The files being written.
        size: Bytes being written, when known.
    """
    first = Path(paths[0])
    free = next((shutil.disk_usage(p).free for p in (first.parent, *first.parents) if p.exists()), None)
    names = ", ".join(str(p) for p in paths)
    exc = DiskFullError(
        f"{'no space left on device' if err.errno == errno.ENOSPC else 'disk quota exceeded'} while writing "
        f"{names} ({'' if size is None else f'{size} bytes; '}{free if free is not None else '?'} bytes free "
        "there). Every file kept its previous content and no partial file was left. Fix: free space on that "
        "disk, or point the store (--claims-store, HARNESS_DATA_DIR) and the results (--claims-results) at a "
        "larger one; a re-run resumes from everything already stored.")
    exc.errno = err.errno
    return exc


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
