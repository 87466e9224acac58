"""Intervention claim specs: what a claim must state (benchmark, externalities, matching controls, power for
'no effect') is enforced at load time, with messages that name the fix."""

from __future__ import annotations

import copy

import pytest
from pydantic import ValidationError

from harness.claims import ClaimSpec, apply_rule

LEVER = {
    "statement": "Scaling H-neurons raises counterfactual compliance.", "stage": "control", "evidence": "intervention",
    "intervention": {"kind": "neuron_scaling"},
    "benchmark": {"kind": "counterfactual", "metric": "target_margin"},
    "estimand": {"kind": "dose_slope"}, "pass_rule": {"kind": "lower_above", "threshold": 0},
    "externalities": [{"benchmark": {"kind": "qa", "metric": "gold_logprob"}}],
}


def _with(**changes):
    d = copy.deepcopy(LEVER)
    for k, v in changes.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    return d


def test_valid_lever_claim_and_defaults():
    spec = ClaimSpec.model_validate(LEVER)
    assert spec.intervention.alphas == (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0) and spec.intervention.noop == 1.0
    assert spec.controls == ()


@pytest.mark.parametrize("changes,match", [
    ({"externalities": None}, "at least one capability cost"),
    ({"benchmark": None}, "need benchmark"),
    ({"evidence": "readout", "statement": "H-neurons are associated with compliance."}, "evidence: intervention"),
    ({"estimand": {"kind": "detector_auroc"}}, "detection estimand"),
    ({"estimand": {"kind": "slope_minus_control"}}, "needs a control"),
    ({"controls": [{"kind": "random_heads"}]}, "does not match intervention neuron_scaling; use random_neurons"),
    ({"pass_rule": {"kind": "within", "margin": 0.1}}, "add power"),
    ({"pass_rule": {"kind": "includes", "value": 0}}, "add power"),
    ({"intervention": {"kind": "neuron_scaling", "alphas": [0, 2, 3]}}, "no-op alpha 1.0"),
    ({"intervention": {"kind": "iti", "scope": "all", "first_n": 2}}, "first_n only applies"),
    ({"intervention": {"kind": "sae_scaling"}}, "pipeline.features.kind: sae"),
    ({"benchmark": {"kind": "counterfactual", "metric": "target_margn"}}, "Did you mean: target_margin?"),
    ({"interval": {"method": "two-way"}}, "bca or percentile"),
])
def test_invalid_lever_claims_name_the_fix(changes, match):
    with pytest.raises(ValidationError, match=match):
        ClaimSpec.model_validate(_with(**changes))


def test_detection_claims_refuse_intervention_fields():
    bad = {"statement": "CETT features predict hallucination.", "stage": "localization", "evidence": "readout",
           "estimand": {"kind": "dose_slope"}, "pass_rule": {"kind": "lower_above", "threshold": 0.5}}
    with pytest.raises(ValidationError, match="measures an edit"):
        ClaimSpec.model_validate(bad)
    with pytest.raises(ValidationError, match="random-set controls need an intervention"):
        ClaimSpec.model_validate({**bad, "estimand": {"kind": "detector_auroc"},
                                  "controls": [{"kind": "random_neurons"}]})


def test_controls_default_to_twenty_seeds():
    spec = ClaimSpec.model_validate(_with(estimand={"kind": "slope_minus_control"},
                                          controls=[{"kind": "random_neurons"}]))
    assert spec.controls[0].seeds == 20


def test_within_rule_is_an_equivalence_decision():
    rule = ClaimSpec.model_validate(_with(pass_rule={"kind": "within", "margin": 0.05},
                                          power={"min_effect": 0.05})).pass_rule
    assert apply_rule(rule, -0.02, 0.03)[0] == "SUPPORTED"
    assert apply_rule(rule, -0.02, 0.07)[0] == "INCONCLUSIVE"
    assert apply_rule(rule, 0.06, 0.2)[0] == "REFUTED"
    assert apply_rule(rule, -0.3, -0.05)[0] == "REFUTED"


def _iv(est, lo, hi):
    from harness.claims._result import IntervalOut

    return IntervalOut(estimate=est, low=lo, high=hi, method="bca", level=0.95, n=100)


def test_underpowered_no_effect_claim_is_inconclusive_not_supported():
    from harness.claims._assess import _intervention_verdict as _verdict

    spec = ClaimSpec.model_validate(_with(pass_rule={"kind": "within", "margin": 0.05}, power={"min_effect": 0.05}))
    assert _verdict(spec, _iv(0.0, -0.01, 0.01), [], {"underpowered": False, "mde": 0.02, "min_effect": 0.05})[0] \
        == "SUPPORTED"
    verdict, reason, _ = _verdict(spec, _iv(0.0, -0.01, 0.01), [], {"underpowered": True, "mde": 0.2,
                                                                    "min_effect": 0.05})
    assert verdict == "INCONCLUSIVE" and "underpowered" in reason


def test_a_control_seed_as_strong_as_the_treatment_blocks_support():
    from harness.claims._assess import _intervention_verdict as _verdict
    from harness.claims._result import ControlOut

    spec = ClaimSpec.model_validate(_with(controls=[{"kind": "random_neurons", "seeds": 2}]))
    weak = [ControlOut(kind="random_neurons", seed=s, interval=_iv(0.1, 0.0, 0.2)) for s in range(2)]
    assert _verdict(spec, _iv(0.5, 0.3, 0.7), weak, None)[0] == "SUPPORTED"
    strong = [*weak[:1], ControlOut(kind="random_neurons", seed=1, interval=_iv(0.6, 0.4, 0.8))]
    verdict, reason, _ = _verdict(spec, _iv(0.5, 0.3, 0.7), strong, None)
    assert verdict == "INCONCLUSIVE" and "1 of 2 control seeds" in reason
