"""``python -m harness.report``: render the paper and the site from claim results, then check their surfaces.

Exit status: 0 clean; 1 the surface check failed (the files are written, the problems printed); 2 the report
could not be rendered (unknown claim or field, unreadable input).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from harness.errors import HarnessError

log = logging.getLogger("harness.report")
REPO = Path(__file__).resolve().parents[2]


def build(results: Path, claims: Path, template: Path, out: Path, ledgers: tuple[Path, ...] = ()) -> list[str]:
    """Render ``out/paper.md`` and ``out/site/``; return the surface check's problems (empty when clean).

    Raises:
        ReportError: the paper does not render (unknown claim or field, undefined variable).
        DataError: an input file is unreadable.
    """
    from harness.report._bundle import load_bundle
    from harness.report._check import check_surface, html_surface
    from harness.report._render import render_paper
    from harness.report._site import write_site

    bundle = load_bundle(results, claims, ledgers)
    paper = render_paper(bundle, template)
    out.mkdir(parents=True, exist_ok=True)
    (out / "paper.md").write_text(paper)
    pages = write_site(bundle, out / "site", paper)
    problems = check_surface(paper, bundle, str(out / "paper.md"))
    for page in pages:
        problems += check_surface(html_surface(page.read_text()), bundle, str(page))
    return problems


def check_files(files: list[Path], results: Path, claims: Path, ledgers: tuple[Path, ...] = ()) -> list[str]:
    """The surface check of rendered files against the current claims and results."""
    from harness.errors import DataError
    from harness.report._bundle import load_bundle
    from harness.report._check import check_surface, html_surface

    bundle = load_bundle(results, claims, ledgers)
    problems: list[str] = []
    for path in files:
        if not path.is_file():
            raise DataError(f"{path} does not exist. Fix: render it first (python -m harness.report).")
        text = path.read_text()
        problems += check_surface(html_surface(text) if path.suffix == ".html" else text, bundle, str(path))
    return problems


def main(argv: list[str] | None = None) -> int:
    from harness.store import data_dir

    ap = argparse.ArgumentParser(prog="python -m harness.report", description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=None, help="claim results folder (default: <data dir>/results)")
    ap.add_argument("--claims", type=Path, default=REPO / "claims", help="folder of claim YAML files")
    ap.add_argument("--template", type=Path, default=REPO / "reports" / "paper.md.j2", help="paper template")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: <data dir>/report)")
    ap.add_argument("--ledger", type=Path, action="append", default=None,
                    help="ledger whose records stand in for claims without a result file (repeatable; default: "
                         "reports/ledger.json, the committed baseline)")
    ap.add_argument("--no-ledger", action="store_true", help="use result files only")
    ap.add_argument("--check", type=Path, nargs="+", default=None, metavar="FILE",
                    help="only check already rendered files (.md, .html) against the current claims and results "
                         "(e.g. the committed reports/paper.md)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    results = args.results or data_dir() / "results"
    out = args.out or data_dir() / "report"
    ledgers = () if args.no_ledger else tuple(args.ledger or [REPO / "reports" / "ledger.json"])
    try:
        if args.check:
            problems = check_files(args.check, results, args.claims, ledgers)
        else:
            problems = build(results, args.claims, args.template, out, ledgers)
    except HarnessError as exc:
        print(f"report not rendered: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if problems:
        print(f"report surface check failed ({len(problems)} problem(s)):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    if args.check:
        print(f"checked {len(args.check)} file(s): every number cites a claim with its current status")
    else:
        print(f"paper: {out / 'paper.md'}\nsite:  {out / 'site' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
