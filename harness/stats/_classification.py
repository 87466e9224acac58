"""Class-stratified bootstrap intervals for classifier metrics (AUROC, accuracy, paired AUROC difference).

Positives and negatives are resampled independently, so every resample keeps the original class sizes and
AUROC is always defined. Statistics receive item indices into the original arrays, one array per class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from harness.stats._auroc import auroc_from_classes
from harness.stats._bootstrap import BootstrapMethod, run_bootstrap
from harness.stats._interval import Interval
from harness.stats._validate import (
    as_binary,
    as_finite_1d,
    check_level,
    check_method,
    check_resampling,
    check_same_length,
    class_indices,
)


def stratified_bootstrap_ci(
    labels: Any,
    statistic: Callable[..., Any],
    *,
    level: float = 0.95,
    n_resamples: int = 2000,
    seed: int,
    method: BootstrapMethod = "bca",
) -> Interval:
    """Bootstrap interval of a statistic of item indices, resampling each class independently.

    Args:
        labels: One 0/1 (or bool) label per item; at least 2 items per class.
        statistic: Vectorized `statistic(pos_idx, neg_idx, axis=-1) -> array`: `pos_idx` and `neg_idx` are
            integer indices into the original items (positives and negatives), resampled along `axis`.
        level: Two-sided coverage, strictly between 0 and 1.
        n_resamples: Number of bootstrap resamples.
        seed: Seed for `numpy.random.default_rng`.
        method: "bca" or "percentile"; BCa falls back to percentile with a note (see `bootstrap_ci`).

    Returns:
        An `Interval` with `method` "stratified-bca" or "stratified-percentile" and `n` = number of items.

    Raises:
        StatsError: On non-binary or NaN labels, one class only, fewer than 2 items per class, or `level`
            outside (0, 1).
    """
    level = check_level(level)
    check_resampling(n_resamples, seed)
    check_method(method)
    y = as_binary(labels, "labels")
    pos, neg = class_indices(y, min_per_class=2)
    estimate, low, high, used, note = run_bootstrap(
        (pos, neg), statistic, paired=False, level=level, n_resamples=n_resamples, seed=seed, method=method
    )
    return Interval(
        estimate=estimate,
        low=low,
        high=high,
        method=f"stratified-{used}",
        level=level,
        n=int(y.size),
        n_resamples=int(n_resamples),
        seed=int(seed),
        note=note,
    )


def _scores_and_labels(scores: Any, labels: Any, name: str = "scores") -> tuple[np.ndarray, np.ndarray]:
    s = as_finite_1d(scores, name)
    y = as_binary(labels, "labels")
    check_same_length(**{name: s, "labels": y})
    return s, y


def auroc_ci(
    scores: Any,
    labels: Any,
    *,
    level: float = 0.95,
    n_resamples: int = 2000,
    seed: int,
    method: BootstrapMethod = "bca",
) -> Interval:
    """Class-stratified bootstrap interval of the AUROC of `scores` for `labels`.

    Args:
        scores: One finite score per item; higher means "more positive".
        labels: One 0/1 (or bool) label per item; at least 2 items per class.
        level: Two-sided coverage, strictly between 0 and 1.
        n_resamples: Number of bootstrap resamples.
        seed: Seed for `numpy.random.default_rng`.
        method: "bca" or "percentile"; BCa falls back to percentile with a note (e.g. at AUROC = 1).

    Returns:
        An `Interval` around the AUROC, `method` "stratified-bca" or "stratified-percentile".

    Raises:
        StatsError: On NaN/inf scores, non-binary labels, a length mismatch, one class only, fewer than 2
            items per class, or `level` outside (0, 1).
    """
    s, y = _scores_and_labels(scores, labels)

    def statistic(pos_idx: np.ndarray, neg_idx: np.ndarray, axis: int = -1) -> np.ndarray:
        return auroc_from_classes(s[pos_idx], s[neg_idx], axis=axis)

    return stratified_bootstrap_ci(
        y, statistic, level=level, n_resamples=n_resamples, seed=seed, method=method
    )


def accuracy_ci(
    predictions: Any,
    labels: Any,
    *,
    level: float = 0.95,
    n_resamples: int = 2000,
    seed: int,
    method: BootstrapMethod = "bca",
) -> Interval:
    """Class-stratified bootstrap interval of the accuracy of binary `predictions`.

    Args:
        predictions: One 0/1 (or bool) prediction per item.
        labels: One 0/1 (or bool) label per item; at least 2 items per class.
        level: Two-sided coverage, strictly between 0 and 1.
        n_resamples: Number of bootstrap resamples.
        seed: Seed for `numpy.random.default_rng`.
        method: "bca" or "percentile"; BCa falls back to percentile with a note (e.g. at accuracy 1).

    Returns:
        An `Interval` around the fraction of correct predictions.

    Raises:
        StatsError: On non-binary or NaN input, a length mismatch, one class only, fewer than 2 items per
            class, or `level` outside (0, 1).
    """
    p = as_binary(predictions, "predictions")
    y = as_binary(labels, "labels")
    check_same_length(predictions=p, labels=y)
    correct = (p == y).astype(np.float64)

    def statistic(pos_idx: np.ndarray, neg_idx: np.ndarray, axis: int = -1) -> np.ndarray:
        hits = correct[pos_idx].sum(axis=axis) + correct[neg_idx].sum(axis=axis)
        return hits / (pos_idx.shape[axis] + neg_idx.shape[axis])

    return stratified_bootstrap_ci(
        y, statistic, level=level, n_resamples=n_resamples, seed=seed, method=method
    )


def paired_auroc_difference_ci(
    scores_a: Any,
    scores_b: Any,
    labels: Any,
    *,
    level: float = 0.95,
    n_resamples: int = 2000,
    seed: int,
    method: BootstrapMethod = "bca",
) -> Interval:
    """Bootstrap interval of AUROC(scores_a) - AUROC(scores_b) on the same items.

    Each resample draws item indices per class once and scores both detectors on those items, so the
    correlation between the two detectors is kept. Swapping `a` and `b` negates the estimate and mirrors
    the interval.

    Args:
        scores_a: Scores of detector A, one per item.
        scores_b: Scores of detector B on the same items, in the same order.
        labels: One 0/1 (or bool) label per item; at least 2 items per class.
        level: Two-sided coverage, strictly between 0 and 1.
        n_resamples: Number of bootstrap resamples.
        seed: Seed for `numpy.random.default_rng`.
        method: "bca" or "percentile"; BCa falls back to percentile with a note.

    Returns:
        An `Interval` around the AUROC difference, `method` "stratified-bca" or "stratified-percentile".

    Raises:
        StatsError: On NaN/inf scores, non-binary labels, a length mismatch, one class only, fewer than 2
            items per class, or `level` outside (0, 1).
    """
    sa, y = _scores_and_labels(scores_a, labels, "scores_a")
    sb = as_finite_1d(scores_b, "scores_b")
    check_same_length(scores_a=sa, scores_b=sb, labels=y)

    def statistic(pos_idx: np.ndarray, neg_idx: np.ndarray, axis: int = -1) -> np.ndarray:
        auc_a = auroc_from_classes(sa[pos_idx], sa[neg_idx], axis=axis)
        return auc_a - auroc_from_classes(sb[pos_idx], sb[neg_idx], axis=axis)

    return stratified_bootstrap_ci(
        y, statistic, level=level, n_resamples=n_resamples, seed=seed, method=method
    )
