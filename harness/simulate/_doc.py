"""Markdown tables of the simulations, spliced between generated-block markers of docs/validation.md."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from harness.simulate._coverage import FLOOR, CoverageRow
from harness.simulate._gate import FAMILY_ALPHA, FamilyRow, GateRow


def coverage_table(rows: Sequence[CoverageRow]) -> str:
    """One line per scenario and n: coverage with its MC standard error, misses by side, width, status."""
    out = ["| scenario | harness call | data | n | reps | coverage | MC s.e. | miss low / high | mean width "
           "| BCa fallbacks | status |",
           "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if r.refused:
            out.append(f"| {r.key} | `{r.method}` | {r.data} | {r.n} | 0 | - | - | - | - | - | refused: "
                       f"{r.refused.split(';')[0]} |")
            continue
        out.append(f"| {r.key} | `{r.method}` | {r.data} | {r.n} | {r.reps} | {r.coverage:.3f} | {r.mcse:.3f} "
                   f"| {r.miss_low:.3f} / {r.miss_high:.3f} | {r.mean_width:.4g} | {r.fallbacks} | {r.status} |")
    return "\n".join(out)


def gate_tables(null: Sequence[tuple[list[GateRow], FamilyRow]],
                planted: Sequence[tuple[list[GateRow], FamilyRow]]) -> str:
    """The null table (per claim and family-wise) and the power table."""
    out = ["**Planted null** (true effect 0 for every claim). Per claim: share SUPPORTED by its own verdict, and "
           f"SUPPORTED with Holm-adjusted p <= {FAMILY_ALPHA} across the family. Nominal: a one-sided 2.5% per "
           f"claim (95% two-sided interval, one threshold), {FAMILY_ALPHA:.0%} family-wise with Holm.", "",
           "| claim | estimand | rule | n | reps | SUPPORTED | SUPPORTED + Holm |",
           "|---|---|---|---:|---:|---:|---:|"]
    for rows, _ in null:
        for g in rows:
            out.append(f"| {g.claim} | {g.estimand} | {g.rule} | {g.n} | {g.reps} | {g.supported:.3f} "
                       f"| {g.supported_holm:.3f} |")
    out += ["", "| n | reps | any claim SUPPORTED | any SUPPORTED + Holm | MC s.e. (Holm) | seconds |",
            "|---:|---:|---:|---:|---:|---:|"]
    for _, fam in null:
        out.append(f"| {fam.n} | {fam.reps} | {fam.any_supported:.3f} | {fam.any_supported_holm:.3f} "
                   f"| {fam.mcse:.3f} | {fam.seconds:.0f} |")
    out += ["", "**Planted effects** (every claim of the family has its effect at once). Power = share SUPPORTED "
            "with Holm; predicted = normal approximation of the interval rule alone; MDE = "
            "`minimum_detectable_effect(n, sd)` (two-sided 0.05, power 0.8), in the estimand's units.", "",
            "| claim | data | effect | n | reps | SUPPORTED | SUPPORTED + Holm (power) | MC s.e. | predicted | MDE |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for rows, _ in planted:
        for g in rows:
            pred = "" if g.predicted is None else f"{g.predicted:.3f}"
            out.append(f"| {g.claim} | {g.data} | {g.effect:.3g} | {g.n} | {g.reps} | {g.supported:.3f} "
                       f"| {g.supported_holm:.3f} | {g.mcse:.3f} | {pred} | {g.mde:.3g} |")
    return "\n".join(out)


def under_floor(rows: Sequence[CoverageRow]) -> list[CoverageRow]:
    """Rows whose coverage is below `FLOOR` (status borderline or UNDER)."""
    return [r for r in rows if not r.refused and r.coverage < FLOOR]


def splice(doc: Path, block: str, body: str) -> None:
    """Replace the text between `<!-- simulate:<block>:start -->` and `...:end -->` in `doc` (appended with
    its markers when absent; the file is created when missing)."""
    start, end = f"<!-- simulate:{block}:start -->", f"<!-- simulate:{block}:end -->"
    text = doc.read_text() if doc.exists() else "# Validation of the verifier's statistics\n"
    new = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _m: new, text) if pattern.search(text) else text.rstrip() + f"\n\n{new}\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
