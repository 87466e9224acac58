"""Claim results and verdicts: SUPPORTED, REFUTED or INCONCLUSIVE from an interval and a pass rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr

Verdict = Literal["SUPPORTED", "REFUTED", "INCONCLUSIVE"]


class IntervalOut(BaseModel):
    """An interval as recorded in a result (the stats Interval, serialised)."""

    model_config = ConfigDict(extra="forbid")
    estimate: float
    low: float
    high: float
    method: str
    level: float
    n: int
    n_resamples: int | None = None
    seed: int | None = None
    note: str = ""

    def text(self, digits: int = 3) -> str:
        f = f"{{:.{digits}f}}"
        extra = f", {self.n_resamples} resamples, seed {self.seed}" if self.n_resamples else ""
        note = f"; {self.note}" if self.note else ""
        return (f"{f.format(self.estimate)} [{f.format(self.low)}, {f.format(self.high)}] "
                f"({self.level:.0%} {self.method}{extra}, n={self.n}{note})")


class ControlOut(BaseModel):
    """One negative-control run (one seed)."""

    model_config = ConfigDict(extra="forbid")
    kind: str
    seed: int
    interval: IntervalOut


class ClaimResult(BaseModel):
    """What a claim run produced: the verdict, its interval, the controls and the supporting numbers."""

    model_config = ConfigDict(extra="forbid")
    claim_id: str
    statement: str
    verdict: Verdict
    reason: str
    rule: str
    interval: IntervalOut
    controls: list[ControlOut] = []
    details: dict[str, Any] = {}
    expected: dict[str, float] | None = None
    timings: dict[str, float] = {}
    p_value: float | None = None
    """The claim's test p-value where it has one (e.g. the sign-flip permutation p of a slope difference);
    the run adjusts these across claims with Holm."""
    p_method: str = ""
    provenance: dict[str, Any] = {}
    """Code (git commit, whole-repository dirty flag), command, package versions, device, dtype, model
    fingerprint, spec hash and host of the run that produced this result."""
    _evidence: Any = PrivateAttr(default=None)
    """The row-level evidence the verdict was decided on (an ``Evidence``; not serialised with the result)."""

    def report(self) -> str:
        """Readable multi-line report (used in pytest's failure output and the summary)."""
        lines = [f"claim {self.claim_id}: {self.verdict}", f"  statement: {self.statement}",
                 f"  estimate:  {self.interval.text()}", f"  rule:      {self.rule}", f"  verdict:   {self.reason}"]
        if self.p_value is not None:
            lines.append(f"  p-value:   {self.p_value:.4g} ({self.p_method})")
        if self.expected:
            lines.append(f"  paper:     {self.expected}")
        for c in self.controls:
            lines.append(f"  control {c.kind} seed {c.seed}: {c.interval.text()}")
        for k, v in self.details.items():
            lines.append(f"  {k}: {v}")
        git = self.provenance.get("git", {})
        if git:
            lines.append(f"  code:      commit {git.get('commit')}, dirty {git.get('dirty')}")
        return "\n".join(lines)


def apply_rule(rule: Any, low: float, high: float) -> tuple[Verdict, str, str]:
    """Verdict, reason and rule text for an interval under a pass rule."""
    if rule.kind == "lower_above":
        text = f"whole interval above {rule.threshold}"
        if low > rule.threshold:
            return "SUPPORTED", f"lower bound {low:.3f} > {rule.threshold}", text
        if high <= rule.threshold:
            return "REFUTED", f"upper bound {high:.3f} <= {rule.threshold}", text
        return "INCONCLUSIVE", f"interval [{low:.3f}, {high:.3f}] straddles {rule.threshold}", text
    if rule.kind == "upper_below":
        text = f"whole interval below {rule.threshold}"
        if high < rule.threshold:
            return "SUPPORTED", f"upper bound {high:.3f} < {rule.threshold}", text
        if low >= rule.threshold:
            return "REFUTED", f"lower bound {low:.3f} >= {rule.threshold}", text
        return "INCONCLUSIVE", f"interval [{low:.3f}, {high:.3f}] straddles {rule.threshold}", text
    if rule.kind == "includes":
        text = f"interval includes {rule.value} (null control)"
        if low <= rule.value <= high:
            return "SUPPORTED", f"[{low:.3f}, {high:.3f}] includes {rule.value}", text
        return "REFUTED", f"[{low:.3f}, {high:.3f}] excludes {rule.value}", text
    if rule.kind == "within":
        m = rule.margin
        text = f"interval inside [-{m}, {m}] (equivalence)"
        if -m < low and high < m:
            return "SUPPORTED", f"[{low:.3f}, {high:.3f}] lies inside +/-{m}", text
        if high <= -m or low >= m:
            return "REFUTED", f"[{low:.3f}, {high:.3f}] lies outside +/-{m}", text
        return "INCONCLUSIVE", f"[{low:.3f}, {high:.3f}] crosses the margin +/-{m}", text
    raise ValueError(f"unknown pass rule {rule.kind!r}")


def write_result(folder: Path, result: ClaimResult, *, rows: bool = True) -> None:
    """Write ``<claim>.json`` and, for a live run (``rows``), ``<claim>.rows.jsonl`` as a pair: on a full disk
    neither changes, so a result never sits beside another run's rows.

    Raises:
        DiskFullError: Out of space; both files kept their previous content.
    """
    import json

    from harness.claims._evidence import rows_text
    from harness.store import atomic_write_many, canonical_json

    files = []
    if rows and result._evidence is not None:
        files.append((folder / f"{result.claim_id}.rows.jsonl", rows_text(result._evidence).encode("utf-8")))
    text = canonical_json(json.loads(result.model_dump_json())) + "\n"
    files.append((folder / f"{result.claim_id}.json", text.encode("utf-8")))
    atomic_write_many(files)
