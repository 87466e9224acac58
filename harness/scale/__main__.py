"""``python -m harness.scale submit claims/*.yaml --executor slurm ...``: the compute stage as a job array.

Prints one line per job (its claims, job id, stderr log); with ``--wait`` one line per claim result. Exit
status: 0 done (or submitted), 1 a job failed, 2 a claim file is missing or malformed (nothing submitted).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from harness.errors import SpecError


def _parser() -> argparse.ArgumentParser:
    from harness.store import data_dir

    parser = argparse.ArgumentParser(prog="python -m harness.scale", description="Submit the compute stage of claims as a submitit job array.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("submit", help="submit the compute stage of claims as a job array")
    p.add_argument("claims", nargs="+", help="claim files (claims/<id>.yaml) or folders of them")
    p.add_argument("--executor", choices=["local", "slurm", "debug"], default="local")
    p.add_argument("--store", default=str(data_dir() / "cache"), help="shared artifact store (default: %(default)s)")
    p.add_argument("--results", default=str(data_dir() / "results"), help="result JSON folder (default: %(default)s)")
    p.add_argument("--folder", default=str(data_dir() / "jobs"), help="submitit logs and pickles (default: %(default)s)")
    p.add_argument("--wait", action="store_true", help="wait for the jobs and print one line per result")
    p.add_argument("--partition", default=None, help="Slurm partition")
    p.add_argument("--timeout-min", type=int, default=360)
    p.add_argument("--gpus-per-node", type=int, default=0)
    p.add_argument("--cpus-per-task", type=int, default=4)
    p.add_argument("--mem-gb", type=int, default=16)
    p.add_argument("--array-parallelism", type=int, default=16, help="most jobs running at once")
    p.add_argument("--claims-per-job", type=int, default=1,
                   help="most claims (sharing a model) per job; each job loads its model once")
    return parser


def _result_line(s: dict[str, Any]) -> str:
    if s["estimate"] is None:
        return f"{s['verdict']:<12} {s['claim_id']}: {s['reason']}"
    return (f"{s['verdict']:<12} {s['claim_id']}: {s['estimate']:.3f} [{s['low']:.3f}, {s['high']:.3f}] "
            f"({s['wall_s']:.1f} s on {s['host']})")


def main(argv: list[str] | None = None) -> int:
    from harness.scale import JobFailed, submit_claims, wait_for

    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        jobs = submit_claims(
            args.claims, store_root=args.store, results_dir=args.results, folder=args.folder,
            executor=args.executor, slurm_partition=args.partition, timeout_min=args.timeout_min,
            gpus_per_node=args.gpus_per_node, cpus_per_task=args.cpus_per_task, mem_gb=args.mem_gb,
            array_parallelism=args.array_parallelism, claims_per_job=args.claims_per_job)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 2
    for j in jobs:
        print(f"job {j.job_id}  {', '.join(j.claim_ids)}  log {j.stderr_path}", flush=True)
    if not args.wait:
        print(f"then assert anywhere the store is mounted: python -m pytest claims --claims-store={args.store}")
        return 0
    try:
        summaries = wait_for(jobs)
    except JobFailed as exc:
        for s in exc.summaries:
            print(_result_line(s))
        print(exc, file=sys.stderr)
        return 1
    for s in summaries:
        print(_result_line(s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
