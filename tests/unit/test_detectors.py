"""The L1 detector: recovers planted informative features, C chosen on validation, bad input refused."""

from __future__ import annotations

import numpy as np
import pytest

from harness.detectors import fit_l1_detector
from harness.errors import StatsError


def _data(n, d, informative, rng):
    y = rng.integers(0, 2, n)
    X = rng.normal(0.005, 0.001, (n, d))  # raw CETT-like scale
    X[:, informative] += 0.002 * y[:, None]
    return X, y


def test_recovers_planted_neurons_as_positive_weights():
    rng = np.random.default_rng(0)
    planted = [3, 70, 130]
    X, y = _data(400, 200, planted, rng)
    Xv, yv = _data(200, 200, planted, rng)
    det = fit_l1_detector(X, y, Xv, yv)
    pos = {layer * 64 + j for layer, j, _ in det.positive_neurons(64)}
    assert set(planted) <= pos
    assert len(pos) < 40  # sparse
    assert det.val_auroc_by_C[det.C] == max(det.val_auroc_by_C.values())


def test_nan_features_are_refused_with_location():
    rng = np.random.default_rng(1)
    X, y = _data(50, 10, [0], rng)
    X[7, 3] = np.nan
    with pytest.raises(StatsError, match="row 7, feature 3"):
        fit_l1_detector(X, y, X, y)


def test_one_class_is_refused():
    X = np.random.default_rng(2).normal(size=(20, 5))
    with pytest.raises(StatsError, match="both classes"):
        fit_l1_detector(X, np.ones(20, int), X, np.ones(20, int))


def test_fit_on_split_1v1_and_3v1_recover_the_planted_neuron_and_shuffling_removes_it():
    from harness.claims._detection import LabelledPool, fit_on_split
    from harness.claims._spec import DetectorSpec, PipelineSpec, SplitSpec

    rng = np.random.default_rng(3)
    n, d = 240, 128
    y = np.array([0, 1] * (n // 2))
    answer = rng.normal(0.005, 0.001, (n, d))
    answer[:, 5] += 0.003 * y
    pool = LabelledPool(ids=[f"q{i}" for i in range(n)], labels=y, lengths=np.full(n, 2), inputs=[], answers=[],
                        d_mlp=64, domains=["d"] * n)
    feats = {"answer": answer, "non_answer": rng.normal(0.005, 0.001, (n, d))}
    spec = PipelineSpec(split=SplitSpec(length_match="none"), detector=DetectorSpec(mode="3v1"))
    fit = fit_on_split(pool, feats, spec)
    assert (0, 5) in {(layer, j) for layer, j, _ in fit.detector.positive_neurons(64)}
    from harness.stats import auroc

    assert auroc(fit.test_scores, fit.test_labels) > 0.8
    one = PipelineSpec(split=SplitSpec(length_match="none"))
    assert auroc(fit_on_split(pool, feats, one).test_scores, fit.test_labels) > 0.8
    # shuffled labels carry no signal; in 3v1 the non-answer rows are permuted too, else the
    # answer-vs-non-answer contrast (which here correlates with the truth) would stay learnable
    for s in (one, spec):
        shuffled = [auroc(fit_on_split(pool, feats, s, shuffle_seed=k).test_scores, fit.test_labels) for k in range(3)]
        assert np.mean(shuffled) < 0.7, shuffled
