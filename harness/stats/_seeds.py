"""Spread of a result across refits with different seeds (not a sampling interval over items)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from harness.stats._interval import Interval
from harness.stats._validate import as_finite_1d, check_level


def seed_percentile_interval(values_over_seeds: Any, level: float = 0.95) -> Interval:
    """Central percentile range of a result over seeds, e.g. probe AUROC over 10 training seeds.

    This measures refit instability, not uncertainty over items; report it next to a bootstrap interval,
    not instead of one.

    Args:
        values_over_seeds: One finite value per seed; at least 2.
        level: Fraction of the seed distribution the range covers (linear-interpolated percentiles).

    Returns:
        An `Interval` with `estimate` = the median over seeds, `method = "seed-percentile"` and `n` = the
        number of seeds. `note` says when there are too few seeds to resolve the tails.

    Raises:
        StatsError: On NaN/inf values, fewer than 2 seeds, or `level` outside (0, 1).
    """
    level = check_level(level)
    values = as_finite_1d(values_over_seeds, "values_over_seeds", min_len=2)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    note = ""
    needed = math.ceil(1.0 / tail)
    if values.size < needed:
        note = (
            f"only {values.size} seeds: the {level:g} range is interpolated between the most extreme values; "
            f"about {needed} seeds are needed to resolve its tails"
        )
    return Interval(
        estimate=float(np.median(values)),
        low=float(low),
        high=float(high),
        method="seed-percentile",
        level=level,
        n=int(values.size),
        note=note,
    )
