"""RFC 4475 torture replay: send each torture message to the switch over UDP on
loopback, record what came back, and prove the switch alive after every message.

The messages are files under `tests/data/rfc4475/` listed in its `manifest.yaml`
(RFC 4475 §3.1.1 valid, §3.1.2 invalid, §3.2, §3.3, §3.4). A request is re-addressed
to the switch before it is sent, touching only addresses, never the malformed parts
(`readdress`):

* the Request-URI's host[:port] (schemes sip/sips) -> the switch's host:port;
* the topmost Via's sent-by host[:port] -> 127.0.0.1:<replay port>, so that replies
  come back to the replay socket (parameters, separators, folding stay as they are);
* the host[:port] of every sip/sips URI in Route header fields -> 127.0.0.1:<replay
  port>, so that a switch that routes on them sends to the replay, never off the host.

Responses (the torture responses of §3.1.1.12/13, §3.1.2.5/19, §3.3.10) are sent
unchanged: a proxy must absorb a response that is not for one of its transactions.

Everything goes to 127.0.0.0/8 only: `require_loopback` refuses any other target.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.errors import HarnessError
from harness.sip.text import field_spans, split_message, start_line, status_code
from harness.softswitch.process import sip_options_ping

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
DROPPED = "no response (dropped)"
_EXPECT_TOKENS = re.compile(r"^(any|drop|[1-6]xx|[1-6][0-9]{2})$")
_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(?::[0-9]+)?"
_VIA_SENT_BY = re.compile(r"SIP\s*/\s*[^/\s]+\s*/\s*[A-Za-z0-9\-]+\s+(" + _HOST + ")")
_SIP_URI_HOST = re.compile(r"(?i)sips?:(?:[^@<>;,\s]*@)?(" + _HOST + ")")


class TortureError(HarnessError):
    """The torture corpus or a replay target is unusable (names the file or address)."""


@dataclass(frozen=True, slots=True)
class TortureMessage:
    """One RFC 4475 message as it is on disk, with what the switch may do with it."""

    id: str  # "3.1.2.1-badinv01": section and the RFC's file name
    section: str
    name: str
    title: str
    kind: str  # request | response
    validity: str  # valid | invalid (RFC 4475's classification)
    expect: tuple[str, ...]  # outcomes that pass: any, drop, 4xx, 505, ...
    raw: bytes
    note: str = ""
    finding: str = ""  # recorded misbehaviour of the embedded switch


@dataclass(frozen=True, slots=True)
class Readdressed:
    data: bytes
    substitutions: tuple[str, ...]  # "Request-URI example.com -> 127.0.0.1:5060", ...


@dataclass(frozen=True, slots=True)
class Alive:
    ok: bool
    options_code: int | None  # the OPTIONS ping's final code, None on silence
    detail: str  # "" when ok, else why not (process exited / OPTIONS unanswered)


@dataclass(frozen=True, slots=True)
class TortureResult:
    message_id: str
    validity: str
    expect: tuple[str, ...]
    bytes_sent: int
    responses: tuple[str, ...]  # status lines (or "request: <line>") in arrival order
    final_code: int | None
    alive: Alive
    verdict: str  # ok | fail
    reason: str  # why it failed, "" when ok
    substitutions: tuple[str, ...] = ()
    finding: str = ""

    @property
    def response(self) -> str:
        """The first final response's status line, else the first one, else dropped."""
        finals = [r for r in self.responses if status_code(r) not in (None, *range(100, 200))]
        return finals[0] if finals else (self.responses[0] if self.responses else DROPPED)


# -- the corpus ----------------------------------------------------------------------
def load_manifest(directory: Path) -> tuple[TortureMessage, ...]:
    """Every message of `directory`/manifest.yaml, each checked against its sha256."""
    path = directory / "manifest.yaml"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TortureError(f"{path}: cannot be read: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
        raise TortureError(f"{path}: no 'messages' list")
    return tuple(_message(directory, path, entry) for entry in doc["messages"])


def _message(directory: Path, manifest: Path, entry: dict[str, object]) -> TortureMessage:
    where = f"{manifest}: message {entry.get('id')!r}"
    expect = tuple(str(e) for e in entry.get("expect") or ())  # type: ignore[attr-defined]
    bad = [e for e in expect if not _EXPECT_TOKENS.match(e)]
    if not expect or bad:
        raise TortureError(f"{where}: field 'expect' = {list(expect)!r}: "
                           "use any, drop, 4xx or a code such as 505")
    if entry.get("validity") not in ("valid", "invalid"):
        raise TortureError(f"{where}: field 'validity' = {entry.get('validity')!r}: "
                           "valid or invalid")
    file = directory / f"{entry['id']}.sip"
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise TortureError(f"{where}: {file} cannot be read: {exc}") from exc
    digest = hashlib.sha256(raw).hexdigest()
    if digest != entry.get("sha256"):
        raise TortureError(f"{where}: {file} has sha256 {digest}, manifest says "
                           f"{entry.get('sha256')} (regenerate with generate.py)")
    return TortureMessage(id=str(entry["id"]), section=str(entry["section"]),
                          name=str(entry["name"]), title=str(entry["title"]),
                          kind=str(entry["kind"]), validity=str(entry["validity"]),
                          expect=expect, raw=raw, note=str(entry.get("note") or ""),
                          finding=str(entry.get("finding") or ""))


# -- addressing ----------------------------------------------------------------------
def require_loopback(host: str) -> str:
    """`host` if it is an IPv4/IPv6 literal inside 127.0.0.0/8; refuse anything else
    (names included: a name is not resolved, so it cannot lead off the host)."""
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise TortureError(f"refused target {host!r}: torture replay sends only to a "
                           "127.0.0.0/8 address literal") from None
    if addr.version != 4 or addr not in LOOPBACK:
        raise TortureError(f"refused target {host!r}: outside 127.0.0.0/8 (loopback only)")
    return host


def _ruri_host(line: str) -> tuple[int, int] | None:
    """Span of the Request-URI's host[:port] in the request line (sip/sips only)."""
    end = line.rfind(" SIP/")
    end = end if end > 0 else len(line)
    scheme = re.compile(r"(?i)sips?:").search(line, line.find(" ") + 1, end)
    if scheme is None:
        return None
    at = line.rfind("@", scheme.end(), end)
    m = re.compile(_HOST).match(line, at + 1 if at >= 0 else scheme.end())
    return (m.start(), m.end()) if m and m.end() > m.start() else None


def readdress(raw: bytes, switch: tuple[str, int], local: tuple[str, int]) -> Readdressed:
    """`raw` with only its addresses changed (module docstring); the body and every
    byte that is not one of those addresses stay as they are."""
    text = raw.decode("latin-1")  # a 1:1 byte <-> char mapping: no byte is altered
    if text.startswith("SIP/"):
        return Readdressed(raw, ())
    head = split_message(text)[0]
    to_switch, to_local = f"{switch[0]}:{switch[1]}", f"{local[0]}:{local[1]}"
    edits: list[tuple[int, int, str, str]] = []  # start, end, new, what
    span = _ruri_host(start_line(head))
    if span:
        edits.append((*span, to_switch, "Request-URI"))
    via_done = False
    for field in field_spans(head):  # folded lines included; compact names expanded
        if field.name == "via" and not via_done:
            m = _VIA_SENT_BY.search(head, field.start, field.stop)
            if m:
                edits.append((m.start(1), m.end(1), to_local, "top Via sent-by"))
                via_done = True
        elif field.name == "route":
            for m in _SIP_URI_HOST.finditer(head, field.start, field.stop):
                edits.append((m.start(1), m.end(1), to_local, "Route"))
    out, notes = text, []
    for start, stop, new, what in sorted(edits, reverse=True):
        notes.append(f"{what} {text[start:stop]} -> {new}")
        out = out[:start] + new + out[stop:]
    return Readdressed(out.encode("latin-1"), tuple(reversed(notes)))


# -- verdict -------------------------------------------------------------------------
def judge(responses: Sequence[str], expect: Sequence[str], alive: Alive) -> tuple[str, str]:
    """("ok" | "fail", reason) for what came back against the manifest's `expect`.

    Outcomes: "drop" (nothing came back), the final code ("407") and its class
    ("4xx"); a provisional response with no final one counts as accepted, never as a
    drop. The switch must be alive after every message, whatever it answered."""
    if not alive.ok:
        return "fail", f"switch not alive after the message: {alive.detail}"
    if "any" in expect:
        return "ok", ""
    codes = [c for c in (status_code(r) for r in responses) if c is not None]
    final = next((c for c in codes if c >= 200), None)
    if not responses:
        outcomes = {"drop"}
    elif final is not None:
        outcomes = {str(final), f"{final // 100}xx"}
    else:
        outcomes = {"accepted"}
    if outcomes & set(expect):
        return "ok", ""
    got = ("provisional only: the switch accepted it" if outcomes == {"accepted"}
           else f"got {final}" if final is not None else f"got {responses[0]!r}")
    return "fail", f"{got}; expected {' or '.join(expect)}"


# -- replay --------------------------------------------------------------------------
def check_alive(host: str, port: int, timeout_s: float = 2.0,
                failure: Callable[[], str] | None = None) -> Alive:
    """The switch is alive: its process still runs (`failure()` == "") and it answers
    SIP OPTIONS with 200."""
    gone = failure() if failure else ""
    if gone:
        return Alive(False, None, gone)
    code = sip_options_ping(host, port, timeout_s, f"torture-alive-{uuid.uuid4().hex[:12]}")
    if code != 200:
        return Alive(False, code, f"OPTIONS answered {code}" if code else "OPTIONS unanswered")
    return Alive(True, code, "")


def _collect(sock: socket.socket, until: float, stop_at_final: bool) -> list[str]:
    lines: list[str] = []
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return lines
        sock.settimeout(left)
        try:
            data = sock.recv(65535)
        except (TimeoutError, ConnectionRefusedError):
            return lines
        first = start_line(data.decode("utf-8", errors="replace"))
        lines.append(first if first.startswith("SIP/") else f"request: {first}")
        if stop_at_final and (status_code(first) or 0) >= 200:
            return lines


def replay_one(msg: TortureMessage, host: str, port: int, window_s: float = 1.0,
               alive_timeout_s: float = 2.0,
               failure: Callable[[], str] | None = None) -> TortureResult:
    """Send `msg` once from a fresh 127.0.0.1 socket, gather replies for `window_s`
    (less once a final response came), then check the switch alive. Replies that
    arrive while the liveness ping runs are still counted (a stalled host delays
    them). Never blocks beyond window + ping timeout."""
    require_loopback(host)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        local = sock.getsockname()
        sent = readdress(msg.raw, (host, port), (local[0], local[1]))
        sock.sendto(sent.data, (host, port))
        responses = _collect(sock, time.monotonic() + window_s, stop_at_final=True)
        alive = check_alive(host, port, alive_timeout_s, failure)
        responses += _collect(sock, time.monotonic() + 0.05, stop_at_final=False)
    codes = [c for c in (status_code(r) for r in responses) if c is not None]
    verdict, reason = judge(responses, msg.expect, alive)
    return TortureResult(message_id=msg.id, validity=msg.validity, expect=msg.expect,
                         bytes_sent=len(sent.data), responses=tuple(responses),
                         final_code=next((c for c in codes if c >= 200), None), alive=alive,
                         verdict=verdict, reason=reason, substitutions=sent.substitutions,
                         finding=msg.finding)


def replay(messages: Iterable[TortureMessage], host: str, port: int, window_s: float = 1.0,
           pause_s: float = 0.1, failure: Callable[[], str] | None = None,
           ) -> list[TortureResult]:
    """Every message in turn, one at a time, `pause_s` apart (no flood: the embedded
    switch has no pike, and a real one would ban a burst)."""
    require_loopback(host)
    results = []
    for msg in messages:
        results.append(replay_one(msg, host, port, window_s, failure=failure))
        time.sleep(pause_s)
    return results


# -- report --------------------------------------------------------------------------
def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_table(results: Sequence[TortureResult]) -> str:
    """The replay as a markdown table: message, response, switch alive, verdict."""
    rows = ["| message | RFC | expect | bytes | response | switch alive | verdict |",
            "|---|---|---|---:|---|---|---|"]
    for r in results:
        alive = (f"yes (OPTIONS {r.alive.options_code})" if r.alive.ok
                 else f"**NO**: {r.alive.detail}")
        verdict = r.verdict if r.verdict == "ok" else f"**FAIL**: {r.reason}"
        verdict += " (finding)" if r.finding else ""
        rows.append(f"| {r.message_id} | {r.validity} | {' or '.join(r.expect)} | "
                    f"{r.bytes_sent} | {_cell(r.response)} | {alive} | {_cell(verdict)} |")
    failed = sum(r.verdict != "ok" for r in results)
    rows.append("")
    rows.append(f"{len(results)} messages, {len(results) - failed} ok, {failed} failed; "
                f"switch alive after {sum(r.alive.ok for r in results)} of {len(results)}.")
    findings = [f"* {r.message_id}: {r.finding}" for r in results if r.finding]
    if findings:
        rows += ["", "Findings (recorded in the manifest):", *findings]
    return "\n".join(rows) + "\n"
