"""A minimal, self-contained HTML page beside results.json (no JavaScript).

The full acceptance report (charts, ladders, drill-down) builds on the same
document; this page is the one-table summary a reader opens first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Beta acceptance — {{ doc.run_id }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}.pass{background:#dff5df}
.fail{background:#f9d6d5}.error{background:#fbefc9}.num{text-align:right;font-variant-numeric:tabular-nums}
small{color:#666}
</style></head><body>
<h1>Beta acceptance report</h1>
<p>Run <b>{{ doc.run_id }}</b> — status <b>{{ doc.status }}</b> —
{{ doc.summary.calls }} calls: {{ doc.summary.pass }} pass, {{ doc.summary.fail }} fail,
{{ doc.summary.error }} error.</p>
{% if doc.errors %}<h2>Run errors</h2><ul>{% for e in doc.errors %}<li>{{ e }}</li>{% endfor %}</ul>{% endif %}
<table>
<tr><th>Plan</th><th>Call type</th><th>Verdict</th><th>SIP</th><th>SRD s</th><th>Setup s</th>
<th>MOS-LQO A→B</th><th>MOS-LQO B→A</th><th>CDR</th><th>Host</th><th>Reasons</th></tr>
{% for c in doc.calls %}
<tr class="{{ c.verdict }}"><td>{{ c.plan_id }}</td><td>{{ c.call_type }}</td>
<td>{{ c.verdict }}{% if c.invalid_measurement %}<br><small>invalid measurement</small>{% endif %}</td>
<td class="num">{{ c.final_code }}</td>
<td class="num">{{ fmt(c.timing.srd_s) }}</td><td class="num">{{ fmt(c.timing.setup_s) }}</td>
{% for d in ("a_to_b", "b_to_a") %}<td class="num">{{ fmt(c.quality[d].mos_lqo, 2) }}
{% for s, q in c.quality[d].sources.items() %}<br><small>{{ s }} {{ fmt(q.mos_lqo, 2) }}{% if not q.valid %} (invalid){% endif %}</small>{% endfor %}</td>{% endfor %}
<td>{{ "matched" if c.cdr.matched else "missing" }}{% if c.cdr.mismatches %}<br><small>{{ c.cdr.mismatches|length }} mismatch(es)</small>{% endif %}</td>
<td><small>{% if c.host %}max stall {{ fmt(c.host.max_stall_s * 1000, 0) }} ms{% endif %}</small></td>
<td><small>{{ c.reasons|join("<br>") }}</small></td></tr>
{% endfor %}
</table>
<h2>Environment</h2>
<table>{% for k, v in doc.environment.items() %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>
</body></html>
"""


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def write_html(run_dir: Path, doc: dict[str, Any]) -> Path:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.from_string(_TEMPLATE).render(doc=doc, fmt=_fmt)
    path = run_dir / "index.html"
    path.write_text(html, encoding="utf-8")
    return path
