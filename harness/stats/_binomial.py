"""Closed-form interval for a binomial proportion (Wilson score), sensible even at 0/n and n/n."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri

from harness.errors import StatsError
from harness.stats._interval import Interval
from harness.stats._validate import check_level


def wilson_interval(successes: int, n: int, level: float = 0.95) -> Interval:
    """Wilson score interval for a proportion `successes / n`.

    Args:
        successes: Number of successes, an integer in `[0, n]`.
        n: Number of trials, a positive integer.
        level: Two-sided coverage, strictly between 0 and 1.

    Returns:
        An `Interval` with `estimate = successes / n` and `method = "wilson"`.

    Raises:
        StatsError: If `n == 0`, the counts are not integers, `successes` is outside `[0, n]`, or `level` is
            outside (0, 1).
    """
    level = check_level(level)
    for name, value in (("successes", successes), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise StatsError(f"wilson_interval: {name}={value!r} must be an integer count")
    if n <= 0:
        raise StatsError(f"wilson_interval: n={n} trials; a proportion needs at least one trial")
    if not 0 <= successes <= n:
        raise StatsError(f"wilson_interval: successes={successes} must lie in [0, n={n}]")
    z = float(ndtri(0.5 + level / 2.0))
    p_hat = successes / n
    denom = 1.0 + z * z / n
    center = (p_hat + z * z / (2.0 * n)) / denom
    half = z / denom * math.sqrt(p_hat * (1.0 - p_hat) / n + z * z / (4.0 * n * n))
    # At 0/n and n/n the bound is exactly 0 or 1; clip the rounding error.
    low = 0.0 if successes == 0 else max(0.0, center - half)
    high = 1.0 if successes == n else min(1.0, center + half)
    return Interval(estimate=p_hat, low=low, high=high, method="wilson", level=level, n=int(n))
