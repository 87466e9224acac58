"""Running one claim: model, pipeline, estimand, controls, verdict."""

from __future__ import annotations

import time
from typing import Any

from harness.claims._result import ClaimResult, ControlOut, IntervalOut, apply_rule
from harness.claims._session import Session
from harness.claims._spec import ClaimSpec


def _out(iv: Any) -> IntervalOut:
    return IntervalOut(**iv.model_dump())


def run_claim(claim_id: str, spec: ClaimSpec, session: Session) -> ClaimResult:
    """Run a claim end to end and decide its verdict."""
    from harness.claims._detection import (
        build_pool,
        cached_fit,
        data_fingerprint,
        load_items,
        pool_features,
    )
    from harness.claims._estimands import ESTIMANDS

    timings: dict[str, float] = {}
    t0 = time.time()
    lm = session.model(spec.model)
    timings["model_load_s"] = round(time.time() - t0, 2)
    t = time.time()
    items = load_items(spec.data)
    pipe = spec.pipeline
    base_key = f"{lm.fingerprint}|{data_fingerprint(items)}|{spec.model.prompt_style}"
    pool = session.memoize(
        f"pool|{base_key}|{pipe.sampling.model_dump_json()}|{pipe.labels.model_dump_json()}",
        lambda: build_pool(lm, items, spec, session.store))
    timings["labels_s"] = round(time.time() - t, 2)
    t = time.time()
    regions = ("answer", "non_answer") if pipe.detector.mode == "3v1" else ("answer",)
    feats, feats_key = session.memoize(f"feats|{base_key}|{pool.ids}|{regions}",
                                       lambda: pool_features(lm, pool, regions, pipe, session.store))
    timings["features_s"] = round(time.time() - t, 2)
    t = time.time()

    def fit_fn(split_offset: int = 0, shuffle_seed: int | None = None) -> Any:
        return session.memoize(
            f"fit|{feats_key}|{pipe.model_dump_json()}|{split_offset}|{shuffle_seed}",
            lambda: cached_fit(session.store, feats_key, pool, feats, pipe, split_offset=split_offset,
                               shuffle_seed=shuffle_seed))

    fit = fit_fn()
    estimand: Any = ESTIMANDS[spec.estimand.kind]
    iv, details = estimand(spec, fit=fit, pool=pool, fit_fn=fit_fn)
    verdict, reason, rule = apply_rule(spec.pass_rule, iv.low, iv.high)
    controls: list[ControlOut] = []
    for control in spec.controls:  # shuffled labels: same pipeline, labels permuted before fitting
        for seed in range(control.seeds):
            cfit = fit_fn(shuffle_seed=seed)
            civ, _ = estimand(spec, fit=cfit, pool=pool)
            controls.append(ControlOut(kind=control.kind, seed=seed, interval=_out(civ)))
    if controls and verdict == "SUPPORTED":
        beaten = [c for c in controls if c.interval.estimate >= iv.estimate]
        if beaten:
            verdict = "INCONCLUSIVE"
            reason += f"; but {len(beaten)} control seed(s) scored at least the treatment's estimate"
        else:
            reason += f"; treatment beats all {len(controls)} control seeds"
    timings["estimand_s"] = round(time.time() - t, 2)
    timings["total_s"] = round(time.time() - t0, 2)
    details = {"model": lm.model_id, "n_questions": len(items), **details}
    return ClaimResult(claim_id=claim_id, statement=spec.statement, verdict=verdict, reason=reason, rule=rule,
                       interval=_out(iv), controls=controls, details=details, expected=spec.expected,
                       timings=timings)
