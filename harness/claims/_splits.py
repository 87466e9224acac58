"""Sealed splits: item manifests with fingerprints, a locked test set no selection step may touch, and a hard
error when fit and evaluation items overlap.

A manifest file is JSON ``{"name", "locked", "ids", "fingerprint"}``; the fingerprint covers the sorted ids,
so an edited manifest is refused. ``data.sealed_test`` names one: its items go only to the detector's test
split and can never be used to fit or to select (C, K, alpha, layer).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import DataError, HarnessError


class LeakageError(HarnessError):
    """Items used to fit or select something are also used to evaluate it, or a locked test set was selected on."""


@dataclass(frozen=True)
class SplitManifest:
    """A named set of item ids; ``locked`` marks a test set reserved for the final evaluation."""

    name: str
    ids: frozenset[str]
    locked: bool = False

    @property
    def fingerprint(self) -> str:
        from harness.store import fingerprint

        return fingerprint(sorted(self.ids))

    def summary(self) -> dict[str, Any]:
        return {"n": len(self.ids), "fingerprint": self.fingerprint[:16], "locked": self.locked}


def manifest(name: str, ids: Iterable[Any], *, locked: bool = False) -> SplitManifest:
    return SplitManifest(name, frozenset(str(i) for i in ids), locked)


def guard_selection(split: SplitManifest, step: str) -> SplitManifest:
    """Refuse a selection step on a locked test set; return the split for use.

    Raises:
        LeakageError: ``split`` is locked.
    """
    if split.locked:
        raise LeakageError(f"{step} would be chosen on {split.name!r}, a locked test set ({len(split.ids)} items, "
                           f"fingerprint {split.fingerprint[:16]}): a test set is for the final evaluation only. "
                           "Fix: select on a validation split carved from the training items.")
    return split


def check_disjoint(fit: SplitManifest, evaluation: SplitManifest) -> None:
    """Refuse an evaluation on items a fit or selection step saw.

    Raises:
        LeakageError: the two share ids (the message names how many and some of them).
    """
    shared = sorted(fit.ids & evaluation.ids)
    if shared:
        raise LeakageError(f"leakage: {len(shared)} item(s) of {fit.name!r} are also in {evaluation.name!r} "
                           f"(e.g. {shared[:5]}). Fix: make the fit and evaluation splits item-disjoint.")


def write_manifest(path: Path, split: SplitManifest) -> None:
    """Write a manifest file (sorted ids and their fingerprint), atomically."""
    from harness.store import atomic_write_json

    atomic_write_json(path, {"name": split.name, "locked": split.locked, "ids": sorted(split.ids),
                             "fingerprint": split.fingerprint})


def read_manifest(path: Path) -> SplitManifest:
    """Read and verify a manifest file.

    Raises:
        DataError: unreadable, malformed, or its ids do not match its fingerprint (the file was edited).
    """
    try:
        data = json.loads(path.read_text())
        split = manifest(str(data["name"]), data["ids"], locked=bool(data["locked"]))
        recorded = str(data["fingerprint"])
    except OSError as exc:
        raise DataError(f"split manifest {path} cannot be read ({exc.strerror}). Fix: check data.sealed_test.") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"split manifest {path} is malformed ({exc!r}); it needs name, locked, ids and fingerprint. "
                        "Fix: write it with harness.claims._splits.write_manifest.") from None
    if recorded != split.fingerprint:
        raise DataError(f"split manifest {path}: its ids do not match its fingerprint ({recorded[:16]} recorded, "
                        f"{split.fingerprint[:16]} now): the sealed set was edited. Fix: restore it from git.")
    return split
