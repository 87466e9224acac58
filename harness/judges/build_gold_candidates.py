"""Collect real answers of the embedded Gemma 3 270M from the artifact store as candidates for hand labelling.

``python -m harness.judges.build_gold_candidates --out fixtures/judge_gold/candidates.jsonl``: for a seeded
sample of embedded QA questions, the cached greedy answer and the first cached sampled answers of the
detection pipeline (``claims/hneuron_detector_auroc.yaml``), cut at the first line as the judges cut them.
Nothing is generated: an answer missing from the store is an error.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.errors import DataError

_LOG = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE_CLAIM = REPO_ROOT / "claims" / "hneuron_detector_auroc.yaml"
"""The shipped claim whose greedy and sampling stages (prompt style, sampling settings) the answers come from."""
N_QUESTIONS = 100
N_SAMPLES = 2
SAMPLE_SEED = 0
CALIBRATION_NAME = "judge_calibration"
CALIBRATION_FRACTION = 0.2
CALIBRATION_SEED = 1


def _cached_only(stage: str) -> Any:
    """A ``compute_batch`` for ``resumable_map`` that refuses to generate: it names what is missing."""

    def refuse(ids: list[str]) -> list[dict[str, Any]]:
        raise DataError(
            f"{len(ids)} {stage} answer(s) are not in the artifact store (e.g. {ids[:5]}). This extractor only "
            f"reads cached answers. Fix: warm the cache by running the claim {SOURCE_CLAIM.name} "
            "(`pytest claims/hneuron_detector_auroc.yaml`), or point HARNESS_DATA_DIR at a store that has them."
        )

    return refuse


def collect_candidates(store: Any, lm_fingerprint: str, *, n_questions: int = N_QUESTIONS,
                       n_samples: int = N_SAMPLES, seed: int = SAMPLE_SEED) -> list[dict[str, Any]]:
    """Rows (greedy answer, then samples 0..n_samples-1) for a seeded sample of the claim's questions.

    Args:
        store: The artifact store holding the claim's ``greedy`` and ``samples`` stages.
        lm_fingerprint: The embedded model's fingerprint (part of every generation key).
        n_questions: Questions to draw (a seeded subset, in id order).
        n_samples: Sampled answers per question (the first ones, ``#0``, ``#1``, ...).
        seed: Seed of the question subset.

    Returns:
        One dict per answer: row_id, prompt_id, question, aliases, answer (first line), source.

    Raises:
        DataError: an answer is not cached.
    """
    from harness.claims import load_claim
    from harness.claims._detection import CODE_VERSIONS, data_fingerprint, load_items, seeded_subset
    from harness.judges._alias import first_line

    spec = load_claim(SOURCE_CLAIM)
    samp = spec.pipeline.sampling
    if n_samples > samp.k:
        raise DataError(f"n_samples={n_samples} exceeds the claim's k={samp.k}. Fix: ask for at most {samp.k}.")
    items = load_items(spec.data)  # the key's data fingerprint covers the claim's whole question set
    base = {"model": lm_fingerprint, "data": data_fingerprint(items), "prompt_style": spec.model.prompt_style,
            "max_new_tokens": samp.max_new_tokens, "code": CODE_VERSIONS["generate"]}
    chosen = seeded_subset(items, n_questions, seed)
    qids = [str(it.id) for it in chosen]
    # same stages and keys as harness.claims._detection.build_pool; one batch, so every missing id is named
    greedy = store.resumable_map("greedy", base, qids, _cached_only("greedy"), batch_size=len(qids),
                                 progress_label="greedy (cache only)")
    sids = [f"{q}#{k}" for q in qids for k in range(n_samples)]
    skey = {**base, "sampling": samp.model_dump(exclude={"batch_size"})}
    samples = store.resumable_map("samples", skey, sids, _cached_only("samples"), batch_size=len(sids),
                                  progress_label="samples (cache only)")
    rows = []
    for it in chosen:
        q = str(it.id)
        texts = [("greedy", "greedy", greedy[q]["text"])]
        texts += [(f"s{k}", "sample", samples[f"{q}#{k}"]["text"]) for k in range(n_samples)]
        for suffix, source, text in texts:
            rows.append({"row_id": f"{q}/{suffix}", "prompt_id": q, "question": it.question,
                         "aliases": list(it.aliases), "answer": first_line(text), "source": source})
    return rows


def calibration_manifest(rows: Sequence[dict[str, Any]], *, fraction: float = CALIBRATION_FRACTION,
                         seed: int = CALIBRATION_SEED) -> Any:
    """A locked manifest of every row of a seeded ``fraction`` of the prompts: rows a judge may be
    calibrated on (few-shot examples, thresholds), which its validation must therefore exclude."""
    import numpy as np

    from harness.claims._splits import manifest

    prompts = sorted({str(r["prompt_id"]) for r in rows})
    n = round(fraction * len(prompts))
    picked = {prompts[i] for i in np.random.default_rng(seed).choice(len(prompts), n, replace=False).tolist()}
    return manifest(CALIBRATION_NAME, [r["row_id"] for r in rows if r["prompt_id"] in picked], locked=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m harness.judges.build_gold_candidates",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="output .jsonl of candidate rows")
    parser.add_argument("--calibration", type=Path, default=None,
                        help="also write the locked calibration split manifest (row ids) here")
    parser.add_argument("--n-questions", type=int, default=N_QUESTIONS)
    parser.add_argument("--n-samples", type=int, default=N_SAMPLES)
    parser.add_argument("--seed", type=int, default=SAMPLE_SEED, help="seed of the question sample")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from harness.models import load_embedded
    from harness.store import ArtifactStore, atomic_write_text, data_dir

    lm = load_embedded(device="cpu")  # only its fingerprint is used: the answers come from the store
    rows = collect_candidates(ArtifactStore(data_dir() / "cache"), lm.fingerprint, n_questions=args.n_questions,
                              n_samples=args.n_samples, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    _LOG.info("wrote %d rows (%d questions) to %s", len(rows), len({r["prompt_id"] for r in rows}), args.out)
    if args.calibration is not None:
        from harness.claims._splits import write_manifest

        split = calibration_manifest(rows)
        write_manifest(args.calibration, split)
        _LOG.info("wrote calibration manifest %s (%d rows) to %s", split.name, len(split.ids), args.calibration)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
