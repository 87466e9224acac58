"""Running one claim: the compute stage (model, detection, interventions) into row-level evidence, then the\nassertion stage on those rows; or a replay of stored or filed rows without a model."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from harness.claims._evidence import Evidence
from harness.claims._result import ClaimResult
from harness.claims._session import Session
from harness.claims._spec import ClaimSpec, FeatureSpec


@dataclass
class Detection:
    """The detection pipeline's products for one claim: labelled pool, features and the main fit."""

    items: list[Any]
    pool: Any
    feats: dict[str, Any]
    feats_key: str
    fit: Any
    fit_fn: Any
    sae: Any = None
    sae_info: dict[str, Any] | None = None
    data_fingerprint: str = ""


def detect(spec: ClaimSpec, session: Session, lm: Any, timings: dict[str, float],
           features: FeatureSpec | None = None) -> Detection:
    """Labels, features and the detector of a claim's pipeline (every stage cached and memoized)."""
    from harness.claims._detection import (
        build_pool,
        cached_fit,
        check_labels,
        data_fingerprint,
        load_items,
        pool_features,
        sae_pool_features,
    )

    t = time.time()
    items = load_items(spec.data)
    pipe = spec.pipeline
    if features is not None:
        pipe = pipe.model_copy(update={"features": features})
    base_key = f"{lm.fingerprint}|{data_fingerprint(items)}|{spec.model.prompt_style}"
    pool = session.memoize(
        f"pool|{base_key}|{pipe.sampling.model_dump_json()}|{pipe.labels.model_dump_json()}",
        lambda: build_pool(lm, items, spec, session.store))
    timings["labels_s"] = round(time.time() - t, 2)
    check_labels(pool, spec)
    t = time.time()
    regions = ("answer", "non_answer") if pipe.detector.mode == "3v1" else ("answer",)
    sae, sae_info = None, None
    if pipe.features.kind == "sae":
        from harness.claims._saes import get_sae

        src = pipe.features.sae
        assert src is not None
        sae, sae_info, sae_key = session.memoize(f"sae|{lm.fingerprint}|{src.model_dump_json()}",
                                                 lambda: get_sae(lm, src, session.store))
        feats, feats_key = session.memoize(
            f"saefeats|{base_key}|{pool.ids}|{regions}|{sae_key}",
            lambda: sae_pool_features(lm, pool, regions, sae, sae_key, pipe, session.store))
    else:
        feats, feats_key = session.memoize(f"feats|{base_key}|{pool.ids}|{regions}",
                                           lambda: pool_features(lm, pool, regions, pipe, session.store))
    timings["features_s"] = round(timings.get("features_s", 0) + time.time() - t, 2)

    def fit_fn(split_offset: int = 0, shuffle_seed: int | None = None) -> Any:
        return session.memoize(
            f"fit|{feats_key}|{pipe.model_dump_json()}|{split_offset}|{shuffle_seed}",
            lambda: cached_fit(session.store, feats_key, pool, feats, pipe, split_offset=split_offset,
                               shuffle_seed=shuffle_seed))

    return Detection(items, pool, feats, feats_key, fit_fn(), fit_fn, sae, sae_info, data_fingerprint(items))


def spec_hash(spec: ClaimSpec) -> str:
    """Fingerprint of the canonical spec. Unset optional fields are left out, so adding an optional field to
    the schema does not make every ledger record stale."""
    from harness.store import fingerprint

    return fingerprint(spec.model_dump(mode="json", exclude_none=True))


def stage_versions(spec: ClaimSpec) -> dict[str, str]:
    """Code version of every stage this claim's result depends on (a change makes its ledger record stale)."""
    from harness.claims._assess import ASSESS_VERSION
    from harness.claims._detection import CODE_VERSIONS
    from harness.claims._evaluate import CODE_VERSION as EVAL_VERSION
    from harness.claims._evidence import ROWS_VERSION
    from harness.claims._saes import CODE_VERSION as SAE_VERSION

    out = {"rows": f"rows-v{ROWS_VERSION}", "assess": ASSESS_VERSION}
    if spec.replay is not None:
        return out
    if spec.estimand.kind == "judged_accuracy_difference":
        from harness.judges import TieredAliasJudge

        return dict(sorted({**out, "generate": CODE_VERSIONS["generate"], "judge": TieredAliasJudge().tag}.items()))
    if spec.estimand.kind == "judge_validation":
        return dict(sorted({**out, **_judge_versions(spec)}.items()))
    iti = spec.intervention is not None and spec.intervention.kind == "iti"
    if not iti:
        out.update({"generate": CODE_VERSIONS["generate"], "fit": CODE_VERSIONS["fit"]})
        sae = spec.pipeline.features.kind == "sae" or (
            spec.estimand.kind == "detector_auroc_difference" and spec.estimand.baseline.kind == "sae")
        cett = spec.pipeline.features.kind == "cett" or (
            spec.estimand.kind == "detector_auroc_difference" and spec.estimand.baseline.kind == "cett")
        if cett:
            out["cett"] = CODE_VERSIONS["cett"]
        if sae:
            out.update({"sae_feats": CODE_VERSIONS["sae_feats"], "sae_train": SAE_VERSION})
    if spec.intervention is not None:
        out["eval"] = EVAL_VERSION
        out.update(_judge_versions(spec))
    return dict(sorted(out.items()))


def _judge_versions(spec: ClaimSpec) -> dict[str, str]:
    from harness.claims._panel import judge_version

    return {f"judge/{k}": judge_version(j) for k, j in enumerate(spec.judges)}


def run_claim(claim_id: str, spec: ClaimSpec, session: Session, *, replay: bool = False) -> ClaimResult:
    """Run a claim end to end and decide its verdict.

    The compute stage (model, detection, interventions) turns into row-level evidence, which the assertion
    stage (``_assess``) decides on. With ``spec.replay`` the rows come from a file and no model is loaded;
    with ``replay=True`` they come from the store, as the last live run of this claim left them.

    Raises:
        SkipClaim: the claim cannot run here (its model is missing, or replay finds no stored evidence).
    """
    from harness.claims._assess import assess
    from harness.claims._replay import load_replay_file, load_stored_evidence, save_evidence

    timings: dict[str, float] = {}
    t0 = time.time()
    live: dict[str, Any] = {}
    if spec.replay is not None:
        evidence = load_replay_file(spec.replay.path)
    elif replay:
        evidence = load_stored_evidence(session.store, claim_id, spec)
    else:
        evidence, live = _compute(claim_id, spec, session, timings)
        save_evidence(session.store, claim_id, spec, evidence)
    t = time.time()
    a = assess(spec, evidence)
    timings["assess_s"] = round(time.time() - t, 2)
    details = {**a.details, **live}
    if spec.replay is not None or replay:
        details["replayed_from"] = evidence.source
    result = ClaimResult(claim_id=claim_id, statement=spec.statement, verdict=a.verdict,  # type: ignore[arg-type]
                         reason=a.reason, rule=a.rule, interval=a.interval, controls=a.controls, details=details,
                         expected=spec.expected, timings=timings, p_value=a.p_value, p_method=a.p_method)
    result._evidence = evidence
    result.timings["total_s"] = round(time.time() - t0, 2)
    result.provenance = _provenance(spec, evidence)
    return result


def check_paths(spec: ClaimSpec) -> None:
    """Every file or folder the claim names exists, checked before a model is loaded or anything computed.

    Raises:
        DataError: naming the field, the path as written and as resolved, and the fix.
    """
    from harness.claims._detection import resolve_path

    fields: dict[str, str | None] = {"data.path": spec.data.path,
                                     "pipeline.split.sealed_test": spec.pipeline.split.sealed_test}
    sae = spec.pipeline.features.sae
    fields["pipeline.features.sae.path"] = sae.path if sae is not None else None
    if spec.benchmark is not None:
        fields["benchmark.path"] = spec.benchmark.path
    for k, ext in enumerate(spec.externalities):
        fields[f"externalities.{k}.benchmark.path"] = ext.benchmark.path
    fields["intervention.probe_path"] = getattr(spec.intervention, "probe_path", None)
    if spec.estimand.kind == "judge_validation":
        fields["estimand.gold"] = spec.estimand.gold
        fields["estimand.calibration"] = spec.estimand.calibration
    for name, value in fields.items():
        if value:
            resolve_path(value, name)


def _compute(claim_id: str, spec: ClaimSpec, session: Session,
             timings: dict[str, float]) -> tuple[Evidence, dict[str, Any]]:
    """The compute stage: load the model, run the pipeline, return the rows and live-only details."""
    from harness.store import git_state

    session.check_runnable(spec.model)  # a claim that cannot run here is skipped before its inputs are checked
    check_paths(spec)
    t0 = time.time()
    lm = session.model(spec.model)
    timings["model_load_s"] = round(time.time() - t0, 2)
    if spec.estimand.kind in ("judged_accuracy_difference", "judge_validation"):
        from harness.claims._judged import gold_evidence, judged_evidence

        t = time.time()
        make = judged_evidence if spec.estimand.kind == "judged_accuracy_difference" else gold_evidence
        evidence, live, fps = make(spec, session, lm)
        timings["judges_s"] = round(time.time() - t, 2)
    elif spec.intervention is not None:
        from harness.claims._steering import intervention_evidence

        # ITI fits its own head probes on benchmark items: it needs no H-neuron detection run
        det = detect(spec, session, lm, timings) if spec.intervention.kind != "iti" else None
        evidence, live, fps = intervention_evidence(spec, session, lm, det, timings)
    else:
        from harness.claims._estimands import detection_evidence

        det = detect(spec, session, lm, timings)
        t = time.time()
        evidence, live = detection_evidence(spec, session, lm, det)
        timings["estimand_s"] = round(time.time() - t, 2)
        live = {"model": lm.model_id, "n_questions": len(det.items), **live}
        fps = {"questions": det.data_fingerprint}
    git = git_state()
    evidence.header = {"claim_id": claim_id, "spec_hash": spec_hash(spec),
                       "model_id": lm.model_id, "model_fingerprint": lm.fingerprint, "data_fingerprints": fps,
                       "device": str(lm.device), "dtype": str(lm.dtype).removeprefix("torch."),
                       "git": {"commit": git.get("commit"), "dirty": git.get("dirty")},
                       "code_versions": stage_versions(spec)}
    return evidence, live


def _provenance(spec: ClaimSpec, evidence: Evidence) -> dict[str, Any]:
    """What made this result: this process (code, packages, host) and, from the rows' header, the model, data
    and device of the run that computed the evidence (this one, or the one a replay reads)."""
    from harness.store import collect_provenance, fingerprint

    h = evidence.header
    prov = collect_provenance(
        spec_hash=spec_hash(spec), data_fingerprints=h.get("data_fingerprints", {}),
        seeds={"sampling": spec.pipeline.sampling.seed, "split": spec.pipeline.split.seed,
               "interval": spec.interval.seed},
        model_id=h.get("model_id"), model_fingerprint=h.get("model_fingerprint"), device=h.get("device"),
        dtype=h.get("dtype"), code_versions=stage_versions(spec))
    if evidence.source != "live run":
        prov["replay"] = {"source": evidence.source, "rows_fingerprint": fingerprint(evidence.rows),
                          "computed_by": {k: h.get(k) for k in ("claim_id", "git", "code_versions") if k in h}}
    else:
        import torch

        prov.update(torch_threads=torch.get_num_threads(),
                    cuda=torch.version.cuda if torch.cuda.is_available() else None,
                    gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
    return prov
