"""Write a run's report: `index.html`, `calls/<plan-id>-<n>.html` and `junit.xml`.

Pages are Jinja2 templates (package files in `templates/`), self-contained (inline
CSS and SVG, no JavaScript, no network), readable from a file:// URL or a zipped
CI artifact. The run comes from the database or from `ResultStore`, as a
`RunRecord`; trends read the newest runs of the same database.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import jinja2

from harness.errors import ReportError
from harness.report import charts, figures, profiles, timeline
from harness.report.callpage import Locator, call_context, page_names, worst_mos_index
from harness.report.environment import codecs_in_run, flatten, redact, redact_text
from harness.report.junit import write_junit
from harness.report.ladder import ladder_svg
from harness.report.load import load_section
from harness.report.store import RunRecord, SqliteStore

TREND_RUNS = 20


def _fmt(value: float | None, digits: int = 3, unit: str = "") -> str:
    return "—" if value is None else f"{value:.{digits}f}{unit}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.1f} ms"


def _when(wall: float | None) -> str:
    return "—" if not wall else time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(wall))


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("harness.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(fmt=_fmt, ms=_ms, when=_when)
    env.globals.update(DIRECTIONS=figures.DIRECTIONS, DIRECTION_LABEL=figures.DIRECTION_LABEL)
    return env


def trend(db: SqliteStore | None, run: RunRecord,
          limit: int = TREND_RUNS) -> list[figures.TrendPoint]:
    """The newest `limit` runs up to and including `run` (a re-rendered old run shows
    the trend as it stood then)."""
    if db is None:
        return []
    return [figures.trend_point(r.run_id, r.started_wall, r.finished, db.figures(r.run_id))
            for r in db.runs(limit, until=run.started_wall)]


def previous_diff(db: SqliteStore | None, run: RunRecord) -> figures.RunDiff | None:
    """The run against the newest earlier run of the same plan (plan + thresholds
    hash) in the result database; None without a database or an earlier run."""
    if db is None:
        return None
    plan = ((run.verdict or {}).get("provenance") or {}).get("plan_hash")
    for summary in db.runs(20, until=run.started_wall):
        if summary.run_id == run.run_id or not summary.finished:
            continue
        try:
            before = db.load_run(summary.run_id)
        except ReportError:
            continue
        if ((before.verdict or {}).get("provenance") or {}).get("plan_hash") != plan:
            continue
        return figures.compare(run.calls, before.calls, summary.run_id)
    return None


def _run_chart_set(run: RunRecord) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"title": "Post-dial delay by call type", "svg": charts.pdd_chart(run.calls),
         "note": "Dots are calls (green pass, red fail, amber invalid); the black bar is "
                 "the median; the dashed line is the plan's limit, its failing side shaded."},
        {"title": "MOS-LQO by call type and direction", "svg": charts.mos_chart(run.calls),
         "note": "Headline MOS per direction (the worse of the agent's recording and the "
                 "wire); the dashed line is the plan's minimum."}]
    for title, svg in (("Packet loss", charts.loss_chart(run.calls)),
                       ("Jitter", charts.jitter_chart(run.calls))):
        out.append({"title": title, "svg": svg,
                    "note": "From the call's streams.json (wire capture, per direction)."})
    rows = timeline.spans(run.started_wall, run.calls, run.busy_hours, run.security)
    wall = None if run.finished_wall is None else run.finished_wall - run.started_wall
    if any(s.measuring_s > 0 for s in rows):  # results that carry when each was stored
        s = timeline.summary(rows, wall)
        out.append({"title": "Where the run's time went", "svg": timeline.chart(rows, wall),
                    "note": f"One bar per plan row (blue calls, purple the busy hour, amber "
                            f"security probes): solid while its call is up, light while it is "
                            f"measured (PESQ, capture, CDR). {s['rows_at_once_max']} rows at "
                            f"most at once; no row in flight for {s['idle_s']} s (start-up, "
                            f"close-out); finished last: {', '.join(s['finished_last'])}."})
    return out


def _index_context(run: RunRecord, pages: list[str],
                   points: list[figures.TrendPoint]) -> dict[str, Any]:
    head = figures.headline(run.calls)
    env = redact(run.environment)
    return {
        "run": run, "head": head, "verdict": figures.run_word(run, head.counts),
        "verdict_text": (run.verdict or {}).get("text", ""),
        "rows": (rows := figures.acceptance(run.calls)), "sections": figures.by_section(rows),
        "charts": _run_chart_set(run),
        "sites": figures.per_site(run.calls), "billing": run.billing,
        "load": load_section(run.loads, run.calls),
        "busy_hours": run.busy_hours,
        "security": run.security,
        "profile_rows": profiles.profile_rows(run.calls),
        "trend": charts.trend_charts(points) if len(points) > 1 else [],
        "trend_runs": len(points),
        "calls": [{"c": c, "page": f"calls/{p}.html", "outcome": figures.outcome(c),
                   "pdd": figures.valid_pdd(c),
                   "reasons": [redact_text(r) for r in c.get("reasons") or []]}
                  for c, p in zip(run.calls, pages, strict=True)],
        "env_rows": [(k, v) for k, v in flatten(env) if k != "run_id"],
        "codecs": codecs_in_run(run.calls),
        "profiles": sorted({str(c.get("profile")) for c in run.calls if c.get("profile")}),
        "errors": [redact_text(e) for e in run.errors], "generated": time.time(),
    }


def sip_messages(wire: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The captured messages of the call for the page, each with its ladder index (the
    arrows link to #sip-N), offset from the first and its text (SDP included)."""
    msgs = (wire or {}).get("messages") or []
    if not msgs:
        return []
    t0 = min(float(m["ts"]) for m in msgs)
    return [{"n": i, "offset": float(m["ts"]) - t0, "src": m.get("src"), "dst": m.get("dst"),
             "label": m.get("method") if m.get("code") is None
             else f"{m.get('code')} ({m.get('method')})",
             "text": redact_text(str(m.get("text") or ""))}
            for i, m in sorted(enumerate(msgs), key=lambda im: float(im[1]["ts"]))]


def _wire_ladder(call: dict[str, Any], run_dir: Path | None) -> dict[str, Any] | None:
    """The call's ladder.json (SIP messages from the capture), if it is on disk."""
    rel = (call.get("artifacts") or {}).get("ladder")
    if run_dir is None or not rel:
        return None
    try:
        doc: dict[str, Any] = json.loads((run_dir / rel).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc


def plan_order(plan_id: str) -> tuple[tuple[int, str], ...]:
    """'7.10' after '7.9', '8.1.02' after '8.1': numbered parts compare as numbers."""
    return tuple((int(p), "") if p.isdigit() else (1 << 30, p) for p in plan_id.split("."))


def write_report(run: RunRecord, out_dir: Path, db: SqliteStore | None = None,
                 trend_runs: int = TREND_RUNS) -> Path:
    """Render `run` into `out_dir`; returns the path of index.html. Calls are shown in
    plan order (they are stored in the order they finished: rows run concurrently)."""
    run = replace(run, calls=tuple(sorted(run.calls, key=lambda c: plan_order(
        str(c.get("plan_id", ""))))))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "calls").mkdir(exist_ok=True)
    env = environment()
    run_dir = Path(run.run_dir) if run.run_dir and Path(run.run_dir).is_dir() else None
    loc = Locator(run_dir, out_dir.resolve())
    pages = page_names(run.calls)
    worst = worst_mos_index(run.calls)
    call_tpl = env.get_template("call.html.j2")
    for i, (call, name) in enumerate(zip(run.calls, pages, strict=True)):
        embed = figures.outcome(call) == "fail" or i == worst
        ctx = call_context(call, run, loc, embed)
        wire = _wire_ladder(call, run_dir)
        html = call_tpl.render(run=run, page=name, worst=i == worst,
                               ladder=ladder_svg(call.get("events") or [],
                                                 str(call.get("caller") or "caller"),
                                                 str(call.get("dial") or "callee"), wire),
                               sip_messages=sip_messages(wire),
                               prev=pages[i - 1] if i else None,
                               next=pages[i + 1] if i + 1 < len(pages) else None, **ctx)
        _write(out_dir / "calls" / f"{name}.html", html)
    index = out_dir / "index.html"
    _write(index, env.get_template("index.html.j2").render(
        **_index_context(run, pages, trend(db, run, trend_runs)),
        diff=previous_diff(db, run),
        links={"results.json": loc.href("results.json", 0), "junit.xml": "junit.xml",
               "capture.pcap": loc.href("capture.pcap", 0)}))
    write_junit(run, out_dir)
    return index


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
