"""Consistency labels, screening and the balanced, length-matched, question-disjoint split."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.claims._labels import (
    balanced_split,
    can_qualify,
    draws_needed,
    label_of,
    length_bin,
    sample_rounds,
    settled,
)
from harness.claims._spec import LabelSpec, SplitSpec

STRICT, RELAXED, GREEDY = LabelSpec(mode="strict"), LabelSpec(mode="relaxed", min_right=0.6), LabelSpec(mode="greedy")


def test_rounds_sum_to_k():
    assert sample_rounds(10) == [2, 3, 5]
    assert sample_rounds(1) == [1]
    assert all(sum(sample_rounds(k)) == k for k in range(1, 30))


@pytest.mark.parametrize("spec,greedy,samples,label", [
    (STRICT, True, [True] * 10, 0),
    (STRICT, True, [True] * 9 + [False], None),
    (STRICT, False, [False] * 10, 1),
    (STRICT, False, [False] * 9 + [True], None),
    (RELAXED, True, [True] * 6 + [False] * 4, 0),
    (RELAXED, True, [True] * 5 + [False] * 5, None),
    (RELAXED, False, [False] * 10, 1),
    (RELAXED, False, [True] + [False] * 9, None),
    (GREEDY, True, [], 0),
    (GREEDY, False, [], 1),
])
def test_label_modes(spec, greedy, samples, label):
    assert label_of(greedy, samples, 10, spec) == label


def test_unfinished_sampling_gives_no_label():
    assert label_of(True, [True] * 5, 10, STRICT) is None


@given(greedy=st.booleans(), samples=st.lists(st.booleans(), min_size=10, max_size=10),
       cut=st.integers(0, 10), mode=st.sampled_from(["strict", "relaxed"]))
def test_screening_never_drops_a_question_that_would_qualify(greedy, samples, cut, mode):
    """Stopping early after `cut` samples is safe: a labelled question can always still qualify."""
    spec = LabelSpec(mode=mode)
    if label_of(greedy, samples, 10, spec) is not None:
        assert can_qualify(greedy, samples[:cut], 10, spec)


def _adaptive(greedy, samples, spec, k=10):
    """The sampling loop of build_pool on one question whose K samples would come out as ``samples``."""
    seen, schedule, r = [], sample_rounds(k), 0
    while n := draws_needed(greedy, seen, k, spec, schedule[r] if r < len(schedule) else k):
        seen += samples[len(seen):len(seen) + n]
        r += 1
    return seen


@given(greedy=st.booleans(), samples=st.lists(st.booleans(), min_size=10, max_size=10),
       mode=st.sampled_from(["strict", "relaxed"]), min_right=st.sampled_from([0.5, 0.6, 0.8, 1.0]))
def test_adaptive_sampling_gives_the_full_k_label(greedy, samples, mode, min_right):
    """Stopping once a label is settled or ruled out never changes it: the label from the samples drawn
    equals the label from all K, and no more than K are drawn."""
    spec = LabelSpec(mode=mode, min_right=min_right)
    seen = _adaptive(greedy, samples, spec)
    assert len(seen) <= 10 and seen == samples[:len(seen)]
    assert label_of(greedy, seen, 10, spec) == label_of(greedy, samples, 10, spec)


def test_settled_relaxed_question_stops_at_the_needed_right_samples():
    # greedy right, relaxed 6 of 10: six right samples settle it; 2 + 3 scheduled, then one more
    assert _adaptive(True, [True] * 10, RELAXED) == [True] * 6
    assert settled(True, [True] * 6, 10, RELAXED) and label_of(True, [True] * 6, 10, RELAXED) == 0
    # five wrong samples rule it out: 2 + 3 drawn, nothing more
    assert _adaptive(True, [False] * 10, RELAXED) == [False] * 5
    # consistent hallucinations and strict mode still need all K
    assert len(_adaptive(False, [False] * 10, RELAXED)) == 10
    assert len(_adaptive(True, [True] * 10, STRICT)) == 10
    assert not settled(False, [False] * 9, 10, RELAXED)


def _pool(n_pos, n_neg, rng):
    labels = np.array([1] * n_pos + [0] * n_neg)
    lengths = np.concatenate([rng.integers(2, 9, n_pos), rng.integers(1, 5, n_neg)])  # wrong answers longer
    return labels, lengths


@settings(max_examples=30, deadline=None)
@given(n_pos=st.integers(20, 200), n_neg=st.integers(20, 200), seed=st.integers(0, 100),
       match=st.sampled_from(["none", "all"]))
def test_split_is_disjoint_balanced_and_seeded(n_pos, n_neg, seed, match):
    labels, lengths = _pool(n_pos, n_neg, np.random.default_rng(seed))
    spec = SplitSpec(seed=seed, length_match=match)
    s = balanced_split(labels, lengths, spec)
    parts = [set(s.train), set(s.val), set(s.test)]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    for part in (s.train, s.val, s.test):
        assert abs(int(labels[part].sum()) - int((1 - labels[part]).sum())) <= 1
    again = balanced_split(labels, lengths, spec)
    assert all(np.array_equal(a, b) for a, b in zip((s.train, s.val, s.test), (again.train, again.val, again.test), strict=True))
    if match == "all":  # every length bin holds as many of each class
        kept = np.concatenate([s.train, s.val, s.test])
        for b in {length_bin(int(x)) for x in lengths[kept]}:
            in_bin = [i for i in kept if length_bin(int(lengths[i])) == b]
            assert labels[in_bin].sum() * 2 == len(in_bin)


def test_length_matching_removes_the_length_signal():
    from harness.stats import auroc

    rng = np.random.default_rng(0)
    labels, lengths = _pool(300, 300, rng)
    assert auroc(lengths, labels) > 0.75  # unmatched: length alone predicts the label
    s = balanced_split(labels, lengths, SplitSpec(length_match="all"))
    kept = np.concatenate([s.train, s.val, s.test])
    assert abs(auroc(lengths[kept], labels[kept]) - 0.5) < 0.1


def test_domain_matching_balances_classes_within_each_domain():
    rng = np.random.default_rng(1)
    labels, lengths = _pool(200, 200, rng)
    # domain "a" is mostly hallucinations, "b" mostly correct: domain alone would predict the label
    domains = ["a" if (y == 1) == (rng.random() < 0.85) else "b" for y in labels]
    s = balanced_split(labels, lengths, SplitSpec(length_match="none", domain_match=True), domains=domains)
    kept = np.concatenate([s.train, s.val, s.test])
    for d in ("a", "b"):
        in_d = [i for i in kept if domains[i] == d]
        assert labels[in_d].sum() * 2 == len(in_d)


def _labelled_pool(labels, lengths=None):
    from harness.claims._detection import LabelledPool

    labels = np.asarray(labels)
    n = len(labels)
    return LabelledPool(ids=[f"q{i}" for i in range(n)], labels=labels,
                        lengths=np.asarray(lengths if lengths is not None else [1] * n), inputs=[None] * n,
                        answers=[""] * n, d_mlp=4, domains=[""] * n,
                        stats={"n_questions": n + 5, "greedy_accuracy": float((labels == 0).mean())})


def test_a_one_class_pool_is_refused_before_features_are_captured():
    from harness.claims._detection import check_labels
    from harness.claims._spec import ClaimSpec
    from harness.errors import StatsError

    spec = ClaimSpec.model_validate({
        "statement": "A probe predicts wrong answers.", "stage": "localization", "evidence": "readout",
        "data": {"kind": "qa_jsonl", "path": "qa.jsonl"}, "estimand": {"kind": "detector_auroc"},
        "pass_rule": {"kind": "lower_above", "threshold": 0.5}})
    with pytest.raises(StatsError) as err:
        check_labels(_labelled_pool([1] * 30), spec)
    msg = str(err.value)
    assert "labels: one class only: of 35 questions of data qa_jsonl (qa.jsonl) (greedy accuracy 0.0%), 0 are " \
           "labelled correct (0) and 30 hallucinated (1) under labels.mode 'relaxed'" in msg
    assert "Fix: check that the aliases" in msg
    with pytest.raises(StatsError, match="1 are labelled correct"):
        check_labels(_labelled_pool([0] + [1] * 30), spec)
    check_labels(_labelled_pool([0, 0] + [1] * 30), spec)


def test_a_split_short_of_a_class_is_refused_before_fitting():
    from harness.claims._detection import check_split
    from harness.errors import StatsError

    spec = SplitSpec(length_match="all", train=0.5, val=0.25)
    # 5 correct answers of one token, 20 wrong ones of 9 tokens: length matching keeps no pair at all
    pool = _labelled_pool([0] * 5 + [1] * 20, lengths=[1] * 5 + [9] * 20)
    split = balanced_split(pool.labels, pool.lengths, spec)
    with pytest.raises(StatsError) as err:
        check_split(pool, split, spec)
    assert ("split: the train split has 0 correct and 0 hallucinated question(s) (the labelled pool has 5 and 20; "
            "the split keeps the same number of each class within answer-length bins)") in str(err.value)
    assert "Fix: more questions" in str(err.value) and "split.length_match: none" in str(err.value)
    balanced = _labelled_pool([0] * 12 + [1] * 12)
    check_split(balanced, balanced_split(balanced.labels, balanced.lengths, SplitSpec(length_match="none")),
                SplitSpec(length_match="none"))
