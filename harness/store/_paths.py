"""Where the harness keeps caches and run outputs."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_DIR_ENV", "data_dir"]

DATA_DIR_ENV = "HARNESS_DATA_DIR"
"""Environment variable that overrides the data folder."""


def data_dir() -> Path:
    """Return the data folder: ``$HARNESS_DATA_DIR`` if set and non-empty, else ``<repo root>/data``.

    The folder is not created here; writers create what they need.

    Returns:
        An absolute path.
    """
    override = os.environ.get(DATA_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser().resolve()
    # harness/store/_paths.py -> parents[2] is the repository root.
    return Path(__file__).resolve().parents[2] / "data"
