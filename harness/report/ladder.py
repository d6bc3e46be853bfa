"""A call's SIP ladder as inline SVG, from the agents' event timeline.

The events are what each agent's invite session reported (`SipEvent`: party a is the
caller, b the callee, `t_mono` a monotonic clock shared by both agents), so the
ladder has three columns, caller | switch | callee, and every event is one row, in
time order: a message the party sent is an arrow toward the switch, one it received
an arrow from the switch, a state change a dot on its own lifeline. Each row is
labelled with its offset from the first event, so SRD and set-up time can be read
off the diagram.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from harness.report.svg import ACCENT, FONT, GRID, INK, MUTED

REASON = {100: "Trying", 180: "Ringing", 181: "Forwarded", 182: "Queued",
          183: "Session Progress", 200: "OK", 401: "Unauthorized", 403: "Forbidden",
          404: "Not Found", 407: "Proxy Auth Required", 408: "Request Timeout",
          480: "Temporarily Unavailable", 486: "Busy Here", 487: "Request Terminated",
          488: "Not Acceptable Here", 500: "Server Internal Error",
          503: "Service Unavailable", 504: "Server Time-out", 603: "Decline"}

COLUMNS = {"a": 0, "switch": 1, "b": 2, "c": 3}  # c: a transfer target, a 3-way party
_WIDTH, _TOP, _ROW, _LEFT, _COL = 760, 64, 30, 96, 260


@dataclass(frozen=True, slots=True)
class Step:
    """One drawn row: an arrow (`towards` is "switch" or the party) or a state dot."""

    party: str
    kind: str
    code: int | None
    offset_s: float
    label: str
    towards: str | None  # None: a state change on the party's own lifeline
    ref: int = -1  # the wire message it draws (ladder.json's index): the call page's #sip-N


def _response(code: int | None) -> str:
    if code is None:
        return "response"
    return f"{code} {REASON.get(code, '')}".strip()


def _classify(party: str, kind: str, code: int | None, sent_bye: bool,
              confirmed: bool) -> tuple[str, str | None]:
    """(label, towards) for one event, given what the party did before it."""
    out, into = "switch", party
    if kind == "INVITE_SENT":
        return "INVITE", out
    if kind == "INCOMING":
        return ("INVITE", into) if code is None else (_response(code), out)
    if kind == "ANSWER_SENT":
        return _response(code), out
    if kind == "BYE_SENT":
        return "BYE", out
    if kind == "RESPONSE" or (party[:1] == "a" and kind in ("EARLY", "CONNECTING")):
        return _response(code), into
    if kind == "CONFIRMED":
        return "ACK", (out if party[:1] == "a" else into)
    if kind == "DISCONNECTED":
        if sent_bye:
            return f"{_response(code)} (BYE)", into
        if confirmed:
            return "BYE", into
        return (_response(code), into) if party[:1] == "a" else (f"ended {code or ''}", None)
    label = kind.replace("_", " ").lower() + (f" {code}" if code else "")
    return label, None


def steps(events: list[dict[str, Any]]) -> list[Step]:
    ordered = sorted(events, key=lambda e: float(e["t_mono"]))
    if not ordered:
        return []
    t0 = float(ordered[0]["t_mono"])
    sent_bye: set[str] = set()
    confirmed: set[str] = set()
    out = []
    for e in ordered:
        party, kind, code = str(e["party"]), str(e["kind"]), e.get("code")
        label, towards = _classify(party, kind, code, party in sent_bye, party in confirmed)
        out.append(Step(party, kind, code, float(e["t_mono"]) - t0, label, towards))
        if kind == "BYE_SENT":
            sent_bye.add(party)
        if kind == "CONFIRMED":
            confirmed.add(party)
    return out


def wire_steps(doc: dict[str, Any]) -> list[Step] | None:
    """Steps from the capture (`ladder.json`: every SIP message of the call on the wire),
    columns by address. None when caller and callee share an address (two lines of one
    site on one transport): which hop a message belongs to is then not in the packet,
    and the agents' own events draw the ladder instead."""
    msgs = sorted(doc.get("messages") or [], key=lambda m: float(m["ts"]))
    caller, switch = str(doc.get("caller", "")), str(doc.get("switch", ""))
    others = {str(m[k]) for m in msgs for k in ("src", "dst")} - {caller, switch}
    # the switch's INVITEs toward the called side; if one went to the caller's own
    # address (two lines of one site on one transport), hops cannot be told apart
    callee_invites = [m for m in msgs if m["code"] is None and m["method"] == "INVITE"
                      and str(m["src"]) == switch]
    if not msgs or not caller or not switch or not others or \
            any(str(m["dst"]) == caller for m in callee_invites):
        return None
    # every other address is the called side: PJSIP may answer from its first UDP
    # transport rather than from the port the INVITE reached
    side = {caller: "a", **{addr: "b" for addr in others}}
    t0 = float(msgs[0]["ts"])
    order = sorted(range(len(doc.get("messages") or [])),
                   key=lambda i: float((doc.get("messages") or [])[i]["ts"]))
    out = []
    seen: set[tuple[object, ...]] = set()
    for i, m in zip(order, msgs, strict=True):
        src, dst = str(m["src"]), str(m["dst"])
        party = side.get(src) or side.get(dst) or "a"
        towards = "switch" if src != switch else party
        code = m.get("code")
        label = str(m["method"]) if code is None else f"{_response(code)} ({m['method']})"
        key = (src, dst, m["method"], code, m.get("cseq"), m.get("branch"))
        if key in seen:  # the same transaction's message again (RFC 3261 §17)
            label += " · retransmission"
        seen.add(key)
        out.append(Step(party, "WIRE", code, float(m["ts"]) - t0, label, towards, i))
    return out


def offset_label(seconds: float) -> str:
    return f"+{seconds * 1000:.1f} ms" if seconds < 1.0 else f"+{seconds:.3f} s"


def _x(column: str) -> float:
    """A party's column: "a2"/"a3" (the caller's other calls) with "a", "b2" with "b"."""
    return _LEFT + 40 + COLUMNS.get(column, COLUMNS.get(column[:1], 0)) * _COL


def _arrow(step: Step, y: float) -> str:
    x0, x1 = (_x(step.party), _x("switch")) if step.towards == "switch" else \
        (_x("switch"), _x(step.party))
    colour = "#c62828" if step.code is not None and step.code >= 300 and \
        step.kind not in ("DISCONNECTED",) else ACCENT
    head = -7 if x1 > x0 else 7
    mid = (x0 + x1) / 2
    return (f'<line x1="{x0:.1f}" y1="{y:.1f}" x2="{x1:.1f}" y2="{y:.1f}" stroke="{colour}" '
            f'stroke-width="1.6"/>'
            f'<polygon points="{x1:.1f},{y:.1f} {x1 + head:.1f},{y - 4:.1f} '
            f'{x1 + head:.1f},{y + 4:.1f}" fill="{colour}"/>'
            f'<text x="{mid:.1f}" y="{y - 5:.1f}" text-anchor="middle" fill="{INK}" '
            f'font-size="12" font-weight="600">{escape(step.label)}</text>')


def _linked(step: Step, drawn: str) -> str:
    """An arrow drawn from a captured message opens that message below the ladder."""
    if step.ref < 0:
        return drawn
    return f'<a href="#sip-{step.ref}">{drawn}</a>'


def _dot(step: Step, y: float) -> str:
    x = _x(step.party)
    return (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#fff" stroke="{MUTED}" '
            f'stroke-width="1.5"/><text x="{x + 10:.1f}" y="{y + 4:.1f}" '
            f'text-anchor="start" fill="{MUTED}" font-size="11" '
            f'font-style="italic">{escape(step.label)}</text>')


def ladder_svg(events: list[dict[str, Any]], caller: str = "caller",
               callee: str = "callee", wire: dict[str, Any] | None = None) -> Markup:
    """The ladder of one call; `caller`/`callee` label the outer columns. From the
    capture (`wire`: ladder.json) where it can be drawn, else from the agents' events."""
    from_wire = wire_steps(wire) if wire else None
    rows = from_wire if from_wire is not None else steps(events)
    height = _TOP + _ROW * max(len(rows), 1) + 24
    body = []
    cols = [("a", f"A · {caller}"), ("switch", "switch"), ("b", f"B · {callee}")]
    if any(step.party.startswith("c") for step in rows):
        cols.append(("c", "C · third party"))
    width = _WIDTH + _COL * (len(cols) - 3)
    for col, title in cols:
        x = _x(col)
        body.append(f'<rect x="{x - 80:.1f}" y="8" width="160" height="30" rx="4" '
                    f'fill="{"#eef2f7" if col != "switch" else "#1f4e79"}" />'
                    f'<text x="{x:.1f}" y="28" text-anchor="middle" font-weight="600" '
                    f'fill="{INK if col != "switch" else "#fff"}">{escape(title)}</text>'
                    f'<line x1="{x:.1f}" y1="38" x2="{x:.1f}" y2="{height - 10}" '
                    f'stroke="{GRID}" stroke-width="2"/>')
    for i, step in enumerate(rows):
        y = _TOP + i * _ROW + _ROW / 2
        body.append(f'<g class="step" data-party="{escape(step.party)}" '
                    f'data-kind="{escape(step.kind)}" data-code="{step.code or ""}">'
                    f'<title>{escape(step.party)} {escape(step.kind)}'
                    f'{" " + str(step.code) if step.code else ""} at +{step.offset_s:.6f} s'
                    f'</title><text x="8" y="{y + 4:.1f}" fill="{MUTED}" font-size="11" '
                    f'font-variant-numeric="tabular-nums">{offset_label(step.offset_s)}</text>'
                    + (_linked(step, _arrow(step, y)) if step.towards else _dot(step, y))
                    + "</g>")
    if not rows:
        body.append(f'<text x="{width / 2}" y="{_TOP + 15}" text-anchor="middle" '
                    f'fill="{MUTED}">no SIP events recorded for this call</text>')
    source = "SIP messages captured on the wire" if from_wire is not None else \
        "SIP events seen by the agents"
    label = f"SIP ladder: {len(rows)} {source} between caller, switch and callee"
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
                  f'width="{width}" height="{height}" role="img" class="ladder" '
                  f'aria-label="{escape(label)}" {FONT} font-size="12">'
                  f"<title>{escape(label)}</title>" + "".join(body) + "</svg>")
