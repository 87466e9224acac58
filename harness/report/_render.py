"""Jinja rendering in which every number is a claim reference: ``{{ claim("id").value }}`` prints
``0.914 [0.855, 0.950] **SUPPORTED**`` wrapped in an invisible marker (``<!--c:id:STATUS-->...<!--/c-->``) that
the surface check reads. An unknown claim or field, or an undefined template variable, is a render error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.report._bundle import Bundle, ClaimEntry
from harness.report._values import (
    controls_text,
    estimate_text,
    interval_text,
    number,
    p_text,
    units_of,
    value_text,
)


class ReportError(HarnessError):
    """A report cannot be rendered or failed its surface check; the message names the claim, field or line."""


FIELDS = ("value", "full", "estimate", "interval", "n", "controls", "p", "expected", "badge", "statement",
          "reason", "method")
"""What ``claim("id").<field>`` can print (each with the claim's status badge)."""


def marker(status: str) -> str:
    return status.replace(" ", "_")


def badge(entry: ClaimEntry, mode: str) -> str:
    """The status in a form that survives plain Markdown (bold word) or as an HTML badge."""
    why = f" ({entry.stale_reason})" if entry.status in ("STALE", "NOT RUN") else ""
    if mode == "html":
        from markupsafe import escape

        cls = "v-" + entry.status.lower().replace(" ", "-")
        return f'<span class="badge {cls}">{entry.status}</span>{escape(why)}'
    return f"**{entry.status}**{why}"


def field_text(entry: ClaimEntry, name: str) -> str:
    """The plain text of one field (no badge, no marker). NOT RUN claims say so instead of numbers."""
    r = entry.result
    if name == "statement":
        return entry.statement
    if name == "expected":
        exp = entry.spec.expected if entry.spec is not None else None
        if not exp:
            return "no paper value recorded"
        u = units_of(entry.spec)
        if {"estimate", "low", "high"} <= set(exp):
            text = f"paper: {value_text({**exp, 'level': 0.95}, u)}"
        else:
            text = "paper: " + ", ".join(("" if k == "estimate" else f"{k} ") + number(float(v) / u.factor, u)
                                         for k, v in exp.items())
        return text
    if name == "badge":
        return ""
    if r is None:
        return "not run, GPU spec" if entry.needs_gpu else "not run"
    iv, u = r["interval"], units_of(entry.spec)
    if name == "value":
        return value_text(iv, u)
    if name == "estimate":
        return estimate_text(iv, u)
    if name == "interval":
        return interval_text(iv, u)
    if name == "n":
        return f"n = {iv['n']}"
    if name == "method":
        return str(iv.get("method", ""))
    if name == "controls":
        return controls_text(r.get("controls") or [], u)
    if name == "reason":
        return str(r.get("reason") or "no reason recorded (ledger record)")
    if name == "p":
        text = p_text(r.get("p_value"))
        if entry.holm_p is not None:
            text += f" (Holm-adjusted {p_text(entry.holm_p)})"
        return text
    if name == "full":
        extra = f", {p_text(r['p_value'])}" if r.get("p_value") is not None else ""
        return f"{value_text(iv, u)} (n = {iv['n']}, {iv.get('method', '')}{extra})"
    raise AssertionError(name)


def cite(entry: ClaimEntry, name: str, mode: str) -> str:
    """A field with its badge, wrapped in the claim marker the surface check reads."""
    from markupsafe import escape

    text = field_text(entry, name)
    body = (str(escape(text)) if mode == "html" else text)
    sep = " " if body else ""
    return f"<!--c:{entry.claim_id}:{marker(entry.status)}-->{body}{sep}{badge(entry, mode)}<!--/c-->"


class ClaimRef:
    """``claim("id")`` in a template: each attribute in FIELDS renders cited text; anything else raises."""

    def __init__(self, entry: ClaimEntry, mode: str) -> None:
        self._entry, self._mode = entry, mode

    @property
    def id(self) -> str:
        return self._entry.claim_id

    @property
    def status(self) -> str:
        return self._entry.status

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)  # jinja and markupsafe probe dunders (__html__) with hasattr
        if name not in FIELDS:
            import difflib

            close = difflib.get_close_matches(name, FIELDS, n=1)
            hint = f" Did you mean: {close[0]}?" if close else ""
            raise ReportError(f"claim {self._entry.claim_id!r} has no field {name!r}.{hint} Available: "
                              f"{', '.join(FIELDS)}")
        text = cite(self._entry, name, self._mode)
        if self._mode == "html":
            from markupsafe import Markup

            return Markup(text)
        return text

    def __str__(self) -> str:
        return str(self.value)

    def __html__(self) -> str:
        return str(self.value)


def lit(text: str) -> str:
    """A number the template states on purpose (a model name, a year): marked so the check allows it."""
    return f"<!--n-->{text}<!--/n-->"


def make_env(bundle: Bundle, mode: str, templates: Path | None = None) -> Any:
    """A Jinja environment with StrictUndefined and the ``claim`` / ``claims`` / ``lit`` globals."""
    import jinja2
    from markupsafe import Markup, escape

    loader = jinja2.FileSystemLoader(str(templates)) if templates is not None else None
    env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, autoescape=(mode == "html"),
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)

    def claim(claim_id: str) -> ClaimRef:
        try:
            return ClaimRef(bundle.get(claim_id), mode)
        except KeyError as exc:
            raise ReportError(str(exc.args[0])) from None

    def claims(stage: str | None = None, gpu: bool | None = None) -> list[ClaimRef]:
        out = [ClaimRef(e, mode) for _, e in sorted(bundle.entries.items())
               if (stage is None or e.stage == stage) and (gpu is None or e.needs_gpu == gpu)]
        if stage is not None and not out:
            raise ReportError(f"no claim has stage {stage!r}. Fix: use one of measurement, localization, "
                              "control, externality.")
        return out

    def lit_any(text: Any) -> str:
        return Markup(lit(str(escape(text)))) if mode == "html" else lit(str(text))

    # input paths are not results: their digits (a temp folder's name) are stated on purpose
    env.globals.update(claim=claim, claims=claims, lit=lit_any, sources=[lit_any(s) for s in bundle.sources])
    return env


def render_paper(bundle: Bundle, template: Path) -> str:
    """Render a Markdown template against the bundle.

    Raises:
        ReportError: unknown claim, unknown field, undefined variable or a template syntax error, with the
            template's file and line.
    """
    import jinja2

    if not template.is_file():
        raise ReportError(f"paper template {template} is not a file. Fix: pass --template <file.md.j2>.")
    env = make_env(bundle, "md", template.parent)
    try:
        return str(env.get_template(template.name).render())
    except jinja2.TemplateNotFound as exc:
        raise ReportError(f"{template}: included template {exc.name!r} not found next to it") from None
    except jinja2.UndefinedError as exc:
        raise ReportError(f"{template}: {exc} (undefined in the template). Fix: define it or cite a claim "
                          "field.") from None
    except jinja2.TemplateSyntaxError as exc:
        raise ReportError(f"{template}:{exc.lineno}: template syntax error: {exc.message}") from None
    except ReportError as exc:
        raise ReportError(f"{template}: {exc}") from None


def claim_numbers(entry: ClaimEntry) -> set[str]:
    """Every number token the claim's fields can print (what a marked span of this claim may contain)."""
    from harness.report._check import numbers_in

    out: set[str] = set()
    for name in FIELDS:
        out |= set(numbers_in(field_text(entry, name) + " " + badge(entry, "md")))
    return out
