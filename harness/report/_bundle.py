"""The report's inputs: claim specs (claims/*.yaml), each claim's result JSON and rows, the run ledger, and
each claim's status (its verdict, STALE when the spec changed since the run, NOT RUN when nothing was run).

Pure Python: no model, no torch. A report rebuilds from these files alone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import DataError

log = logging.getLogger(__name__)

STATUSES = ("SUPPORTED", "REFUTED", "INCONCLUSIVE", "STALE", "NOT RUN")
"""What a claim shows wherever it is cited: its verdict, or why the verdict cannot be trusted or is absent."""


@dataclass
class ClaimEntry:
    """One claim as the report sees it."""

    claim_id: str
    spec: Any = None
    """The current ClaimSpec, or None when the claim file is gone (or does not load: see spec_error)."""
    spec_text: str = ""
    spec_error: str = ""
    result: dict[str, Any] | None = None
    """The result JSON (a ClaimResult), or a reduced one rebuilt from a ledger record (source says which)."""
    source: str = ""
    """Where the result came from: a result file path or 'ledger <path>'."""
    rows_path: Path | None = None
    status: str = "NOT RUN"
    stale_reason: str = ""
    holm_p: float | None = None
    hashes: tuple[str, str] | None = None
    """(spec hash recorded by the run, spec hash of the current claim file) of a STALE claim."""

    @property
    def verdict(self) -> str | None:
        """The run's own verdict (also for a STALE claim), None when not run."""
        return None if self.result is None else str(self.result["verdict"])

    @property
    def stage(self) -> str:
        return str(self.spec.stage) if self.spec is not None else "unknown"

    @property
    def tier(self) -> str:
        return str(self.spec.tier) if self.spec is not None else "unknown"

    @property
    def statement(self) -> str:
        if self.spec is not None:
            return str(self.spec.statement)
        return str((self.result or {}).get("statement", ""))

    @property
    def needs_gpu(self) -> bool:
        return bool(self.spec is not None and self.spec.model.requires_gpu)


@dataclass
class Bundle:
    """Every claim the report can cite, by id."""

    entries: dict[str, ClaimEntry]
    results_dir: Path
    claims_dir: Path
    sources: list[str] = field(default_factory=list)
    """Human-readable list of the inputs (for the paper's and site's provenance line)."""

    def get(self, claim_id: str) -> ClaimEntry:
        """The entry of a claim id; an unknown id is an error with a did-you-mean."""
        if claim_id in self.entries:
            return self.entries[claim_id]
        import difflib

        close = difflib.get_close_matches(claim_id, list(self.entries), n=1)
        hint = f" Did you mean: {close[0]}?" if close else ""
        raise KeyError(f"unknown claim {claim_id!r}.{hint} Known: {', '.join(sorted(self.entries)) or 'none'}. "
                       f"Fix: cite a claim that has a file in {self.claims_dir}.")


def shown(path: Path) -> str:
    """A path as the report prints it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"result file {path} cannot be read ({exc}). Fix: rerun the claim or delete the file.") from None
    if not isinstance(data, dict) or "claim_id" not in data or "interval" not in data:
        raise DataError(f"result file {path} is not a claim result (no claim_id / interval). Fix: rerun the claim "
                        "or delete the file.")
    return data


def result_from_record(record: dict[str, Any]) -> dict[str, Any]:
    """A reduced result (no details, controls as bare estimates) from a ledger record."""
    keys = ("estimate", "low", "high", "method", "level", "n")
    return {
        "claim_id": record["claim_id"], "verdict": record["verdict"], "statement": "", "reason": "", "rule": "",
        "interval": {k: record[k] for k in keys},
        "controls": [{"kind": "control", "seed": k, "interval": {"estimate": e, "low": e, "high": e}}
                     for k, e in enumerate(record.get("controls") or [])],
        "details": {}, "p_value": record.get("p_value"), "p_method": "",
        "provenance": {"spec_hash": record.get("spec_hash"), "model_fingerprint": record.get("model_fingerprint"),
                       "git": {"commit": record.get("commit"), "dirty": record.get("dirty")},
                       "packages": record.get("packages") or {}},
    }


def load_bundle(results_dir: Path, claims_dir: Path, ledgers: tuple[Path, ...] = ()) -> Bundle:
    """Load every claim spec and its newest evidence: ``<results>/<claim>.json`` first, else the record in
    ``<results>/_ledger.json``, else the record in each of ``ledgers`` (e.g. the committed baseline).

    Raises:
        DataError: the claims folder does not exist, or a result file is unreadable.
    """
    from harness.claims._ledger import read_ledger
    from harness.claims._load import load_claim
    from harness.claims._run import spec_hash
    from harness.errors import SpecError

    if not claims_dir.is_dir():
        raise DataError(f"claims folder {claims_dir} does not exist. Fix: pass --claims <folder of *.yaml>.")
    entries: dict[str, ClaimEntry] = {}
    for path in sorted(claims_dir.glob("*.yaml")):
        entry = ClaimEntry(claim_id=path.stem, spec_text=path.read_text())
        try:
            entry.spec = load_claim(path)
        except SpecError as exc:
            entry.spec_error = str(exc)
        entries[path.stem] = entry
    sources = [f"claim specs: {shown(claims_dir)}"]
    for path in sorted(results_dir.glob("*.json")) if results_dir.is_dir() else []:
        if path.name.startswith("_"):
            continue
        data = _read_json(path)
        entry = entries.setdefault(str(data["claim_id"]), ClaimEntry(claim_id=str(data["claim_id"])))
        entry.result, entry.source = data, str(path)
        rows = path.with_name(f"{data['claim_id']}.rows.jsonl")
        entry.rows_path = rows if rows.exists() else None
    if results_dir.is_dir():
        sources.append(f"results: {shown(results_dir)}")
    for ledger in (results_dir / "_ledger.json", *ledgers):
        records = read_ledger(ledger)
        used = 0
        for cid, record in records.items():
            entry = entries.setdefault(cid, ClaimEntry(claim_id=cid))
            if entry.result is None:
                entry.result, entry.source = result_from_record(record), f"ledger {ledger}"
                used += 1
        if used:
            sources.append(f"ledger records for claims without a result file: {shown(ledger)}")
    holm = results_dir / "_holm.json"
    adjusted = json.loads(holm.read_text()).get("adjusted", {}) if holm.exists() else {}
    for entry in entries.values():
        entry.holm_p = adjusted.get(entry.claim_id)
        _set_status(entry, spec_hash)
    return Bundle(entries=entries, results_dir=results_dir, claims_dir=claims_dir, sources=sources)


def _set_status(entry: ClaimEntry, spec_hash: Any) -> None:
    """Verdict when the result was made from the current spec; STALE when the spec changed or is gone."""
    if entry.result is None:
        entry.status = "NOT RUN"
        entry.stale_reason = ("GPU spec: needs a GPU and the model's weights" if entry.needs_gpu
                              else "no result or ledger record")
        return
    was = entry.result.get("verdict")
    if entry.spec is None:
        entry.status = "STALE"
        entry.stale_reason = f"was {was}; its claim file " + (
            f"does not load ({entry.spec_error.splitlines()[0]})" if entry.spec_error else "is gone")
        return
    recorded = (entry.result.get("provenance") or {}).get("spec_hash")
    current = spec_hash(entry.spec)
    if recorded != current:
        entry.status = "STALE"
        entry.stale_reason = f"was {was}; the claim file changed since the run"
        entry.hashes = (str(recorded), current)
        return
    entry.status = str(was)
