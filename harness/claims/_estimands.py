"""The compute stage of detection claims: test-set scores of every fit the estimand reads, as row-level
evidence, plus the numbers about the fit a reader needs beside the interval (``_assess`` decides)."""

from __future__ import annotations

from collections import Counter
from itertools import combinations
from typing import Any

import numpy as np

from harness.claims._detection import FitResult, LabelledPool, split_manifests
from harness.claims._evidence import Evidence
from harness.claims._spec import ClaimSpec


def _fit_details(fit: FitResult, pool: LabelledPool, spec: ClaimSpec) -> dict[str, Any]:
    from harness.stats import auroc

    det = fit.detector
    n_pos = int((det.coef > 0).sum())
    if spec.pipeline.features.kind == "sae":
        order = np.argsort(-det.coef)[:n_pos]
        units: dict[str, Any] = {"n_positive_features": n_pos,
                                 "positive_features": [[int(j), round(float(det.coef[j]), 5)] for j in order]}
    else:
        units = {"n_h_neurons": n_pos,
                 "h_neurons": [[layer, j, round(w, 5)] for layer, j, w in det.positive_neurons(pool.d_mlp)]}
    return {**units,
        "labels": pool.stats,
        "split_sizes": {"train": len(fit.split.train), "val": len(fit.split.val), "test": len(fit.split.test)},
        "splits": split_manifests(pool, fit.split, spec.pipeline.split),
        "C": det.C, "val_auroc_by_C": {str(k): round(v, 4) for k, v in det.val_auroc_by_C.items()},
        "n_nonzero": int((det.coef != 0).sum()),
        "length_only_test_auroc": round(float(auroc(fit.length_sign * fit.test_lengths, fit.test_labels)), 4),
        "domain_only_test_auroc": _domain_only_auroc(fit, pool),
        "test_mean_length_by_class": {
            "hallucinated": round(float(fit.test_lengths[fit.test_labels == 1].mean()), 3),
            "correct": round(float(fit.test_lengths[fit.test_labels == 0].mean()), 3)},
    }


def _domain_only_auroc(fit: FitResult, pool: LabelledPool) -> float | None:
    """AUROC of a surface baseline that scores each test item by its domain's training hallucination rate."""
    from harness.stats import auroc

    domains = np.asarray(pool.domains)
    if len(set(domains.tolist())) < 2:
        return None
    train_d, train_y = domains[fit.split.train], pool.labels[fit.split.train]
    base = float(train_y.mean())
    rate = {d: float(train_y[train_d == d].mean()) for d in set(train_d.tolist())}
    score = np.array([rate.get(d, base) for d in domains[fit.split.test]])
    return round(float(auroc(score, fit.test_labels)), 4)


def detection_evidence(spec: ClaimSpec, session: Any, lm: Any, det: Any) -> tuple[Evidence, dict[str, Any]]:
    """Rows of every fit the claim's estimand and controls read, and the live-only details of the main fit."""
    from harness.claims._assess import control_condition

    fit, pool, kind = det.fit, det.pool, spec.estimand.kind
    ev = Evidence(rows=[])
    if kind == "h_neuron_percent":
        return _h_neuron_percent(spec, det, ev)
    test_ids = [pool.ids[i] for i in fit.split.test]
    ev.add("detector", test_ids, fit.test_scores, labels=fit.test_labels)
    details = _fit_details(fit, pool, spec)
    if kind == "detector_auroc_minus_length":
        ev.add("baseline", test_ids, fit.length_sign * fit.test_lengths.astype(float))
    elif kind == "detector_auroc_difference":
        _baseline_detector(spec, session, lm, det, test_ids, ev, details)
    elif kind == "shuffled_label_auroc":
        assert spec.estimand.kind == "shuffled_label_auroc"
        for s in range(spec.estimand.seeds):
            ev.add(f"refit/{s}", test_ids, det.fit_fn(shuffle_seed=s).test_scores)
    for control in spec.controls:  # shuffled labels: same pipeline, labels permuted before fitting
        for seed in range(control.seeds):
            ev.add(control_condition(control.kind, seed), test_ids, det.fit_fn(shuffle_seed=seed).test_scores)
    return ev, details


def _h_neuron_percent(spec: ClaimSpec, det: Any, ev: Evidence) -> tuple[Evidence, dict[str, Any]]:
    """Percent of MLP neurons with positive weight over refits on different splits (one row per refit)."""
    assert spec.estimand.kind == "h_neuron_percent"
    fit, pool = det.fit, det.pool
    fits = [fit] + [det.fit_fn(split_offset=s) for s in range(1, spec.estimand.seeds)]
    n_total = fit.detector.coef.size
    sets = [set(np.flatnonzero(f.detector.coef > 0).tolist()) for f in fits]
    ev.add("h_neuron_percent", [f"split-{s}" for s in range(len(fits))], [100.0 * len(s) / n_total for s in sets])
    jacc = [len(a & b) / len(a | b) if a | b else 0.0 for a, b in combinations(sets, 2)]
    main = fit.detector.positive_neurons(pool.d_mlp)
    return ev, {
        "n_neurons_total": n_total, "n_h_neurons_per_seed": [len(s) for s in sets],
        "layer_profile": dict(sorted(Counter(layer for layer, _, _ in main).items())),
        "top_h_neurons": [(layer, j, round(w, 4)) for layer, j, w in main[:10]],
        "overlap_jaccard_mean": round(float(np.mean(jacc)), 4) if jacc else None,
        "overlap_jaccard_range": [round(min(jacc), 4), round(max(jacc), 4)] if jacc else None,
        "C_per_seed": [f.detector.C for f in fits], "labels": pool.stats,
    }


def _baseline_detector(spec: ClaimSpec, session: Any, lm: Any, det: Any, test_ids: list[str], ev: Evidence,
                       details: dict[str, Any]) -> None:
    """Scores of a detector on other features (the estimand's baseline) on the same test items."""
    from harness.claims._run import detect

    assert spec.estimand.kind == "detector_auroc_difference"
    base = detect(spec, session, lm, {}, features=spec.estimand.baseline)
    if not np.array_equal(base.fit.split.test, det.fit.split.test):
        raise AssertionError("baseline detector was scored on different test items; the comparison is unpaired")
    ev.add("baseline", test_ids, base.fit.test_scores)
    details.update({
        "baseline_features": spec.estimand.baseline.kind,
        "baseline_n_positive_weights": int((base.fit.detector.coef > 0).sum()),
        "n_features": int(det.fit.detector.coef.size), "baseline_n_features": int(base.fit.detector.coef.size),
    })
    if det.sae_info:
        details["sae"] = det.sae_info
