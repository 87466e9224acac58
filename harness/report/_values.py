"""Number formatting for reports: one rule per estimand, so the same quantity always reads the same way.

AUROCs and AUROC differences: 3 decimals. Rates (accuracy, agreement): percent, 1 decimal. Changes of a rate
(a 0/1 or probability outcome, whatever the claim's ``scale``): percentage points, signed. Log-probability
outcomes: nats, 3 decimals. p-values: 2 significant digits, ``p < 0.001`` below that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

RATE_METRICS = {"target_choice", "compliance", "mc1", "accuracy", "mc2", "judged"}
"""Benchmark metrics whose per-item outcome is a rate (0/1 or a probability): their changes are in pp."""
NATS_METRICS = {"target_margin", "target_logprob", "gold_logprob", "answer_logprob", "best_margin"}


@dataclass(frozen=True)
class Units:
    """How to print one claim's estimand."""

    kind: str
    """auroc | auroc_diff | rate | pct | pp | nats | plain"""
    factor: float = 1.0
    """Multiply a stored value by this before printing (e.g. 100 for a 0-1 rate shown in pp)."""
    suffix: str = ""
    """Unit text after the interval (e.g. 'pp per unit alpha')."""
    signed: bool = False


def units_of(spec: Any) -> Units:
    """The units of a claim's estimate, from its estimand (and benchmark metric for interventions)."""
    if spec is None:
        return Units("plain")
    est = spec.estimand
    kind = est.kind
    if kind in ("detector_auroc", "shuffled_label_auroc"):
        return Units("auroc")
    if kind in ("detector_auroc_minus_length", "detector_auroc_difference"):
        return Units("auroc_diff", signed=True, suffix="AUROC")
    if kind in ("detector_accuracy", "judge_validation"):
        return Units("rate", factor=100.0)
    if kind == "h_neuron_percent":
        return Units("pct", suffix="of MLP neurons")
    if kind == "judged_accuracy_difference":
        return Units("pp", factor=100.0 / est.scale, signed=True, suffix="pp")
    scale = float(getattr(est, "scale", 1.0))
    per = " per unit alpha" if kind in ("dose_slope", "slope_minus_control") else ""
    metric = spec.benchmark.metric if spec.benchmark is not None else ""
    if metric in RATE_METRICS:
        return Units("pp", factor=100.0 / scale, signed=True, suffix="pp" + per)
    if metric in NATS_METRICS:
        return Units("nats", factor=1.0 / scale, signed=True, suffix="nats" + per)
    if metric == "nll":
        return Units("nats", factor=1.0 / scale, signed=True, suffix="nats/token" + per)
    return Units("plain", signed=True)


def number(value: float, units: Units) -> str:
    """One value in the claim's units (no unit text)."""
    if value is None or not math.isfinite(value):
        raise ValueError(f"cannot format {value!r}: not a finite number")
    v = value * units.factor
    if units.kind in ("auroc", "auroc_diff", "nats", "plain", "pct"):
        text = f"{v:.3f}"
    elif units.kind == "pp":
        text = f"{v:.2f}" if abs(v) < 1 else f"{v:.1f}"
    else:  # rate
        text = f"{v:.1f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]  # no "-0.0"
    if units.signed and not text.startswith("-") and float(text) != 0:
        text = "+" + text
    return text + "%" if units.kind in ("rate", "pct") else text


def estimate_text(iv: dict[str, Any], units: Units) -> str:
    """``0.914`` / ``85.8%`` / ``-3.2 pp``."""
    return _with_unit(number(iv["estimate"], units), units)


def interval_text(iv: dict[str, Any], units: Units) -> str:
    """``[0.855, 0.950]`` in the claim's units (no unit text)."""
    return f"[{number(iv['low'], units)}, {number(iv['high'], units)}]"


def level_note(iv: dict[str, Any]) -> str:
    """`` (90% interval)`` when the interval's level is not the usual 95%, else empty."""
    level = float(iv.get("level", 0.95))
    return "" if abs(level - 0.95) < 1e-9 else f" ({level:.0%} interval)"


def value_text(iv: dict[str, Any], units: Units) -> str:
    """Estimate and interval: ``0.914 [0.855, 0.950]``, ``-37.0 [-42.3, -31.3] pp``."""
    return _with_unit(f"{number(iv['estimate'], units)} {interval_text(iv, units)}", units) + level_note(iv)


def _with_unit(text: str, units: Units) -> str:
    return f"{text} {units.suffix}" if units.suffix else text


def p_text(p: float | None) -> str:
    """``p = 0.054`` / ``p < 0.001``; ``p n/a`` when the claim has no test p-value."""
    if p is None:
        return "p n/a"
    if not 0 <= p <= 1:
        raise ValueError(f"p-value {p!r} is outside [0, 1]")
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def controls_text(controls: list[dict[str, Any]], units: Units) -> str:
    """``5 shuffled_labels seeds: 0.496 to 0.601`` (the range of the control estimates)."""
    if not controls:
        return "no controls"
    by_kind: dict[str, list[float]] = {}
    for c in controls:
        by_kind.setdefault(str(c["kind"]), []).append(float(c["interval"]["estimate"]))
    parts = []
    for kind, values in by_kind.items():
        lo, hi = number(min(values), units), number(max(values), units)
        parts.append(f"{len(values)} {kind} seeds: {lo} to {hi}" if len(values) > 1 else f"{kind}: {lo}")
    return "; ".join(parts)
