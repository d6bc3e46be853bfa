"""Running a §12 probe row against the session's switch (whatever `--sut` names).

A probe runs while no plan call is up (the plugin holds the scheduler: `exclusive`),
so whatever reaches a far end of the harness in its window is the probe's doing:

* the far ends' own word: INVITEs the line workers and the simulated PSTN gateway
  received and could attribute to no call (`AgentFarm.strays`), by their monotonic
  time — whatever Call-ID a B2BUA gave that leg;
* the capture: INVITEs toward the gateway's or a worker's SIP port in the window
  (after an OPTIONS marker proves dumpcap flushed), less the real call's own legs;
* for a hijack, INVITEs that reached the hijacker's contact socket.

The probe's packets on the wire between its source and the switch's host:port are
counted from the capture: evidence that the probes went to the switch under test.

Guards, before anything is sent: the switch address (`client.target_guard`: loopback
unless `sut.allow_remote`), every number through the dial guard (`NumberPlan.route`),
counts and rates from the validated config (`security.*`).
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.capture.pcap import UdpPacket
from harness.capture.sip import parse_sip
from harness.errors import HarnessError
from harness.model import CallResult, CallSpec, Expect, ProbeKind, ProbeSpec, Status
from harness.party import Party
from harness.security import client
from harness.security.client import Credentials, ProbeSocket
from harness.security.judge import INVITES, ProbeEvidence, Reached, RealCall, as_json, judge
from harness.sip.text import field_spans, split_message
from harness.softswitch.process import sip_options_ping

if TYPE_CHECKING:
    from harness.config import SecurityConfig
    from harness.numberplan import NumberPlan
    from harness.run.session import HarnessSession

SETTLE_S = 1.0  # after a probe, how long an INVITE it caused may take to reach a far end
REAL_CALL_S = 4.0  # a probe's real call: ringing, 2 s of talk, set-up, tear-down, measuring
CORPUS = Path(__file__).resolve().parents[2] / "tests" / "data" / "rfc4475"


@dataclass(frozen=True, slots=True)
class ProbeReport:
    spec: ProbeSpec
    dial: str  # the target as the probe sent it
    evidence: ProbeEvidence
    status: Status
    reasons: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return as_json(self.spec, self.dial, self.evidence, self.status, self.reasons)

    def lines(self) -> list[str]:
        ev = self.evidence
        wire = "-" if ev.wire_to_switch is None else f"{ev.wire_to_switch}/{ev.wire_from_switch}"
        codes = ",".join(map(str, ev.codes[:6])) + ("..." if len(ev.codes) > 6 else "")
        head = (f"  {self.spec.plan_id:>5} {self.spec.call_type:<34.34} "
                f"{self.status.value.upper():<5} to {ev.switch} sent {ev.sent} recv "
                f"{ev.received} wire {wire} codes {codes or '-'} reached "
                f"{len(ev.reached) or 'none'}")
        return [head, *(f"        - {r}" for r in self.reasons)]


@dataclass
class _Tally:
    """What a probe's handlers sent and saw, gathered as they go."""

    locals: set[str] = field(default_factory=set)  # the probe sockets' host:port
    sent: int = 0
    received: int = 0
    codes: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reached: list[Reached] = field(default_factory=list)
    real: CallResult | None = None
    torture_failed: list[str] = field(default_factory=list)
    any_peer: bool = False  # torture: fresh sockets, every non-harness peer is the probe

    def socket(self, ps: ProbeSocket) -> None:
        self.locals.add(ps.local)
        self.sent += ps.sent
        self.received += ps.received


def expected_s(spec: ProbeSpec, sec: SecurityConfig) -> float | None:
    """About how long the probe holds the switch (the scheduler fits probes into the
    wait for the billing call with it; measured 1.1-1.3 s for a plain probe, 4.3 s with
    a real call, 8.2 s for the flood): None for the torture replay, whose length is its
    corpus'."""
    if spec.kind is ProbeKind.TORTURE:
        return None
    own = SETTLE_S + 0.5  # the post-probe OPTIONS ping and the capture read
    if spec.kind is ProbeKind.INVITE_FLOOD:
        own += sec.flood_count / sec.flood_rate_cps
    return own + (REAL_CALL_S if spec.real_caller else 0.0)


def probe_parties(spec: ProbeSpec, plan: NumberPlan) -> frozenset[str]:
    """The lines a probe uses: the one whose identity it borrows, a line it targets
    (the hijack's), its real call's caller and the line that call dials."""
    names = {spec.line, spec.real_caller}
    if spec.target in {ln.name for ln in plan.lines}:
        names.add(spec.target)
    if spec.real_dial:
        line = plan.line_by_number(plan.resolve_dial(spec.real_dial))
        names.add(line.name if line else "")
    return frozenset(n for n in names if n)


def run_probe(session: HarnessSession, spec: ProbeSpec) -> ProbeReport:
    """Guard, send, watch, judge (module docstring). A probe the harness could not
    carry out is an `error` row naming why."""
    sec, sut = session.cfg.security, session.cfg.sut
    host, port = session.switch.sip_host, session.switch.sip_port
    switch = f"{host}:{port}"
    t0_mono, t0_wall = time.monotonic(), time.time()
    tally = _Tally()
    try:
        client.target_guard(host, sut.allow_remote)
        dial = _dial(session, spec)
        _HANDLERS[spec.kind](session, spec, dial, tally)
    except HarnessError as exc:
        ev = ProbeEvidence(switch, sec.probe_source, tally.sent, tally.received,
                           tuple(tally.codes), notes=tuple(tally.notes))
        return ProbeReport(spec, spec.target, ev, Status.ERROR, (f"{spec.plan_id}: {exc}",))
    time.sleep(SETTLE_S)
    marker = f"security-{uuid.uuid4().hex[:16]}"
    code = sip_options_ping(host, port, 2.0, marker)
    t1_mono, t1_wall = time.monotonic(), time.time()
    reached = [*tally.reached, *_strays(session, t0_mono, t1_mono)]
    wire = _wire(session, marker, t0_wall, t1_wall, tally, reached)
    ev = ProbeEvidence(switch, ", ".join(sorted(tally.locals)) or sec.probe_source, tally.sent,
                       tally.received, tuple(tally.codes), tuple(reached + wire[2]), wire[0],
                       wire[1], code is not None, "" if code is not None else
                       "no answer to OPTIONS within 2 s", _real(tally.real),
                       tuple(tally.notes), tuple(tally.torture_failed))
    status, reasons = judge(spec, dial, ev)
    return ProbeReport(spec, dial, ev, status, reasons)


def _dial(session: HarnessSession, spec: ProbeSpec) -> str:
    """The probe's target through the dial guard (a line's name resolves to its number);
    the real call's too, and the lines whose identity the probe uses must exist."""
    for name in (spec.line, spec.real_caller):
        if name:
            session.plan.line(name)
    if spec.real_dial:
        session.plan.route_dial(spec.real_dial)
    if not spec.target:
        return ""
    dial = session.plan.resolve_dial(spec.target)
    session.plan.route(dial)
    return dial


# -- the far ends' and the capture's evidence ------------------------------------------
def _strays(session: HarnessSession, t0: float, t1: float) -> list[Reached]:
    farm = session.farm
    if farm is None:
        return []
    return [Reached(s.invite.seat, s.invite.call_id, s.invite.request_uri, s.invite.from_)
            for s in list(farm.strays) if t0 <= s.invite.t_mono <= t1]


def _wire(session: HarnessSession, marker: str, t0: float, t1: float, tally: _Tally,
          reached: list[Reached]) -> tuple[int | None, int | None, list[Reached]]:
    """(packets probe -> switch, switch -> probe, far-end INVITEs no far end reported)."""
    cap = session.capture
    if cap is None or not cap.sync(lambda p: marker.encode() in p.payload, 5.0, t0):
        return None, None, []
    switch = f"{session.switch.sip_host}:{session.switch.sip_port}"
    harness = _harness_ports(session)
    packets = cap.packets_between(t0 - 0.05, t1 + 0.05)

    def probe(addr: str) -> bool:
        if tally.any_peer:  # the torture's fresh sockets: any peer but the harness's own
            return int(addr.rsplit(":", 1)[1]) not in harness
        return addr in tally.locals
    to_sw = sum(1 for p in packets if p.dst_addr == switch and probe(p.src_addr)
                and marker.encode() not in p.payload)
    from_sw = sum(1 for p in packets if p.src_addr == switch and probe(p.dst_addr)
                  and marker.encode() not in p.payload)
    return to_sw, from_sw, _far_end_invites(session, packets, tally, reached)


def _harness_ports(session: HarnessSession) -> dict[int, str]:
    """SIP ports of the harness's far ends: the gateway and every worker."""
    ports = {p: "pstn" for p in session.pstn.ports}
    if session.farm is not None:
        ports.update({p: w for w, p in session.farm.ports.items()})
    return ports


def _far_end_invites(session: HarnessSession, packets: list[UdpPacket], tally: _Tally,
                     reached: list[Reached]) -> list[Reached]:
    ports = _harness_ports(session)
    known = {r.call_id for r in reached}
    if tally.real is not None:
        known |= {tally.real.call_id, *(f.call_id for f in tally.real.far_ends)}
    out: list[Reached] = []
    for pkt in packets:
        msg = parse_sip(pkt)
        if msg is None or msg.method != "INVITE" or msg.code is not None or \
                pkt.dport not in ports or msg.call_id in known:
            continue
        known.add(msg.call_id)
        where = ports[pkt.dport]
        if pkt.dport in session.pstn.ports:  # a gateway: its own trunk group, or ;tgrp=
            tgrp = session.pstn.ports[pkt.dport] or \
                msg.phrase.partition(";tgrp=")[2].split(";")[0]
            where = str(Party.pstn(tgrp or "?"))
        else:
            where = f"agent worker {where} (a beta line's phone)"
        out.append(Reached(where, msg.call_id, msg.phrase, seen_by="capture"))
    return out


def _real(result: CallResult | None) -> RealCall | None:
    if result is None:
        return None
    return RealCall(result.spec.plan_id, result.spec.dial, result.verdict.status,
                    result.final_code, result.timing.setup_s,
                    tuple(f.seat for f in result.far_ends), result.verdict.reasons,
                    result.verdict.invalid_measurement)


# -- the probes ---------------------------------------------------------------------------
def _socket(session: HarnessSession) -> ProbeSocket:
    return ProbeSocket(session.cfg.security.probe_source,
                       (session.switch.sip_host, session.switch.sip_port), session.switch.domain)


def _invite(session: HarnessSession, spec: ProbeSpec, dial: str, tally: _Tally) -> None:
    line = session.plan.line(spec.line)
    creds = {ProbeKind.UNAUTHENTICATED_INVITE: None,
             ProbeKind.WRONG_PASSWORD_INVITE: Credentials(line.number,
                                                          "wrong-" + secrets.token_hex(6)),
             ProbeKind.REPLAYED_CREDENTIALS_INVITE: Credentials(line.number, line.password),
             }[spec.kind]
    with _socket(session) as ps:
        ex = client.invite(ps, f"sip:{dial}@{session.switch.domain}", line.number, creds,
                           session.cfg.security.probe_wait_s)
        tally.socket(ps)
    tally.codes += ex.codes
    tally.notes += ex.notes


def _wrong_password_register(session: HarnessSession, spec: ProbeSpec, dial: str,
                             tally: _Tally) -> None:
    line = session.plan.line(spec.line)
    with _socket(session) as ps:
        for _ in range(3):  # bounded: a real switch may ban an address that keeps guessing
            ex = client.register(ps, line.number, f"sip:{line.number}@{ps.local}",
                                 Credentials(line.number, "guess-" + secrets.token_hex(6)),
                                 session.cfg.security.probe_wait_s)
            tally.codes += ex.codes
        tally.socket(ps)


def _hijack(session: HarnessSession, spec: ProbeSpec, dial: str, tally: _Tally) -> None:
    """REGISTER the victim's address at a contact of the probe's: with no credentials,
    then with another line's valid ones; then a real call to the victim, while the
    contact listens for an INVITE that must never come."""
    victim, thief = session.plan.check_dial(dial), session.plan.line(spec.line)
    wait = session.cfg.security.probe_wait_s
    with _Listener(session.cfg.security.probe_source) as trap, _socket(session) as ps:
        contact = f"sip:{victim.number}@{trap.local}"
        attempts = ((None, "no credentials"),
                    (Credentials(thief.number, thief.password), f"{thief.name}'s credentials"))
        accepted = False
        for creds, how in attempts:
            ex = client.register(ps, victim.number, contact, creds, wait)
            tally.codes += ex.codes
            tally.notes.append(f"REGISTER {victim.name} at {contact} with {how}: "
                               f"{', '.join(map(str, ex.codes)) or 'no answer'}")
            accepted = accepted or any(200 <= c < 300 for c in ex.codes)
        _real_call(session, spec, tally)
        if accepted:  # undo the hijack with the victim's own credentials
            client.register(ps, victim.number, contact,
                            Credentials(victim.number, victim.password), wait, expires=0)
        tally.socket(ps)
    tally.reached += trap.invites
    tally.locals.add(trap.local)


def _flood(session: HarnessSession, spec: ProbeSpec, dial: str, tally: _Tally) -> None:
    """`security.flood_count` unauthenticated INVITEs at `security.flood_rate_cps`; a
    tenth of the way in, the real call is placed (set-up while the flood goes on)."""
    sec, line = session.cfg.security, session.plan.line(spec.line)
    started = threading.Event()
    burst: list[client.Burst] = []
    with _socket(session) as ps:
        def go() -> None:
            burst.append(client.flood(
                ps, f"sip:{dial}@{session.switch.domain}", line.number, sec.flood_count,
                sec.flood_rate_cps, tick=lambda n: started.set()
                if n >= max(1, sec.flood_count // 10) else None))
        worker = threading.Thread(target=go, name="security-flood", daemon=True)
        worker.start()
        started.wait(10.0)
        _real_call(session, spec, tally)
        worker.join(sec.flood_count / sec.flood_rate_cps + 30.0)
        tally.socket(ps)
    if burst:
        b = burst[0]
        tally.codes += [c for c, n in sorted(b.finals.items()) for _ in range(n)]
        tally.notes.append(f"flood: {b.sent} INVITEs in {b.last_sent_mono - b.started_mono:.1f} s "
                           f"({sec.flood_rate_cps:g}/s asked); finals "
                           + (", ".join(f"{c}x{n}" for c, n in sorted(b.finals.items()))
                              or "none"))


def _torture(session: HarnessSession, spec: ProbeSpec, dial: str, tally: _Tally) -> None:
    from harness.security.torture import load_manifest, replay

    if not CORPUS.is_dir():
        raise HarnessError(f"the RFC 4475 corpus is not at {CORPUS}")
    results = replay(load_manifest(CORPUS), session.switch.sip_host, session.switch.sip_port,
                     failure=session.switch.failure)
    tally.any_peer = True
    tally.sent += len(results)
    tally.received += sum(len(r.responses) for r in results)
    tally.codes += [r.final_code for r in results if r.final_code is not None]
    tally.torture_failed += [f"{r.message_id}: {r.reason}" for r in results
                             if r.verdict != "ok"]
    tally.notes.append(f"RFC 4475: {len(results)} messages, "
                       f"{sum(r.verdict == 'ok' for r in results)} ok")
    _real_call(session, spec, tally)


def _real_call(session: HarnessSession, spec: ProbeSpec, tally: _Tally) -> None:
    """The row's real call (`real_caller` dials `real_dial`), placed once: a call
    re-placed after a stall would no longer be under the probe."""
    if not spec.real_caller:
        return
    rings = None
    line = session.plan.line_by_number(session.plan.resolve_dial(spec.real_dial))
    if line is not None:
        rings = line.name
    call = CallSpec(spec.plan_id, f"{spec.call_type}: real call", spec.real_caller,
                    spec.real_dial, talk_s=2.0, answer_after_s=0.5,
                    expect=Expect(mos_lqo_min=None, rings=rings, srd_s_max=None,
                                  setup_s_max=spec.expect.setup_s_max))
    tally.real = session.run_call(call, retries_on_stall=0, in_probe=True)


_HANDLERS: dict[ProbeKind, Callable[[HarnessSession, ProbeSpec, str, _Tally], None]] = {
    **{k: _invite for k in INVITES},
    ProbeKind.WRONG_PASSWORD_REGISTER: _wrong_password_register,
    ProbeKind.REGISTER_HIJACK: _hijack,
    ProbeKind.INVITE_FLOOD: _flood,
    ProbeKind.TORTURE: _torture,
}


class _Listener:
    """The hijacker's contact: a UDP socket that answers any INVITE 486 and keeps it."""

    def __init__(self, source: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((source, 0))
        self.sock.settimeout(0.2)
        self.local = f"{source}:{self.sock.getsockname()[1]}"
        self.invites: list[Reached] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="hijack-contact",
                                        daemon=True)

    def __enter__(self) -> _Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self.sock.close()

    def _listen(self) -> None:
        from harness.sip.message import parse_request

        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            text = data.decode("utf-8", "replace")
            if not text.startswith("INVITE "):
                continue
            req = parse_request(text)
            if req.get("call-id") not in {r.call_id for r in self.invites}:
                self.invites.append(Reached(f"hijack contact {self.local}",
                                            req.get("call-id", ""),
                                            req["request-line"].split(" ")[1],
                                            req.get("from", ""), "hijack socket"))
            self.sock.sendto(_busy(text), peer)


def _busy(invite: str) -> bytes:
    """486 Busy Here to `invite` (its Via, From, To with a tag, Call-ID, CSeq)."""
    head = split_message(invite)[0]
    fields = [(f.name, head[f.start:f.stop]) for f in field_spans(head)]  # as written
    keep = [text for name, text in fields if name in ("via", "from", "call-id", "cseq")]
    to = next((text for name, text in fields if name == "to"), "To: <>")
    return ("SIP/2.0 486 Busy Here\r\n" + "\r\n".join(keep) + f"\r\n{to};tag=hijack\r\n"
            "Content-Length: 0\r\n\r\n").encode()
