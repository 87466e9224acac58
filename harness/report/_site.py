"""The static site: ``index.html`` (every claim, filterable by verdict and stage) and one page per claim with
its numbers, plots, example items, spec and provenance. Self-contained: inline CSS and JS, local PNGs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.report._bundle import STATUSES, Bundle, ClaimEntry
from harness.report._plots import plots_for
from harness.report._render import badge, field_text, make_env, marker

STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em;max-width:75em;color:#222}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:.3em .5em;vertical-align:top}
th{background:#f3f3f3}.badge{font-weight:bold;padding:.05em .4em;border-radius:.3em;color:#fff}
.v-supported{background:#2a7d2a}.v-refuted{background:#b02a2a}.v-inconclusive{background:#a07000}
.v-stale{background:#6a4ca0}.v-not-run{background:#777}pre{background:#f6f6f6;padding:.6em;overflow-x:auto}
td.statement{min-width:26em}figure{display:inline-block;margin:.5em}figcaption{font-size:.8em;max-width:30em}"""

INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Claims</title><style>{{ style }}</style></head>
<body>
<h1>Claims</h1>
<p>Built by <code>python -m harness.report</code> from: {{ sources | join("; ") }}. Paper: <a href="paper.md">paper.md</a>.</p>
<p><label>verdict <select id="f-status"><option value="">all</option>
{% for s in statuses %}<option value="{{ s }}">{{ s }}</option>{% endfor %}</select></label>
<label>stage <select id="f-stage"><option value="">all</option>
{% for s in stages %}<option value="{{ s }}">{{ s }}</option>{% endfor %}</select></label>
<span id="shown"></span></p>
<table id="claims"><thead><tr><th>claim</th><th>statement</th><th>estimate [interval]</th><th>verdict</th><th>n</th>
<th>controls</th><th>judge</th><th>stage</th><th>tier</th></tr></thead><tbody>
{% for r in rows %}
<tr class="claim" data-claim="{{ r.id }}" data-status="{{ r.status }}" data-stage="{{ r.stage }}">{{ r.open }}
<td><a href="claims/{{ r.id }}.html">{{ r.id }}</a></td><td class="statement">{{ r.statement }}</td><td>{{ r.value }}</td>
<td class="verdict">{{ r.badge }}</td><td>{{ r.n }}</td><td>{{ r.controls }}</td><td>{{ r.judge }}</td>
<td>{{ r.stage }}</td><td>{{ r.tier }}</td>{{ r.close }}</tr>
{% endfor %}
</tbody></table>
<script>
(function(){
  var rows=[].slice.call(document.querySelectorAll("tr.claim"));
  var fs=document.getElementById("f-status"), fg=document.getElementById("f-stage");
  function apply(){
    var shown=0;
    rows.forEach(function(r){
      var hide=(fs.value&&r.dataset.status!==fs.value)||(fg.value&&r.dataset.stage!==fg.value);
      r.hidden=!!hide; if(!hide){shown++;}
    });
    document.getElementById("shown").textContent=shown+" of "+rows.length+" claims shown";
    history.replaceState(null,"","#status="+encodeURIComponent(fs.value)+"&stage="+encodeURIComponent(fg.value));
  }
  var h=new URLSearchParams(location.hash.slice(1));
  if(h.get("status")){fs.value=h.get("status");} if(h.get("stage")){fg.value=h.get("stage");}
  fs.onchange=apply; fg.onchange=apply; apply();
})();
</script>
</body></html>
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>{{ e.claim_id }}</title><style>{{ style }}</style></head>
<body>
<p><a href="../index.html">all claims</a></p>
<h1>{{ e.claim_id }}</h1>
{{ open }}<p>{{ badge }}</p>
<p><em>{{ e.statement }}</em></p>
<table>
<tr><th>estimate [interval]</th><td>{{ f.full }}</td></tr>
<tr><th>p-value</th><td>{{ f.p }}</td></tr>
<tr><th>controls</th><td>{{ f.controls }}</td></tr>
<tr><th>verdict reason</th><td>{{ f.reason }}</td></tr>
<tr><th>paper</th><td>{{ f.expected }}</td></tr>
<tr><th>stage / tier / judge</th><td>{{ e.stage }} / {{ e.tier }} / {{ judge }}</td></tr>
</table>{{ close }}
<h2>Plots</h2>
{% for p in plots %}<figure><img src="../plots/{{ p.file }}" alt="{{ p.kind }} plot of {{ e.claim_id }}" width="468">
<figcaption>{{ p.caption }}</figcaption></figure>
{% else %}<p>No plots: the claim has no result{% if e.result %} details or rows to plot{% endif %}.</p>{% endfor %}
<h2>Example items</h2>
{% if examples %}<p>{{ examples.caption }}</p>
<table><tr>{% for h in examples.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in examples.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>{% endfor %}</table>
{% else %}<p>No row-level evidence beside this result.</p>{% endif %}
<h2>Spec</h2>
<pre><!--src-->{{ e.spec_text or "(no claim file)" }}<!--/src--></pre>
<h2>Provenance</h2>
<pre><!--src-->{{ provenance }}<!--/src--></pre>
</body></html>
"""


def judge_text(spec: Any) -> str:
    """Who graded the items: the panel's judges, the detection labels' alias judge, or the scored metric."""
    if spec is None:
        return "unknown (no claim file)"
    if spec.judges:
        return ", ".join(j.kind + (f"/{j.rubric}" if j.rubric else "") for j in spec.judges)
    if spec.benchmark is not None:
        return f"none (metric {spec.benchmark.metric})"
    return f"alias match ({spec.pipeline.labels.mode} labels)"


def _data(entry: ClaimEntry, value: float) -> Any:
    from markupsafe import Markup

    return Markup(f"<!--d:{entry.claim_id}-->{value:.4f}<!--/d-->")


def _item(entry: ClaimEntry, item_id: str) -> Any:
    """An item id from the claim's rows (TruthfulQA ids are bare numbers): a labelled value of the claim, not
    a number typed into the page."""
    from markupsafe import Markup, escape

    return Markup(f"<!--d:{entry.claim_id}-->{escape(item_id)}<!--/d-->")


def examples(entry: ClaimEntry, limit: int = 8) -> dict[str, Any] | None:
    """Flip table: items whose outcome changed most between the no-op and the largest alpha (interventions),
    or the detector's most confident errors (detection claims)."""
    from harness.claims._evidence import read_rows

    if entry.rows_path is None or entry.spec is None:
        return None
    ev = read_rows(entry.rows_path)
    spec = entry.spec
    if spec.intervention is not None and "treatment" in ev.conditions():
        alphas = spec.intervention.alphas
        lo, hi = spec.intervention.noop, max(alphas)
        ids, Y = ev.matrix("treatment", alphas)
        change = Y[:, alphas.index(hi)] - Y[:, alphas.index(lo)]
        order = sorted(range(len(ids)), key=lambda k: -abs(change[k]))[:limit]
        return {"caption": "Items whose outcome moved most from the no-op to the largest alpha.",
                "header": ["item", "outcome at the no-op", "outcome at the largest alpha", "change"],
                "rows": [[_item(entry, ids[k]), _data(entry, Y[k, alphas.index(lo)]), _data(entry, Y[k, alphas.index(hi)]),
                          _data(entry, change[k])] for k in order]}
    if "detector" in ev.conditions():
        ids, scores, y = ev.column("detector")
        if y is None:
            return None
        wrong = [k for k in range(len(ids)) if (scores[k] > 0) != bool(y[k])]
        order = sorted(wrong, key=lambda k: -abs(scores[k]))[:limit]
        return {"caption": "The detector's most confident errors on test items (score = log-odds of hallucination;"
                           " label: hallucination or not).",
                "header": ["item", "score", "label"],
                "rows": [[_item(entry, ids[k]), _data(entry, scores[k]), "hallucination" if y[k] else "correct"] for k in order]}
    return None


def _row(entry: ClaimEntry) -> dict[str, Any]:
    from markupsafe import Markup

    return {"id": entry.claim_id, "status": entry.status, "stage": entry.stage, "tier": entry.tier,
            "open": Markup(f"<!--c:{entry.claim_id}:{marker(entry.status)}-->"), "close": Markup("<!--/c-->"),
            "statement": field_text(entry, "statement"), "value": field_text(entry, "value"),
            "badge": Markup(badge(entry, "html")), "judge": judge_text(entry.spec),
            "n": field_text(entry, "n") if entry.result else "-",
            "controls": field_text(entry, "controls") if entry.result else "-"}


def _provenance(entry: ClaimEntry) -> str:
    prov = dict((entry.result or {}).get("provenance") or {})
    out: dict[str, Any] = {"result source": entry.source or "none", "rows": str(entry.rows_path or "none"),
                           "status": entry.status, "provenance": prov}
    if entry.hashes:
        out["spec hash (run, current file)"] = list(entry.hashes)
    return json.dumps(out, indent=2, sort_keys=True, default=str)


def write_site(bundle: Bundle, out: Path, paper: str | None = None) -> list[Path]:
    """Write ``index.html``, ``claims/<id>.html``, ``plots/*.png`` (and ``paper.md`` when given); returns the
    HTML files written."""
    from markupsafe import Markup

    env = make_env(bundle, "html")
    (out / "claims").mkdir(parents=True, exist_ok=True)
    entries = [bundle.entries[k] for k in sorted(bundle.entries)]
    stages = sorted({e.stage for e in entries})
    index = env.from_string(INDEX).render(style=Markup(STYLE), statuses=STATUSES, stages=stages,
                                          rows=[_row(e) for e in entries])
    written = [out / "index.html"]
    written[0].write_text(index)
    if paper is not None:
        (out / "paper.md").write_text(paper)
    page = env.from_string(PAGE)
    for e in entries:
        fields = {name: field_text(e, name) for name in ("full", "p", "controls", "reason", "expected")}
        html = page.render(style=Markup(STYLE), e=e, f=fields, judge=judge_text(e.spec),
                           open=Markup(f"<!--c:{e.claim_id}:{marker(e.status)}-->"), close=Markup("<!--/c-->"),
                           badge=Markup(badge(e, "html")), plots=plots_for(e, out / "plots"),
                           examples=examples(e), provenance=_provenance(e))
        path = out / "claims" / f"{e.claim_id}.html"
        path.write_text(html)
        written.append(path)
    return written
