"""The ledger: one record per claim (spec hash, estimate, interval, verdict, controls, provenance pointer),
and the regression gate that compares a run with the committed baseline.

Pure Python: the plugin imports it without torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import SpecError

LEDGER_VERSION = 1


def ledger_record(result: dict[str, Any]) -> dict[str, Any]:
    """The ledger's record of one claim result (a ClaimResult as JSON)."""
    prov = result.get("provenance", {})
    iv = result["interval"]
    details = result.get("details", {})
    return {
        "claim_id": result["claim_id"],
        "verdict": result["verdict"],
        "estimate": iv["estimate"], "low": iv["low"], "high": iv["high"],
        "method": iv["method"], "level": iv["level"], "n": iv["n"],
        "controls": [round(c["interval"]["estimate"], 6) for c in result.get("controls", [])],
        "p_value": result.get("p_value"),
        "mde": (details.get("power") or {}).get("mde"),
        "spec_hash": prov.get("spec_hash"),
        "model_fingerprint": prov.get("model_fingerprint"),
        "data_fingerprints": prov.get("data_fingerprints"),
        "commit": (prov.get("git") or {}).get("commit"),
        "dirty": (prov.get("git") or {}).get("dirty"),
        "packages": {k: v for k, v in (prov.get("packages") or {}).items() if k in ("harness", "torch", "transformers")},
        "code_versions": prov.get("code_versions"),
        "replayed_from": (prov.get("replay") or {}).get("source"),
    }


def read_ledger(path: Path) -> dict[str, dict[str, Any]]:
    """Records by claim id; an absent file is an empty ledger, a malformed one a clear error."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        records = data["claims"]
        return {str(r["claim_id"]): r for r in records}
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SpecError(f"ledger {path} is malformed ({exc}). Fix: restore it from git or rebuild it with "
                        "--claims-update-baseline.") from None


def write_ledger(path: Path, records: dict[str, dict[str, Any]]) -> None:
    """Write records sorted by claim id, atomically."""
    from harness.store import atomic_write_json

    atomic_write_json(path, {"version": LEDGER_VERSION, "claims": [records[k] for k in sorted(records)]})


@dataclass(frozen=True)
class GateOutcome:
    """What the gate found for one claim."""

    status: str
    """ok | regression | stale | new"""
    message: str


def _stale_fields(now: dict[str, Any], base: dict[str, Any]) -> list[str]:
    keys = ("spec_hash", "model_fingerprint", "data_fingerprints")
    out = [k for k in keys if base.get(k) is not None and now.get(k) != base.get(k)]
    if base.get("packages", {}).get("harness") not in (None, now.get("packages", {}).get("harness")):
        out.append("code (harness version)")
    old, new = base.get("code_versions") or {}, now.get("code_versions") or {}
    changed = [f"{k}: {old.get(k)} -> {new.get(k)}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if old and changed:
        out.append(f"code of stage(s) {'; '.join(changed)}")
    return out


def gate(now: dict[str, Any], base: dict[str, Any] | None) -> GateOutcome:
    """Compare a claim's new record with its baseline.

    A regression is a SUPPORTED baseline that is no longer SUPPORTED, or an estimate outside the baseline's
    interval. A claim whose spec, model, data or the code version of a stage it uses changed since its
    baseline is stale: it is reported, and compared only for its verdict (its interval may legitimately move).
    """
    cid = now["claim_id"]
    if base is None:
        return GateOutcome("new", f"{cid}: no baseline record (add one with --claims-update-baseline)")
    stale = _stale_fields(now, base)
    if base["verdict"] == "SUPPORTED" and now["verdict"] != "SUPPORTED":
        return GateOutcome("regression", f"{cid}: verdict regressed from SUPPORTED to {now['verdict']} "
                           f"(estimate {now['estimate']:.4g} [{now['low']:.4g}, {now['high']:.4g}], baseline "
                           f"{base['estimate']:.4g} [{base['low']:.4g}, {base['high']:.4g}])")
    if stale:
        return GateOutcome("stale", f"{cid}: stale baseline ({', '.join(stale)} changed since commit "
                           f"{str(base.get('commit'))[:12]}); re-baseline with --claims-update-baseline")
    if not base["low"] <= now["estimate"] <= base["high"]:
        return GateOutcome("regression", f"{cid}: estimate {now['estimate']:.4g} left the baseline interval "
                           f"[{base['low']:.4g}, {base['high']:.4g}] (baseline estimate {base['estimate']:.4g}, "
                           f"verdict {base['verdict']} -> {now['verdict']})")
    if now["verdict"] != base["verdict"]:
        return GateOutcome("ok", f"{cid}: verdict changed {base['verdict']} -> {now['verdict']} (not a regression)")
    return GateOutcome("ok", f"{cid}: matches its baseline ({now['verdict']}, estimate inside the baseline interval)")
