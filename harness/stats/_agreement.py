"""Agreement between judges and validation of a judge against gold labels, with cluster-bootstrap intervals.

Rows are judged items; a cluster is what the rows share (a prompt or question with several outputs), so the
bootstrap resamples clusters, not rows. A resample where a statistic is undefined (kappa when both judges
agree on one label for every row; precision with no predicted positives) is dropped and counted in the
interval's note; more than 5% of such resamples is an error rather than a silently biased interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from harness.errors import StatsError
from harness.stats._interval import Interval
from harness.stats._validate import check_level

_MAX_UNDEFINED = 0.05
MIN_CLUSTERS = 40
"""Fewest clusters a cluster bootstrap accepts: at 10 clusters a 95% interval covered 0.87, at 40 it covered
0.95 (docs/validation.md, scenario `cluster`)."""


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Cohen's kappa of two judges' labels on the same rows.

    Raises:
        StatsError: lengths differ, fewer than 2 rows, or kappa is undefined (chance agreement is 1: both
            judges give one and the same label to every row).
    """
    x, y = _labels(a, b)
    k = _kappa(x, y)
    if not np.isfinite(k):
        raise StatsError("cohen_kappa: undefined, both judges give one and the same label to every row; "
                         "agreement is trivial, report the label counts instead")
    return k


def _labels(a: Sequence[Any], b: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    if len(a) != len(b):
        raise StatsError(f"judge labels differ in length ({len(a)} vs {len(b)}); judge the same rows")
    if len(a) < 2:
        raise StatsError(f"agreement needs at least 2 rows, got {len(a)}")
    cats = {v: i for i, v in enumerate(sorted({str(v) for v in (*a, *b)}))}
    return (np.array([cats[str(v)] for v in a], dtype=np.int64),
            np.array([cats[str(v)] for v in b], dtype=np.int64))


def _kappa(x: np.ndarray, y: np.ndarray) -> float:
    n_cat = int(max(x.max(), y.max())) + 1
    po = float(np.mean(x == y))
    pe = float(np.dot(np.bincount(x, minlength=n_cat), np.bincount(y, minlength=n_cat))) / len(x) ** 2
    return float("nan") if pe >= 1.0 - 1e-12 else (po - pe) / (1.0 - pe)


def _clusters(clusters: Sequence[Any] | None, n: int) -> list[np.ndarray]:
    if clusters is None:
        return [np.array([i]) for i in range(n)]
    if len(clusters) != n:
        raise StatsError(f"clusters has {len(clusters)} entries for {n} rows; give one cluster id per row")
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(clusters):
        groups.setdefault(str(c), []).append(i)
    return [np.array(v) for v in groups.values()]


def cluster_bootstrap_ci(statistic: Callable[[np.ndarray], float], n_rows: int, *,
                         clusters: Sequence[Any] | None = None, level: float = 0.95, n_resamples: int = 2000,
                         seed: int, what: str) -> Interval:
    """Percentile interval of ``statistic(row_indices)`` resampling clusters with replacement.

    Args:
        statistic: Maps an array of row indices (with repeats) to a number; NaN where undefined.
        n_rows: Number of rows.
        clusters: One cluster id per row (rows of one prompt move together); None: every row its own.
        level: Two-sided coverage.
        n_resamples: Resamples drawn.
        seed: Seed of the generator.
        what: Name for messages.

    Raises:
        StatsError: fewer than 2 clusters (fewer than `MIN_CLUSTERS` when `clusters` is given), the statistic undefined on the data, or undefined on more than 5%
            of the resamples.
    """
    level = check_level(level)
    groups = _clusters(clusters, n_rows)
    if len(groups) < 2:
        raise StatsError(f"{what}: {len(groups)} cluster(s); a cluster bootstrap needs at least 2")
    if clusters is not None and len(groups) < MIN_CLUSTERS:
        raise StatsError(f"{what}: {len(groups)} clusters; a cluster bootstrap under-covers below {MIN_CLUSTERS} "
                         "(0.87 at 10 clusters, docs/validation.md). Fix: label rows of more questions")
    estimate = float(statistic(np.arange(n_rows)))
    if not np.isfinite(estimate):
        raise StatsError(f"{what}: undefined on the data")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(groups), size=(n_resamples, len(groups)))
    if clusters is None:  # one row per cluster: a draw of clusters is a draw of rows
        values = np.array([statistic(row) for row in draws], dtype=np.float64)
    else:
        values = np.array([statistic(np.concatenate([groups[g] for g in row])) for row in draws], dtype=np.float64)
    ok = np.isfinite(values)
    n_bad = int((~ok).sum())
    if n_bad > _MAX_UNDEFINED * n_resamples:
        raise StatsError(f"{what}: undefined on {n_bad} of {n_resamples} resamples; too few rows of a kind to "
                         "bound it (label more rows or report counts)")
    tail = (1 - level) / 2
    low, high = np.quantile(values[ok], [tail, 1 - tail])
    note = f"{n_bad} resample(s) where it is undefined were dropped" if n_bad else ""
    method = "percentile" if clusters is None else "cluster-percentile"
    return Interval(estimate=estimate, low=float(low), high=float(high),
                    method=method, level=level, n=n_rows, n_resamples=n_resamples, seed=seed, note=note)


def kappa_ci(a: Sequence[Any], b: Sequence[Any], *, clusters: Sequence[Any] | None = None, level: float = 0.95,
             n_resamples: int = 2000, seed: int) -> Interval:
    """Cohen's kappa of two judges with a (cluster) bootstrap interval."""
    x, y = _labels(a, b)
    cohen_kappa(a, b)  # raises if undefined on the data
    return cluster_bootstrap_ci(lambda idx: _kappa(x[idx], y[idx]), len(x), clusters=clusters, level=level,
                                n_resamples=n_resamples, seed=seed, what="Cohen's kappa")


def judge_validation(pred: Sequence[Any], gold: Sequence[Any], *, positive: Any, clusters: Sequence[Any] | None = None,
                     level: float = 0.95, n_resamples: int = 2000, seed: int) -> dict[str, Interval]:
    """Accuracy, precision and recall of a judge against gold labels (``positive`` is the label of interest).

    Returns:
        ``{"accuracy", "precision", "recall"}`` intervals, resampling clusters (prompts) where given.
    """
    if len(pred) != len(gold):
        raise StatsError(f"judge_validation: {len(pred)} predictions for {len(gold)} gold labels")
    p = np.array([str(v) == str(positive) for v in pred])
    g = np.array([str(v) == str(positive) for v in gold])
    same = np.array([str(u) == str(v) for u, v in zip(pred, gold, strict=True)])
    if not g.any():
        raise StatsError(f"judge_validation: no gold row is {positive!r}; recall is undefined. Label more rows.")

    def precision(idx: np.ndarray) -> float:
        k = p[idx]
        return float("nan") if not k.any() else float((g[idx] & k).sum() / k.sum())

    def recall(idx: np.ndarray) -> float:
        k = g[idx]
        return float("nan") if not k.any() else float((p[idx] & k).sum() / k.sum())

    kw: dict[str, Any] = {"clusters": clusters, "level": level, "n_resamples": n_resamples, "seed": seed}
    return {"accuracy": cluster_bootstrap_ci(lambda idx: float(same[idx].mean()), len(p), what="accuracy", **kw),
            "precision": cluster_bootstrap_ci(precision, len(p), what="precision", **kw),
            "recall": cluster_bootstrap_ci(recall, len(p), what="recall", **kw)}
