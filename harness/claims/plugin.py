"""pytest plugin: every ``claims/*.yaml`` file is a test item whose verdict decides pass or fail.

Registered through the ``pytest11`` entry point. Imported by every pytest run, so it imports no torch,
transformers or sklearn at module level: the pipeline is imported inside ``runtest``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessError, SpecError

_SESSION = pytest.StashKey[Any]()
_PROP = "harness_claim_result"
_INFRA = "harness_infrastructure_error"
_GATE = "harness_gate"
EXIT_REGRESSION = 10
"""Exit status of a gated run in which a claim regressed against the committed ledger."""
EXIT_INFRASTRUCTURE = 11
"""Exit status of a gated run in which a claim could not run or a claim file could not be collected."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "claim verification")
    group.addoption("--claims-results", default=None,
                    help="folder for one JSON result per claim (default: <data dir>/results)")
    group.addoption("--claims-store", default=None, help="artifact store folder (default: <data dir>/cache)")
    group.addoption("--claims-ledger", default=None,
                    help="baseline ledger to gate against / update (default: <rootdir>/reports/ledger.json)")
    group.addoption("--claims-gate", action="store_true",
                    help="compare every claim with its baseline record: a SUPPORTED claim that is no longer "
                         f"SUPPORTED, or an estimate outside the baseline interval, fails (exit {EXIT_REGRESSION}); "
                         "a claim whose spec, model or data changed is reported stale; a claim matching its "
                         f"baseline passes whatever its verdict. Infrastructure errors exit {EXIT_INFRASTRUCTURE}.")
    group.addoption("--claims-replay", action="store_true",
                    help="re-assert every claim from the row-level evidence its last live run left in the store, "
                         "without loading a model (a claim with no stored evidence is skipped, saying why)")
    group.addoption("--claims-update-baseline", action="store_true",
                    help="write this run's records into the baseline ledger (commit it to accept them)")
    parser.addini("harness_claim_dirs", "folder names whose *.yaml files are claims", type="args",
                  default=["claims"])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "claim: an executable claim collected from claims/*.yaml")
    config.addinivalue_line("markers", "gpu: the claim's model is meant for a CUDA GPU")


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``--dist loadgroup``, schedule claims by model (see ``_xdist``: xdist's own grouping is broken
    on pytest 9.2)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from harness.claims._xdist import ModelGroupScheduling

    return ModelGroupScheduling(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    """A claim file named on the command line that does not exist: say which claim ids are close (pytest's own
    message only says 'file or directory not found')."""
    dirs = session.config.getini("harness_claim_dirs")
    root = session.config.invocation_params.dir
    for arg in session.config.args:
        path = Path(arg.split("::")[0])
        path = path if path.is_absolute() else root / path
        if path.suffix in (".yaml", ".yml") and path.parent.name in dirs and not path.exists():
            from harness.claims._load import missing_claim_message

            raise pytest.UsageError(f"unknown claim: {missing_claim_message(path)}")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    dirs = parent.config.getini("harness_claim_dirs")
    if file_path.suffix in (".yaml", ".yml") and file_path.parent.name in dirs:
        return ClaimFile.from_parent(parent, path=file_path)
    return None


def _session(config: pytest.Config) -> Any:
    if _SESSION not in config.stash:
        from harness.claims._session import Session

        store = config.getoption("--claims-store")
        config.stash[_SESSION] = Session(store_root=Path(store) if store else None)
    return config.stash[_SESSION]


class ClaimFile(pytest.File):
    """A claim YAML file: one item, or a collection error naming the field and the fix."""

    def collect(self) -> Any:
        from harness.claims._load import load_claim

        try:
            spec = load_claim(self.path)
        except SpecError as exc:
            raise self.CollectError(str(exc)) from None
        item = ClaimItem.from_parent(self, name=self.path.stem, spec=spec)
        item.add_marker(pytest.mark.claim)
        # claims on one model share a worker under --dist loadgroup, so each worker loads a model once
        item.add_marker(pytest.mark.xdist_group(spec.model.path or spec.model.kind))
        if spec.model.requires_gpu:
            item.add_marker(pytest.mark.gpu)
        yield item


class ClaimFailed(Exception):
    """The claim ran and its data does not support it (REFUTED or INCONCLUSIVE)."""

    def __init__(self, result: Any) -> None:
        super().__init__(result.verdict)
        self.result = result


class ClaimRegressed(Exception):
    """The claim regressed against its baseline ledger record (--claims-gate)."""

    def __init__(self, message: str, result: Any) -> None:
        super().__init__(message)
        self.message = message
        self.result = result


def _ledger_path(config: pytest.Config) -> Path:
    opt = config.getoption("--claims-ledger")
    return Path(opt) if opt else Path(str(config.rootpath)) / "reports" / "ledger.json"


class ClaimItem(pytest.Item):
    """Runs one claim; passes when SUPPORTED, fails with the estimate, interval, rule and controls otherwise."""

    def __init__(self, *, spec: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.result: Any = None

    def runtest(self) -> None:
        from harness.claims._run import run_claim
        from harness.claims._session import SkipClaim

        try:
            self.result = run_claim(self.name, self.spec, _session(self.config),
                                    replay=bool(self.config.getoption("--claims-replay")))
        except SkipClaim as exc:
            pytest.skip(f"claim {self.name}: {exc}")
        except Exception as exc:
            self.user_properties.append((_INFRA, f"{type(exc).__name__}: {exc}"))
            raise
        self.user_properties.append((_PROP, self.result.model_dump_json()))
        _write_result(self.config, self.result)
        if self.config.getoption("--claims-gate"):
            from harness.claims._ledger import gate, ledger_record, read_ledger

            record = ledger_record(json.loads(self.result.model_dump_json()))
            outcome = gate(record, read_ledger(_ledger_path(self.config)).get(self.name))
            self.user_properties.append((_GATE, json.dumps([outcome.status, outcome.message])))
            if outcome.status == "regression":
                raise ClaimRegressed(outcome.message, self.result)
            if outcome.status != "new":
                return  # not a regression: the verdict is in the summary, the gate passes
        if self.result.verdict != "SUPPORTED":
            raise ClaimFailed(self.result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ClaimRegressed):
            return f"REGRESSION {excinfo.value.message}\n{excinfo.value.result.report()}"
        if isinstance(excinfo.value, ClaimFailed):
            return excinfo.value.result.report()
        if isinstance(excinfo.value, HarnessError):  # bad input: the message names what, where and the fix
            return f"claim {self.name} could not run: {type(excinfo.value).__name__}: {excinfo.value}"
        return super().repr_failure(excinfo, style="short")

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"claim {self.name}: {self.spec.statement}"


def _write_result(config: pytest.Config, result: Any) -> None:
    """The result JSON and, for a live run, its row-level evidence (replayable: ``replay: {path: ...}``)."""
    from harness.claims._result import write_result
    from harness.store import data_dir

    folder = config.getoption("--claims-results")
    live = result._evidence is not None and result._evidence.source == "live run"
    write_result(Path(folder) if folder else data_dir() / "results", result, rows=live)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for name, value in report.user_properties:
        if name == _PROP:
            _LAST_RESULTS[report.nodeid] = json.loads(str(value))
        elif name == _GATE:
            _GATE_OUTCOMES[report.nodeid] = json.loads(str(value))
        elif name == _INFRA:
            _INFRA_ERRORS[report.nodeid] = str(value)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed and str(report.nodeid).endswith((".yaml", ".yml")):
        _INFRA_ERRORS[report.nodeid] = "claim file could not be collected"


_LAST_RESULTS: dict[str, dict[str, Any]] = {}
_LEDGER_ERRORS: list[str] = []
_GATE_OUTCOMES: dict[str, list[str]] = {}
_INFRA_ERRORS: dict[str, str] = {}


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Controller only: write this run's ledger records; update the baseline on request; gated exit codes."""
    config = session.config
    if hasattr(config, "workerinput") or not _LAST_RESULTS:
        _gate_exit(session)
        return
    from harness.claims._ledger import ledger_record, read_ledger, write_ledger
    from harness.store import data_dir

    records = {r["claim_id"]: ledger_record(r) for r in _LAST_RESULTS.values()}
    folder = config.getoption("--claims-results")
    run_ledger = (Path(folder) if folder else data_dir() / "results") / "_ledger.json"
    try:
        write_ledger(run_ledger, {**read_ledger(run_ledger), **records})
        if config.getoption("--claims-update-baseline"):
            path = _ledger_path(config)
            write_ledger(path, {**read_ledger(path), **records})
    except HarnessError as exc:  # a full disk or a malformed ledger: the ledger keeps its previous content
        _LEDGER_ERRORS.append(f"{type(exc).__name__}: {exc}")
        session.exitstatus = EXIT_INFRASTRUCTURE if config.getoption("--claims-gate") else pytest.ExitCode.TESTS_FAILED
    _gate_exit(session)


def _gate_exit(session: pytest.Session) -> None:
    if not session.config.getoption("--claims-gate") or hasattr(session.config, "workerinput"):
        return
    if _INFRA_ERRORS:
        session.exitstatus = EXIT_INFRASTRUCTURE
    elif any(status == "regression" for status, _ in _GATE_OUTCOMES.values()):
        session.exitstatus = EXIT_REGRESSION


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    tr = terminalreporter
    for error in _LEDGER_ERRORS:
        tr.section("run ledger not written", red=True)
        tr.write_line(error)
    if _LAST_RESULTS:
        tr.section("claim verdicts")
        for r in sorted(_LAST_RESULTS.values(), key=lambda r: r["claim_id"]):
            iv = r["interval"]
            tr.write_line(f"{r['verdict']:<12} {r['claim_id']}: {iv['estimate']:.3f} [{iv['low']:.3f}, "
                          f"{iv['high']:.3f}] ({iv['method']}, n={iv['n']}) -- {r['reason']}")
        _holm_section(tr, config, list(_LAST_RESULTS.values()))
    if _GATE_OUTCOMES or (_INFRA_ERRORS and config.getoption("--claims-gate")):
        tr.section(f"regression gate against {_ledger_path(config)}")
        for status, message in sorted(_GATE_OUTCOMES.values()):
            tr.write_line(f"{status.upper():<11} {message}")
        for nodeid, error in sorted(_INFRA_ERRORS.items()):
            tr.write_line(f"INFRASTRUCTURE {nodeid}: {error}")


def pytest_unconfigure(config: pytest.Config) -> None:
    # module-level state is per pytest run (in-process pytester runs share the module)
    _LAST_RESULTS.clear()
    _LEDGER_ERRORS.clear()
    _GATE_OUTCOMES.clear()
    _INFRA_ERRORS.clear()


def _holm_section(tr: Any, config: pytest.Config, results: list[dict[str, Any]]) -> None:
    """Holm-adjusted p-values across the claims of this run that report a test p-value (also saved)."""
    from harness.stats import holm
    from harness.store import atomic_write_json, data_dir

    pvals = {r["claim_id"]: float(r["p_value"]) for r in results if r.get("p_value") is not None}
    if not pvals:
        return
    adjusted = holm(pvals)
    tr.section(f"Holm correction across the {len(pvals)} claims with a p-value in this run")
    for cid in sorted(pvals, key=lambda c: pvals[c]):
        tr.write_line(f"{cid}: p = {pvals[cid]:.4g} -> Holm {adjusted[cid]:.4g}"
                      f"{'' if adjusted[cid] < 0.05 else '  (not significant at 0.05 after correction)'}")
    folder = config.getoption("--claims-results")
    out = Path(folder) if folder else data_dir() / "results"
    try:
        atomic_write_json(out / "_holm.json", {"method": "Holm-Bonferroni over the claims of one pytest run",
                                               "p_values": pvals, "adjusted": adjusted})
    except HarnessError as exc:  # e.g. a full disk: the printed table above stands, the file is not written
        tr.write_line(f"{out / '_holm.json'} not written: {type(exc).__name__}: {exc}")


