"""Sparse L1 logistic detectors on CETT features; H-neurons are the positive weights.

Features are standardized on the training split (raw CETT values are around 0.005, so an unscaled C would
mean a different regularization per model); C is chosen by validation AUROC, never on the test split.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from harness.errors import StatsError

log = logging.getLogger(__name__)

DEFAULT_C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


@dataclass(frozen=True)
class DetectorResult:
    """A fitted detector: standardization, weights and how C was chosen."""

    C: float
    coef: np.ndarray
    """[n_features] weights in standardized units; > 0 pushes toward the positive class (hallucination)."""
    intercept: float
    mean: np.ndarray
    scale: np.ndarray
    val_auroc_by_C: dict[float, float] = field(default_factory=dict)

    def score(self, X: np.ndarray) -> np.ndarray:
        """Decision function (log-odds of the positive class)."""
        return ((X - self.mean) / self.scale) @ self.coef + self.intercept

    def positive_neurons(self, d_mlp: int) -> list[tuple[int, int, float]]:
        """(layer, neuron, weight) of every positive weight, strongest first."""
        idx = np.flatnonzero(self.coef > 0)
        idx = idx[np.argsort(-self.coef[idx])]
        return [(int(i // d_mlp), int(i % d_mlp), float(self.coef[i])) for i in idx]


def _check(X: np.ndarray, y: np.ndarray, what: str) -> None:
    if X.ndim != 2 or len(X) != len(y):
        raise StatsError(f"{what}: features {X.shape} and labels {y.shape} do not line up")
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise StatsError(
            f"{what}: features contain NaN/inf (first at row {bad[0]}, feature {bad[1]}). A region with no "
            "tokens gives NaN: choose a region every item has, or drop those items."
        )
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) != 2 or counts.min() < 2:
        raise StatsError(
            f"{what}: needs both classes with at least 2 items each, got {dict(zip(classes.tolist(), counts.tolist(), strict=True))}. "
            "Fix: more questions, or a label mode that keeps more items."
        )


def fit_l1_detector(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    *,
    c_grid: tuple[float, ...] = DEFAULT_C_GRID,
    seed: int = 0,
    sample_weight: np.ndarray | None = None,
) -> DetectorResult:
    """Fit L1 logistic regressions over ``c_grid`` and keep the one with the best validation AUROC."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    _check(X_train, y_train, "detector training split")
    _check(X_val, y_val, "detector validation split")
    mean = X_train.mean(0)
    scale = X_train.std(0)
    scale[scale < 1e-12] = 1.0  # constant features: keep them at 0 instead of dividing by zero
    Xt = (X_train - mean) / scale
    Xv = (X_val - mean) / scale
    best: tuple[float, float, np.ndarray, float] | None = None
    by_c: dict[float, float] = {}
    for C in c_grid:
        clf = LogisticRegression(l1_ratio=1.0, C=C, solver="liblinear", random_state=seed, max_iter=2000)
        clf.fit(Xt, y_train, sample_weight=sample_weight)
        auc = float(roc_auc_score(y_val, clf.decision_function(Xv))) if clf.coef_.any() else 0.5
        by_c[C] = auc
        if best is None or auc > best[0] + 1e-12:
            best = (auc, C, clf.coef_[0].copy(), float(clf.intercept_[0]))
    assert best is not None
    log.info("L1 detector: validation AUROC by C %s -> C=%g", by_c, best[1])
    return DetectorResult(C=best[1], coef=best[2], intercept=best[3], mean=mean, scale=scale, val_auroc_by_C=by_c)


def fit_length_baseline(len_train: np.ndarray, y_train: np.ndarray) -> float:
    """Sign (+1 or -1) that makes answer length a score for the positive class, chosen on training data."""
    pos = len_train[y_train == 1].mean()
    neg = len_train[y_train == 0].mean()
    return 1.0 if pos >= neg else -1.0
