"""The store's error types."""

from __future__ import annotations

from harness.errors import HarnessError

__all__ = ["DiskFullError", "StoreError"]


class StoreError(HarnessError):
    """The store was misused (bad stage name, bad compute result) or cannot do its job (lock timeout)."""


class DiskFullError(StoreError, OSError):
    """A write ran out of space (ENOSPC / EDQUOT); the target kept its previous content and no partial file
    was left. Also an ``OSError`` (with ``errno`` set), so callers catching OSError still do."""
