"""CETT features of a labelled pool, captured batch by batch into the store so a killed capture resumes, and
refused when any value is not finite (named by question, never passed on to the detector or the cache)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.errors import StatsError

log = logging.getLogger(__name__)

PART_STAGE = "cett_batches"
"""Store stage of one capture batch; the parts are deleted once the whole array is stored."""


class _NonFinite(Exception):
    """A batch's features hold NaN or inf (carries which rows, so nothing of it is stored)."""

    def __init__(self, rows: np.ndarray) -> None:
        super().__init__(f"{int(rows.sum())} non-finite rows")
        self.rows = rows


def nonfinite_rows(arr: np.ndarray) -> np.ndarray:
    """``[n_items, n_regions]`` True where an item's features in a region hold a NaN or an infinity."""
    return ~np.isfinite(arr).all(axis=-1)


def nonfinite_error(what: str, ids: Sequence[str], inputs: Sequence[Any], regions: Sequence[str],
                    bad: np.ndarray) -> StatsError:
    """The error for non-finite features: which questions, which region, the likely cause and the fix."""
    lines = []
    for r, region in enumerate(regions):
        rows = np.flatnonzero(bad[:, r]).tolist()
        if not rows:
            continue
        empty = [ids[i] for i in rows if not inputs[i].region_positions(region)]
        other = [ids[i] for i in rows if inputs[i].region_positions(region)]
        if empty:
            lines.append(f"region {region!r}: {len(empty)} question(s) have no tokens there, e.g. {empty[:5]}")
        if other:
            lines.append(f"region {region!r}: {len(other)} question(s) give NaN/inf activations, e.g. {other[:5]}")
    return StatsError(
        f"{what} are not finite for {int(bad.any(axis=1).sum())} of {len(ids)} question(s): " + "; ".join(lines)
        + ". Nothing was stored. Fix: for NaN/inf activations, run the model in float32 (model.dtype: float32; "
        "float16 overflows) and check the checkpoint's weights are finite; for an empty region, use "
        "detector.mode 1v1 (answer tokens only) or drop those questions.")


def cett_in_batches(lm: Any, ids: Sequence[str], inputs: Sequence[Any], regions: tuple[str, ...], batch_size: int,
                    key: dict[str, Any], store: Any) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """CETT features of ``inputs``, each capture batch kept in the store as it finishes.

    The batches are exactly those :func:`harness.activations.capture_cett` forms over all inputs (sorted by
    length, ``batch_size`` at a time), so the numbers are bit-identical to one call over every input, and a
    run killed part-way recomputes only the batches it had not stored.

    Args:
        lm: The loaded model.
        ids: Question id per input (for error messages).
        inputs: Teacher-forced sequences.
        regions: Regions to average over.
        batch_size: Sequences per forward pass (and per stored part).
        key: The whole array's store key (model, code, regions, inputs).
        store: The artifact store.

    Returns:
        ``{region: [n, n_layers * d_mlp]}`` and the store keys of the parts (to discard once the whole array is
        stored).

    Raises:
        StatsError: Some features are NaN or infinite (naming the questions); no part holding them is stored.
    """
    from harness.activations import capture_cett
    from harness.store import Progress, fingerprint

    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i].prompt_ids) + len(inputs[i].response_ids))
    batches = [order[b:b + batch_size] for b in range(0, len(order), batch_size)]
    parts = [{"model": key["model"], "code": key["code"], "regions": key["regions"], "batch_size": batch_size,
              "inputs": fingerprint([[list(inputs[i].prompt_ids), list(inputs[i].response_ids),
                                      list(inputs[i].answer_span), list(inputs[i].question_span)] for i in idx])}
             for idx in batches]
    done = [store.exists(PART_STAGE, p, "npz") for p in parts]
    log.info("cett: %d/%d batches cached, computing %d in batches of %d", sum(done), len(batches),
             len(batches) - sum(done), batch_size)
    width = lm.sites.n_layers * lm.sites.d_mlp
    out = np.empty((len(inputs), len(regions), width), dtype=np.float32)
    bad = np.zeros((len(inputs), len(regions)), dtype=bool)

    def compute(idx: list[int]) -> dict[str, np.ndarray]:
        arr = capture_cett(lm, [inputs[i] for i in idx], regions, batch_size=batch_size)
        rows = nonfinite_rows(arr)
        if rows.any():
            raise _NonFinite(rows)  # nothing of this batch is stored
        return {"cett": arr}

    initial = sum(len(idx) for idx, d in zip(batches, done, strict=True) if d)
    with Progress("cett", total=len(inputs), initial=initial) as progress:
        for idx, part, cached in zip(batches, parts, done, strict=True):
            try:
                arr = store.get_or_compute_npz(PART_STAGE, part, lambda idx=idx: compute(idx))["cett"]
                out[idx] = arr
                bad[idx] = nonfinite_rows(arr)  # a part read back is checked too
            except _NonFinite as exc:
                bad[idx] = exc.rows
            if not cached:
                progress.update(len(idx))
    if bad.any():
        raise nonfinite_error("CETT features", ids, inputs, regions, bad)
    return {r: out[:, k] for k, r in enumerate(regions)}, parts
