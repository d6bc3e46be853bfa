"""Where a run's time went: one span per plan row, from the run's own records.

A call-type row's span runs from the moment it was placed (`started_wall`) through
the end of its call (its last SIP event: the media is over) to the moment its
measurement was stored (`stored_wall`: PESQ, the capture, the CDR looked up). A busy
hour is one span over its calls; a §12 security probe one span (its real call in it).
From the spans: the run's wall time, how many rows were in flight at once, the time
nothing was (start-up and close-out), and the rows that finished last (what a faster
plan must shorten).

Written into results.json (`timeline`), drawn in the report, printed by
`bench/plan_timeline.py`. Older results (no `stored_wall`) give spans without a
measuring part.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from markupsafe import Markup, escape

from harness.report.svg import GRID, INK, MUTED, _svg, _text, fit, nice_ticks

Doc = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Span:
    row: str  # the plan row (a busy hour's calls are one span: its row)
    kind: str  # "call" | "busy hour" | "security"
    start_s: float  # seconds from the run's start
    talk_end_s: float  # the call (or the busy hour's last call) ended
    end_s: float  # its measurement was stored
    verdict: str
    attempts: int = 1  # a row re-placed after a host stall counts each placing

    @property
    def measuring_s(self) -> float:
        return max(0.0, self.end_s - self.talk_end_s)


def _last_event_wall(call: Doc) -> float | None:
    walls = [e.get("t_wall") for e in call.get("events") or () if e.get("t_wall")]
    return max(walls) if walls else None


def _call_span(call: Doc, t0: float) -> tuple[float, float, float] | None:
    start = call.get("started_wall")
    if not start:
        return None
    talk_end = _last_event_wall(call) or start
    end = call.get("stored_wall") or talk_end
    first = min([start, *(w for w in call.get("earlier_walls") or () if w)])
    return first - t0, max(talk_end, start) - t0, max(end, talk_end, start) - t0


def _placings(call: Doc) -> int:
    return 1 + len(call.get("earlier_walls") or ())


def spans(started_wall: float, calls: Iterable[Doc], busy_hours: Iterable[Doc] = (),
          security: Iterable[Doc] = ()) -> list[Span]:
    """Every row's span, in the order the rows started."""
    busy = [b for b in busy_hours if b.get("plan_id")]
    probes = list(security)
    probed = {str(p.get("plan_id")) for p in probes}  # a probe's real call is in its span
    prefixes = tuple(f"{b['plan_id']}." for b in busy)
    by_row: dict[str, list[tuple[tuple[float, float, float], str, int]]] = {}
    grouped: dict[str, list[tuple[float, float, float]]] = {}
    for c in calls:
        span = _call_span(c, started_wall)
        if span is None:
            continue
        pid = str(c.get("plan_id", "?"))
        if pid in probed:
            continue
        owner = next((p[:-1] for p in prefixes if pid.startswith(p)), None)
        if owner is not None:
            grouped.setdefault(owner, []).append(span)
        else:
            by_row.setdefault(pid, []).append((span, str(c.get("verdict", "")),
                                               _placings(c)))
    out = [Span(row, "call", min(s[0] for s, _, _ in placed),
                max(s[1] for s, _, _ in placed), max(s[2] for s, _, _ in placed),
                placed[-1][1], sum(n for _, _, n in placed))
           for row, placed in by_row.items()]
    for b in busy:
        got = grouped.get(str(b["plan_id"]), [])
        if not got:
            continue
        end = max(max(s[2] for s in got), (b.get("stored_wall") or 0) - started_wall)
        out.append(Span(str(b["plan_id"]), "busy hour", min(s[0] for s in got),
                        max(s[1] for s in got), end, str(b.get("status", "")), len(got)))
    for p in probes:
        start, end = p.get("started_wall"), p.get("stored_wall")
        if start and end:
            out.append(Span(str(p.get("plan_id", "?")), "security", start - started_wall,
                            end - started_wall, end - started_wall,
                            str(p.get("verdict") or p.get("status") or "")))
    return sorted(out, key=lambda s: (s.start_s, s.row))


def _busy_seconds(intervals: Sequence[tuple[float, float]]) -> float:
    """The length of the union of `intervals`."""
    total, reach = 0.0, float("-inf")
    for lo, hi in sorted(intervals):
        if hi <= reach:
            continue
        total += hi - max(lo, reach)
        reach = hi
    return total


def _peak(intervals: Sequence[tuple[float, float]]) -> int:
    edges = sorted([(lo, 1) for lo, _ in intervals] + [(hi, -1) for _, hi in intervals],
                   key=lambda e: (e[0], e[1]))
    now = peak = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


def summary(span_list: Sequence[Span], wall_s: float | None = None) -> dict[str, Any]:
    """The run's wall, the time any row was in flight, the peak of rows at once, and
    per kind: how long its rows took from the first start to the last end."""
    if not span_list:
        return {"wall_s": wall_s, "rows": 0}
    flight = [(s.start_s, s.end_s) for s in span_list]
    last_end = max(s.end_s for s in span_list)
    wall = wall_s if wall_s is not None else last_end
    kinds: dict[str, dict[str, float]] = {}
    for kind in dict.fromkeys(s.kind for s in span_list):
        mine = [s for s in span_list if s.kind == kind]
        kinds[kind] = {"rows": len(mine), "first_start_s": round(min(s.start_s for s in mine), 2),
                       "last_end_s": round(max(s.end_s for s in mine), 2),
                       "in_flight_s": round(_busy_seconds([(s.start_s, s.end_s)
                                                           for s in mine]), 2)}
    tail = sorted(span_list, key=lambda s: s.end_s, reverse=True)[:3]
    return {"wall_s": round(wall, 2), "rows": len(span_list),
            "first_start_s": round(min(s.start_s for s in span_list), 2),
            "last_end_s": round(last_end, 2),
            "in_flight_s": round(_busy_seconds(flight), 2),
            "idle_s": round(max(0.0, wall - _busy_seconds(flight)), 2),
            "rows_at_once_max": _peak(flight),
            "measuring_s": round(sum(s.measuring_s for s in span_list), 2),
            "by_kind": kinds, "finished_last": [s.row for s in tail]}


def timeline_doc(started_wall: float, calls: Iterable[Doc], busy_hours: Iterable[Doc] = (),
                 security: Iterable[Doc] = (), wall_s: float | None = None) -> dict[str, Any]:
    """results.json's `timeline`: the spans and their summary."""
    got = spans(started_wall, calls, busy_hours, security)
    return {"spans": [{k: (round(v, 3) if isinstance(v, float) else v)
                       for k, v in asdict(s).items()} for s in got],
            "summary": summary(got, wall_s)}


def lines(span_list: Sequence[Span], wall_s: float | None = None) -> list[str]:
    """The timeline as text (bench/plan_timeline.py)."""
    s = summary(span_list, wall_s)
    out = [f"{'row':10} {'kind':9} {'start':>7} {'talk end':>8} {'end':>7} {'measuring':>9}"
           f"  verdict"]
    out += [f"{x.row:10} {x.kind:9} {x.start_s:7.1f} {x.talk_end_s:8.1f} {x.end_s:7.1f} "
            f"{x.measuring_s:9.1f}  {x.verdict}{_placed(x)}" for x in span_list]
    if span_list:
        out.append(f"wall {s['wall_s']} s; rows in flight {s['in_flight_s']} s, none "
                   f"{s['idle_s']} s (start-up, close-out); up to {s['rows_at_once_max']} "
                   f"rows at once; finished last: {', '.join(s['finished_last'])}")
        for kind, k in s["by_kind"].items():
            out.append(f"  {kind}: {k['rows']} rows, {k['first_start_s']} -> "
                       f"{k['last_end_s']} s")
    return out


def _placed(s: Span) -> str:
    return f" ({s.attempts} placed)" if s.attempts > 1 and s.kind == "call" else ""


COLOURS = {"call": "#1f4e79", "busy hour": "#7b1fa2", "security": "#b45309"}


def chart(span_list: Sequence[Span], wall_s: float | None = None) -> Markup | None:
    """A Gantt chart: a row per span, the call as a solid bar, its measuring lighter."""
    if not span_list:
        return None
    left, right, top, row_h = 78, 16, 8, 9
    width = 760
    plot_w = width - left - right
    end = max(wall_s or 0.0, max(s.end_s for s in span_list))
    ticks = nice_ticks(0.0, end, 8)
    hi = max(end, ticks[-1]) or 1.0
    height = top + row_h * len(span_list) + 26

    def x(v: float) -> float:
        return left + plot_w * max(0.0, v) / hi

    body = []
    for t in ticks:
        body.append(f'<line x1="{x(t):.1f}" y1="{top}" x2="{x(t):.1f}" '
                    f'y2="{height - 20}" stroke="{GRID}"/>')
        body.append(_text(x(t), height - 8, f"{t:g} s", "middle", MUTED, 10))
    for i, s in enumerate(span_list):
        y = top + i * row_h
        colour = COLOURS.get(s.kind, INK)
        tip = escape(f"{s.row} ({s.kind}): {s.start_s:.1f} → {s.talk_end_s:.1f} s call, "
                     f"measured by {s.end_s:.1f} s; {s.verdict}")
        body.append(_text(left - 4, y + row_h - 2, fit(s.row, left - 8), "end", INK, 8))
        body.append(f'<rect x="{x(s.start_s):.1f}" y="{y + 1}" width="'
                    f'{max(1.0, x(s.talk_end_s) - x(s.start_s)):.1f}" height="{row_h - 2}" '
                    f'fill="{colour}"><title>{tip}</title></rect>')
        if s.measuring_s > 0:
            body.append(f'<rect x="{x(s.talk_end_s):.1f}" y="{y + 1}" width="'
                        f'{max(1.0, x(s.end_s) - x(s.talk_end_s)):.1f}" height="{row_h - 2}" '
                        f'fill="{colour}" fill-opacity="0.35"><title>{tip}</title></rect>')
    return _svg(width, height, f"Timeline of {len(span_list)} plan rows over {end:.0f} s: "
                "each row from its placing through its call (solid) to its measurement "
                "stored (light)", body)
