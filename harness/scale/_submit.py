"""The compute stage of claims as a submitit job array writing into a shared artifact store.

Assertion runs afterwards, anywhere the store is mounted: ``pytest claims --claims-replay --claims-store <store>``
asserts from the stored row-level evidence without loading a model (plain ``pytest claims --claims-store``
also works, reading every cached stage and loading the model).
"""

from __future__ import annotations

import logging
import math
import re
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness.errors import HarnessError, SpecError

log = logging.getLogger(__name__)

ExecutorName = Literal["local", "slurm", "debug"]


class JobFailed(HarnessError):
    """One or more jobs failed; the message names each job's claims, its id and its stderr log."""

    def __init__(self, message: str, summaries: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.summaries = summaries
        """Summaries of the claims whose jobs did finish."""


@dataclass(frozen=True)
class ClaimJob:
    """One submitted job: the claims it computes, in order, and its submitit job."""

    claim_ids: tuple[str, ...]
    claim_paths: tuple[str, ...]
    job: Any
    """A ``submitit.Job``: ``job.state``, ``job.stderr()``, ``job.cancel()`` ..."""

    @property
    def job_id(self) -> str:
        return str(self.job.job_id)

    @property
    def stderr_path(self) -> Path:
        return Path(self.job.paths.stderr)


def compute_claim(claim_path: str, store_root: str, results_dir: str, *, session: Any = None) -> dict[str, Any]:
    """Run one claim into the store and write its result JSON; the body of a job.

    Args:
        claim_path: The claim's YAML file; its stem is the claim id.
        store_root: The shared artifact store every stage caches into.
        results_dir: Folder for ``<claim_id>.json`` (written atomically).
        session: A ``Session`` to share with other claims of the same job (its model is loaded once);
            a fresh one on ``store_root`` when omitted.

    Returns:
        ``claim_id``, ``verdict``, ``estimate``, ``low``, ``high``, ``reason``, ``wall_s``, ``host``; a claim that
        cannot run here (``SkipClaim``) gives verdict ``"SKIPPED"``, the reason, and no result file.
    """
    from harness.claims._load import load_claim
    from harness.claims._result import write_result
    from harness.claims._run import run_claim
    from harness.claims._session import Session, SkipClaim

    path = Path(claim_path)
    t0 = time.time()
    summary: dict[str, Any] = {"claim_id": path.stem, "host": socket.gethostname()}
    session = session if session is not None else Session(store_root=Path(store_root))
    try:
        result = run_claim(path.stem, load_claim(path), session)
    except SkipClaim as exc:
        summary.update(verdict="SKIPPED", estimate=None, low=None, high=None, reason=str(exc))
    else:
        # the result and its row-level evidence (replayable anywhere: replay: {path: ...}), as a pair
        write_result(Path(results_dir), result)
        iv = result.interval
        summary.update(verdict=result.verdict, estimate=iv.estimate, low=iv.low, high=iv.high, reason=result.reason)
    summary["wall_s"] = round(time.time() - t0, 2)
    log.info("claim %s: %s in %.1f s on %s", path.stem, summary["verdict"], summary["wall_s"], summary["host"])
    return summary


def compute_claims(claim_paths: Sequence[str], store_root: str, results_dir: str) -> list[dict[str, Any]]:
    """Run the claims of one job in one session, so the model they share is loaded once.

    Every claim is attempted; if any raised, the job fails afterwards with one error naming each of them
    (the others' results are written).
    """
    from harness.claims._session import Session

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    session = Session(store_root=Path(store_root))
    summaries, errors = [], []
    for p in claim_paths:
        try:
            summaries.append(compute_claim(p, store_root, results_dir, session=session))
        except Exception as exc:  # reported below, after the job's other claims ran
            log.exception("claim %s failed", Path(p).stem)
            errors.append(f"claim {Path(p).stem} ({p}): {type(exc).__name__}: {exc}")
    if errors:
        raise HarnessError("; ".join(errors))
    return summaries


def check_claims(claim_paths: Sequence[str | Path]) -> list[tuple[Path, Any]]:
    """Resolve and validate claim files (folders are searched for ``*.yaml``) before anything is submitted.

    Returns:
        ``(absolute path, ClaimSpec)`` per claim, in the order given.

    Raises:
        SpecError: every problem at once: a missing file, a malformed claim, a claim id used twice.
    """
    from harness.claims._load import find_claims, load_claim, missing_claim_message

    files: list[Path] = []
    problems: list[str] = []
    if not claim_paths:
        problems.append("no claim files given: pass claims/<id>.yaml files or a folder of them")
    for raw in claim_paths:
        p = Path(raw)
        if p.is_dir():
            try:
                found = list(find_claims(p).values())
            except SpecError as exc:
                problems.append(str(exc))
                continue
            files.extend(found)
            if not found:
                problems.append(f"{p}: a folder with no *.yaml claim files")
        elif p.is_file():
            files.append(p)
        else:
            problems.append(missing_claim_message(p))
    checked: dict[Path, Any] = {}
    for f in (f.resolve() for f in files):
        other = next((g for g in checked if g.stem == f.stem), None)
        if other == f:
            continue  # the same file given twice runs once
        if other is not None:
            problems.append(f"claim id {f.stem!r} is used by two files: {other} and {f}; rename one "
                            f"(both would write {f.stem}.json)")
            continue
        try:
            checked[f] = load_claim(f)
        except SpecError as exc:
            problems.append(str(exc))
    if problems:
        raise SpecError(f"nothing was submitted; {len(problems)} problem(s) in the claims given:\n"
                        + "\n".join(f"- {p}" for p in problems))
    return list(checked.items())


def plan_jobs(checked: Sequence[tuple[Path, Any]], *, claims_per_job: int = 1,
              max_jobs: int | None = None) -> list[list[Path]]:
    """Group claims into jobs: a job holds claims of one model only, so each job loads its model once.

    At most ``claims_per_job`` claims per job, raised where needed so that about ``max_jobs`` jobs come out
    (one extra per model at worst).
    """
    groups: dict[str, list[Path]] = {}
    for path, spec in checked:
        groups.setdefault(spec.model.model_dump_json(exclude={"prompt_style", "requires_gpu"}), []).append(path)
    size = max(1, claims_per_job)
    if max_jobs:
        size = max(size, math.ceil(len(checked) / max_jobs))
    return [paths[i:i + size] for paths in groups.values() for i in range(0, len(paths), size)]


def submit_claims(
    claim_paths: Sequence[str | Path], *, store_root: str | Path, results_dir: str | Path, folder: str | Path,
    executor: ExecutorName = "local", slurm_partition: str | None = None, timeout_min: int = 360,
    gpus_per_node: int = 0, cpus_per_task: int = 4, mem_gb: int = 16, array_parallelism: int = 16,
    claims_per_job: int = 1,
) -> list[ClaimJob]:
    """Submit the compute stage of claims as one job array (``executor.map_array``).

    Every job runs :func:`compute_claims` on its claims: all stages cache into ``store_root`` (file locks make
    concurrent jobs computing the same artifact wait for one another) and each result lands in
    ``results_dir/<claim_id>.json``. Jobs hold claims of one model only and load it once; ``claims_per_job``
    packs more claims sharing a model into a job (fewer model loads, less parallelism).

    Args:
        claim_paths: Claim files or folders of them; all are validated before anything is submitted.
        store_root: The shared artifact store (an absolute path is recorded; jobs may start elsewhere).
        results_dir: Folder for the result JSON files.
        folder: submitit's folder for pickles and the logs ``<job id>_0_log.err`` / ``.out``.
        executor: ``"slurm"`` (sbatch), ``"local"`` (subprocesses here; submitit starts every job at once,
            so at most about ``array_parallelism`` jobs are made) or ``"debug"`` (in this process when waited for; pdb opens on an error).
        slurm_partition: Slurm partition; ignored by the other executors.
        timeout_min: Wall-clock limit of a job.
        gpus_per_node: GPUs per job; a ``requires_gpu`` claim in a job without one ends SKIPPED.
        cpus_per_task: CPUs per job, also exported as ``OMP_NUM_THREADS`` for torch.
        mem_gb: Memory per job (Slurm).
        array_parallelism: Most jobs running at once.
        claims_per_job: Most claims per job (see :func:`plan_jobs`).

    Returns:
        One :class:`ClaimJob` per job; pass them to :func:`wait_for`.

    Raises:
        SpecError: a claim file is missing or malformed (nothing is submitted).
    """
    import submitit

    checked = check_claims(claim_paths)
    gpu_claims = [p.stem for p, spec in checked if spec.model.requires_gpu]
    if gpu_claims and gpus_per_node == 0 and executor != "debug":
        log.warning("claims %s need a GPU but jobs get none (gpus_per_node=0); they will end SKIPPED",
                    ", ".join(gpu_claims))
    plan = plan_jobs(checked, claims_per_job=claims_per_job,
                     max_jobs=array_parallelism if executor == "local" else None)
    ex = submitit.AutoExecutor(folder=Path(folder).resolve(), cluster=executor)
    threads = [f"export OMP_NUM_THREADS={cpus_per_task} MKL_NUM_THREADS={cpus_per_task}"]
    params: dict[str, Any] = dict(name="harness-claims", timeout_min=timeout_min, gpus_per_node=gpus_per_node,
                                  cpus_per_task=cpus_per_task, mem_gb=mem_gb, slurm_array_parallelism=array_parallelism,
                                  slurm_setup=threads, local_setup=threads)
    if slurm_partition:
        params["slurm_partition"] = slurm_partition
    ex.update_parameters(**params)
    store, results = str(Path(store_root).resolve()), str(Path(results_dir).resolve())
    jobs = ex.map_array(compute_claims, [[str(p) for p in paths] for paths in plan],
                        [store] * len(plan), [results] * len(plan))
    out = [ClaimJob(tuple(p.stem for p in paths), tuple(str(p) for p in paths), job)
           for paths, job in zip(plan, jobs, strict=True)]
    log.info("submitted %d claim(s) as %d %s job(s); store %s", len(checked), len(out), executor, store)
    return out


def wait_for(jobs: Sequence[ClaimJob]) -> list[dict[str, Any]]:
    """Wait for every job and return the claim summaries (see :func:`compute_claim`), in submission order.

    Raises:
        JobFailed: a job failed or never finished; the message gives, per failed job, its claims, job id,
            stderr log and the error; ``.summaries`` holds the claims that finished.
    """
    from submitit.core.utils import UncompletedJobError

    summaries: list[dict[str, Any]] = []
    failures: list[str] = []
    for cj in jobs:
        try:
            summaries.extend(cj.job.result())
        except UncompletedJobError as exc:
            failures.append(f"job {cj.job_id} (claims {', '.join(cj.claim_ids)}) failed: {_last_error(str(exc))}\n"
                            f"  stderr log: {cj.stderr_path}")
    if failures:
        raise JobFailed(f"{len(failures)} of {len(jobs)} job(s) failed:\n" + "\n".join(failures), summaries)
    return summaries


def _last_error(text: str) -> str:
    """The exception ending the job's traceback in submitit's error text, else the text's last lines."""
    m = re.search(r"-{22}\n(.*)\n-{22}\n", text, flags=re.DOTALL)
    lines = [ln for ln in (m.group(1) if m else text).splitlines() if ln.strip()]
    starts = [i for i, ln in enumerate(lines) if not ln.startswith((" ", "Traceback"))] if m else []
    tail = lines[starts[-1]:] if starts else lines[-10:]
    return "\n    ".join(tail)
