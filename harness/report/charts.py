"""The report's charts: what is plotted from which figure (drawing is `svg`'s).

PDD is RFC 6076 SRD (`timing.srd_s`); MOS is the direction's headline MOS-LQO (ITU-T
P.862.1/.2); loss and jitter are the wire streams' RFC 3550 figures
(`calls/<id>/streams.json`, kept in the call's document as `streams`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from markupsafe import Markup

from harness.report.figures import (
    DIRECTION_LABEL,
    DIRECTIONS,
    TrendPoint,
    median,
    outcome,
    stream,
)
from harness.report.svg import (
    LinePoint,
    Point,
    StripRow,
    line_chart,
    linear_axis,
    log_axis,
    strip_chart,
)

Call = dict[str, Any]


def _short(text: str, n: int = 28) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _seconds(v: float) -> str:
    if v < 1.0:
        return f"{v * 1000:g} ms"
    return f"{v:g} s"


def by_type(calls: tuple[Call, ...]) -> dict[str, list[Call]]:
    groups: dict[str, list[Call]] = {}
    for c in calls:
        groups.setdefault(str(c["call_type"]), []).append(c)
    return groups


def _limit(group: list[Call], key: str) -> float | None:
    values = [(c.get("expect") or {}).get(key) for c in group]
    found = [float(v) for v in values if v is not None]
    return found[0] if found else None


def _call_name(c: Call) -> str:
    return f"{c['plan_id']} #{c.get('seq', '?')}"


def pdd_chart(calls: tuple[Call, ...]) -> Markup:
    """PDD per call, one row per call type (its CDR call class beside it), log scale."""
    rows, seen = [], []
    for call_type, group in by_type(calls).items():
        points = []
        for c in group:
            t = c.get("timing") or {}
            if t.get("srd_s") is None:
                continue
            state = outcome(c) if t.get("valid", True) else "invalid"
            points.append(Point(float(t["srd_s"]), state,
                                f"{_call_name(c)}: PDD {t['srd_s'] * 1000:.1f} ms ({state})"))
            seen.append(float(t["srd_s"]))
        classes = sorted({str(((c.get("cdr") or {}).get("record") or {}).get("call_class")
                              or "") for c in group} - {""})
        med, limit = median(p.value for p in points), _limit(group, "srd_s_max")
        rows.append(StripRow(_short(call_type + (f" · {'/'.join(classes)}" if classes else "")),
                             tuple(points), limit,
                             note="" if med is None else f"median {_seconds(round(med, 4))}"))
        seen += [limit] if limit is not None else []
    axis = log_axis(min(seen + [0.001]), max(seen + [1.0]), _seconds)
    return strip_chart("PDD (SRD) per call, by call type", rows, axis,
                       "post-dial delay (RFC 6076 SRD), log scale")


def mos_chart(calls: tuple[Call, ...]) -> Markup:
    rows, top, bottom = [], 4.5, 3.0
    for call_type, group in by_type(calls).items():
        for d in DIRECTIONS:
            points = []
            for c in group:
                q = (c.get("quality") or {}).get(d) or {}
                if q.get("mos_lqo") is None:
                    continue
                state = outcome(c) if q.get("valid") or outcome(c) != "pass" else "fail"
                points.append(Point(float(q["mos_lqo"]), state,
                                    f"{_call_name(c)} {DIRECTION_LABEL[d]}: MOS-LQO "
                                    f"{q['mos_lqo']:.2f} ({q.get('band') or '?'}, {state})"))
                top = max(top, float(q["mos_lqo"]))
                bottom = min(bottom, float(q["mos_lqo"]))
            med = median(p.value for p in points)
            rows.append(StripRow(_short(f"{call_type} {DIRECTION_LABEL[d]}"), tuple(points),
                                 _limit(group, "mos_lqo_min"), limit_is_min=True,
                                 note="" if med is None else f"median {med:.2f}"))
    lo = max(1.0, math.floor((bottom - 0.25) * 2) / 2)  # zoom in on the region that matters
    axis = linear_axis(lo, 5.0 if top > 4.5 else 4.5, lambda v: f"{v:g}")
    return strip_chart("MOS-LQO per call, by call type and direction", rows, axis,
                       "MOS-LQO (ITU-T P.862.1 / P.862.2)")


def _stream_chart(calls: tuple[Call, ...], key: str, label: str, unit: str,
                  fmt: Callable[[float], str], floor: float) -> Markup | None:
    rows, top, any_stream = [], floor, False
    for call_type, group in by_type(calls).items():
        for d in DIRECTIONS:
            points = []
            for c in group:
                st = stream(c, d)
                if st is None or st.get(key) is None:
                    continue
                any_stream = True
                v = float(st[key])
                top = max(top, v)
                points.append(Point(v, outcome(c), f"{_call_name(c)} {DIRECTION_LABEL[d]}: "
                                                   f"{label.lower()} {fmt(v)}"))
            med = median(p.value for p in points)
            rows.append(StripRow(_short(f"{call_type} {DIRECTION_LABEL[d]}"), tuple(points),
                                 note="" if med is None else f"median {fmt(med)}"))
    if not any_stream:
        return None
    return strip_chart(f"{label} per call (wire, RTP toward the receiver)", rows,
                       linear_axis(0.0, top * 1.15, lambda v: f"{v:g}"), unit)


def loss_chart(calls: tuple[Call, ...]) -> Markup | None:
    return _stream_chart(calls, "loss_pct", "Packet loss", "packet loss, % (RFC 3550 A.3)",
                         lambda v: f"{v:.2f} %", 1.0)


def jitter_chart(calls: tuple[Call, ...]) -> Markup | None:
    return _stream_chart(calls, "jitter_ms", "Jitter", "interarrival jitter, ms (RFC 3550 A.8)",
                         lambda v: f"{v:.2f} ms", 1.0)


def _run_label(p: TrendPoint) -> str:
    return time.strftime("%m-%d %H:%M", time.localtime(p.started_wall))


def trend_charts(points: list[TrendPoint]) -> list[tuple[str, Markup]]:
    """Pass rate, median PDD and median MOS over past runs, oldest first."""
    pts = sorted(points, key=lambda p: p.started_wall)
    pdd = [p.pdd_median_s * 1000 for p in pts if p.pdd_median_s is not None]
    mos = [p.mos_median for p in pts if p.mos_median is not None]
    mos_lo = min([*mos, 4.0]) - 0.2

    def series(get: Callable[[TrendPoint], float | None]) -> list[LinePoint]:
        return [LinePoint(_run_label(p), get(p), not p.finished,
                          f"run {p.run_id} ({p.calls} calls)") for p in pts]

    return [
        ("Pass rate", line_chart(
            "Pass rate per run", series(lambda p: p.pass_rate_pct),
            linear_axis(0.0, 100.0, lambda v: f"{v:g}%"), "calls passed, % of judged calls")),
        ("Median PDD", line_chart(
            "Median PDD per run",
            series(lambda p: None if p.pdd_median_s is None else p.pdd_median_s * 1000),
            linear_axis(0.0, max([*pdd, 1.0]) * 1.2, lambda v: f"{v:g}"), "ms (SRD)")),
        ("Median MOS-LQO", line_chart(
            "Median MOS-LQO per run", series(lambda p: p.mos_median),
            linear_axis(max(1.0, round(mos_lo, 1)), 4.5, lambda v: f"{v:g}"),
            "both directions, valid scores")),
    ]
