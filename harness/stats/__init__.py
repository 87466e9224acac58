"""Intervals and paired effects for claims: seeded bootstraps, Wilson, stratified AUROC, seed spreads.

numpy/scipy only; every estimator returns an `Interval` and raises `StatsError` on too little data.
"""

from harness.stats._auroc import auroc, auroc_from_classes
from harness.stats._binomial import wilson_interval
from harness.stats._bootstrap import BootstrapMethod, bootstrap_ci, mean_ci, paired_difference_ci
from harness.stats._classification import (
    accuracy_ci,
    auroc_ci,
    paired_auroc_difference_ci,
    stratified_bootstrap_ci,
)
from harness.stats._interval import Interval
from harness.stats._refits import refit_auroc_ci
from harness.stats._seeds import seed_percentile_interval

__all__ = [
    "BootstrapMethod",
    "Interval",
    "accuracy_ci",
    "auroc",
    "auroc_ci",
    "auroc_from_classes",
    "bootstrap_ci",
    "mean_ci",
    "paired_auroc_difference_ci",
    "paired_difference_ci",
    "refit_auroc_ci",
    "seed_percentile_interval",
    "stratified_bootstrap_ci",
    "wilson_interval",
]
