"""Intervals for a metric averaged over refits (e.g. detectors fitted on shuffled labels with S seeds).

The spread of such an average has two sources: which test items were drawn and which refits (seeds) were
drawn. A bootstrap over test items alone treats the S fitted detectors as fixed and is too narrow for a null
control; this two-way bootstrap resamples seeds with replacement and items within class, jointly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.errors import StatsError
from harness.stats._auroc import auroc_from_classes
from harness.stats._interval import Interval
from harness.stats._validate import as_binary, check_level, check_resampling


def refit_auroc_ci(scores: Any, labels: Any, *, level: float = 0.95, n_resamples: int = 2000,
                   seed: int) -> Interval:
    """Mean AUROC over refits with a two-way (seeds x class-stratified items) percentile bootstrap.

    Args:
        scores: [n_refits, n_items] scores of each refit on the same test items.
        labels: [n_items] 0/1 labels.
    """
    s = np.asarray(scores, dtype=float)
    y = as_binary(labels, "labels")
    check_level(level)
    check_resampling(n_resamples, seed)
    if s.ndim != 2 or s.shape[1] != len(y):
        raise StatsError(f"refit_auroc_ci: scores must be [n_refits, {len(y)}], got {s.shape}")
    if s.shape[0] < 2:
        raise StatsError("refit_auroc_ci: needs at least 2 refits (seeds) to resample them")
    if not np.isfinite(s).all():
        raise StatsError("refit_auroc_ci: scores contain NaN/inf")
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if len(pos) < 2 or len(neg) < 2:
        raise StatsError(f"refit_auroc_ci: needs >= 2 items per class, got {len(pos)} positive, {len(neg)} negative")
    rng = np.random.default_rng(seed)
    estimate = float(np.mean(auroc_from_classes(s[:, pos], s[:, neg])))
    out = np.empty(n_resamples)
    for b0 in range(0, n_resamples, 250):  # blocks bound memory: [block, n_refits, n_items]
        nb = min(250, n_resamples - b0)
        seeds = rng.integers(0, s.shape[0], (nb, s.shape[0]))
        p = rng.choice(pos, (nb, len(pos)))
        q = rng.choice(neg, (nb, len(neg)))
        rows = s[seeds]  # [nb, S, n_items]
        pp = np.take_along_axis(rows, np.broadcast_to(p[:, None, :], (nb, s.shape[0], len(pos))), axis=-1)
        qq = np.take_along_axis(rows, np.broadcast_to(q[:, None, :], (nb, s.shape[0], len(neg))), axis=-1)
        out[b0:b0 + nb] = auroc_from_classes(pp, qq).mean(-1)
    alpha = (1 - level) / 2
    low, high = np.quantile(out, [alpha, 1 - alpha])
    return Interval(estimate=estimate, low=float(min(low, estimate)), high=float(max(high, estimate)),
                    method="two-way-percentile (refits x stratified items)", level=level, n=len(y),
                    n_resamples=n_resamples, seed=seed, note=f"{s.shape[0]} refits")
