"""The edit of an intervention claim and its random controls, built from the claim's detection products.

An Edit maps alpha to a reversible hook context manager and carries a JSON description of its units (the
cache key of its outcomes). Controls are the same kind of edit on random units matched to the treatment's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.claims._spec import ClaimSpec

CONTROL_SEED_BASE = 50_000


@dataclass
class Edit:
    """One set of units under one intervention kind."""

    kind: str
    units: Any
    """JSON-able description of the edited units (neurons, features, heads, direction fingerprint)."""
    make: Callable[[float], Any]
    """alpha -> hook context manager."""
    identity_at: float | None
    """The alpha at which the edit registers no hook (bit-exact clean model), or None."""
    grouped: Callable[[list[tuple[Any, float]]], Any] | None = None
    """[(units, alpha) per condition] -> a hook context manager giving each batch row its condition's edit
    (several conditions in one batched pass); None where the edit has no per-row form."""


@dataclass
class Treatment:
    """The treatment edit, how to draw a control, what a reader needs to know, and (ITI) held-out items."""

    edit: Edit
    control: Callable[[int], Edit]
    info: dict[str, Any] = field(default_factory=dict)
    eval_ids: set[str] | None = None
    """Only these benchmark items are evaluated (ITI: items not used to fit the probes)."""


ITI_CODE_VERSION = "iti-fit-v1"


def build_treatment(spec: ClaimSpec, lm: Any, det: Any, bench_items: list[Any], store: Any = None) -> Treatment:
    """The claim's edit on its units (H-neurons, SAE features, direction, ITI heads) and its control maker.

    ``store`` caches ITI's probe fit (head activations and probes), the one edit that is costly to build."""
    assert spec.intervention is not None
    kind = spec.intervention.kind
    if kind == "neuron_scaling":
        return _neurons(lm, det)
    if kind == "sae_scaling":
        return _sae(spec, lm, det)
    if kind == "direction":
        return _direction(spec, lm, det)
    return _iti(spec, lm, bench_items, store)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(CONTROL_SEED_BASE + seed)


def _neurons(lm: Any, det: Any) -> Treatment:
    from harness.controls import random_matched_neurons
    from harness.interventions import scale_neurons, scale_neurons_grouped

    d_mlp, n_layers = lm.sites.d_mlp, lm.sites.n_layers
    coef = det.fit.detector.coef
    neurons = [(int(layer), int(j)) for layer, j, _ in det.fit.detector.positive_neurons(d_mlp)]
    if not neurons:
        from harness.errors import DataError

        raise DataError("the detector has no positive weights: there are no H-neurons to scale")
    exclude = [(int(i) // d_mlp, int(i) % d_mlp) for i in np.flatnonzero(coef != 0)]

    def edit(units: list[tuple[int, int]]) -> Edit:
        return Edit("neuron_scaling", [list(u) for u in units], lambda a: scale_neurons(lm, units, a), 1.0,
                    lambda conds: scale_neurons_grouped(lm, conds))

    def control(seed: int) -> Edit:
        return edit(random_matched_neurons(neurons, d_mlp, n_layers, exclude, _rng(seed)))

    layers: dict[int, int] = {}
    for layer, _ in neurons:
        layers[layer] = layers.get(layer, 0) + 1
    info = {"n_units": len(neurons), "units": [list(u) for u in neurons], "layer_counts": dict(sorted(layers.items())),
            "control_pool": f"neurons with zero detector weight ({coef.size - len(exclude)} of {coef.size})"}
    return Treatment(edit(neurons), control, info)


def _sae(spec: ClaimSpec, lm: Any, det: Any) -> Treatment:
    from harness.controls import random_features
    from harness.interventions import scale_sae_features

    assert spec.intervention is not None and spec.intervention.kind == "sae_scaling"
    mode = spec.intervention.mode
    sae, coef = det.sae, det.fit.detector.coef
    features = [int(j) for j in np.argsort(-coef) if coef[j] > 0]
    if not features:
        from harness.errors import DataError

        raise DataError("the SAE detector has no positive weights: there are no SAE features to scale")
    exclude = [int(j) for j in np.flatnonzero(coef != 0)]

    def edit(units: list[int]) -> Edit:
        return Edit(f"sae_scaling-{mode}", {"features": list(units), "sae": det.sae_info.get("hook_name")},
                    lambda a: scale_sae_features(lm, sae, units, a, mode=mode), 1.0 if mode == "delta" else None)

    def control(seed: int) -> Edit:
        return edit(list(random_features(features, sae.d_sae, exclude, _rng(seed))))

    info = {"n_units": len(features), "units": features, "sae": det.sae_info, "mode": mode}
    return Treatment(edit(features), control, info)


def _direction(spec: ClaimSpec, lm: Any, det: Any) -> Treatment:
    from harness.controls import random_direction_like
    from harness.interventions import capture_site_means, diff_of_means, steer_direction
    from harness.store import fingerprint

    assert spec.intervention is not None and spec.intervention.kind == "direction"
    layer, mode = spec.intervention.layer, spec.intervention.mode
    train = det.fit.split.train
    inputs = [det.pool.inputs[i] for i in train]
    acts = capture_site_means(lm, inputs, [f"blocks.{layer}.hook_resid_post"], region="answer")[:, 0]
    y = det.pool.labels[train]
    direction = diff_of_means(acts[y == 1], acts[y == 0])

    def edit(d: np.ndarray, name: str) -> Edit:
        return Edit(f"direction-{mode}", {"layer": layer, "direction": name, "fp": fingerprint(d.round(6).tolist())},
                    lambda a: steer_direction(lm, layer, d, a, mode=mode), 0.0)

    def control(seed: int) -> Edit:
        return edit(random_direction_like(direction, _rng(seed)), f"random-{seed}")

    info = {"layer": layer, "mode": mode, "direction_norm": round(float(np.linalg.norm(direction)), 4),
            "n_train_questions": len(train), "source": "mean(hallucinated) - mean(correct) answer tokens"}
    return Treatment(edit(direction, "diff_of_means"), control, info)


def _iti(spec: ClaimSpec, lm: Any, items: list[Any], store: Any) -> Treatment:
    """Head probes on part of the TruthfulQA probe set; when the claim is measured on that same set, only the
    other questions are evaluated (question-disjoint)."""
    from harness.claims._evaluate import load_benchmark
    from harness.claims._spec_intervention import BenchmarkSpec
    from harness.interventions import iti_shift
    from harness.store import fingerprint

    iti = spec.intervention
    assert iti is not None and iti.kind == "iti" and spec.benchmark is not None
    probe_spec = BenchmarkSpec(kind="truthfulqa", path=iti.probe_path, metric="mc1")
    same = spec.benchmark.kind == "truthfulqa" and spec.benchmark.path == iti.probe_path
    items = load_benchmark(probe_spec, field="intervention.probe_path") if not same else items
    rng = np.random.default_rng(iti.seed)
    order = rng.permutation(len(items))
    n_probe = round(iti.probe_fraction * len(items))
    probe_items = [items[i] for i in sorted(order[:n_probe])]
    eval_ids = {str(items[i].id) for i in order[n_probe:]}
    n_train = round(0.7 * len(probe_items))
    if n_train < 2 or len(probe_items) - n_train < 2 or (same and len(eval_ids) < 5):
        from harness.errors import DataError

        source = f"intervention.probe_path {iti.probe_path}" if iti.probe_path else "the embedded TruthfulQA set"
        raise DataError(
            f"{source}: {len(items)} question(s) leave {n_train} to fit the head probes, {len(probe_items) - n_train} "
            f"to choose the top-K heads{f' and {len(eval_ids)} to evaluate' if same else ''}; ITI needs at least 2, "
            f"2{' and 5' if same else ''}. Fix: a larger TruthfulQA file (every question yields one true and one "
            "false answer sequence), or another intervention.probe_fraction.")
    seqs, pos, labels, owner = _probe_sequences(lm, probe_items, spec.model.prompt_style)
    q_order = rng.permutation(len(probe_items))
    train_q = set(q_order[:n_train].tolist())
    train_idx = np.array([i for i, q in enumerate(owner) if q in train_q])
    val_idx = np.array([i for i, q in enumerate(owner) if q not in train_q])
    splits = _iti_splits(probe_items, owner, train_idx, val_idx, eval_ids)
    key = {"model": lm.fingerprint, "sequences": fingerprint([seqs, pos, labels]), "train": train_idx.tolist(),
           "top_k": iti.top_k, "seed": iti.seed, "code": ITI_CODE_VERSION}
    fit = _cached(store, "iti_fit", key, lambda: _fit_iti_arrays(lm, seqs, pos, labels, train_idx, val_idx,
                                                                 iti.top_k, iti.seed))
    heads = [(int(h[0]), int(h[1])) for h in fit["heads"]]
    val_accuracy, directions, sigmas, own = fit["val_accuracy"], fit["directions"], fit["sigmas"], fit["own"]

    def own_direction(layer: int, head: int) -> np.ndarray:
        return np.asarray(own[layer, head])

    def edit(hs: list[tuple[int, int]], dirs: np.ndarray, sig: np.ndarray, name: str) -> Edit:
        # the probe fit's key is in the units, so outcomes cached under one fit are never reused for another
        units = {"heads": [list(h) for h in hs], "set": name, "scope": iti.scope, "first_n": iti.first_n,
                 "fit": fingerprint(key)}
        return Edit("iti", units,
                    lambda a: iti_shift(lm, hs, dirs, sig, a, scope=iti.scope, first_n=iti.first_n), 0.0)

    def control(seed: int) -> Edit:
        # random heads in the same layers, each shifted along its own mass-mean direction by the sigma of the
        # treatment head it replaces: same pipeline, same shift budget, different heads
        hs, moved = _random_heads(heads, lm.sites.n_layers, lm.sites.n_heads, _rng(seed))
        if moved:
            info.setdefault("control_heads_moved_to_nearest_layer", {})[seed] = moved
        dirs = np.stack([own_direction(layer, h) for layer, h in hs])
        return edit(hs, dirs, np.asarray(sigmas), f"random-{seed}")

    info: dict[str, Any] = {"n_units": len(heads), "units": [list(h) for h in heads],
            "val_accuracy_top": [round(float(val_accuracy[h]), 4) for h in heads],
            "sigmas": [round(float(s), 4) for s in sigmas], "n_probe_questions": len(probe_items),
            "n_probe_sequences": len(seqs), "n_eval_questions": len(eval_ids), "splits": splits}
    return Treatment(edit(heads, np.asarray(directions), np.asarray(sigmas), "top-k"), control, info,
                     eval_ids if same else None)


def _cached(store: Any, stage: str, key: dict[str, Any], compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, Any]:
    return compute() if store is None else store.get_or_compute_npz(stage, key, compute)


def _fit_iti_arrays(lm: Any, seqs: list[list[int]], pos: list[int], labels: list[int], train_idx: np.ndarray,
                    val_idx: np.ndarray, top_k: int, seed: int) -> dict[str, np.ndarray]:
    """Head activations at the probe positions, per-head probes, the top-K heads and every head's unit
    mass-mean direction on the training rows (random-head controls shift along their own)."""
    from harness.interventions import capture_heads, fit_iti

    acts = capture_heads(lm, seqs, pos, batch_size=16)  # [n, layers, heads, head_dim]
    res = fit_iti(acts, np.array(labels), train_idx, val_idx, top_k, seed)
    y_tr, a_tr = np.array(labels)[train_idx], acts[train_idx]
    own = a_tr[y_tr == 1].mean(0) - a_tr[y_tr == 0].mean(0)  # [layers, heads, head_dim]
    own = own / np.maximum(np.linalg.norm(own, axis=-1, keepdims=True), 1e-12)
    return {"val_accuracy": np.asarray(res.val_accuracy), "heads": np.asarray(res.heads, dtype=np.int64),
            "directions": np.asarray(res.directions), "sigmas": np.asarray(res.sigmas), "own": own}


def _iti_splits(probe_items: list[Any], owner: list[int], train_idx: np.ndarray, val_idx: np.ndarray,
                eval_ids: set[str]) -> dict[str, Any]:
    """Check ITI's splits: probes fit on train questions, K heads chosen on val questions, the claim evaluated
    on the locked rest; no question in two of them."""
    from harness.claims._splits import check_disjoint, guard_selection, manifest

    def qids(rows: np.ndarray) -> list[str]:
        return sorted({str(probe_items[owner[int(r)]].id) for r in rows})

    train = manifest("iti/probe-train", qids(train_idx))
    val = guard_selection(manifest("iti/probe-val", qids(val_idx)), "ITI's top-K heads")
    test = manifest("iti/eval", eval_ids, locked=True)
    check_disjoint(train, val)
    check_disjoint(train, test)
    check_disjoint(val, test)
    return {"probe_train": train.summary(), "probe_val": val.summary(), "eval": test.summary()}


def _random_heads(heads: list[tuple[int, int]], n_layers: int, n_heads: int,
                  rng: np.random.Generator) -> tuple[list[tuple[int, int]], int]:
    """Random heads row-aligned with the treatment's (control i in the layer of head i), never a treatment
    head; and how many had to move. Small models have few heads per layer (Gemma 3 270M: 4): where a layer
    has too few free heads, the rest come from the nearest layer with a free one."""
    from harness.controls import random_heads_matched

    try:
        return [(int(h[0]), int(h[1])) for h in random_heads_matched(heads, n_heads, heads, rng)], 0
    except ValueError:
        pass
    taken = set(heads)
    out: list[tuple[int, int]] = []
    moved = 0
    for layer, _ in heads:
        for near in sorted(range(n_layers), key=lambda x: (abs(x - layer), x)):
            free = [(near, h) for h in range(n_heads) if (near, h) not in taken]
            if free:
                pick = free[int(rng.integers(len(free)))]
                out.append(pick)
                taken.add(pick)
                moved += near != layer
                break
    return out, moved


def _probe_sequences(lm: Any, items: list[Any], style: str) -> tuple[list[list[int]], list[int], list[int], list[int]]:
    """One sequence per (question, answer): the QA prompt plus the answer; label 1 for a correct answer. The
    probe reads the answer's last token."""
    from harness.claims._evaluate import _prompt
    from harness.generate import encode_continuation

    seqs, pos, labels, owner = [], [], [], []
    for q, it in enumerate(items):
        prompt = _prompt(lm, style, f"Q: {it.question}\nA:")
        for c, text in enumerate(it.choices):
            s = prompt + encode_continuation(lm.tokenizer, text)
            seqs.append(s)
            pos.append(len(s) - 1)
            labels.append(int(c in it.correct))
            owner.append(q)
    return seqs, pos, labels, owner

