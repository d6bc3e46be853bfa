"""A harness session: owns the system under test, the capture, the stall guard, the
SIP stack and the result store, and turns one `CallSpec` into one `CallResult`.

Order matters: child processes (switch, dumpcap) are started before any thread
exists; pjsua2 objects are released before `libDestroy()`; the report is written
on every exit path, with every call already measured.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.capture.dumpcap import Capture
from harness.cdr.billing import Tariff
from harness.cdr.ledger import Ledger
from harness.cdr.reconcile import CdrPolicy, reconcile_run
from harness.cdr.summary import billing_summary
from harness.config import HarnessConfig, parse_tariff, parse_thresholds
from harness.errors import DialGuardError, HarnessError, SipError
from harness.guard import StallGuard
from harness.media import reference
from harness.model import CallResult, CallSpec, Line, Status
from harness.numberplan import NumberPlan
from harness.pstn.simulator import PstnSimulator
from harness.report.results import ResultStore
from harness.runner import CallRunner, error_result
from harness.sip.agent import LineAgent, Switchboard
from harness.sip.register import Registrar
from harness.sip.stack import SipStack
from harness.softswitch import Softswitch
from harness.softswitch.process import free_udp_range
from harness.thresholds import ThresholdTable

AGENT_PORTS_PER_LINE = 10
PSTN_AGENTS = 4  # the gateway and the PSTN subscribers of the simulated PSTN
RECEIVER_PORTS = 400  # RTP ports of the account that answers every incoming call
MAX_DIAL_ACCOUNTS = 6  # the wheel allows 8 accounts: the receiver + dialling lines
MAX_TRANSPORTS = 8  # the wheel's pjsua transports per process, TLS included (PJ_ETOOMANY)


def site_transports(stack: SipStack, sites: list[int],
                    tls: bool) -> dict[int, tuple[int, int]]:
    """A UDP transport (an address) per site, within the wheel's 8 transports: the PSTN
    gateway takes one and a TLS transport (sut.tls) another, so with 7 sites and TLS
    the last site shares the previous site's address (no plan row calls between them).
    The multi-process agent farm gives each worker its own 8."""
    slots = MAX_TRANSPORTS - 1 - (1 if tls else 0)
    udp = [stack.add_udp_transport() for _ in range(min(len(sites), slots))]
    return {site: udp[min(i, len(udp) - 1)] for i, site in enumerate(sites)}


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"


class HarnessSession:
    def __init__(self, cfg: HarnessConfig, reports_dir: Path, run_id: str | None = None,
                 switch: Softswitch | None = None) -> None:
        self.cfg = cfg
        self.run_id = run_id or new_run_id()
        self.run_dir = reports_dir.resolve() / self.run_id
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.plan = NumberPlan.from_config(cfg.numbers)
        if switch is None and cfg.sut.kind == "external":
            from harness.softswitch.external import ExternalSwitch

            switch = ExternalSwitch(cfg.sut, cfg.source)
        elif switch is None:
            from harness.softswitch.kamailio import EmbeddedKamailio

            switch = EmbeddedKamailio(cfg.sut, self.run_dir)
        self.switch: Softswitch = switch
        self.guard = StallGuard(cfg.guard.stall_threshold_s, cfg.guard.tick_s)
        self.capture: Capture | None = None
        self.stack: SipStack | None = None
        self.lines: dict[str, LineAgent] = {}  # every beta line, registered
        self.dialling: OrderedDict[str, LineAgent] = OrderedDict()  # lines with an account
        self.receiver: LineAgent | None = None
        self.tls_transport: tuple[int, int] | None = None  # sut.tls: the agents' TLS transport
        self.registration: dict[str, Any] = {}
        self.store: ResultStore | None = None
        self.refs = {"a": reference.build("allison-a", self.run_dir / "reference"),
                     "b": reference.build("allison-b", self.run_dir / "reference")}
        self.agent_rtp_base = 0
        # fault-injection points for the harness's own tests: called with the Call-ID
        self.before_cdr_fetch: list[Callable[[str], None]] = []
        self.codec_override = ""  # offer this codec instead of the plan row's
        self.started = False
        self.placed: dict[str, int] = {}  # calls placed per plan id: evidence folders
        self.ledgers: list[Ledger] = []  # every call as the agents saw it, for billing
        self.switch_losses = 0  # calls in a row that lost the switch (circuit breaker)
        self.last_switch_failure = ""
        self.switch_failed = False  # the switch died during the run: INCOMPLETE
        self.board = Switchboard()
        self.pstn = PstnSimulator(self.plan)
        self.runner = CallRunner(self)
        self.thresholds = ThresholdTable.build(parse_thresholds(cfg.thresholds), cfg.source)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self.store = ResultStore(self.run_dir, self.run_id, {"status": "starting"})
        try:
            self.switch.start(self.plan, self.pstn.reserve_port(self.cfg.sut.pstn_port))
            self.agent_rtp_base = free_udp_range(self._rtp_span(), 40000, 60000)
            if self.cfg.capture.enabled:
                hi = self.agent_rtp_span()[1]
                bpf = (f"({self.switch.capture_filter()}) or (udp and host 127.0.0.1 and "
                       f"portrange {self.agent_rtp_base}-{hi})")
                self.capture = Capture(self.run_dir / "capture.pcap", self.cfg.capture.interface,
                                       bpf)
                self.capture.start()
            self.guard.start()
            self.stack = SipStack(self.run_dir / "pjsua.log", self.cfg.media.clock_rate,
                                  self.cfg.media.jb_init_ms)
            self.stack.start()
            self.stack.watch = self.switch.failure
            self._start_agents()
        except HarnessError as exc:
            self.store.add_error(str(exc))
            self.close()
            raise
        self.store.environment = self.environment()
        self.store.write()
        self.started = True

    def environment(self) -> dict[str, Any]:
        env: dict[str, Any] = {"run_id": self.run_id, "system_under_test": self.switch.name}
        env.update(self.switch.versions())
        env["pjsip"] = "2.15 (pjsua2-python)"
        env["registration"] = self.registration
        env["host"] = f"{platform.node()} {platform.machine()} {os.cpu_count()} CPU, " \
                      f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        env["references"] = {k: f"{r.name} {r.duration_s:.2f} s, speech {r.speech_ratio:.0%}"
                             for k, r in self.refs.items()}
        env["config"] = json.dumps(self.cfg.redacted(), default=str)
        return env

    def close(self, finished: bool = True) -> None:
        """Stop everything and write the report; `finished=False` (an interrupted plan)
        marks the run INCOMPLETE. Every call already measured is kept either way."""
        for agent in [*self.dialling.values(), *(self.receiver and [self.receiver] or [])]:
            agent.release()
        self.dialling.clear()
        self.lines.clear()
        self.receiver = None
        self.pstn.release()
        if self.stack is not None:
            try:
                self.stack.run_for(0.2)
            except Exception:  # noqa: BLE001 - teardown must go on
                pass
            self.stack.close()
            self.stack = None
        self.guard.stop()
        if self.capture is not None:
            self.capture.stop()
        self._billing()
        self.switch.stop()
        if self.store is not None and not self.store.finished:
            if self.switch_failed:
                self.store.add_error(f"the switch failed during the run "
                                     f"({self.last_switch_failure})")
            self.store.close(finished and not self.switch_failed)

    def _billing(self) -> None:
        """Reconcile the whole run against every record the switch wrote (orphans
        included) and rate it: the billing summary in results.json and billing.txt."""
        if not self.ledgers or self.store is None:
            return
        try:
            records = self.switch.cdr_source().all()
            tariff = Tariff.parse(parse_tariff(self.cfg.cdr.tariff, self.cfg.source))
        except HarnessError as exc:
            self.store.add_error(f"billing not reconciled: {exc}")
            return
        policy = CdrPolicy(self.cfg.cdr.time_tolerance_s, self.cfg.cdr.duration_tolerance_s,
                           tariff=tariff)
        summary = billing_summary(reconcile_run(self.ledgers, records, policy), tariff)
        lines = summary.lines()
        (self.run_dir / "billing.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.store.billing = {
            "calls": summary.calls, "answered": summary.answered, "cdr_rows": summary.cdr_rows,
            "missing": summary.missing, "orphans": summary.orphans,
            "billed_min": str(summary.billed_min), "charge": str(summary.charge),
            "expected_charge": str(summary.expected_charge),
            "by_class": {t.call_class: {"calls": t.calls, "billed_min": str(t.billed_min),
                                        "charge": str(t.charge)} for t in summary.by_class},
            "discrepancies": list(summary.discrepancies), "text": lines}

    def __enter__(self) -> HarnessSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lines -------------------------------------------------------------------------
    def _start_agents(self) -> None:
        """Site transports, the PSTN gateway, the receiving account, every line
        registered with the switch (see harness/sip/register.py for why not pjsua)."""
        assert self.stack is not None
        sites = sorted({ln.site for ln in self.plan.lines})
        site_tp = site_transports(self.stack, sites, self.switch.tls_listener() is not None)
        n = len(self.plan.lines)
        self.pstn.start(self.stack, self.board, self._proxy(),
                        self.agent_rtp_base + AGENT_PORTS_PER_LINE * n, AGENT_PORTS_PER_LINE)
        tls = self.switch.tls_listener()
        if tls is not None:  # after the UDP ones: PJSIP answers from its first transport
            self.tls_transport = self.stack.add_tls_transport(tls.ca_file, tls.agent_cert,
                                                              tls.agent_key)
        self.receiver = LineAgent(Line(0, 0, "receiver", ""), self.switch.domain, self._proxy(),
                                  self.receiver_rtp_ports()[0], RECEIVER_PORTS, None,
                                  self.board, "receiver", static=True)
        self.receiver.ensure_account(make_default=True)
        registrar = Registrar(self.switch.sip_host, self.switch.sip_port, self.switch.domain)
        failed, rrd = [], []
        try:
            for idx, line in enumerate(self.plan.lines):
                agent = LineAgent(line, self.switch.domain, self._proxy(),
                                  self.agent_rtp_base + AGENT_PORTS_PER_LINE * idx,
                                  AGENT_PORTS_PER_LINE, site_tp[line.site], self.board)
                reg = registrar.register(line.number, line.password, agent.contact)
                agent.registered = reg.code == 200
                self.lines[line.name] = agent
                self.board.by_user[line.number] = agent
                if agent.registered and reg.rrd_s is not None:
                    rrd.append(reg.rrd_s)
                else:
                    failed.append(f"{line.name} ({line.number}): {reg.code} {reg.reason}")
        finally:
            registrar.close()
        self.registration = {"lines": n, "registered": n - len(failed),
                             "rrd_s_max": round(max(rrd), 4) if rrd else None,
                             "rrd_s_median": round(sorted(rrd)[len(rrd) // 2], 4) if rrd else None}
        if failed:
            raise SipError(f"registration failed for {len(failed)} of {n} lines: "
                           + "; ".join(failed[:5]) + (" ..." if len(failed) > 5 else ""))

    def agent(self, line: Line) -> LineAgent:
        """The line's agent, with a dialling account (least recently used ones are
        released: the wheel allows 8 pjsua2 accounts per process)."""
        agent = self.lines[line.name]
        return self._dialler(agent)

    def _dialler(self, agent: LineAgent) -> LineAgent:
        self.dialling.pop(agent.name, None)
        while len(self.dialling) >= MAX_DIAL_ACCOUNTS:
            _, idle = self.dialling.popitem(last=False)
            idle.release()
        agent.ensure_account()
        self.dialling[agent.name] = agent
        return agent

    def _proxy(self) -> str:
        return f"sip:{self.switch.sip_host}:{self.switch.sip_port};lr"

    # -- secure calls (docs/tls-srtp.md) -----------------------------------------------
    def tls_unsupported(self, spec: CallSpec) -> str:
        """Why this session cannot place `spec` as asked ('' when it can)."""
        if spec.transport == "udp" and not spec.srtp:
            return ""
        if (spec.transport, spec.srtp) != ("tls", True):
            return (f"plan row {spec.plan_id}: transport={spec.transport!r} srtp={spec.srtp}: "
                    "secure rows are TLS + SRTP (transport='tls', srtp=True)")
        if self.tls_transport is None:
            return (f"plan row {spec.plan_id} is a TLS + SRTP call: the switch has no TLS "
                    "listener in this configuration (set sut.tls: true; docs/tls-srtp.md)")
        return ""

    def secure_call(self, spec: CallSpec, caller: LineAgent,
                    callee_number: str) -> AbstractContextManager[LineAgent]:
        """For a TLS + SRTP row: the caller (and the called line, if one) as secure
        phones for the call; yields the agent that dials. Other rows: `caller` as is."""
        why = self.tls_unsupported(spec)
        if why:
            raise SipError(why)
        if spec.transport == "udp":
            return nullcontext(caller)
        # beta lines only: a PSTN party stays on UDP and plain RTP (the gateway's trunk)
        mine = self.plan.line_by_number(caller.line.number)
        callee = self.plan.line_by_number(callee_number)
        lines = [ln for ln in (mine, callee if callee != mine else None) if ln is not None]
        return self._secure_lines(caller, lines)

    @contextmanager
    def _secure_lines(self, caller: LineAgent, lines: list[Line]) -> Iterator[LineAgent]:
        """Each line gets an account on the TLS transport (SRTP required) in place of
        its UDP one, and its registration moves to its TLS contact; afterwards both go
        back (a secure account left behind would refuse the line's plain calls)."""
        assert self.tls_transport is not None
        tls = self.switch.tls_listener()
        assert tls is not None
        proxy = f"sip:{tls.host}:{tls.port};transport=tls;lr"
        twins: list[tuple[LineAgent, LineAgent]] = []
        while len(self.dialling) > MAX_DIAL_ACCOUNTS - len(lines):
            self.dialling.popitem(last=False)[1].release()
        try:
            for line in lines:
                plain = self.lines[line.name]
                if self.dialling.pop(plain.name, None) is not None:
                    plain.release()  # same AOR: the incoming call must find the secure one
                twin = LineAgent(line, self.switch.domain, proxy, plain.rtp_port,
                                 plain.rtp_range, self.tls_transport, self.board, line.name,
                                 secure=True)
                twin.ensure_account()
                twins.append((plain, twin))
                self._move_registration(line, plain.contact, twin.contact)
            yield next((t for p, t in twins if p.line == caller.line), caller)
        finally:
            for plain, twin in twins:
                twin.release()
                self._move_registration(plain.line, twin.contact, plain.contact)

    def _move_registration(self, line: Line, old: str, new: str) -> None:
        registrar = Registrar(self.switch.sip_host, self.switch.sip_port, self.switch.domain)
        try:
            for contact, expires in ((old, 0), (new, 3600)):
                reg = registrar.register(line.number, line.password, contact, expires)
                if reg.code != 200:
                    raise SipError(f"{line.name} ({line.number}): REGISTER {contact} "
                                   f"expires={expires}: {reg.code} {reg.reason}")
        finally:
            registrar.close()

    def pstn_caller(self, number: str) -> LineAgent:
        """The simulated PSTN subscriber `number` (places incoming DID calls)."""
        agent = self.pstn.callers.get(number)
        if agent is None:
            raise DialGuardError(number, "not a PSTN subscriber of the simulated PSTN "
                                         f"(known: {', '.join(self.pstn.callers)})")
        return self._dialler(agent)

    def breaker_open(self) -> bool:
        return self.switch_losses >= max(1, self.cfg.sut.circuit_breaker)

    def _count_switch_loss(self, result: CallResult) -> None:
        why = self.switch.failure()
        lost = bool(why) or "switch did not answer OPTIONS" in result.error
        if lost:
            self.switch_losses += 1
            self.last_switch_failure = why or "no answer to OPTIONS"
            self.switch_failed = True
        else:
            self.switch_losses = 0

    # RTP ports of the agents, from agent_rtp_base: a block per line, a block per PSTN
    # party, then the receiving account's range
    def _rtp_span(self) -> int:
        return AGENT_PORTS_PER_LINE * (len(self.plan.lines) + PSTN_AGENTS) + RECEIVER_PORTS

    def agent_rtp_span(self) -> tuple[int, int]:
        """Every RTP port of the harness's agents (lines, PSTN, receiver)."""
        return self.agent_rtp_base, self.agent_rtp_base + self._rtp_span() - 1

    def receiver_rtp_ports(self) -> tuple[int, int]:
        """RTP ports of the account that answers every incoming call (fault injection)."""
        last = self.agent_rtp_span()[1]
        return last - RECEIVER_PORTS + 1, last

    # -- one plan row ------------------------------------------------------------------
    def run_call(self, spec: CallSpec) -> CallResult:
        """Place the call; re-place it while the guard marks it invalid (bounded).

        Circuit breaker: after `sut.circuit_breaker` calls in a row lost the switch,
        no more calls are placed; each gets an `error` verdict saying so."""
        assert self.store is not None
        if self.breaker_open():
            result = error_result(spec, f"not dialled: circuit breaker open after "
                                        f"{self.switch_losses} calls in a row lost the switch "
                                        f"({self.last_switch_failure})", time.time())
            self.store.add(result)
            return result
        attempts: list[CallResult] = []
        for _ in range(1 + self.cfg.guard.retries_on_stall):
            result = self.runner.attempt(spec)
            attempts.append(result)
            if not (result.verdict.status is Status.ERROR and result.verdict.invalid_measurement):
                break
        final = attempts[-1]
        self._count_switch_loss(final)
        if len(attempts) > 1:
            earlier = [f"attempt {i + 1} invalid ({r.stall.describe() if r.stall else '?'})"
                       for i, r in enumerate(attempts[:-1])]
            final = replace(final, verdict=replace(final.verdict,
                                                   reasons=final.verdict.reasons + tuple(earlier)))
        self.store.add(final)
        return final
