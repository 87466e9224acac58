"""Rank-based AUROC (Mann-Whitney U), vectorized so a bootstrap can score thousands of resamples at once."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

from harness.stats._validate import as_binary, as_finite_1d, check_same_length, class_indices


def auroc_from_classes(positives: np.ndarray, negatives: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """AUROC from the scores of each class, vectorized over leading (resample) axes.

    AUROC = P(score of a positive > score of a negative) + 1/2 P(tie), computed from average ranks of the
    pooled scores, which matches `sklearn.metrics.roc_auc_score`. No validation: use `auroc` for raw input.

    Args:
        positives: Scores of positive items, shape `(..., n_pos)` along `axis`.
        negatives: Scores of negative items, shape `(..., n_neg)` along `axis`; other axes broadcast.
        axis: The item axis of both arrays.

    Returns:
        AUROC per leading index, shape `(...)`.
    """
    pos = np.moveaxis(np.asarray(positives), axis, -1)
    neg = np.moveaxis(np.asarray(negatives), axis, -1)
    lead = np.broadcast_shapes(pos.shape[:-1], neg.shape[:-1])
    pos = np.broadcast_to(pos, (*lead, pos.shape[-1]))
    neg = np.broadcast_to(neg, (*lead, neg.shape[-1]))
    n_pos, n_neg = pos.shape[-1], neg.shape[-1]
    ranks = rankdata(np.concatenate([pos, neg], axis=-1), axis=-1)  # ties get average ranks
    u_stat = ranks[..., :n_pos].sum(axis=-1) - n_pos * (n_pos + 1) / 2.0
    return u_stat / (n_pos * n_neg)


def auroc(scores: Any, labels: Any) -> float:
    """Area under the ROC curve of `scores` for binary `labels` (ties count 1/2).

    Args:
        scores: One finite score per item; higher means "more positive".
        labels: One 0/1 (or bool) label per item, aligned with `scores`.

    Returns:
        The AUROC in [0, 1]; equals `sklearn.metrics.roc_auc_score(labels, scores)`.

    Raises:
        StatsError: On NaN/inf scores, non-binary labels, a length mismatch, no items, or a single class.
    """
    s = as_finite_1d(scores, "scores")
    y = as_binary(labels, "labels")
    check_same_length(scores=s, labels=y)
    pos, neg = class_indices(y, min_per_class=1)
    return float(auroc_from_classes(s[pos], s[neg]))
