"""Inline SVG charts drawn in Python: no plotting library, no JavaScript.

Two shapes cover the report: a strip chart (one row per group, one dot per call, the
median as a bar, the threshold as a dashed line with its failing side shaded) and a
small line chart (one point per run). Every mark carries a <title> so a reader can
hover for the figure; every chart has role="img" and a label for screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "invalid": "#e08a00", "error": "#6b7280"}
INK, MUTED, GRID, ACCENT = "#1f2937", "#6b7280", "#e5e7eb", "#1f4e79"
FONT = "font-family=\"system-ui,-apple-system,'Segoe UI',Roboto,sans-serif\""


@dataclass(frozen=True, slots=True)
class Axis:
    lo: float
    hi: float
    fmt: Callable[[float], str]
    log: bool = False
    ticks: tuple[float, ...] = ()

    def frac(self, value: float) -> float:
        """Position of `value` along the axis, 0..1, clamped."""
        if self.log:
            value = max(value, self.lo)
            f = (math.log10(value) - math.log10(self.lo)) / (math.log10(self.hi)
                                                            - math.log10(self.lo))
        else:
            f = (value - self.lo) / (self.hi - self.lo) if self.hi > self.lo else 0.0
        return min(max(f, 0.0), 1.0)


def nice_ticks(lo: float, hi: float, count: int = 5) -> tuple[float, ...]:
    """Round tick values (1, 2, 2.5, 5 x 10^n) covering [lo, hi]."""
    span = hi - lo
    if span <= 0:
        return (lo,)
    raw = span / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return tuple(round(first + i * step, 10)
                 for i in range(int((hi - first) / step + 1e-9) + 1))


def linear_axis(lo: float, hi: float, fmt: Callable[[float], str]) -> Axis:
    ticks = nice_ticks(lo, hi)
    return Axis(lo, max(hi, ticks[-1]), fmt, False, ticks)


def log_axis(lo: float, hi: float, fmt: Callable[[float], str]) -> Axis:
    """Decades from 10^floor(log lo) to 10^ceil(log hi)."""
    lo, hi = max(lo, 1e-6), max(hi, 1e-6)
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    b = max(b, a + 1)
    return Axis(10.0 ** a, 10.0 ** b, fmt, True, tuple(10.0 ** e for e in range(a, b + 1)))


@dataclass(frozen=True, slots=True)
class Point:
    value: float
    state: str  # a COLOURS key
    title: str


@dataclass(frozen=True, slots=True)
class StripRow:
    label: str
    points: tuple[Point, ...]
    limit: float | None = None
    limit_is_min: bool = False  # True: values below the limit fail (MOS); else above (PDD)
    note: str = ""  # right-hand annotation (e.g. "median 4.29")


@dataclass(frozen=True, slots=True)
class Frame:
    width: int = 560
    left: int = 160
    right: int = 100
    top: int = 12
    row_h: int = 30
    bottom: int = 40

    @property
    def plot_w(self) -> int:
        return self.width - self.left - self.right


def _svg(width: int, height: int, label: str, body: list[str]) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}" '
            f'class="chart" {FONT} font-size="12">')
    return Markup(head + f"<title>{escape(label)}</title>" + "".join(body) + "</svg>")


def _text(x: float, y: float, s: str, anchor: str = "start", fill: str = INK,
          size: int = 12, weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" '
            f'font-size="{size}" font-weight="{weight}">{escape(s)}</text>')


CHAR_W = 6.6  # px: a generous average width of a 12 px sans-serif character


def fit(label: str, width_px: float) -> str:
    """`label` cut (with an ellipsis) to what `width_px` holds at 12 px, so that a
    right-aligned label is never clipped at the chart's left edge."""
    room = max(4, int(width_px / CHAR_W))
    if len(label) <= room:
        return label
    head, _, tail = label.rpartition(" ")
    if head and len(tail) <= 4 and room > len(tail) + 6:  # keep "A→B": which direction
        return head[:room - len(tail) - 2].rstrip() + "… " + tail
    return label[:room - 1].rstrip() + "…"


def _x_axis(f: Frame, axis: Axis, y0: float, y1: float, unit: str) -> list[str]:
    out = []
    for t in axis.ticks:
        x = f.left + axis.frac(t) * f.plot_w
        out.append(f'<line x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y1:.1f}" '
                   f'stroke="{GRID}"/>')
        out.append(_text(x, y1 + 15, axis.fmt(t), "middle", MUTED, 11))
    out.append(f'<line x1="{f.left}" y1="{y1:.1f}" x2="{f.left + f.plot_w}" y2="{y1:.1f}" '
               f'stroke="{MUTED}"/>')
    if unit:
        out.append(_text(f.left + f.plot_w / 2, y1 + 32, unit, "middle", MUTED, 11))
    return out


def _row(f: Frame, axis: Axis, row: StripRow, y: float) -> list[str]:
    mid = y + f.row_h / 2
    out = [f"<g>{_text(f.left - 10, mid + 4, fit(row.label, f.left - 14), 'end')}"
           f"<title>{escape(row.label)}</title></g>"]
    if row.limit is not None:
        x = f.left + axis.frac(row.limit) * f.plot_w
        x0, x1 = (f.left, x) if row.limit_is_min else (x, f.left + f.plot_w)
        out.append(f'<rect x="{x0:.1f}" y="{y + 3:.1f}" width="{max(x1 - x0, 0):.1f}" '
                   f'height="{f.row_h - 6}" fill="#fdf0ee"><title>failing side of the '
                   f'threshold {escape(axis.fmt(row.limit))}</title></rect>')
        out.append(f'<line x1="{x:.1f}" y1="{y + 2:.1f}" x2="{x:.1f}" y2="{y + f.row_h - 2:.1f}"'
                   f' stroke="{COLOURS["fail"]}" stroke-dasharray="4 3" stroke-width="1.5"/>')
    values = sorted(p.value for p in row.points)
    if values:
        med = values[len(values) // 2] if len(values) % 2 else \
            (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2
        xm = f.left + axis.frac(med) * f.plot_w
        out.append(f'<line x1="{xm:.1f}" y1="{y + 5:.1f}" x2="{xm:.1f}" '
                   f'y2="{y + f.row_h - 5:.1f}" stroke="{INK}" stroke-width="3">'
                   f'<title>median {escape(axis.fmt(med))}</title></line>')
    for i, p in enumerate(row.points):
        x = f.left + axis.frac(p.value) * f.plot_w
        dy = ((i % 5) - 2) * 2.5  # a little vertical spread so equal values stay visible
        out.append(f'<circle cx="{x:.1f}" cy="{mid + dy:.1f}" r="4.5" '
                   f'fill="{COLOURS.get(p.state, MUTED)}" fill-opacity="0.85" stroke="#fff" '
                   f'stroke-width="1"><title>{escape(p.title)}</title></circle>')
    if row.note:
        out.append(_text(f.left + f.plot_w + 8, mid + 4, row.note, "start", MUTED, 11))
    return out


def strip_chart(label: str, rows: Sequence[StripRow], axis: Axis, unit: str,
                frame: Frame | None = None) -> Markup:
    """One row per group, one dot per call coloured by its outcome."""
    f = frame or Frame()
    height = f.top + f.row_h * max(len(rows), 1) + f.bottom
    y1 = f.top + f.row_h * max(len(rows), 1)
    body = _x_axis(f, axis, f.top, y1, unit)
    for i, row in enumerate(rows):
        if i % 2:
            body.insert(0, f'<rect x="0" y="{f.top + i * f.row_h}" width="{f.width}" '
                           f'height="{f.row_h}" fill="#f9fafb"/>')
        body += _row(f, axis, row, f.top + i * f.row_h)
    if not rows:
        body.append(_text(f.left + f.plot_w / 2, f.top + f.row_h / 2 + 4, "no data",
                          "middle", MUTED))
    return _svg(f.width, height, label, body)


@dataclass(frozen=True, slots=True)
class LinePoint:
    label: str  # the x-axis label (first and last are printed)
    value: float | None
    hollow: bool = False  # an incomplete run
    title: str = ""  # what hovering names; the label when empty


def line_chart(label: str, points: Sequence[LinePoint], axis: Axis, unit: str,
               width: int = 320, height: int = 170) -> Markup:
    """A value per run, oldest left; gaps where a run has no figure."""
    f = Frame(width=width, left=46, right=14, top=14, bottom=34)
    plot_h = height - f.top - f.bottom
    body = []
    for t in axis.ticks:
        y = f.top + (1 - axis.frac(t)) * plot_h
        body.append(f'<line x1="{f.left}" y1="{y:.1f}" x2="{f.left + f.plot_w}" y2="{y:.1f}" '
                    f'stroke="{GRID}"/>')
        body.append(_text(f.left - 6, y + 4, axis.fmt(t), "end", MUTED, 10))
    n = len(points)
    xs = [f.left + (f.plot_w * (i + 0.5) / n if n else 0) for i in range(n)]
    coords = [(x, f.top + (1 - axis.frac(p.value)) * plot_h) if p.value is not None else None
              for x, p in zip(xs, points, strict=True)]
    segment: list[str] = []
    for c in coords + [None]:
        if c is None:
            if len(segment) > 1:
                body.append(f'<polyline points="{" ".join(segment)}" fill="none" '
                            f'stroke="{ACCENT}" stroke-width="2"/>')
            segment = []
        else:
            segment.append(f"{c[0]:.1f},{c[1]:.1f}")
    for p, c in zip(points, coords, strict=True):
        if c is not None:
            fill = "#fff" if p.hollow else ACCENT
            tip = f"{p.title or p.label}: {axis.fmt(p.value or 0.0)}" + \
                (" (incomplete run)" if p.hollow else "")
            body.append(f'<circle cx="{c[0]:.1f}" cy="{c[1]:.1f}" r="3.5" fill="{fill}" '
                        f'stroke="{ACCENT}" stroke-width="1.5"><title>{escape(tip)}</title>'
                        '</circle>')
    if points:
        body.append(_text(xs[0], height - 18, points[0].label, "start", MUTED, 10))
        if n > 1:
            body.append(_text(xs[-1], height - 18, points[-1].label, "end", MUTED, 10))
    body.append(_text(f.left + f.plot_w / 2, height - 4, unit, "middle", MUTED, 10))
    return _svg(width, height, label, body)
