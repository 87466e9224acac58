"""Scale-out: the compute stage of claims as a submitit job array (Slurm, or local subprocesses).

Jobs write into a shared artifact store; the assertion stage (``pytest claims --claims-store <store>``) then
runs anywhere that store is mounted. Light on import: submitit and torch load inside the functions.
"""

from harness.scale._submit import (
    ClaimJob,
    JobFailed,
    check_claims,
    compute_claim,
    compute_claims,
    plan_jobs,
    submit_claims,
    wait_for,
)

__all__ = [
    "ClaimJob",
    "JobFailed",
    "check_claims",
    "compute_claim",
    "compute_claims",
    "plan_jobs",
    "submit_claims",
    "wait_for",
]
