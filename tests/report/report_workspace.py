"""A synthetic report workspace: five real claim files and hand-made results, one of each status.

SUPPORTED hneuron_detector_auroc (detector rows + shuffled-label refits), INCONCLUSIVE
hneuron_minus_random_slope (treatment and control rows over alphas), REFUTED qa_accuracy_llm_adjudication (no
rows), STALE hneuron_scaling_counterfactual_slope (result made from another spec), NOT RUN
gemma3_4b_it_hneuron_detector_auroc (a GPU spec without a result).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
STATUS = {"hneuron_detector_auroc": "SUPPORTED", "hneuron_minus_random_slope": "INCONCLUSIVE",
          "qa_accuracy_llm_adjudication": "REFUTED", "hneuron_scaling_counterfactual_slope": "STALE",
          "gemma3_4b_it_hneuron_detector_auroc": "NOT RUN"}


@dataclass
class Workspace:
    claims: Path
    results: Path
    root: Path


def _iv(est: float, low: float, high: float, n: int, method: str = "bca") -> dict:
    return {"estimate": est, "low": low, "high": high, "method": method, "level": 0.95, "n": n,
            "n_resamples": 2000, "seed": 0}


def _write(results: Path, claims: Path, cid: str, verdict: str, interval: dict, *, controls=(), details=None,
           p_value=None, evidence=None, stale: bool = False) -> None:
    from harness.claims import ClaimResult, load_claim
    from harness.claims._result import write_result
    from harness.claims._run import spec_hash

    h = "0" * 64 if stale else spec_hash(load_claim(claims / f"{cid}.yaml"))
    result = ClaimResult(claim_id=cid, statement="(as run)", verdict=verdict, reason=f"{verdict.lower()} by rule",
                         rule="rule", interval=interval, controls=list(controls), details=details or {},
                         p_value=p_value, p_method="sign-flip" if p_value is not None else "",
                         provenance={"spec_hash": h, "git": {"commit": "abc", "dirty": False}})
    result._evidence = evidence
    write_result(results, result, rows=evidence is not None)


def _detector(results: Path, claims: Path) -> None:
    from harness.claims._evidence import Evidence

    rng = np.random.default_rng(0)
    ids = [f"q{i}" for i in range(40)]
    y = np.array([i % 2 for i in range(40)])
    ev = Evidence(rows=[])
    ev.add("detector", ids, y * 1.5 + rng.normal(0, 1, 40), labels=y)
    controls = []
    for s in range(5):
        ev.add(f"control/shuffled_labels/{s}", ids, rng.normal(0, 1, 40), labels=y)
        e = 0.45 + 0.02 * s
        controls.append({"kind": "shuffled_labels", "seed": s, "interval": _iv(e, e - 0.1, e + 0.1, 40)})
    _write(results, claims, "hneuron_detector_auroc", "SUPPORTED", _iv(0.8125, 0.7031, 0.9102, 40,
           "stratified-bca"), controls=controls, details={"n_test": 40, "n_positive": 20}, evidence=ev)


def _intervention(results: Path, claims: Path) -> None:
    from harness.claims._evidence import Evidence

    rng = np.random.default_rng(1)
    alphas = (0.0, 1.0, 2.0, 3.0)
    ids = [str(i) for i in range(30)]  # bare numeric ids, as TruthfulQA rows have: the flip table must cite them
    ev = Evidence(rows=[])
    for a in alphas:
        ev.add("treatment", ids, -0.05 * a + rng.normal(0, 0.3, 30), alpha=a)
    controls = []
    for s in range(3):
        for a in alphas:
            ev.add(f"control/random_neurons/{s}", ids, 0.01 * s * a + rng.normal(0, 0.3, 30), alpha=a)
        controls.append({"kind": "random_neurons", "seed": s, "interval": _iv(0.01 * s, -0.05, 0.06, 30)})
    _write(results, claims, "hneuron_minus_random_slope", "INCONCLUSIVE", _iv(-0.0412, -0.0977, 0.0153, 30),
           controls=controls, p_value=0.0734, evidence=ev,
           details={"alphas": list(alphas), "metric": "target_margin", "n_items": 30, "treatment_slope": -0.05,
                    "mean_by_alpha": {str(a): -0.05 * a for a in alphas}})


def build_workspace(tmp_path: Path) -> Workspace:
    claims, results = tmp_path / "claims", tmp_path / "results"
    claims.mkdir()
    results.mkdir()
    for cid in STATUS:
        shutil.copy(REPO / "claims" / f"{cid}.yaml", claims / f"{cid}.yaml")
    _detector(results, claims)
    _intervention(results, claims)
    _write(results, claims, "qa_accuracy_llm_adjudication", "REFUTED", _iv(-1.25, -2.5, -0.25, 400), p_value=0.0312)
    _write(results, claims, "hneuron_scaling_counterfactual_slope", "SUPPORTED", _iv(-0.1152, -0.1474, -0.0813, 120),
           stale=True, details={"alphas": [0, 1, 2, 3], "metric": "target_margin",
                                "mean_by_alpha": {"0": 0.1, "1": 0.0, "2": -0.1, "3": -0.2}})
    return Workspace(claims=claims, results=results, root=tmp_path)
