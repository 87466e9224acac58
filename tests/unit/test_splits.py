"""Sealed splits: manifests, the locked test set refused for selection, leakage as a hard error."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.claims._detection import LabelledPool, sealed_indices, split_manifests
from harness.claims._labels import Split, balanced_split
from harness.claims._spec import SplitSpec
from harness.claims._splits import (
    LeakageError,
    check_disjoint,
    guard_selection,
    manifest,
    read_manifest,
    write_manifest,
)
from harness.errors import DataError


def _pool(n=80):
    labels = np.arange(n) % 2
    return LabelledPool(ids=[f"q{i}" for i in range(n)], labels=labels, lengths=np.full(n, 3), inputs=[],
                        answers=[""] * n, d_mlp=4, domains=[""] * n)


def test_a_locked_split_is_refused_for_any_selection_step():
    test = manifest("detector/test", ["a", "b"], locked=True)
    with pytest.raises(LeakageError, match=r"the detector's C would be chosen on 'detector/test', a locked test"):
        guard_selection(test, "the detector's C")
    val = manifest("detector/val", ["c"])
    assert guard_selection(val, "alpha") is val


def test_shared_ids_between_fit_and_evaluation_are_a_hard_error():
    with pytest.raises(LeakageError, match=r"2 item\(s\) of 'fit' are also in 'eval' \(e.g. \['b', 'c'\]\)"):
        check_disjoint(manifest("fit", ["a", "b", "c"]), manifest("eval", ["b", "c", "d"], locked=True))
    check_disjoint(manifest("fit", ["a"]), manifest("eval", ["b"]))


def test_manifest_round_trip_and_an_edited_manifest_is_refused(tmp_path):
    split = manifest("sealed", ["q3", "q1"], locked=True)
    path = tmp_path / "sealed.json"
    write_manifest(path, split)
    assert read_manifest(path) == split and read_manifest(path).fingerprint == split.fingerprint
    data = json.loads(path.read_text())
    data["ids"].append("q9")  # someone adds an item to the sealed set by hand
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match="the sealed set was edited"):
        read_manifest(path)
    path.write_text("{}")
    with pytest.raises(DataError, match="is malformed"):
        read_manifest(path)


def test_sealed_items_land_only_in_test_and_other_splits_are_unchanged(tmp_path):
    pool = _pool()
    path = tmp_path / "sealed.json"
    write_manifest(path, manifest("sealed", ["q0", "q1", "q2", "q3", "q77"], locked=True))
    spec = SplitSpec(train=0.5, val=0.2, length_match="none", sealed_test=str(path))
    sealed = sealed_indices(pool, spec)
    assert sealed == {0, 1, 2, 3, 77}
    for offset in range(5):  # every refit split, as h_neuron_percent makes
        split = balanced_split(pool.labels, pool.lengths, spec, seed_offset=offset, sealed=sealed)
        assert sealed <= set(split.test.tolist())
        summary = split_manifests(pool, split, spec)
        assert summary["sealed_test"]["n_in_test"] == 5 and summary["test"]["locked"]
    plain = SplitSpec(train=0.5, val=0.2, length_match="none")
    a = balanced_split(pool.labels, pool.lengths, plain)
    b = balanced_split(pool.labels, pool.lengths, plain, sealed=frozenset())
    assert all(np.array_equal(x, y) for x, y in zip((a.train, a.val, a.test), (b.train, b.val, b.test), strict=True))


def test_a_split_that_leaks_sealed_items_or_test_items_is_refused(tmp_path):
    pool = _pool()
    path = tmp_path / "sealed.json"
    write_manifest(path, manifest("sealed", ["q0"], locked=True))
    spec = SplitSpec(length_match="none", sealed_test=str(path))
    leaky = Split(np.array([0, 1]), np.array([2, 3]), np.array([4, 5]))
    with pytest.raises(LeakageError, match=r"'detector/train\+val' are also in 'sealed_test'"):
        split_manifests(pool, leaky, spec)
    overlap = Split(np.array([4, 1]), np.array([2, 3]), np.array([4, 5]))
    with pytest.raises(LeakageError, match="'detector/train' are also in 'detector/test'"):
        split_manifests(pool, overlap, SplitSpec(length_match="none"))


def test_sealed_set_too_big_or_not_locked_is_a_clear_error(tmp_path):
    pool = _pool()
    path = tmp_path / "sealed.json"
    write_manifest(path, manifest("sealed", [f"q{i}" for i in range(60)], locked=True))
    spec = SplitSpec(train=0.5, val=0.2, length_match="none", sealed_test=str(path))
    with pytest.raises(DataError, match="the test split has room for"):
        balanced_split(pool.labels, pool.lengths, spec, sealed=sealed_indices(pool, spec))
    write_manifest(path, manifest("open", ["q1"], locked=False))
    with pytest.raises(DataError, match="is not marked locked"):
        sealed_indices(pool, spec)
