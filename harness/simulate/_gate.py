"""Error rates of the claim gate: synthetic row-level evidence for a family of shipped intervention claims,
decided by the real assertion stage (`harness.claims._assess.assess`) and Holm across the family.

Under a planted null every claim's true effect is 0, so any SUPPORTED verdict is a false positive; under a
planted effect of known size the SUPPORTED share is the gate's power at that n.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import ndtr, ndtri

from harness.claims._assess import assess, control_condition, externality_alphas, externality_condition
from harness.claims._evidence import Evidence
from harness.claims._load import load_claim
from harness.claims._spec import ClaimSpec
from harness.stats import holm, item_slopes, minimum_detectable_effect

FAMILY_ALPHA = 0.05
"""Family-wise level of the Holm step-down across the family's p-values."""
CONTROL_SEEDS = 5
"""Random control sets per slope_minus_control claim in the simulation (the shipped claims use 20)."""
SIM_RESAMPLES = 1000
"""Bootstrap resamples per interval in the simulation (the shipped claims use 2000)."""

Outcomes = Callable[[np.random.Generator, int, float], np.ndarray]
"""(rng, n, effect) -> Y[n, n_alphas] treatment outcomes with true effect `effect` in the estimand's units."""


@dataclass(frozen=True)
class Member:
    """One claim of the simulated family: a shipped claim file and a model of its per-item outcomes."""

    claim: str
    """Claim id (file name under claims/)."""
    data: str
    """The outcome model, in words."""
    effect: float
    """Planted effect (estimand units, in the direction the pass rule asks for) for the power table."""
    outcomes: Outcomes


def _slope_rows(rng: np.random.Generator, n: int, slope: float, alphas: tuple[float, ...]) -> np.ndarray:
    a = np.asarray(alphas)
    intercept = rng.normal(0.0, 1.0, (n, 1))
    item_slope = slope + 0.3 * (rng.gamma(2.0, 1.0, (n, 1)) - 2.0)
    return intercept + item_slope * a + rng.normal(0.0, 0.5, (n, a.size))


def _binary_delta(rng: np.random.Generator, n: int, effect: float) -> np.ndarray:
    """0/1 accuracy at (no-op, max): discordant cells 0.08 + effect/2 (right at no-op only), 0.08 - effect/2."""
    b10, b01 = 0.08 - effect / 2.0, 0.08 + effect / 2.0
    both = (1.0 - b10 - b01) / 2.0
    cell = rng.choice(4, size=n, p=[both, both, b10, b01])
    return np.stack([(cell == 0) | (cell == 2), (cell == 0) | (cell == 3)], axis=1).astype(np.float64)


def _continuous_delta(rng: np.random.Generator, n: int, effect: float) -> np.ndarray:
    """Scores in [0, 1]-like units at (no-op, max): shared item level, change effect + 0.1 t(5)."""
    base = rng.normal(0.5, 0.15, n)
    return np.stack([base, base + effect + 0.1 * rng.standard_t(5, n)], axis=1)


FAMILY: tuple[Member, ...] = (
    Member("hneuron_scaling_counterfactual_slope", "dose_slope on alphas 0..3, item slope spread 0.42, noise 0.5",
           -0.1, lambda rng, n, e: _slope_rows(rng, n, e, (0.0, 1.0, 2.0, 3.0))),
    Member("hneuron_minus_random_slope", "slope_minus_control, 5 random sets with slope 0 + N(0, 0.05)",
           -0.1, lambda rng, n, e: _slope_rows(rng, n, e, (0.0, 1.0, 2.0, 3.0))),
    Member("iti_qa_accuracy_cost", "delta on 0/1 accuracy, 16% discordant", -0.04, _binary_delta),
    Member("iti_truthfulqa_mc2", "delta on a continuous score, change sd 0.13", 0.02, _continuous_delta),
)


def family_spec(claims_dir: Path, member: Member) -> ClaimSpec:
    """The shipped claim, lightened for simulation: `SIM_RESAMPLES` resamples; controls of delta / slope claims
    dropped (they can only turn SUPPORTED into INCONCLUSIVE, so the false-positive share is an upper bound);
    `CONTROL_SEEDS` control sets for slope_minus_control; the first externality only."""
    spec = load_claim(claims_dir / f"{member.claim}.yaml")
    controls = tuple(c.model_copy(update={"seeds": CONTROL_SEEDS}) for c in spec.controls)
    keep = controls if spec.estimand.kind == "slope_minus_control" else ()
    return spec.model_copy(update={"interval": spec.interval.model_copy(update={"n_resamples": SIM_RESAMPLES}),
                                   "controls": keep, "externalities": spec.externalities[:1]})


def _evidence(spec: ClaimSpec, member: Member, rng: np.random.Generator, n: int, effect: float) -> Evidence:
    """Row-level evidence of one synthetic run: treatment, control sets (null: the treatment's model with a
    per-set slope N(0, 0.05) and no effect) and an externality with no change."""
    assert spec.intervention is not None
    alphas = spec.intervention.alphas
    ids = [f"i{k}" for k in range(n)]
    ev = Evidence(rows=[], source="simulation")
    y = member.outcomes(rng, n, effect)
    for k, a in enumerate(alphas):
        ev.add("treatment", ids, y[:, k], alpha=a)
    for control in spec.controls:
        for s in range(control.seeds):
            c = member.outcomes(rng, n, float(rng.normal(0.0, 0.05)))
            for k, a in enumerate(alphas):
                ev.add(control_condition(control.kind, s), ids, c[:, k], alpha=a)
    for j, ext in enumerate(spec.externalities):
        ext_alphas = externality_alphas(spec, j)
        base = rng.normal(3.0, 0.5, n)
        for a in ext_alphas:  # no change: 0/1 outcomes at rate 0.5 for a 0/1 metric, else a shared level + noise
            value = (rng.random(n) < 0.5).astype(float) if ext.benchmark.binary else base + rng.normal(0.0, 0.1, n)
            ev.add(externality_condition(j, ext.benchmark.kind, ext.benchmark.metric), ids, value, alpha=a)
    return ev


@dataclass(frozen=True)
class GateRow:
    """SUPPORTED shares of one family member at one n under one planted effect."""

    claim: str
    estimand: str
    rule: str
    data: str
    effect: float
    n: int
    reps: int
    supported: float
    """Share SUPPORTED by the claim's own verdict (interval and pass rule, after the assertion stage)."""
    supported_holm: float
    """Share SUPPORTED and Holm-significant (adjusted p <= FAMILY_ALPHA across the family)."""
    predicted: float | None
    """Normal-approximation power of the interval rule, Phi(|effect| sqrt(n) / sd - z_{0.975}) (None at 0)."""
    mde: float
    """`minimum_detectable_effect(n, sd)` (two-sided 0.05, power 0.8), sd of the per-item values."""

    @property
    def mcse(self) -> float:
        return math.sqrt(max(self.supported_holm * (1 - self.supported_holm), 1e-12) / self.reps)


@dataclass(frozen=True)
class FamilyRow:
    """Family-wise false-positive shares under the planted null at one n."""

    n: int
    reps: int
    any_supported: float
    """Share of runs in which at least one claim is SUPPORTED (no multiplicity correction)."""
    any_supported_holm: float
    """Share of runs in which at least one claim is SUPPORTED and Holm-significant."""
    seconds: float

    @property
    def mcse(self) -> float:
        p = self.any_supported_holm
        return math.sqrt(max(p * (1 - p), 1e-12) / self.reps)


def _per_item_sd(spec: ClaimSpec, member: Member, effect: float) -> float:
    """SD of the per-item values the estimand averages (slopes or deltas, scaled), from 200000 draws."""
    assert spec.intervention is not None
    rng = np.random.default_rng(12345)
    y = member.outcomes(rng, 200_000, effect)
    scale = getattr(spec.estimand, "scale", 1.0)
    per_item = item_slopes(spec.intervention.alphas, y) if spec.estimand.kind != "delta" else y[:, -1] - y[:, 0]
    sd = float(np.std(per_item * scale))
    if spec.estimand.kind == "slope_minus_control":
        sd = math.sqrt(sd**2 * (1 + 1 / CONTROL_SEEDS))  # d_i = t_i - mean of CONTROL_SEEDS control slopes
    return sd


def run_gate(claims_dir: Path, n: int, reps: int, *, planted: bool, seed: int,
             members: tuple[Member, ...] = FAMILY) -> tuple[list[GateRow], FamilyRow]:
    """Run the family `reps` times at `n` items under the null (`planted=False`) or the planted effects.

    Each run draws fresh evidence for every member from `SeedSequence([seed, planted, n, r])`, decides every
    claim with `assess`, and applies Holm to the family's p-values.
    """
    start = time.perf_counter()
    specs = [family_spec(claims_dir, m) for m in members]
    sup = np.zeros((reps, len(members)), dtype=bool)
    sup_holm = np.zeros_like(sup)
    for r in range(reps):
        rng = np.random.default_rng(np.random.SeedSequence([seed, int(planted), n, r]))
        verdicts, pvals = [], {}
        for m, spec in zip(members, specs, strict=True):
            spec_r = spec.model_copy(update={"interval": spec.interval.model_copy(update={"seed": r})})
            out = assess(spec_r, _evidence(spec_r, m, rng, n, m.effect if planted else 0.0))
            verdicts.append(out.verdict == "SUPPORTED")
            pvals[m.claim] = 1.0 if out.p_value is None else float(out.p_value)
        adjusted = holm(pvals)
        sup[r] = verdicts
        sup_holm[r] = [v and adjusted[m.claim] <= FAMILY_ALPHA for v, m in zip(verdicts, members, strict=True)]
    rows = []
    z = float(ndtri(0.975))
    for j, (m, spec) in enumerate(zip(members, specs, strict=True)):
        effect = m.effect if planted else 0.0
        sd = _per_item_sd(spec, m, effect)
        scale = getattr(spec.estimand, "scale", 1.0)
        predicted = float(ndtr(abs(effect * scale) * math.sqrt(n) / sd - z)) if planted else None
        rows.append(GateRow(claim=m.claim, estimand=spec.estimand.kind, rule=spec.pass_rule.kind, data=m.data,
                            effect=effect * scale, n=n, reps=reps, supported=float(sup[:, j].mean()),
                            supported_holm=float(sup_holm[:, j].mean()), predicted=predicted,
                            mde=minimum_detectable_effect(n, sd, alternative="two-sided")))
    family = FamilyRow(n=n, reps=reps, any_supported=float(sup.any(axis=1).mean()),
                       any_supported_holm=float(sup_holm.any(axis=1).mean()), seconds=time.perf_counter() - start)
    return rows, family
