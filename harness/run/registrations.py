"""Where each beta line is registered with the switch, and moving it: every line at its
agent worker's address at start (harness/sip/register.py, not through pjsua), a TLS +
SRTP row's called line at its worker's TLS address for the call, a row under an
impairment profile's lines behind their access links (harness/network/access.py).

The switch is somebody else's: it learns where a line is only from a REGISTER, so a
line moved for one row is moved back after it (expires 0 at the old contact, then 3600
at the new one, RFC 3261 §10.2.2)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from harness.errors import SipError
from harness.model import CallSpec, Line
from harness.numberplan import NumberPlan
from harness.sip.farm import AgentFarm
from harness.sip.register import Registered, Registrar, register_each
from harness.softswitch import Softswitch


class Registrations:
    def __init__(self, switch: Softswitch, plan: NumberPlan, farm: AgentFarm,
                 via: dict[str, str] | None = None) -> None:
        """`via`: lines whose REGISTER goes to the switch at another of its addresses
        (a lab agent host's lines: the switch's access address, which reaches them)."""
        self.switch, self.plan, self.farm = switch, plan, farm
        self.via = dict(via or {})
        self.summary: dict[str, Any] = {}  # results.json environment.registration

    def caller_addr(self, seat: str, tls: bool = False) -> str:
        """The SIP address (host:port) of the seat's worker (its TLS one: `tls`)."""
        worker = self.farm.worker_of(seat)
        ports = self.farm.tls_ports if tls else self.farm.ports
        return f"{self.farm.specs[worker].address}:{ports[worker]}"

    def contact(self, line: Line, tls: bool = False) -> str:
        """The Contact `line` registers: its worker's address (its TLS one: `tls`)."""
        if tls:
            return f"sip:{line.number}@{self.caller_addr(line.name, tls=True)};transport=tls"
        return f"sip:{line.number}@{self.caller_addr(line.name)}"

    def registrar_of(self, line: Line) -> str:
        """The switch's address `line` registers at: its own, or (a lab agent host's
        line) the access address that reaches the line."""
        return self.via.get(line.name) or self.switch.sip_host

    def register_all(self) -> dict[str, Any]:
        """Every line of the plan at its worker's address; the figures (lines,
        registered, RRD) kept in `summary`. A line the switch refuses stops the run."""
        sw = self.switch
        batches = [register_each(
            Registrar(via, sw.sip_port, sw.domain),
            [(f"{line.name} ({line.number})", line.number, line.password, self.contact(line))
             for line in self.plan.lines if self.registrar_of(line) == via])
            for via in sorted({self.registrar_of(line) for line in self.plan.lines})]
        done = Registered(tuple(f for b in batches for f in b.failed),
                          tuple(r for b in batches for r in b.rrd_s))
        n, rrd = len(self.plan.lines), sorted(done.rrd_s)
        self.summary.update({"lines": n, "registered": n - len(done.failed),
                             "rrd_s_max": round(rrd[-1], 4) if rrd else None,
                             "rrd_s_median": round(rrd[len(rrd) // 2], 4) if rrd else None})
        if done.failed:
            raise SipError(done.problem("registration", n, "lines"))
        return self.summary

    def move(self, line: Line, old: str, new: str, via: str = "") -> None:
        """Re-register `line` at contact `new` instead of `old` (expires 0, then 3600),
        sent to the switch at `via` (default: where the line registers, its own address
        unless the line is on a lab agent host): the switch reaches the contact from the
        socket the REGISTER arrived on (an access link's: its access address)."""
        registrar = Registrar(via or self.registrar_of(line), self.switch.sip_port,
                              self.switch.domain)
        try:
            for contact, expires in ((old, 0), (new, 3600)):
                reg = registrar.register(line.number, line.password, contact, expires)
                if reg.code != 200:
                    raise SipError(f"{line.name} ({line.number}): REGISTER {contact} "
                                   f"expires={expires}: {reg.code} {reg.reason}")
        finally:
            registrar.close()

    # -- secure calls (docs/tls-srtp.md) -----------------------------------------------
    def secure_call(self, spec: CallSpec, callee_number: str) -> AbstractContextManager[None]:
        """For a TLS + SRTP row: the called beta line registered at its worker's TLS
        address for the call (the switch then reaches it over TLS, SRTP offered); the
        caller's worker dials from a secure account of the line. Other rows: nothing."""
        why = tls_unsupported(spec, self.switch)
        if why:
            raise SipError(why)
        callee = self.plan.line_by_number(callee_number)
        if spec.transport == "udp" or callee is None:
            return nullcontext()
        return self._over_tls(callee)

    @contextmanager
    def _over_tls(self, line: Line) -> Iterator[None]:
        plain, secure = self.contact(line), self.contact(line, tls=True)
        self.move(line, plain, secure)
        try:
            yield
        finally:
            self.move(line, secure, plain)


def tls_unsupported(spec: CallSpec, switch: Softswitch) -> str:
    """Why `switch` cannot take `spec` as asked ('' when it can): secure rows are
    TLS + SRTP, on a switch with a TLS listener."""
    if spec.transport == "udp" and not spec.srtp:
        return ""
    if (spec.transport, spec.srtp) != ("tls", True):
        return (f"plan row {spec.plan_id}: transport={spec.transport!r} srtp={spec.srtp}: "
                "secure rows are TLS + SRTP (transport='tls', srtp=True)")
    if switch.tls_listener() is None:
        return (f"plan row {spec.plan_id} is a TLS + SRTP call: the switch has no TLS "
                "listener in this configuration (sut.tls is off; docs/tls-srtp.md)")
    return ""
