"""Smoke tier of `harness.simulate` (the full run is `python -m harness.simulate all --doc docs/validation.md`):
few replications, one n, bands wide enough for Monte Carlo noise but narrow enough to catch a broken method."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.simulate import FAMILY_ALPHA, SCENARIOS, run_gate, run_scenario, scenario, splice

CLAIMS = Path(__file__).resolve().parents[2] / "claims"


@pytest.mark.parametrize("key", ["wilson-p0.5", "mean-bca", "newcombe-common", "slope"])
def test_smoke_coverage_lies_in_a_wide_band(key: str) -> None:
    row = run_scenario(scenario(key), 200, 50, seed=7, n_resamples=400)
    # nominal 0.95; with 50 reps the MC s.e. is 0.03, so 0.80 is 5 s.e. below: a broken interval (too narrow,
    # off-centre, wrong truth) falls far under it, while a correct one almost never does.
    assert 0.80 <= row.coverage <= 1.0, row
    assert row.mean_width > 0


def test_smoke_coverage_detects_a_method_that_undercovers() -> None:
    """The same band rejects the known failure: a bootstrap of a paired 0/1 delta with ~1.5 discordant items."""
    row = run_scenario(scenario("delta-binary-rare"), 50, 50, seed=7, n_resamples=400)
    assert row.coverage < 0.80, row


def test_scenarios_are_unique_and_reproducible() -> None:
    assert len({s.key for s in SCENARIOS}) == len(SCENARIOS)
    a = run_scenario(scenario("wilson-p0.1"), 50, 30, seed=1, n_resamples=1)
    b = run_scenario(scenario("wilson-p0.1"), 50, 30, seed=1, n_resamples=1)
    assert (a.coverage, a.mean_width) == (b.coverage, b.mean_width)
    with pytest.raises(KeyError, match=r"available: wilson-p0\.5"):
        scenario("wilson")


def test_smoke_gate_false_positives_stay_near_nominal_under_the_null() -> None:
    rows, family = run_gate(CLAIMS, 50, 12, planted=False, seed=3)
    tol = 3 * math.sqrt(FAMILY_ALPHA * (1 - FAMILY_ALPHA) / family.reps)
    assert family.any_supported_holm <= FAMILY_ALPHA + tol, family
    assert {r.claim for r in rows} == {"hneuron_scaling_counterfactual_slope", "hneuron_minus_random_slope",
                                       "iti_qa_accuracy_cost", "iti_truthfulqa_mc2"}


def test_smoke_gate_has_power_under_large_planted_effects() -> None:
    rows, _ = run_gate(CLAIMS, 1000, 3, planted=True, seed=3)
    slope = next(r for r in rows if r.claim == "hneuron_scaling_counterfactual_slope")
    assert slope.supported_holm == 1.0 and slope.predicted is not None and slope.predicted > 0.99, slope


def test_splice_replaces_only_its_block(tmp_path: Path) -> None:
    doc = tmp_path / "v.md"
    doc.write_text("# T\n\nprose\n\n<!-- simulate:coverage:start -->\nold\n<!-- simulate:coverage:end -->\n\ntail\n")
    splice(doc, "coverage", "new table")
    splice(doc, "gate", "gate table")
    text = doc.read_text()
    assert "old" not in text and "new table" in text and "prose" in text and "tail" in text
    assert text.index("gate table") > text.index("tail")


def test_a_size_the_harness_refuses_is_reported_as_refused() -> None:
    row = run_scenario(scenario("cluster"), 50, 5, seed=1, n_resamples=100)  # 10 questions < MIN_CLUSTERS
    assert row.status == "refused" and "under-covers below 40" in row.refused and row.reps == 0
