"""The store's error type."""

from __future__ import annotations

from harness.errors import HarnessError

__all__ = ["StoreError"]


class StoreError(HarnessError):
    """The store was misused (bad stage name, bad compute result) or cannot do its job (lock timeout)."""
