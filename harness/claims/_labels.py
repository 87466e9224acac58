"""Consistency labels from a greedy pass plus screened sampling, and the balanced, length-matched split."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.claims._spec import LabelSpec, SplitSpec

SCREEN_ROUNDS = (2, 3)
"""Samples drawn per round before the rest of K; a question leaves as soon as it cannot qualify or its
label is settled (later rounds draw only what is still undecided)."""


def sample_rounds(k: int) -> list[int]:
    """Round sizes summing to K, e.g. K=10 -> [2, 3, 5]."""
    rounds, left = [], k
    for r in SCREEN_ROUNDS:
        if left <= 0:
            break
        rounds.append(min(r, left))
        left -= rounds[-1]
    if left > 0:
        rounds.append(left)
    return rounds


def can_qualify(greedy_right: bool, sample_right: list[bool], k: int, spec: LabelSpec) -> bool:
    """Whether more samples could still give this question a label under the label mode."""
    wrong = sum(not r for r in sample_right)
    if greedy_right:
        if spec.mode == "strict":
            return wrong == 0
        return wrong <= k - math.ceil(spec.min_right * k)
    return all(not r for r in sample_right)


def settled(greedy_right: bool, sample_right: list[bool], k: int, spec: LabelSpec) -> bool:
    """Whether the label is already fixed whatever the remaining samples say: in relaxed mode a greedy-right
    question with at least ceil(min_right * K) right samples is labelled correct (0) at any K."""
    return spec.mode == "relaxed" and greedy_right and sum(sample_right) >= math.ceil(spec.min_right * k)


def label_of(greedy_right: bool, sample_right: list[bool], k: int, spec: LabelSpec) -> int | None:
    """1 = consistent hallucination, 0 = consistently right, None = discarded (or not decided yet).

    ``sample_right`` holds the first samples of the K (0, 1, 2, ...); fewer than K give a label only when it
    is settled, so the label is the one the full K samples give."""
    if spec.mode == "greedy":
        return 0 if greedy_right else 1
    if not can_qualify(greedy_right, sample_right, k, spec):
        return None
    if settled(greedy_right, sample_right, k, spec):
        return 0
    if len(sample_right) < k:
        return None
    return 0 if greedy_right else 1


def draws_needed(greedy_right: bool, sample_right: list[bool], k: int, spec: LabelSpec, cap: int) -> int:
    """Samples to draw for a question in the next round, at most ``cap``: none once its label is settled or
    it can no longer qualify; for a relaxed greedy-right question no more than could settle it or rule it
    out (each drawn sample is then one the decision needs)."""
    if len(sample_right) >= k or settled(greedy_right, sample_right, k, spec) \
            or not can_qualify(greedy_right, sample_right, k, spec):
        return 0
    n = min(cap, k - len(sample_right))
    if spec.mode == "relaxed" and greedy_right:
        need = math.ceil(spec.min_right * k)
        right = sum(sample_right)
        to_settle = need - right
        to_rule_out = (k - need + 1) - (len(sample_right) - right)
        n = min(n, to_settle, to_rule_out)
    return n


@dataclass(frozen=True)
class Split:
    """Indices into the labelled pool."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def length_bin(n_tokens: int) -> int:
    """Answer-length bins in tokens: 1, 2, 3, 4, 5-6, 7-9, 10+."""
    for b, hi in enumerate((1, 2, 3, 4, 6, 9)):
        if n_tokens <= hi:
            return b
    return 6


def balanced_split(labels: np.ndarray, lengths: np.ndarray, spec: SplitSpec, seed_offset: int = 0,
                   domains: list[str] | None = None, sealed: frozenset[int] = frozenset()) -> Split:
    """Label-balanced train/val/test split, classes optionally balanced within answer-length bins and
    within domains; each item is one question, so the splits are question-disjoint by construction.
    ``sealed`` indices (a locked test set) are placed in the test split only."""
    rng = np.random.default_rng(spec.seed + seed_offset)
    lbin = [length_bin(int(n)) if spec.length_match == "all" else 0 for n in lengths]
    dom = domains if spec.domain_match and domains is not None else [""] * len(labels)
    groups = list(zip(dom, lbin, strict=True))
    keep: list[int] = []
    for g in sorted(set(groups)):
        pos = [i for i in range(len(labels)) if groups[i] == g and labels[i] == 1]
        neg = [i for i in range(len(labels)) if groups[i] == g and labels[i] == 0]
        m = min(len(pos), len(neg))
        keep += list(rng.choice(pos, m, replace=False)) + list(rng.choice(neg, m, replace=False))
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for cls in (0, 1):
        idx = np.array([i for i in keep if labels[i] == cls], dtype=int)
        rng.shuffle(idx)
        n_train = round(spec.train * len(idx))
        n_val = round(spec.val * len(idx))
        if sealed:  # stable: sealed items move to the end, into the test split; the rest keep their order
            idx = np.array([i for i in idx if i not in sealed] + [i for i in idx if i in sealed], dtype=int)
            n_sealed = sum(int(i) in sealed for i in idx)
            if n_sealed > len(idx) - n_train - n_val:
                from harness.errors import DataError

                raise DataError(f"the sealed test set holds {n_sealed} usable item(s) of class {cls} but the test "
                                f"split has room for {len(idx) - n_train - n_val}. Fix: lower split.train/val or "
                                "seal fewer items.")
        parts["train"] += idx[:n_train].tolist()
        parts["val"] += idx[n_train:n_train + n_val].tolist()
        parts["test"] += idx[n_train + n_val:].tolist()
    return Split(*(np.array(sorted(parts[k]), dtype=int) for k in ("train", "val", "test")))
