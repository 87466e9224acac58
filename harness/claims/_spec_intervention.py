"""Specs of intervention claims: the edit, the benchmark it acts on, its controls, externalities, estimands."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_ALPHAS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_grid(alphas: tuple[float, ...], noop: float, kind: str) -> None:
    if len(alphas) < 2 or len(set(alphas)) != len(alphas):
        raise ValueError(f"intervention {kind}: alphas needs at least 2 distinct values, got {list(alphas)}")
    if noop not in alphas:
        raise ValueError(f"intervention {kind}: alphas must contain the no-op alpha {noop} (the paired baseline), "
                         f"got {list(alphas)}")


class SAESourceSpec(_Spec):
    """Where the SAE comes from: a local SAELens / Gemma Scope folder, or trained by the harness itself."""

    path: str | None = None
    """Local folder in SAELens (cfg.json + sae_weights.safetensors) or Gemma Scope (params.npz) format.
    None: train a TopK SAE on the model's own residual activations (no hub is reachable here)."""
    layer: int = Field(ge=0)
    """Residual site blocks.{layer}.hook_resid_post."""
    d_sae: int = Field(default=4096, ge=16)
    k: int = Field(default=32, ge=1)
    """TopK sparsity of a trained SAE."""
    train_tokens: int = Field(default=120_000, ge=1000)
    """Tokens of captured activations to train on (prompts + answers of the QA set)."""
    steps: int = Field(default=600, ge=10)
    """Adam steps of 1024 tokens."""
    seed: int = 0


class NeuronScalingSpec(_Spec):
    """Scale the claim's H-neurons (positive detector weights) at the down_proj input by alpha."""

    kind: Literal["neuron_scaling"]
    alphas: tuple[float, ...] = DEFAULT_ALPHAS
    """No-op 1 (must be in the grid), 0 is ablation."""

    @property
    def noop(self) -> float:
        return 1.0

    @model_validator(mode="after")
    def _grid(self) -> NeuronScalingSpec:
        _check_grid(self.alphas, self.noop, self.kind)
        return self


class SAEScalingSpec(_Spec):
    """Scale SAE features (the positive weights of an L1 detector on SAE features) at a residual site."""

    kind: Literal["sae_scaling"]
    mode: Literal["delta", "full"] = "delta"
    """delta: h + dec(f') - dec(f) (the SAE's error term kept; alpha 1 is an exact no-op); full: h replaced by
    dec(f') (alpha 1 is then the SAE's reconstruction, not the clean model)."""
    alphas: tuple[float, ...] = DEFAULT_ALPHAS

    @property
    def noop(self) -> float:
        return 1.0

    @model_validator(mode="after")
    def _grid(self) -> SAEScalingSpec:
        _check_grid(self.alphas, self.noop, self.kind)
        return self


class DirectionSpec(_Spec):
    """Diff-of-means direction (hallucinated minus correct answer tokens, training split) at a residual site."""

    kind: Literal["direction"]
    layer: int = Field(ge=0)
    mode: Literal["add", "ablate"] = "add"
    alphas: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0)
    """No-op 0. add: h + alpha * d; ablate: h - alpha * (h . u) u."""

    @property
    def noop(self) -> float:
        return 0.0

    @model_validator(mode="after")
    def _grid(self) -> DirectionSpec:
        _check_grid(self.alphas, self.noop, self.kind)
        return self


class ITISpec(_Spec):
    """Inference-time intervention: top-K heads by probe accuracy at the o_proj input, shifted by alpha * sigma
    along their mass-mean direction. Probes are fitted on a held-out part of the benchmark's items."""

    kind: Literal["iti"]
    top_k: int = Field(default=16, ge=1)
    alphas: tuple[float, ...] = (0.0, 5.0, 10.0, 15.0)
    """No-op 0; ITI's paper used alpha 15 on LLaMA-7B."""
    scope: Literal["all", "generated"] = "all"
    """all: every position; generated: only positions that produce generated tokens."""
    first_n: int | None = Field(default=None, ge=1)
    """With scope generated: only the first N generated tokens."""
    probe_path: str | None = None
    """TruthfulQA CSV whose answers train the head probes; None: the embedded TruthfulQA-style set."""
    probe_fraction: float = Field(default=0.5, gt=0.1, lt=0.9)
    """Share of the probe set's questions used to fit the probes (split again 70/30 into train / val). When
    the claim's benchmark is that same set, it is evaluated on the other questions only."""
    seed: int = 0

    @property
    def noop(self) -> float:
        return 0.0

    @model_validator(mode="after")
    def _grid(self) -> ITISpec:
        _check_grid(self.alphas, self.noop, self.kind)
        if self.first_n is not None and self.scope != "generated":
            raise ValueError("intervention iti: first_n only applies with scope 'generated'")
        return self


Intervention = Annotated[NeuronScalingSpec | SAEScalingSpec | DirectionSpec | ITISpec,
                         Field(discriminator="kind")]

METRICS: dict[str, tuple[str, ...]] = {
    "counterfactual": ("target_margin", "target_logprob", "target_choice", "compliance"),
    "truthfulqa": ("mc1", "mc2", "best_margin"),
    "falseqa": ("answer_logprob",),
    "qa": ("gold_logprob", "accuracy"),
    "heldout_text": ("nll",),
    "jailbreakbench": ("judged",),
}
GENERATED_METRICS = {("qa", "accuracy"), ("jailbreakbench", "judged")}
"""(benchmark, metric) pairs whose outcome grades a generated answer: a judge panel can grade them."""
BINARY_METRICS = {"target_choice", "compliance", "mc1", "accuracy"}


class BenchmarkSpec(_Spec):
    """Items an intervention is measured on, and the per-item outcome."""

    kind: Literal["counterfactual", "truthfulqa", "falseqa", "qa", "heldout_text", "jailbreakbench"]
    """counterfactual: FaithEval-style context MC; truthfulqa: official CSV; falseqa: CSV; qa: the claim's QA
    set (or a TriviaQA / QA JSONL path); heldout_text: paragraphs for perplexity; jailbreakbench:
    JBB-Behaviors CSV (the embedded sample is ten benign behaviours)."""
    path: str | None = None
    """Local file in the benchmark's published format; None uses the project's embedded set."""
    metric: str
    """Per-item outcome. counterfactual: target_margin (log P(context's answer) - log P(real answer)),
    target_logprob, target_choice (context's option has the highest log-likelihood), compliance (generated MC
    letter picks the context's option; parse failures counted); truthfulqa: mc1, mc2, best_margin; falseqa:
    answer_logprob; qa: gold_logprob (log P(first alias)), accuracy (greedy answer, alias judge, or each judge
    of the claim's panel); heldout_text: nll (mean negative log-likelihood per token); jailbreakbench: judged
    (greedy response to the behaviour's goal, scored by each judge of the claim's panel)."""
    limit: int | None = Field(default=None, ge=10)
    subset_seed: int = 0
    batch_size: int = Field(default=16, ge=1)
    max_new_tokens: int | None = Field(default=None, ge=1)
    """Generated metrics: answer length cap (default 16 for qa accuracy, 64 for jailbreakbench)."""

    @model_validator(mode="after")
    def _metric_known(self) -> BenchmarkSpec:
        known = METRICS[self.kind]
        if self.metric not in known:
            import difflib

            close = difflib.get_close_matches(self.metric, known, n=1)
            hint = f" Did you mean: {close[0]}?" if close else ""
            raise ValueError(f"Unknown metric {self.metric!r} for benchmark {self.kind}.{hint} "
                             f"Available: {', '.join(known)}")
        return self

    @property
    def binary(self) -> bool:
        return self.metric in BINARY_METRICS


class ExternalitySpec(_Spec):
    """A capability cost measured under the same edit, on the same conditions as the target."""

    benchmark: BenchmarkSpec
    alphas: tuple[float, ...] | None = None
    """Alphas to measure at (always with the no-op); None: the no-op and the grid's largest alpha."""

    @model_validator(mode="after")
    def _not_judged(self) -> ExternalitySpec:
        if self.benchmark.metric == "judged":
            raise ValueError(f"externalities: metric judged needs the claim's judge panel; measure the cost of "
                             f"{self.benchmark.kind} as the claim's own benchmark instead")
        return self


class RandomNeuronsControl(_Spec):
    """Random neuron sets of the treatment's size and per-layer counts, drawn from zero-weight neurons."""

    kind: Literal["random_neurons"]
    seeds: int = Field(default=20, ge=1)
    """With S seeds the smallest attainable rank p-value is 1 / (S + 1): 20 seeds reach 0.048."""


class RandomSAEFeaturesControl(_Spec):
    """Random SAE features of the treatment's count, drawn from features with zero detector weight."""

    kind: Literal["random_sae_features"]
    seeds: int = Field(default=20, ge=1)


class RandomHeadsControl(_Spec):
    """Random heads in the treatment's layers (per-layer counts), each with a random unit direction and the
    sigma of the treatment head it replaces (the same shift budget)."""

    kind: Literal["random_heads"]
    seeds: int = Field(default=20, ge=1)


class RandomDirectionsControl(_Spec):
    """Random Gaussian directions with the treatment direction's norm."""

    kind: Literal["random_directions"]
    seeds: int = Field(default=20, ge=1)


InterventionControl = Annotated[
    RandomNeuronsControl | RandomSAEFeaturesControl | RandomHeadsControl | RandomDirectionsControl,
    Field(discriminator="kind")]

CONTROL_FOR = {"neuron_scaling": "random_neurons", "sae_scaling": "random_sae_features", "iti": "random_heads",
               "direction": "random_directions"}


class DoseSlopeEstimand(_Spec):
    """OLS slope of the mean per-item outcome on alpha (per unit alpha), bootstrap over items."""

    kind: Literal["dose_slope"]
    scale: float = 1.0
    """Multiply the estimate (100 turns a 0/1 outcome into percentage points)."""


class DeltaEstimand(_Spec):
    """Mean paired change of the per-item outcome between two alphas of the grid (default: no-op -> max)."""

    kind: Literal["delta"]
    frm: float | None = None
    """Alpha to start from; None is the no-op."""
    to: float | None = None
    """Alpha to end at; None is the grid's largest alpha."""
    scale: float = 1.0


class SlopeMinusControlEstimand(_Spec):
    """Treatment slope minus the mean slope of the claim's random control sets, paired on items (bootstrap over
    items and control seeds), with a one-sided sign-flip permutation p and the treatment's rank."""

    kind: Literal["slope_minus_control"]
    scale: float = 1.0


class PowerSpec(_Spec):
    """Minimum detectable effect: a run that could not detect min_effect cannot support 'no effect'."""

    min_effect: float = Field(gt=0)
    """Smallest effect (in the estimand's units, after scale) the claim cares about."""
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    power: float = Field(default=0.8, gt=0.5, lt=1)
