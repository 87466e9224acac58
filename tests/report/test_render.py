"""Rendering the paper: badges per status, render errors for unknown claims and fields, the surface check."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from report_workspace import REPO, STATUS

TEMPLATE = """# Test paper on {{ lit("Gemma 3 270M") }}
{% for cid in ids %}
- {{ cid }}: {{ claim(cid).value }}
{% endfor %}
p: {{ claim("hneuron_minus_random_slope").p }}; controls: {{ claim("hneuron_detector_auroc").controls }}.
"""


def _render(bundle, tmp_path, text, name="t.md.j2"):
    from harness.report import render_paper

    (tmp_path / name).write_text(text)
    return render_paper(bundle, tmp_path / name)


def test_statuses_come_from_results_and_specs(bundle):
    assert {cid: bundle.entries[cid].status for cid in STATUS} == STATUS
    assert "claim file changed" in bundle.entries["hneuron_scaling_counterfactual_slope"].stale_reason
    assert "GPU spec" in bundle.entries["gemma3_4b_it_hneuron_detector_auroc"].stale_reason


def test_each_citation_carries_its_claims_badge(bundle, tmp_path):
    from harness.report import check_surface

    text = _render(bundle, tmp_path, "{% set ids = " + repr(sorted(STATUS)) + " %}" + TEMPLATE)
    lines = {line.split(":")[0].strip("- "): line for line in text.splitlines() if line.startswith("- ")}
    assert "0.812 [0.703, 0.910] **SUPPORTED**" in lines["hneuron_detector_auroc"]
    assert "-0.041 [-0.098, +0.015] nats per unit alpha **INCONCLUSIVE**" in lines["hneuron_minus_random_slope"]
    assert "-1.2 [-2.5, -0.25] pp **REFUTED**" in lines["qa_accuracy_llm_adjudication"]
    assert "-0.115 [-0.147, -0.081] nats per unit alpha **STALE** (was SUPPORTED" in lines[
        "hneuron_scaling_counterfactual_slope"]
    assert "not run, GPU spec **NOT RUN**" in lines["gemma3_4b_it_hneuron_detector_auroc"]
    assert "p = 0.073 **INCONCLUSIVE**" in text
    assert "5 shuffled_labels seeds: 0.450 to 0.530 **SUPPORTED**" in text
    assert check_surface(text, bundle, "t.md") == []


def test_paper_values_of_a_gpu_claim_render_beside_not_run(bundle, tmp_path):
    text = _render(bundle, tmp_path, '{{ claim("gemma3_4b_it_hneuron_detector_auroc").expected }}')
    assert "paper: 0.843 **NOT RUN** (GPU spec" in text


@pytest.mark.parametrize(("template", "message"), [
    ('{{ claim("hneuron_detector_aurco").value }}', "unknown claim 'hneuron_detector_aurco'. Did you mean: "
                                                     "hneuron_detector_auroc?"),
    ('{{ claim("no_such_claim") }}', "unknown claim 'no_such_claim'"),
    ('{{ claim("hneuron_detector_auroc").estimat }}', "has no field 'estimat'. Did you mean: estimate?"),
    ("{{ auroc }}", "'auroc' is undefined"),
    ("{% if %}", "template syntax error"),
])
def test_unknown_claim_field_or_variable_is_a_render_error(bundle, tmp_path, template, message):
    from harness.report import ReportError

    with pytest.raises(ReportError, match=re.escape(message)):
        _render(bundle, tmp_path, template)


def test_surface_check_catches_a_hand_typed_number(bundle, tmp_path):
    from harness.report import check_surface

    text = _render(bundle, tmp_path, 'AUROC {{ claim("hneuron_detector_auroc").value }}.\nThe probe hit 0.91 on '
                                     'the test set.\n')
    problems = check_surface(text, bundle, "p.md")
    assert len(problems) == 1 and "p.md:2: number(s) 0.91 without a claim source" in problems[0]


def test_surface_check_catches_a_stale_or_failing_claim_cited_without_saying_so(bundle, tmp_path):
    from harness.report import check_surface

    text = _render(bundle, tmp_path, '{{ claim("hneuron_scaling_counterfactual_slope").value }}\n'
                                     '{{ claim("qa_accuracy_llm_adjudication").value }}\n')
    assert check_surface(text, bundle, "p.md") == []
    stale_hidden = re.sub(r"\*\*STALE\*\*[^<]*", "", text)
    assert any("is STALE but the citation does not say so" in p for p in check_surface(stale_hidden, bundle, "p"))
    failing_as_pass = text.replace(":REFUTED-->", ":SUPPORTED-->").replace("**REFUTED**", "**SUPPORTED**")
    assert any("cited as SUPPORTED but is now REFUTED" in p for p in check_surface(failing_as_pass, bundle, "p"))
    edited = text.replace("-1.2 [", "-0.4 [")
    assert any("number(s) -0.4 inside the citation" in p for p in check_surface(edited, bundle, "p"))


def test_a_citation_of_a_claim_that_does_not_exist_fails_the_check(bundle):
    from harness.report import check_surface

    problems = check_surface("<!--c:ghost:SUPPORTED-->0.9 **SUPPORTED**<!--/c-->", bundle, "p")
    assert problems == ["p:1: cites claim 'ghost', which has no claim file or result"]


def test_numbers_inside_names_are_not_numbers():
    from harness.report import numbers_in

    assert numbers_in("Gemma-3-4B-IT, 270M, gemma3_4b, 3v1, p = 0.05, n=148, [-0.1, +2.0] 85.8%.") == [
        "0.05", "148", "-0.1", "+2.0", "85.8%"]


def test_values_use_one_format_per_estimand():
    from harness.report._values import Units, number, p_text, value_text

    pp = Units("pp", factor=1.0, signed=True, suffix="pp")
    assert value_text({"estimate": -37.0, "low": -42.33, "high": -31.3, "level": 0.95}, pp) == "-37.0 [-42.3, -31.3] pp"
    assert value_text({"estimate": 0.858, "low": 0.79, "high": 0.905, "level": 0.9}, Units("rate", factor=100.0)) == (
        "85.8% [79.0%, 90.5%] (90% interval)")
    assert number(-0.0001, Units("auroc_diff", signed=True)) == "0.000"
    assert (p_text(0.00009), p_text(0.0537), p_text(None)) == ("p < 0.001", "p = 0.054", "p n/a")
    with pytest.raises(ValueError, match="not a finite number"):
        number(float("nan"), pp)


def test_cli_builds_checks_and_fails_on_a_missing_claim(workspace, tmp_path):
    from harness.report.__main__ import main

    out = tmp_path / "out"
    args = ["--results", str(workspace.results), "--claims", str(workspace.claims), "--out", str(out), "--no-ledger"]
    good = tmp_path / "good.md.j2"
    good.write_text('{{ claim("hneuron_detector_auroc").full }}\n')
    assert main([*args, "--template", str(good)]) == 0
    assert (out / "paper.md").exists() and (out / "site" / "index.html").exists()
    typed = tmp_path / "typed.md.j2"
    typed.write_text('{{ claim("hneuron_detector_auroc").full }} and 0.99 by hand\n')
    assert main([*args, "--template", str(typed)]) == 1
    missing = tmp_path / "missing.md.j2"
    missing.write_text('{{ claim("hneuron_detector_auroc_v2").full }}\n')
    assert main([*args, "--template", str(missing)]) == 2


def test_shipped_paper_renders_and_passes_its_check_from_the_committed_ledger(tmp_path):
    """The real template against the real claim files, with no results: the baseline ledger stands in, and
    claims without a record say NOT RUN instead of crashing."""
    res = subprocess.run([sys.executable, "-m", "harness.report", "--results", str(tmp_path / "none"),
                          "--out", str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    paper = (tmp_path / "out" / "paper.md").read_text()
    for section in ("Question", "Setup", "Detection", "Control", "Externality", "Measurement", "Limitations"):
        assert f"## {section}" in paper
    assert "not run, GPU spec **NOT RUN**" in paper and "paper: 0.843" in paper


def test_a_rendered_copy_fails_its_check_once_a_cited_claim_goes_stale(workspace, tmp_path):
    from harness.report.__main__ import check_files, main

    template = tmp_path / "p.md.j2"
    template.write_text('AUROC {{ claim("hneuron_detector_auroc").value }}\n')
    args = ["--results", str(workspace.results), "--claims", str(workspace.claims), "--no-ledger"]
    assert main([*args, "--template", str(template), "--out", str(tmp_path / "out")]) == 0
    paper = tmp_path / "out" / "paper.md"
    assert check_files([paper], workspace.results, workspace.claims) == []
    spec = workspace.claims / "hneuron_detector_auroc.yaml"
    spec.write_text(spec.read_text().replace("seeds: 5", "seeds: 6"))  # the claim changed after the render
    problems = check_files([paper], workspace.results, workspace.claims)
    assert any("cited as SUPPORTED but is now STALE" in p for p in problems)
    assert main([*args, "--check", str(paper)]) == 1


def test_rendering_imports_no_model_stack(workspace):
    """A report rebuilds without a model: loading, rendering and checking import neither torch, transformers,
    sklearn nor matplotlib (plots import it inside their functions)."""
    code = ("import sys; from pathlib import Path; import harness.report as r; "
            f"b = r.load_bundle(Path({str(workspace.results)!r}), Path({str(workspace.claims)!r})); "
            "env = r.make_env(b, 'md'); t = env.from_string('{{ claim(\"hneuron_detector_auroc\").full }}').render(); "
            "assert r.check_surface(t, b, 't') == []; "
            "print(sorted(m for m in ('torch', 'transformers', 'sklearn', 'matplotlib') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
