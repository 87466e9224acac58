"""Simulations that check the verifier's statistics: coverage of every interval method on data with a known
truth, and the claim gate's false-positive share and power (`python -m harness.simulate`).

Pure numpy/scipy around the real `harness.stats` functions and the real assertion stage.
"""

from harness.simulate._coverage import (
    FLOOR,
    NOMINAL,
    SCENARIOS,
    CoverageRow,
    Scenario,
    run_scenario,
    scenario,
)
from harness.simulate._doc import coverage_table, gate_tables, splice, under_floor
from harness.simulate._gate import FAMILY, FAMILY_ALPHA, FamilyRow, GateRow, Member, run_gate

__all__ = [
    "FAMILY",
    "FAMILY_ALPHA",
    "FLOOR",
    "NOMINAL",
    "SCENARIOS",
    "CoverageRow",
    "FamilyRow",
    "GateRow",
    "Member",
    "Scenario",
    "coverage_table",
    "gate_tables",
    "run_gate",
    "run_scenario",
    "scenario",
    "splice",
    "under_floor",
]
