"""Where replayed evidence comes from: a row file named by the claim, or the store, keyed by what the rows
depend on (the compute-stage fields of the spec), so a replay needs no model to find them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.claims._evidence import Evidence, parse_rows, read_rows, rows_text
from harness.claims._spec import ClaimSpec

STAGE = "evidence"
_COMPUTE_FIELDS = ("model", "data", "pipeline", "estimand", "controls", "intervention", "benchmark", "externalities")
"""Spec fields that change which rows a live run writes; statement, interval and pass rule only change how the
assertion stage reads them, so a replay from the store re-decides a claim after such an edit."""


def evidence_key(claim_id: str, spec: ClaimSpec) -> dict[str, Any]:
    from harness.claims._evidence import ROWS_VERSION

    fields = spec.model_dump(mode="json", include=set(_COMPUTE_FIELDS))
    if spec.judges:  # who graded the rows (only when there is a panel, so other claims keep their keys)
        fields["judges"] = [j.model_dump(mode="json", exclude_none=True) for j in spec.judges]
    return {"claim": claim_id, "spec": fields, "rows": ROWS_VERSION}


def save_evidence(store: Any, claim_id: str, spec: ClaimSpec, ev: Evidence) -> None:
    """Keep a live run's rows in the store (the latest live run wins)."""
    store.put_json(STAGE, evidence_key(claim_id, spec), {"text": rows_text(ev)})


def load_stored_evidence(store: Any, claim_id: str, spec: ClaimSpec) -> Evidence:
    """The rows the last live run of this claim stored.

    Raises:
        SkipClaim: none are stored (never run live with this spec, or the artifact was corrupted).
    """
    from harness.claims._session import SkipClaim

    key = evidence_key(claim_id, spec)
    rec = store.get_json(STAGE, key)
    if rec is None:
        raise SkipClaim(f"replay: no stored evidence for this spec in {store.root}. Fix: run the claim live once "
                        "(pytest claims, or python -m harness.scale submit on a cluster) with this store")
    return parse_rows(rec["text"], f"store {STAGE}/{store.key(STAGE, key)[:12]} ({claim_id})")


def load_replay_file(path: str) -> Evidence:
    """Rows of ``replay.path`` (relative to the repository root or absolute)."""
    from harness.claims._detection import REPO_ROOT

    p = Path(path) if Path(path).is_absolute() else REPO_ROOT / path
    return read_rows(p)
