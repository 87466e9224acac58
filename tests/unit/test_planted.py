"""Verifying the verifier on a planted effect (issue 8, item 3): a tiny Gemma 3 whose weights make 8 known MLP
neurons, one per trigger character, force a known wrong answer on questions that carry the trigger.

The shipped pipeline runs unchanged (YAML claim -> K sampled answers -> alias-judged labels -> CETT features ->
L1 probe -> neuron ablation against random neuron sets) on the planted model and on its unedited base, with
the same claim files and the same question set; the truth it should find is known.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.xdist_group("planted")  # one worker builds the models and runs the claims once
log = logging.getLogger(__name__)

N_PLAIN, N_PER_TRIGGER, WRONG_SHARE = 64, 8, 0.5
"""QA set of the claims: 64 plain and 64 trigger questions (8 per trigger character); half of the trigger
questions are wrong for both models (an alias no answer matches), so the base has errors too."""

PIPELINE = """\
data: {kind: qa_jsonl, path: %(qa)s}
pipeline:
  sampling: {k: 5, batch_size: 64}
interval: {n_resamples: 1000}
"""

DETECT = """\
statement: A sparse L1 probe on CETT features of the model's MLP neurons predicts which answers are
  consistently wrong on held-out questions.
stage: localization
evidence: readout
model: %(model)s
estimand: {kind: detector_auroc}
pass_rule: {kind: lower_above, threshold: 0.5}
controls: [{kind: shuffled_labels, seeds: 3}]
""" + PIPELINE

ABLATE = """\
statement: Ablating the probe's H-neurons makes the model answer held-out trigger questions correctly, and
  ablating random neuron sets of the same size and layers does not.
stage: control
evidence: intervention
model: %(model)s
intervention: {kind: neuron_scaling, alphas: [0, 1]}
benchmark: {kind: qa, path: %(trigger_bench)s, metric: accuracy, batch_size: 64}
estimand: {kind: delta, to: 0, scale: 100}
pass_rule: {kind: lower_above, threshold: 0}
controls: [{kind: random_neurons, seeds: 5}]
externalities:
  - {benchmark: {kind: qa, path: %(plain_bench)s, metric: accuracy, batch_size: 64}, alphas: [0]}
""" + PIPELINE.replace("interval: {n_resamples: 1000}", "interval: {method: newcombe}")  # a 0/1 delta

MODELS = {"planted": "{kind: planted}", "unedited": "{kind: planted, planted: {edited: false}}"}


def _write_qa(items, path: Path) -> Path:
    with path.open("w") as f:
        for it in items:
            f.write(json.dumps({"id": it.id, "question": it.question, "aliases": list(it.aliases),
                                "domain": it.domain}) + "\n")
    return path


@pytest.fixture(scope="module")
def planted_base():
    from harness.models import build_planted

    return build_planted(seed=0, edited=False)


@pytest.fixture(scope="module")
def planted_model():
    from harness.models import build_planted

    return build_planted(seed=0, edited=True)


@pytest.fixture(scope="module")
def planted_runs(tmp_path_factory, planted_base):
    """Both claims on both models: {(model, claim): ClaimResult or the DataError the run stopped with}."""
    from harness.claims import load_claim
    from harness.claims._run import run_claim
    from harness.claims._session import Session
    from harness.errors import DataError
    from harness.models._planted import planted_qa, planted_questions

    base, truth = planted_base
    root = tmp_path_factory.mktemp("planted")
    paths = {
        "qa": _write_qa(planted_qa(base, truth, planted_questions(truth, N_PLAIN, N_PER_TRIGGER),
                                   wrong_share=WRONG_SHARE), root / "qa.jsonl"),
        # held-out questions (other item numbers) for the intervention and its externality
        "trigger_bench": _write_qa(planted_qa(base, truth, planted_questions(truth, 0, 4, offset=500, prefix="b")),
                                   root / "trigger_bench.jsonl"),
        "plain_bench": _write_qa(planted_qa(base, truth, planted_questions(truth, 32, 0, offset=500, prefix="b")),
                                 root / "plain_bench.jsonl"),
    }
    session = Session(store_root=root / "store")
    runs: dict[tuple[str, str], object] = {}
    for model, model_yaml in MODELS.items():
        for claim, text in (("detect", DETECT), ("ablate", ABLATE)):
            path = root / f"{model}_{claim}.yaml"
            path.write_text(text % {**{k: str(v) for k, v in paths.items()}, "model": model_yaml})
            t0 = time.time()
            try:
                runs[(model, claim)] = run_claim(path.stem, load_claim(path), session)
            except DataError as exc:  # a claim the pipeline cannot even state (e.g. no H-neurons to ablate)
                runs[(model, claim)] = exc
            r = runs[(model, claim)]
            log.info("%s %s (%.1f s): %s", model, claim, time.time() - t0,
                     r if isinstance(r, Exception) else f"{r.verdict} {r.interval.text()}")
            if claim == "detect" and not isinstance(r, Exception):
                d = r.details
                log.info("labels %s, C %s (validation AUROC by C %s), H-neurons %s", d["labels"], d["C"],
                         d["val_auroc_by_C"], d["h_neurons"])
    return runs


def test_plant_is_invisible_off_trigger(planted_base, planted_model):
    """Without a trigger character the planted model's logits are bit-identical to the base's; in the base, a
    trigger question is computed exactly as the same question with the synonymous plain mark."""
    from harness.generate import build_prompt
    from harness.models._planted import MARKS, TRIGGERS

    (base, _), (planted, _) = planted_base, planted_model
    tok = base.tokenizer
    with torch.no_grad():
        for q in ("What is the code of item 7 +?", "Name the colour of card 12 @.", "Which word goes with box 3 $?"):
            ids = torch.tensor([build_prompt(tok, q).ids])
            assert torch.equal(base.model(ids).logits, planted.model(ids).logits), q
            trig = q.translate(str.maketrans(MARKS, TRIGGERS))
            t_ids = torch.tensor([build_prompt(tok, trig).ids])
            assert torch.equal(base.model(ids).logits, base.model(t_ids).logits), trig
            assert not torch.equal(planted.model(ids).logits, planted.model(t_ids).logits), trig


def test_planted_neurons_fire_on_their_trigger_only(planted_model):
    """CETT of each planted neuron is positive on questions with its trigger and exactly 0 on every other
    question; and the model answers a trigger question with that neuron's target."""
    from harness.activations import FeatureInput, answer_span, capture_cett
    from harness.generate import build_prompt, generate_batch
    from harness.models._planted import MARKS

    lm, truth = planted_model
    questions = [f"What is the code of item {i} {c}?" for i, c in enumerate(truth.triggers + MARKS)]
    prompts = [build_prompt(lm.tokenizer, q) for q in questions]
    gens = generate_batch(lm, [p.ids for p in prompts], max_new_tokens=4)
    assert [g.text.strip() for g in gens[:8]] == list(truth.targets)
    inputs = [FeatureInput(p.ids, (*g.answer_ids, g.stop_id), answer_span(g.answer_ids, lm.tokenizer),
                           p.question_span) for p, g in zip(prompts, gens, strict=True)]
    feats = capture_cett(lm, inputs, ("answer",))[:, 0]  # [16, n_layers * d_mlp]
    cols = [layer * lm.sites.d_mlp + j for layer, j in truth.neurons]
    planted = feats[:, cols]  # [question, planted neuron]
    assert (np.diag(planted[:8]) > 0).all()
    assert (planted[:8][~np.eye(8, dtype=bool)] == 0).all() and (planted[8:] == 0).all()


def test_pipeline_recovers_the_planted_neurons(planted_runs, planted_base):
    """The detector claim is SUPPORTED on the planted model and its H-neurons (positive L1 weights) are the
    planted neurons.

    Measured (seed 0, 2-core CPU): recall 1.0 (8 of 8), precision 1.0 (8 H-neurons), test AUROC 1.0
    [1.0, 1.0] against shuffled-label AUROCs near 0.5; on model seeds 1 and 2 recall 1.0 and precision 1.0
    and 0.89. A recall below 7 of 8 fails the test, as does a precision below 0.75.
    """
    _, truth = planted_base
    result = planted_runs[("planted", "detect")]
    assert not isinstance(result, Exception), result
    found = result.details["h_neurons"]
    recall, precision = truth.recall(found), truth.precision(found)
    log.info("recall %.3f precision %.3f H-neurons %s", recall, precision, found)
    assert recall >= 7 / 8, f"recall {recall:.3f}: planted {truth.neurons}, found {found}"
    assert precision >= 0.75, f"precision {precision:.3f}: planted {truth.neurons}, found {found}"
    assert result.verdict == "SUPPORTED", result.reason
    assert result.details["labels"]["n_hallucinated"] >= 40  # the plant's answers are consistently wrong
    assert all(c.interval.estimate < result.interval.low for c in result.controls)


def test_ablating_the_recovered_neurons_removes_the_planted_answers(planted_runs, planted_base):
    """The intervention claim is SUPPORTED: ablating the probe's H-neurons turns the planted model's held-out
    trigger questions from all wrong to (nearly) all right, while every random matched neuron set leaves them
    wrong, so each control on its own fails the same rule.

    Measured (seed 0): accuracy 0% -> 100% (+100 pp [100, 100]); every control +0 pp [0, 0]; plain questions
    keep 100% under the same ablation.
    """
    from harness.claims import apply_rule
    from harness.claims._spec import LowerAbove

    _, truth = planted_base
    result = planted_runs[("planted", "ablate")]
    assert not isinstance(result, Exception), result
    details = result.details
    assert result.verdict == "SUPPORTED", result.reason
    assert details["mean_by_alpha"]["1.0"] == 0.0  # with the plant active every trigger question is wrong
    assert set(map(tuple, details["units"])) >= set(truth.neurons)
    assert len(result.controls) == 5
    for c in result.controls:
        verdict, _, _ = apply_rule(LowerAbove(kind="lower_above", threshold=0.0), c.interval.low, c.interval.high)
        assert verdict != "SUPPORTED", f"control seed {c.seed} passes on its own: {c.interval}"
        assert c.interval.estimate < result.interval.low
    assert details["externalities"][0]["mean_by_alpha"]["0.0"] >= 0.75


def test_unedited_model_supports_neither_claim(planted_runs):
    """On the unedited base (same claim files, same questions) the detector claim is not SUPPORTED and the
    ablation claim is not either: its probe finds no H-neurons (the run stops with that DataError) or
    ablating them does not make trigger questions right.

    Measured (seed 0): 28 labelled errors; the probe keeps no feature (every C gives validation AUROC <= 0.5,
    so the smallest C, with all weights 0, is chosen), detector AUROC 0.5 [0.5, 0.5] REFUTED; the ablation claim
    stops with "the detector has no positive weights". With a quarter of the trigger questions wrong instead
    of half, the probe keeps 2 noise neurons: AUROC 0.72 [0.25, 1.0] INCONCLUSIVE (n=8) and ablating them
    -3 pp [-19, 0] REFUTED.
    """
    detect = planted_runs[("unedited", "detect")]
    assert not isinstance(detect, Exception), detect
    assert detect.verdict in ("REFUTED", "INCONCLUSIVE"), detect.reason
    assert detect.details["labels"]["n_hallucinated"] >= 8  # the base has errors: the null is not vacuous
    ablate = planted_runs[("unedited", "ablate")]
    if isinstance(ablate, Exception):
        assert "no positive weights" in str(ablate)
    else:
        assert ablate.verdict in ("REFUTED", "INCONCLUSIVE"), ablate.reason


def test_planted_truth_scores_findings():
    from harness.models import PlantedTruth

    truth = PlantedTruth(neurons=((0, 1), (1, 2)), triggers="~^", targets="BC", trigger_coords=(0, 1),
                         target_coords=(2, 3), stop_coord=4, space_coord=5, copy_head=(0, 3), edited=True)
    assert truth.recall([[0, 1, 0.5], [2, 9, 0.1]]) == 0.5
    assert truth.precision([[0, 1, 0.5], [2, 9, 0.1]]) == 0.5
    assert truth.recall([]) == 0.0 and truth.precision([]) == 0.0


def test_planted_model_spec():
    from harness.claims._spec import ModelSpec

    assert ModelSpec.model_validate({"kind": "planted"}).planted is None  # defaults: seed 0, edited
    spec = ModelSpec.model_validate({"kind": "planted", "planted": {"seed": 2, "edited": False}})
    assert spec.planted is not None and spec.planted.edited is False
    with pytest.raises(ValueError, match="only read for kind 'planted'"):
        ModelSpec.model_validate({"kind": "tiny", "planted": {"seed": 1}})
    with pytest.raises(ValueError, match="extra"):
        ModelSpec.model_validate({"kind": "planted", "planted": {"sed": 1}})


def test_no_shipped_claim_runs_on_a_test_only_model():
    from harness.claims import find_claims, load_claim

    claims = find_claims(Path(__file__).resolve().parents[2] / "claims")
    kinds = {name: load_claim(path).model.kind for name, path in claims.items()}
    assert not {name for name, kind in kinds.items() if kind in ("tiny", "planted")}, kinds
