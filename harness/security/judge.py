"""The verdict of a §12 security probe — pure logic, no sockets.

A probe is judged by what reached the harness's far ends while it ran, not by what
the switch answered: a switch that answers 407 and relays the INVITE anyway has still
let toll fraud through. So, for every probe:

1. anything that reached the simulated PSTN gateway (a trunk) or a beta line during
   the probe's window fails the row, naming the INVITE as the far end saw it (its
   Call-ID there — a B2BUA gives that leg its own —, where, R-URI, From);
2. a 2xx to a request the switch should have refused fails it (the probe tore the
   call down at once);
3. a switch that stopped answering after the probe fails it;
4. a probe the switch never saw (nothing on the wire, no answer) is the harness's
   own error, never a pass.

Then each kind's own rule (`judge`). Silence counts as a refusal (a switch may drop
an attacker's request), provided the probe is on the wire to the switch.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.model import ProbeKind, ProbeSpec, Status
from harness.party import Party

INVITES = (ProbeKind.UNAUTHENTICATED_INVITE, ProbeKind.WRONG_PASSWORD_INVITE,
           ProbeKind.REPLAYED_CREDENTIALS_INVITE)
_WHAT = {
    ProbeKind.UNAUTHENTICATED_INVITE: "an unauthenticated INVITE",
    ProbeKind.WRONG_PASSWORD_INVITE: "an INVITE with a wrong password",
    ProbeKind.REPLAYED_CREDENTIALS_INVITE: "an INVITE with a line's credentials replayed "
                                           "from another address",
    ProbeKind.INVITE_FLOOD: "a flood INVITE",
    ProbeKind.REGISTER_HIJACK: "the hijacked contact's INVITE",
}


@dataclass(frozen=True, slots=True)
class Reached:
    """An INVITE a far end of the harness received during a probe's window."""

    where: str  # "pstn:intl" (the gateway, trunk group), "site2/01", "hijack contact ..."
    call_id: str  # as that far end saw it
    request_uri: str = ""
    from_: str = ""
    seen_by: str = "far end"  # "far end" (a worker's stray) | "capture" | "hijack socket"

    @property
    def trunk(self) -> bool:
        return Party.in_pstn(self.where)

    def describe(self) -> str:
        extra = ", ".join(x for x in (f"R-URI {self.request_uri}" if self.request_uri else "",
                                      f"From {self.from_}" if self.from_ else "") if x)
        return f"INVITE Call-ID {self.call_id or '?'} at {self.where}" + \
            (f"; {extra}" if extra else "") + \
            (f"; seen by the {self.seen_by}" if self.seen_by != "far end" else "")


@dataclass(frozen=True, slots=True)
class RealCall:
    """The real call a flood or hijack row places, as the call pipeline judged it."""

    plan_id: str
    dial: str
    status: Status
    final_code: int | None
    setup_s: float | None
    rang: tuple[str, ...]  # far ends it reached (seat names)
    reasons: tuple[str, ...] = ()
    invalid_measurement: bool = False


@dataclass(frozen=True, slots=True)
class ProbeEvidence:
    """What a probe sent and saw. Packet counts: `sent`/`received` by the probe's
    socket, `wire_to_switch`/`wire_from_switch` in the run's capture (None: no
    capture), between the probe's source and the switch's host:port."""

    switch: str  # host:port the probes went to
    source: str  # the probe's source address (host, or host:port of one socket)
    sent: int
    received: int
    codes: tuple[int, ...]  # final codes, in order (a flood: one per answered INVITE)
    reached: tuple[Reached, ...] = ()
    wire_to_switch: int | None = None
    wire_from_switch: int | None = None
    alive: bool = True  # the switch answered OPTIONS after the probe
    alive_detail: str = ""
    real_call: RealCall | None = None
    notes: tuple[str, ...] = ()
    torture_failed: tuple[str, ...] = ()  # RFC 4475 messages judged "fail", with why


def judge(spec: ProbeSpec, dial: str, ev: ProbeEvidence) -> tuple[Status, tuple[str, ...]]:
    """(status, reasons) of a probe row; `dial` is the probe's target as sent."""
    if ev.sent == 0 or (ev.received == 0 and not ev.wire_to_switch and not ev.reached):
        where = "nothing was sent" if ev.sent == 0 else \
            f"{ev.sent} packet(s) sent, none seen on the wire to {ev.switch} and no answer"
        return Status.ERROR, (f"the probe did not reach the switch ({where})",)
    fails = [_reached(spec, dial, r) for r in ev.reached]
    if not ev.alive:
        fails.append(f"the switch at {ev.switch} stopped answering after the probe "
                     f"({ev.alive_detail or 'OPTIONS unanswered'})")
    fails += _own_rule(spec, dial, ev)
    errors = _real_call_error(ev.real_call)
    if fails:
        return Status.FAIL, tuple(fails)
    if errors:
        return Status.ERROR, errors
    return Status.PASS, ()


def _reached(spec: ProbeSpec, dial: str, r: Reached) -> str:
    what = _WHAT.get(spec.kind, "a probe")
    if spec.kind is ProbeKind.REGISTER_HIJACK:
        return (f"registration hijack: the call to {spec.target} reached the hijacker's "
                f"contact ({r.describe()})")
    if r.trunk:
        return f"toll fraud: {what} to {dial} reached the PSTN trunk ({r.describe()})"
    return f"{what} to {dial} reached beta line {r.where} ({r.describe()})"


def _own_rule(spec: ProbeSpec, dial: str, ev: ProbeEvidence) -> list[str]:
    kind, ok2xx = spec.kind, [c for c in ev.codes if 200 <= c < 300]
    out: list[str] = []
    if kind in INVITES and ok2xx:
        out.append(f"{_WHAT[kind]} to {dial} was answered {ok2xx[0]} by the switch")
    elif kind in INVITES and spec.expect.codes and ev.codes and \
            ev.codes[-1] not in spec.expect.codes:
        out.append(f"{_WHAT[kind]} to {dial}: final {ev.codes[-1]}, expected "
                   f"{' or '.join(map(str, spec.expect.codes))}")
    if kind is ProbeKind.WRONG_PASSWORD_REGISTER and ok2xx:
        out.append(f"a wrong password registered line {spec.line} ({ok2xx[0]}: "
                   f"{len(ok2xx)} of the probe's REGISTERs accepted)")
    if kind is ProbeKind.REGISTER_HIJACK and ok2xx:
        out.append(f"registration hijack: a REGISTER of {spec.target}'s address without its "
                   f"credentials was accepted ({ok2xx[0]})")
    if kind is ProbeKind.INVITE_FLOOD and ok2xx:
        out.append(f"{len(ok2xx)} of the flood's unauthenticated INVITEs to {dial} were "
                   f"answered {ok2xx[0]}")
    out += [f"RFC 4475 {why}" for why in ev.torture_failed]
    return out + _real_call_fail(spec, ev.real_call)


def _real_call_fail(spec: ProbeSpec, call: RealCall | None) -> list[str]:
    if call is None or call.invalid_measurement:
        return []
    when = {ProbeKind.INVITE_FLOOD: "during the flood", ProbeKind.TORTURE: "after the "
            "torture replay"}.get(spec.kind, "after the hijack attempt")
    out = []
    if call.status is Status.FAIL:
        out += [f"the real call {when} ({call.dial}) failed: {r}" for r in call.reasons[:3]]
    if call.final_code is not None and call.final_code != 200:
        out.append(f"the real call {when} ({call.dial}) got {call.final_code}")
    if call.setup_s is not None and call.setup_s > spec.expect.setup_s_max:
        out.append(f"the real call {when} took {call.setup_s:.2f} s to set up "
                   f"(limit {spec.expect.setup_s_max:.1f} s)")
    line = spec.target if spec.kind is ProbeKind.REGISTER_HIJACK else ""
    if line and call.final_code == 200 and line not in call.rang:
        out.append(f"the real call to {line} {when} did not ring {line} "
                   f"(rang: {', '.join(call.rang) or 'nobody'})")
    return out


def _real_call_error(call: RealCall | None) -> tuple[str, ...]:
    """The real call could not be judged (a host stall, the harness's own error)."""
    if call is None or call.status is not Status.ERROR:
        return ()
    flag = " (host stalled: invalid measurement)" if call.invalid_measurement else ""
    return tuple(f"the real call {call.dial} could not be judged{flag}: {r}"
                 for r in call.reasons[:2]) or (f"the real call {call.dial} could not be "
                                                f"judged{flag}",)


def as_json(spec: ProbeSpec, dial: str, ev: ProbeEvidence, status: Status,
            reasons: tuple[str, ...]) -> dict[str, object]:
    """A probe row for results.json (`security` section)."""
    from dataclasses import asdict

    return {"plan_id": spec.plan_id, "call_type": spec.call_type, "kind": spec.kind.value,
            "target": dial, "line": spec.line, "verdict": status.value,
            "reasons": list(reasons), **{k: v for k, v in asdict(ev).items()
                                         if k not in ("reached", "real_call")},
            "reached": [{**asdict(r), "describe": r.describe()} for r in ev.reached],
            "real_call": asdict(ev.real_call) if ev.real_call else None}


def not_applicable(spec: ProbeSpec, binds_lines_to_addresses: bool, torture: bool) -> str:
    """Why a probe row is not part of this run's plan ('' when it is): the config says
    the switch does not bind lines to addresses, or the torture replay is not opted in.
    Such a row is reported, never counted (the run can still be ACCEPTED)."""
    if spec.kind is ProbeKind.REPLAYED_CREDENTIALS_INVITE and not binds_lines_to_addresses:
        return ("not applicable: the switch is not said to bind a line to the address it "
                "registered from (security.binds_lines_to_addresses: false)")
    if spec.kind is ProbeKind.TORTURE and not torture:
        return "opt-in: the RFC 4475 torture replay runs with security.torture: true"
    return ""
