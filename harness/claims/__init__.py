"""Claims: pydantic specs, YAML loading, orchestration and verdicts (the pytest plugin is ``plugin``).

Light on import: torch, transformers and sklearn are imported inside the functions that need them.
"""

from harness.claims._load import find_claims, load_claim
from harness.claims._result import ClaimResult, IntervalOut, Verdict, apply_rule
from harness.claims._spec import ClaimSpec

__all__ = ["ClaimResult", "ClaimSpec", "IntervalOut", "Verdict", "apply_rule", "find_claims", "load_claim"]
