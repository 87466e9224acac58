"""Judge agreement (Cohen's kappa) and judge validation against gold labels, with cluster intervals."""

from __future__ import annotations

import numpy as np
import pytest

from harness.errors import StatsError
from harness.stats import cohen_kappa, judge_validation, kappa_ci


def test_kappa_matches_a_hand_computation():
    a = ["c", "c", "i", "i", "c", "i", "c", "c"]
    b = ["c", "i", "i", "i", "c", "c", "c", "c"]
    po = 6 / 8
    pe = (5 / 8) * (5 / 8) + (3 / 8) * (3 / 8)
    assert cohen_kappa(a, b) == pytest.approx((po - pe) / (1 - pe))
    assert cohen_kappa(a, a) == pytest.approx(1.0)


def test_kappa_is_undefined_when_both_judges_give_one_label():
    with pytest.raises(StatsError, match="undefined"):
        cohen_kappa(["c"] * 5, ["c"] * 5)
    with pytest.raises(StatsError, match="differ in length"):
        cohen_kappa(["c", "i"], ["c"])


def test_kappa_interval_is_seeded_and_covers_the_truth_of_independent_judges():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 2, 400), rng.integers(0, 2, 400)  # independent judges: kappa 0
    iv = kappa_ci(a.tolist(), b.tolist(), seed=1, n_resamples=500)
    assert iv.low < 0 < iv.high and iv == kappa_ci(a.tolist(), b.tolist(), seed=1, n_resamples=500)
    assert iv.method == "percentile"


def test_clustered_rows_widen_the_interval():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, 40)  # 40 prompts, 10 outputs each, labels shared within a prompt
    gold = np.repeat(truth, 10)
    hard = np.repeat(rng.random(40) < 0.3, 10)  # the judge errs on whole prompts, not on single rows
    pred = np.where(rng.random(400) < np.where(hard, 0.5, 0.97), gold, 1 - gold)
    prompts = np.repeat(np.arange(40), 10)
    flat = judge_validation(pred, gold, positive=1, seed=0, n_resamples=500)
    clus = judge_validation(pred, gold, positive=1, clusters=prompts.tolist(), seed=0, n_resamples=500)
    assert clus["accuracy"].method == "cluster-percentile"
    assert clus["accuracy"].width > 1.3 * flat["accuracy"].width  # rows of one prompt are not independent
    assert flat["accuracy"].estimate == pytest.approx(float((pred == gold).mean()))
    assert 0.6 < flat["precision"].estimate < 0.95


def test_validation_needs_positive_gold_rows():
    with pytest.raises(StatsError, match="no gold row is 'harmful'"):
        judge_validation(["safe", "harmful"], ["safe", "safe"], positive="harmful", seed=0)
