"""Reports from claim results only (no model): a Markdown paper whose every number cites a claim, a static
site of all claims with plots, and a surface check that fails the build on an unsourced or uncaveated number.

Pure Python + jinja2 on import; matplotlib is imported inside the plotting functions.
"""

from harness.report._bundle import STATUSES, Bundle, ClaimEntry, load_bundle
from harness.report._check import check_surface, html_surface, numbers_in
from harness.report._render import ReportError, make_env, render_paper

__all__ = ["STATUSES", "Bundle", "ClaimEntry", "ReportError", "check_surface", "html_surface", "load_bundle",
           "make_env", "numbers_in", "render_paper"]
