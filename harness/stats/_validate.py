"""Boundary checks shared by the estimators: each failure raises `StatsError` saying what and how to fix."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from harness.errors import StatsError


def check_level(level: float) -> float:
    """Return `level` as a float after checking it lies strictly between 0 and 1."""
    if isinstance(level, bool) or not isinstance(level, int | float | np.floating) or not 0.0 < level < 1.0:
        raise StatsError(
            f"level={level!r} is not a coverage level; pass a number strictly between 0 and 1, e.g. 0.95"
        )
    return float(level)


def check_method(method: str) -> None:
    """Check the bootstrap interval method is one this package supports."""
    if method not in ("bca", "percentile"):
        raise StatsError(f"method={method!r} is not supported; use 'bca' or 'percentile'")


def check_resampling(n_resamples: int, seed: int) -> None:
    """Check the bootstrap settings: a positive resample count and a non-negative integer seed."""
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int | np.integer) or n_resamples < 1:
        raise StatsError(f"n_resamples={n_resamples!r} must be a positive integer, e.g. 2000")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise StatsError(f"seed={seed!r} must be a non-negative integer so the resamples can be reproduced")


def as_finite_1d(values: Any, name: str, *, min_len: int = 1) -> np.ndarray:
    """Convert `values` to a 1-D float64 array, rejecting NaN/inf and arrays shorter than `min_len`."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"{name} must be numeric; could not convert it to floats ({exc})") from exc
    if arr.ndim != 1:
        raise StatsError(f"{name} must be one-dimensional (one value per item), got shape {arr.shape}")
    if arr.size < min_len:
        raise StatsError(
            f"{name} has {arr.size} value(s) but at least {min_len} are needed; collect more items"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise StatsError(
            f"{name} contains {int(bad.sum())} NaN/inf value(s) (first at index {first}, value {arr[first]}); "
            "drop or repair those items before computing statistics"
        )
    return arr


def as_binary(values: Any, name: str) -> np.ndarray:
    """Convert 0/1 or boolean `values` to a 1-D bool array, rejecting anything else."""
    arr = as_finite_1d(values, name)
    if not np.isin(arr, (0.0, 1.0)).all():
        odd = np.unique(arr[~np.isin(arr, (0.0, 1.0))])[:5]
        raise StatsError(
            f"{name} must be binary (0/1 or bool), found other values such as {odd.tolist()}; "
            "map the classes to 0 (negative) and 1 (positive)"
        )
    return arr.astype(bool)


def check_same_length(**arrays: np.ndarray) -> int:
    """Check that all arrays have one length (items are aligned) and return it."""
    lengths = {name: len(arr) for name, arr in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise StatsError(
            f"length mismatch: {lengths}; these arrays must describe the same items in the same order"
        )
    return next(iter(lengths.values()))


def class_indices(
    labels: np.ndarray, name: str = "labels", *, min_per_class: int
) -> tuple[np.ndarray, np.ndarray]:
    """Item indices of the positive and negative class, each with at least `min_per_class` members."""
    pos = np.flatnonzero(labels)
    neg = np.flatnonzero(~labels)
    if pos.size == 0 or neg.size == 0:
        present = "positive (1)" if pos.size else "negative (0)"
        raise StatsError(
            f"{name} contain only one class ({present}, {labels.size} items); "
            "a class-based statistic needs both positives and negatives"
        )
    if min(pos.size, neg.size) < min_per_class:
        raise StatsError(
            f"{name} have {pos.size} positive and {neg.size} negative item(s); at least {min_per_class} "
            "per class are needed for a stratified bootstrap; collect more items of the rare class"
        )
    return pos, neg


def finite_or_raise(value: float, what: str) -> float:
    """Return `value` as a float, raising `StatsError` if it is NaN or infinite."""
    out = float(value)
    if not math.isfinite(out):
        raise StatsError(f"{what} is {out}; the statistic is undefined on this data")
    return out
