"""The H-neuron detection pipeline: greedy + screened samples -> labels -> CETT features -> L1 detector.

Every stage is cached in the artifact store, keyed by model fingerprint, data fingerprint, the stage's
spec and its code version, so an interrupted run resumes and an unchanged re-run only reads files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.claims._labels import Split, balanced_split, draws_needed, label_of, sample_rounds
from harness.claims._spec import ClaimSpec, DataSpec, PipelineSpec
from harness.errors import DataError

log = logging.getLogger(__name__)

CODE_VERSIONS = {"generate": "gen-v1", "cett": "cett-v1", "fit": "fit-v1", "sae_feats": "sae-feats-v1"}
REPO_ROOT = Path(__file__).resolve().parents[2]


def resolve_path(value: str, field: str) -> Path:
    """A path from a claim file (absolute, or relative to the repository root) that must exist.

    Raises:
        DataError: naming the field, the path as written and as resolved, and the fix.
    """
    path = Path(value).expanduser()
    path = path if path.is_absolute() else REPO_ROOT / path
    if not path.exists():
        how = "" if Path(value).expanduser().is_absolute() else f", read relative to the repository root {REPO_ROOT}"
        what = "folder" if field.endswith("sae.path") else "file"
        raise DataError(f"{field} {value!r}: no such {what} ({path}{how}). Fix: correct {field} in the claim "
                        f"file, or create the {what} first.")
    return path


def load_items(spec: DataSpec) -> list[Any]:
    """The question set named by a data spec (a seeded subset when ``limit`` is set)."""
    from harness.benchmarks import load_embedded_qa, load_qa_jsonl, load_triviaqa

    if spec.kind == "embedded_qa":
        items = load_embedded_qa()
    else:
        assert spec.path is not None
        path = resolve_path(spec.path, "data.path")
        try:
            items = load_triviaqa(path) if spec.kind == "triviaqa" else load_qa_jsonl(path)
        except DataError as exc:
            raise DataError(f"data.path: {exc}") from None
    if not items:
        raise DataError(f"data {spec.kind} ({spec.path or 'embedded'}) has no questions. Fix: point data.path "
                        "at a non-empty file.")
    return seeded_subset(items, spec.limit, spec.subset_seed)


def seeded_subset(items: list[Any], limit: int | None, seed: int) -> list[Any]:
    """A seeded random subset of ``limit`` items in their original order (all items when limit is None)."""
    if limit is None or limit >= len(items):
        return items
    keep = sorted(np.random.default_rng(seed).choice(len(items), limit, replace=False).tolist())
    return [items[i] for i in keep]


def data_fingerprint(items: list[Any]) -> str:
    from harness.store import fingerprint

    return fingerprint([[it.id, it.question, list(it.aliases)] for it in items])


@dataclass
class LabelledPool:
    """Questions that received a label, with what the features need."""

    ids: list[str]
    labels: np.ndarray
    """1 = consistent hallucination, 0 = consistently right."""
    lengths: np.ndarray
    """Greedy answer length in tokens (the answer span)."""
    inputs: list[Any]
    """FeatureInput per labelled question (greedy answer, teacher-forced)."""
    answers: list[str]
    d_mlp: int
    domains: list[str]
    """Benchmark domain per question ("" where the data has none)."""
    stats: dict[str, Any] = field(default_factory=dict)


def _generate_stage(lm: Any, store: Any, prompts: dict[str, tuple[int, ...]], keys: dict[str, int] | None,
                    key_parts: dict[str, Any], label: str, batch_size: int, **gen_kwargs: Any) -> dict[str, Any]:
    from harness.generate import generate_batch

    def compute(ids: list[str]) -> list[dict[str, Any]]:
        order = sorted(ids, key=lambda i: len(prompts[i]))  # similar lengths share a batch
        gens = generate_batch(lm, [prompts[i] for i in order],
                              row_keys=[keys[i] for i in order] if keys else None, **gen_kwargs)
        by_id = {i: g for i, g in zip(order, gens, strict=True)}
        return [{"answer_ids": list(by_id[i].answer_ids), "stop_id": by_id[i].stop_id, "text": by_id[i].text}
                for i in ids]

    ids = sorted(prompts, key=lambda i: len(prompts[i]))
    return store.resumable_map(label, key_parts, ids, compute, batch_size=batch_size, progress_label=label)


def _screen_candidates(greedy_right: dict[str, bool], ratio: float | None, seed: int) -> list[str]:
    """Questions that get samples: every greedy-right one, and a seeded subset of at most ratio x as many
    greedy-wrong ones (the rarer right answers are the bottleneck of a balanced split)."""
    right = sorted(i for i, r in greedy_right.items() if r)
    wrong = sorted(i for i, r in greedy_right.items() if not r)
    n_wrong = len(wrong) if ratio is None else min(len(wrong), int(np.ceil(ratio * max(len(right), 1))))
    keep = np.random.default_rng(seed).choice(len(wrong), n_wrong, replace=False).tolist() if wrong else []
    return sorted(right + [wrong[k] for k in keep])


def build_pool(lm: Any, items: list[Any], spec: ClaimSpec, store: Any) -> LabelledPool:
    """Greedy pass over every question, then up to K samples in rounds for those that can still qualify and
    whose label is not yet settled (the labels are those of all K samples; see ``_labels.draws_needed``)."""
    from harness.activations import FeatureInput, answer_span
    from harness.generate import build_prompt, row_key
    from harness.judges import alias_match

    samp, lab = spec.pipeline.sampling, spec.pipeline.labels
    by_id = {it.id: it for it in items}
    prompts = {it.id: build_prompt(lm.tokenizer, it.question, spec.model.prompt_style) for it in items}
    base = {"model": lm.fingerprint, "data": data_fingerprint(items), "prompt_style": spec.model.prompt_style,
            "max_new_tokens": samp.max_new_tokens, "code": CODE_VERSIONS["generate"]}
    greedy = _generate_stage(lm, store, {i: p.ids for i, p in prompts.items()}, None, base, "greedy",
                             samp.batch_size, max_new_tokens=samp.max_new_tokens, greedy=True)
    greedy_right = {i: alias_match(g["text"], by_id[i].aliases) for i, g in greedy.items()}
    sample_right: dict[str, list[bool]] = {i: [] for i in by_id}
    n_sequences = 0
    sampled = set(_screen_candidates(greedy_right, lab.max_wrong_per_right, samp.seed))
    if lab.mode != "greedy":
        skey = {**base, "sampling": samp.model_dump(exclude={"batch_size"})}
        schedule = sample_rounds(samp.k) if lab.screen else [samp.k]
        n_rounds = 0
        while True:
            # the scheduled round sizes first, then rounds of whatever each undecided question still needs
            cap = schedule[n_rounds] if n_rounds < len(schedule) else samp.k
            draw = {i: draws_needed(greedy_right[i], sample_right[i], samp.k, lab, cap) if lab.screen
                    else min(cap, samp.k - len(sample_right[i])) for i in sorted(sampled)}
            sids = {f"{i}#{k}": prompts[i].ids for i, n in draw.items()
                    for k in range(len(sample_right[i]), len(sample_right[i]) + n)}
            if not sids:
                break
            rows = _generate_stage(
                lm, store, sids, {s: row_key(samp.seed, s.split("#")[0], int(s.split("#")[1])) for s in sids},
                skey, "samples", samp.batch_size, max_new_tokens=samp.max_new_tokens, greedy=False,
                temperature=samp.temperature, top_k=samp.top_k, top_p=samp.top_p)
            n_sequences += len(sids)
            n_rounds += 1
            for s, g in sorted(rows.items(), key=lambda kv: (kv[0].split("#")[0], int(kv[0].split("#")[1]))):
                qid = s.split("#")[0]
                sample_right[qid].append(alias_match(g["text"], by_id[qid].aliases))
        log.info("sampling: %d sequences in %d rounds (K=%d, %d questions)", n_sequences, n_rounds, samp.k,
                 len(sampled))
    ids, labels, lengths, inputs, answers, domains = [], [], [], [], [], []
    for i in sorted(by_id):
        if lab.mode != "greedy" and i not in sampled:
            continue  # never sampled: the balanced split did not need it
        y = label_of(greedy_right[i], sample_right[i], samp.k, lab)
        g = greedy[i]
        span = answer_span(g["answer_ids"], lm.tokenizer)
        if y is None or span[1] <= span[0]:
            continue  # discarded, or an empty answer (nothing to average features over)
        resp = tuple(g["answer_ids"]) + ((g["stop_id"],) if g["stop_id"] is not None else ())
        ids.append(i)
        labels.append(y)
        lengths.append(span[1] - span[0])
        answers.append(g["text"])
        domains.append(by_id[i].domain)
        inputs.append(FeatureInput(prompt_ids=prompts[i].ids, response_ids=resp, answer_span=span,
                                   question_span=prompts[i].question_span))
    lab_arr = np.array(labels, dtype=int)
    stats = {"n_questions": len(items), "greedy_accuracy": float(np.mean(list(greedy_right.values()))),
             "n_sample_sequences": n_sequences, "n_labelled": len(ids), "n_correct": int((lab_arr == 0).sum()),
             "n_hallucinated": int((lab_arr == 1).sum()), "label_mode": lab.mode}
    log.info("labels: %s", stats)
    return LabelledPool(ids, lab_arr, np.array(lengths, dtype=int), inputs, answers, lm.sites.d_mlp, domains, stats)


def check_labels(pool: LabelledPool, spec: ClaimSpec) -> None:
    """Refuse a labelled pool that lacks a class before any feature is captured.

    Raises:
        StatsError: No question (or a single one) is labelled correct, or none hallucinated.
    """
    from harness.errors import StatsError

    n_right, n_wrong = int((pool.labels == 0).sum()), int((pool.labels == 1).sum())
    if min(n_right, n_wrong) >= 2:
        return
    data = f"data {spec.data.kind}" + (f" ({spec.data.path})" if spec.data.path else "")
    acc = pool.stats.get("greedy_accuracy", float("nan"))
    raise StatsError(
        f"labels: one class only: of {pool.stats.get('n_questions', '?')} questions of {data} (greedy accuracy "
        f"{acc:.1%}), {n_right} are labelled correct (0) and {n_wrong} hallucinated (1) under labels.mode "
        f"{spec.pipeline.labels.mode!r}; a detector needs both classes (at least 2 of each, more for the "
        "splits). Fix: check that the aliases in the data are answers the model gives verbatim (the alias judge "
        "matches whole words), use questions the model can partly answer, or a label mode that keeps more "
        "questions (relaxed, greedy).")


def check_split(pool: LabelledPool, split: Split, spec: Any) -> None:
    """Refuse a split in which train, validation or test lacks two questions of either class.

    Raises:
        StatsError: naming the split, its class counts, the pool's and the fix.
    """
    from harness.errors import StatsError

    for name, idx in (("train", split.train), ("val", split.val), ("test", split.test)):
        counts = np.bincount(pool.labels[idx], minlength=2) if len(idx) else np.zeros(2, dtype=int)
        if counts.min() >= 2:
            continue
        total = np.bincount(pool.labels, minlength=2)
        raise StatsError(
            f"split: the {name} split has {counts[0]} correct and {counts[1]} hallucinated question(s) (the "
            f"labelled pool has {total[0]} and {total[1]}; the split keeps the same number of each class"
            f"{' within answer-length bins' if spec.length_match == 'all' else ''}"
            f"{' and domains' if spec.domain_match else ''}); a detector needs at least 2 of each in train, val "
            "and test. Fix: more questions (a larger data file or data.limit), split.length_match: none / "
            "domain_match: false, or a label mode that keeps more questions.")


def pool_features(lm: Any, pool: LabelledPool, regions: tuple[str, ...], spec: PipelineSpec,
                  store: Any) -> tuple[dict[str, np.ndarray], str]:
    """CETT features of the labelled pool, one [n, n_layers * d_mlp] array per region (cached), and the
    fingerprint of their cache key. Captured batch by batch (a killed capture resumes at the batch it stopped
    in); the batches' parts are dropped once the whole array is stored.

    Raises:
        StatsError: Some features are NaN or infinite (naming the questions); nothing of them is stored.
    """
    from harness.claims._features import PART_STAGE, cett_in_batches
    from harness.store import fingerprint

    key = {"model": lm.fingerprint, "code": CODE_VERSIONS["cett"], "regions": list(regions),
           "inputs": fingerprint([[list(x.prompt_ids), list(x.response_ids), list(x.answer_span),
                                   list(x.question_span)] for x in pool.inputs])}
    parts: list[dict[str, Any]] = []

    def compute() -> dict[str, np.ndarray]:
        log.info("capturing CETT features for %d sequences", len(pool.inputs))
        arrays, done = cett_in_batches(lm, pool.ids, pool.inputs, regions, spec.features.batch_size, key, store)
        parts.extend(done)
        return arrays

    arrays = store.get_or_compute_npz("cett", key, compute)
    for part in parts:  # the whole array is stored: its parts are no longer needed
        store.discard(PART_STAGE, part, "npz")
    return arrays, fingerprint(key)


@dataclass
class FitResult:
    """One detector fit on one split, scored on that split's test items."""

    split: Split
    detector: Any
    test_scores: np.ndarray
    test_labels: np.ndarray
    test_lengths: np.ndarray
    length_sign: float


def fit_on_split(pool: LabelledPool, feats: dict[str, np.ndarray], spec: PipelineSpec, *,
                 split_offset: int = 0, shuffle_seed: int | None = None) -> FitResult:
    """Fit the L1 detector on train, choose C on val, score test (true labels always on test)."""
    from harness.detectors import fit_l1_detector

    sealed = sealed_indices(pool, spec.split)
    split = balanced_split(pool.labels, pool.lengths, spec.split, seed_offset=split_offset, domains=pool.domains,
                           sealed=sealed)
    check_split(pool, split, spec.split)
    split_manifests(pool, split, spec.split)  # raises on leakage; C is chosen on val, never on test
    y = pool.labels
    X = feats["answer"]
    X_train, y_train, y_val = X[split.train], y[split.train].copy(), y[split.val].copy()
    if spec.detector.mode == "3v1":  # add every training question's non-answer tokens as negatives
        X_train = np.concatenate([X_train, feats["non_answer"][split.train]])
        y_train = np.concatenate([y_train, np.zeros(len(split.train), dtype=int)])
    if shuffle_seed is not None:
        # negative control: permute labels over ALL training rows (in 3v1 also the non-answer rows, else the
        # answer-vs-non-answer contrast would stay learnable) and over validation rows
        rng = np.random.default_rng(10_000 + shuffle_seed)
        rng.shuffle(y_train)
        rng.shuffle(y_val)
    det = fit_l1_detector(X_train, y_train, X[split.val], y_val, c_grid=spec.detector.c_grid,
                          seed=spec.split.seed + split_offset)
    return _scored(pool, feats, split, det)


def sealed_indices(pool: LabelledPool, split: Any) -> frozenset[int]:
    """Pool positions of the questions in the split's sealed test manifest (empty without one)."""
    if split.sealed_test is None:
        return frozenset()
    from harness.claims._splits import read_manifest

    path = Path(split.sealed_test) if Path(split.sealed_test).is_absolute() else REPO_ROOT / split.sealed_test
    sealed = read_manifest(path)
    if not sealed.locked:
        raise DataError(f"split.sealed_test {path}: manifest {sealed.name!r} is not marked locked. Fix: seal it "
                        "(locked: true) or drop split.sealed_test.")
    return frozenset(k for k, i in enumerate(pool.ids) if i in sealed.ids)


def split_manifests(pool: LabelledPool, split: Split, spec: Any) -> dict[str, Any]:
    """Manifests of a detector split, checked: train and val (where C is chosen) share no item with the
    locked test split, and no sealed item is in either. Returns their summaries for the result."""
    from harness.claims._splits import check_disjoint, guard_selection, manifest

    ids = np.asarray(pool.ids)
    train = manifest("detector/train", ids[split.train])
    val = guard_selection(manifest("detector/val", ids[split.val]), "the detector's regularisation C")
    test = manifest("detector/test", ids[split.test], locked=True)
    check_disjoint(train, test)
    check_disjoint(val, test)
    out = {"train": train.summary(), "val": val.summary(), "test": test.summary()}
    sealed = sealed_indices(pool, spec)
    if sealed:
        locked = manifest("sealed_test", ids[sorted(sealed)], locked=True)
        check_disjoint(manifest("detector/train+val", [*train.ids, *val.ids]), locked)
        out["sealed_test"] = {**locked.summary(), "n_in_test": len(locked.ids & test.ids)}
    return out


def _scored(pool: LabelledPool, feats: dict[str, np.ndarray], split: Split, det: Any) -> FitResult:
    """Score the test split with a fitted detector, beside the length baseline fitted on train."""
    from harness.detectors import fit_length_baseline

    sign = fit_length_baseline(pool.lengths[split.train].astype(float), pool.labels[split.train])
    return FitResult(split, det, det.score(feats["answer"][split.test]), pool.labels[split.test],
                     pool.lengths[split.test], sign)


def cached_fit(store: Any, feats_key: str, pool: LabelledPool, feats: dict[str, np.ndarray], spec: PipelineSpec,
               *, split_offset: int = 0, shuffle_seed: int | None = None) -> FitResult:
    """``fit_on_split`` with the detector's arrays kept in the store (splits are recomputed: they are cheap
    and deterministic)."""
    import sklearn

    from harness.detectors import DetectorResult
    from harness.store import fingerprint

    key = {"features": feats_key, "labels": fingerprint(pool.labels.tolist()), "lengths":
           fingerprint(pool.lengths.tolist()), "domains": fingerprint(pool.domains),
           "split": spec.split.model_dump(exclude_none=True), "detector": spec.detector.model_dump(),
           "split_offset": split_offset, "shuffle_seed": shuffle_seed, "code": CODE_VERSIONS["fit"],
           "sklearn": sklearn.__version__}
    sealed = sealed_indices(pool, spec.split)
    if sealed:  # only when set, so keys of claims without a sealed set are unchanged
        key["sealed"] = sorted(sealed)
    box: dict[str, FitResult] = {}

    def compute() -> dict[str, np.ndarray]:
        fit = box["fit"] = fit_on_split(pool, feats, spec, split_offset=split_offset, shuffle_seed=shuffle_seed)
        d = fit.detector
        cs = sorted(d.val_auroc_by_C)
        return {"coef": d.coef, "intercept": np.array([d.intercept]), "mean": d.mean, "scale": d.scale,
                "C": np.array([d.C]), "grid": np.array(cs), "val_auroc": np.array([d.val_auroc_by_C[c] for c in cs])}

    arrays = store.get_or_compute_npz("fit", key, compute)
    if "fit" in box:
        return box["fit"]
    det = DetectorResult(C=float(arrays["C"][0]), coef=arrays["coef"], intercept=float(arrays["intercept"][0]),
                         mean=arrays["mean"], scale=arrays["scale"],
                         val_auroc_by_C=dict(zip(arrays["grid"].tolist(), arrays["val_auroc"].tolist(), strict=True)))
    split = balanced_split(pool.labels, pool.lengths, spec.split, seed_offset=split_offset, domains=pool.domains,
                           sealed=sealed)
    split_manifests(pool, split, spec.split)
    return _scored(pool, feats, split, det)


def sae_pool_features(lm: Any, pool: LabelledPool, regions: tuple[str, ...], sae: Any, sae_key: str,
                      spec: PipelineSpec, store: Any) -> tuple[dict[str, np.ndarray], str]:
    """SAE feature activations (encode each token, then average over the region) of the labelled pool at the
    SAE's residual site, one [n, d_sae] array per region (cached), and the fingerprint of their key."""
    from harness.interventions import capture_site_means
    from harness.store import fingerprint

    key = {"model": lm.fingerprint, "code": CODE_VERSIONS["sae_feats"], "regions": list(regions), "sae": sae_key,
           "inputs": fingerprint([[list(x.prompt_ids), list(x.response_ids), list(x.answer_span),
                                   list(x.question_span)] for x in pool.inputs])}

    def compute() -> dict[str, np.ndarray]:
        from harness.claims._features import nonfinite_error, nonfinite_rows

        log.info("capturing SAE features for %d sequences", len(pool.inputs))
        out = {r: capture_site_means(lm, pool.inputs, [sae.hook_name], region=r, transform=sae.encode,
                                     batch_size=spec.features.batch_size)[:, 0] for r in regions}
        bad = np.stack([nonfinite_rows(out[r]) for r in regions], axis=1)
        if bad.any():
            raise nonfinite_error("SAE features", pool.ids, pool.inputs, regions, bad)
        return out

    return store.get_or_compute_npz("sae_feats", key, compute), fingerprint(key)
