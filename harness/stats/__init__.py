"""Intervals and paired effects for claims: seeded bootstraps, Wilson, stratified AUROC, seed spreads,
dose-response slopes against controls, permutation, McNemar, equivalence, power and Holm.

numpy/scipy only; every estimator returns an `Interval` and raises `StatsError` on too little data.
"""

from harness.stats._agreement import cluster_bootstrap_ci, cohen_kappa, judge_validation, kappa_ci
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
from harness.stats._multiple import holm, holm_reject
from harness.stats._paired import (
    Alternative,
    EquivalenceResult,
    McNemarResult,
    SlopeComparison,
    auroc_equivalence,
    delta_ci,
    dose_slope,
    dose_slope_ci,
    equivalence_test,
    item_slopes,
    mcnemar_exact,
    sign_flip_p,
    slope_difference,
)
from harness.stats._power import is_underpowered, mde_for_slope, mde_proportion, minimum_detectable_effect
from harness.stats._refits import refit_auroc_ci
from harness.stats._seeds import seed_percentile_interval

__all__ = [
    "Alternative",
    "BootstrapMethod",
    "EquivalenceResult",
    "Interval",
    "McNemarResult",
    "SlopeComparison",
    "accuracy_ci",
    "auroc",
    "auroc_ci",
    "auroc_equivalence",
    "auroc_from_classes",
    "bootstrap_ci",
    "cluster_bootstrap_ci",
    "cohen_kappa",
    "delta_ci",
    "dose_slope",
    "dose_slope_ci",
    "equivalence_test",
    "holm",
    "holm_reject",
    "is_underpowered",
    "item_slopes",
    "judge_validation",
    "kappa_ci",
    "mcnemar_exact",
    "mde_for_slope",
    "mde_proportion",
    "mean_ci",
    "minimum_detectable_effect",
    "paired_auroc_difference_ci",
    "paired_difference_ci",
    "refit_auroc_ci",
    "seed_percentile_interval",
    "sign_flip_p",
    "slope_difference",
    "stratified_bootstrap_ci",
    "wilson_interval",
]
