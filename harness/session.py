"""A harness session: owns the system under test, the capture, the stall guard, the
agent farm (the beta lines in worker processes, harness/sip/farm.py) and the result
store, and turns one `CallSpec` into one `CallResult`, from many threads at once.

Order matters: the switch and dumpcap start before the agent workers (which need
the switch's ports); the workers stop before the capture and the switch; the
report is written on every exit path, with every call already measured.
"""

from __future__ import annotations

import dataclasses
import getpass
import hashlib
import json
import os
import platform
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import busyhour
from harness.access import AccessLinks, Crossing
from harness.busyhour import LoadReport
from harness.capture.dumpcap import Capture, Captures
from harness.cdr.billing import Tariff
from harness.cdr.book import CdrBook
from harness.cdr.ledger import Ledger
from harness.cdr.reconcile import CdrPolicy
from harness.cdr.summary import billing_summary
from harness.checks import Promises
from harness.config import HarnessConfig, parse_tariff, parse_thresholds
from harness.errors import DialGuardError, HarnessError, SipError
from harness.guard import StallGuard
from harness.media import pool, reference
from harness.model import CallResult, CallSpec, Line, LoadSpec, ProbeSpec, Status
from harness.numberplan import NumberPlan
from harness.party import Party
from harness.pstn.carrier import CarrierAccess, register_dids
from harness.pstn.directory import carrier_dids
from harness.pstn.simulator import PSTN_DOMAIN, PstnSimulator
from harness.report.results import ResultStore, prune_runs
from harness.runner import PSTN_WORKER, CallRunner, error_result
from harness.schedule import PlanScheduler
from harness.security.rows import ProbeReport
from harness.sip.farm import AgentFarm
from harness.sip.layout import (
    AGENT_PORTS_PER_LINE,
    PSTN_AGENTS,
    RECEIVER_PORTS,
    AgentLayout,
    deal_lines,
)
from harness.sip.register import Registrar, register_each
from harness.sip.scenario import Seat, TlsFiles, TlsSession, WorkerSpec
from harness.softswitch import Softswitch
from harness.softswitch.process import free_udp_range, udp_port_free
from harness.thresholds import ThresholdTable
from harness.verdict.run import RowOutcome, judge_run

if TYPE_CHECKING:
    from harness.softswitch.carrier import OtherCarrier



def provenance(plan_digest: str, thresholds: str) -> dict[str, str]:
    """What a signed report must pin down: the harness's commit (with "+dirty" for
    uncommitted changes), a hash of the plan rows and the thresholds judged by, and
    who ran it (user@host)."""
    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True,
                                  text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""
    commit = git("rev-parse", "HEAD") or "unknown (not a git checkout)"
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += "+dirty"
    digest = hashlib.sha256(f"{plan_digest}\n{thresholds}".encode()).hexdigest()[:16]
    return {"harness_commit": commit, "plan_hash": digest,
            "run_by": f"{getpass.getuser()}@{platform.node()}"}


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
        n = cfg.numbers
        # what the carrier promises its switch delivers, which the checks hold it to
        self.promises = Promises(cfg.sut.pstn_trunk_groups, n.caller_id_form_onnet,
                                 n.caller_id_form_pstn, n.emergency_location, self.plan.ali(),
                                 pstn_dids=cfg.pstn.mode == "carrier")
        if switch is None and cfg.sut.kind == "external":
            from harness.softswitch.external import ExternalSwitch

            switch = ExternalSwitch(cfg.sut, cfg.source)
        elif switch is None:
            from harness.softswitch.kamailio import EmbeddedKamailio

            switch = EmbeddedKamailio(cfg.sut, self.run_dir, cfg.load,
                                      carrier=cfg.pstn.mode == "carrier")
        self.switch: Softswitch = switch
        # pstn.mode carrier: the PSTN's numbers are DIDs at another network; `embedded`:
        # the lab's own other carrier, started and stopped with the switch
        self.carrier: OtherCarrier | None = None
        if cfg.pstn.mode == "carrier" and cfg.pstn.embedded:
            from harness.softswitch.carrier import OtherCarrier

            self.carrier = OtherCarrier(cfg.pstn, self.run_dir)
        self.guard = StallGuard(cfg.guard.stall_threshold_s, cfg.guard.tick_s)
        self.capture: Capture | Captures | None = None
        self.farm: AgentFarm | None = None
        self.access: AccessLinks | None = None  # rows under a profile run over these
        self.tls_sessions: list[TlsSession] = []  # secure callers' TLS connections, as seen
        self.registration: dict[str, Any] = {}
        self.store: ResultStore | None = None
        self.refs = reference.references_for("PCMU", self.run_dir / "reference")
        self._wideband_refs: dict[str, reference.Reference] | None = None
        self.agent_rtp_base = 0
        # fault-injection points for the harness's own tests: called with the Call-ID
        self.before_cdr_fetch: list[Callable[[str], None]] = []
        self.codec_override = ""  # offer this codec instead of the plan row's
        self.agent_faults: frozenset[str] = frozenset()  # Script.agent_faults, for tests
        self.started = False
        self.placed: dict[str, int] = {}  # calls placed per plan id: evidence folders
        self.cdr_book = self._cdr_book()  # every call's CDR check, and the run's billing
        self.switch_losses = 0  # calls in a row that lost the switch (circuit breaker)
        self.last_switch_failure = ""
        self.switch_failed = False  # the switch died during the run: INCOMPLETE
        self.lock = threading.Lock()  # calls run in threads: the store, ledgers, counters
        self.pstn = PstnSimulator(self.plan)
        self.runner = CallRunner(self)
        self.thresholds = ThresholdTable.build(parse_thresholds(cfg.thresholds), cfg.source)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        prune_runs(self.run_dir.parent, self.cfg.capture.keep_runs, self.run_id)
        self.store = ResultStore(self.run_dir, self.run_id, {"status": "starting"})
        try:
            if self.cfg.agents.access_links and self.switch.serves_access_links:
                self.access = AccessLinks.create()
                self.switch.access_address = self.access.core
            self._start_switch()
            self.agent_rtp_base = self._free_agent_ports()
            if self.cfg.capture.enabled:
                hi = self.agent_rtp_span()[1]
                bpf = (f"({self.switch.capture_filter()}) or (udp and host 127.0.0.1 and "
                       f"portrange {self.agent_rtp_base}-{hi})")
                if self.cfg.pstn.mode == "carrier":
                    access = self.carrier_access()
                    bpf += f" or (udp and host {access.host} and port {access.port})"
                main = Capture(self.run_dir / "capture.pcap", self.cfg.capture.interface, bpf)
                self.capture = main if self.access is None else \
                    Captures(main, self.access.captures(self.run_dir))
                self.capture.start()
            self.guard.start()
            self._start_agents()
        except HarnessError as exc:
            self.store.add_error(str(exc))
            self.close()
            raise
        self.store.environment = self.environment()
        self.store.write()
        self.started = True

    def _start_switch(self) -> None:
        """The switch under test, its off-net calls to the simulated PSTN gateway's
        port; in carrier mode to the other carrier's trunk instead, the lab's own
        carrier started after the switch (its trunk trusts the switch's port)."""
        pstn_port = self.pstn.reserve_port(self.cfg.sut.pstn_port)
        if self.cfg.pstn.mode != "carrier":
            self.switch.start(self.plan, pstn_port)
            return
        trunk = self.carrier.reserve_port() if self.carrier else self.cfg.pstn.carrier_port
        self.switch.start(self.plan, trunk)
        if self.carrier is not None:
            self.carrier.start(self.plan, self.switch.sip_host, self.switch.sip_port)

    def carrier_access(self) -> CarrierAccess:
        """Where the DIDs live in carrier mode: the lab's carrier, or the configured one."""
        p = self.cfg.pstn
        if self.carrier is not None:
            return CarrierAccess(self.carrier.host, self.carrier.port, self.carrier.domain,
                                 self.carrier.password)
        return CarrierAccess(p.carrier_host, p.carrier_port, p.carrier_domain, p.did_password)

    def first_hop(self, caller: str) -> str:
        """Where a row's caller sends its INVITE (host:port): the switch; a PSTN
        subscriber in carrier mode, the other carrier (its outbound proxy)."""
        if Party.parse(caller).is_pstn and self.cfg.pstn.mode == "carrier":
            access = self.carrier_access()
            return f"{access.host}:{access.port}"
        return f"{self.switch.sip_host}:{self.switch.sip_port}"

    def environment(self) -> dict[str, Any]:
        env: dict[str, Any] = {"run_id": self.run_id, "system_under_test": self.switch.name}
        env.update(self.switch.versions())
        if self.carrier is not None:
            env.update(self.carrier.versions())
        env["pjsip"] = "2.15 (pjsua2-python)"
        env["agents"] = f"{len(self.farm.ports) if self.farm else 0} worker processes, " \
                        f"up to {self.cfg.agents.concurrent_calls} calls at once"
        env["registration"] = self.registration
        if self.access is not None:
            env["access_links"] = (f"{len(self.access.net.links)} network namespaces, veth "
                                   f"to the switch's access address {self.access.core} "
                                   "(rows under an impairment profile)")
        env["host"] = f"{platform.node()} {platform.machine()} {os.cpu_count()} CPU, " \
                      f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        env["references"] = {k: f"{r.name} {r.duration_s:.2f} s, speech {r.speech_ratio:.0%}"
                             for k, r in self.refs.items()}
        env["config"] = json.dumps(self.cfg.redacted(), default=str)
        return env

    def close(self, finished: bool = True, rows: Sequence[RowOutcome] | None = None,
              plan_digest: str = "") -> None:
        """Stop everything and write the report; `finished=False` (an interrupted plan)
        marks the run INCOMPLETE. Every call already measured is kept either way.
        `rows`: what happened to every row of the plan (the pytest plugin knows): the
        run's one verdict is judged from them, the billing and the run's errors."""
        if self.farm is not None:
            self.farm.close()
            for why in self.farm.dead.values():  # workers lost during the run
                if self.store is not None:
                    self.store.add_error(why)
            self.farm = None
        self.guard.stop()
        pool.shutdown()
        if self.capture is not None:
            self.capture.stop()
        self._billing()
        self.switch.stop()
        if self.carrier is not None:
            self.carrier.stop()
        if self.access is not None:
            self.access.destroy()
            self.access = None
        if self.store is not None and not self.store.finished:
            if self.switch_failed:
                self.store.add_error(f"the switch failed during the run "
                                     f"({self.last_switch_failure})")
            done = finished and not self.switch_failed
            if rows is not None:
                billing = (self.store.billing or {}).get("discrepancies") or ()
                self.store.verdict = judge_run(rows, done, tuple(billing),
                                               tuple(self.store.errors))
                self.store.provenance = provenance(plan_digest, repr(self.thresholds))
                self.store.provenance["switch_build"] = "; ".join(
                    f"{k} {v}" for k, v in self.switch.versions().items())
            self.store.close(done)

    def _cdr_book(self) -> CdrBook:
        """The run's CDR book (harness/cdr/book.py): the tariff is parsed here, once."""
        cdr, load = self.cfg.cdr, self.cfg.load
        tariff = Tariff.parse(parse_tariff(cdr.tariff, self.cfg.source))
        return CdrBook(self.switch.cdr_source,
                       CdrPolicy(cdr.time_tolerance_s, cdr.duration_tolerance_s, tariff=tariff),
                       cdr.wait_s,  # the background load's own calls are not the plan's
                       ignore=lambda r: (r.caller, r.callee) == (load.caller, load.target),
                       since_wall=time.time())

    @property
    def ledgers(self) -> list[Ledger]:
        """Every call as the agents saw it, for billing."""
        return self.cdr_book.ledgers

    def _billing(self) -> None:
        """The run's billing from the calls' own CDR checks plus every record of the
        run no call claimed (orphans), rated: the summary in results.json and
        billing.txt."""
        if not self.ledgers or self.store is None:
            return
        try:
            run = self.cdr_book.close()
        except HarnessError as exc:
            self.store.add_error(f"billing not reconciled: {exc}")
            return
        summary = billing_summary(run, self.cdr_book.policy.tariff)
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
        """The agent farm (the beta lines spread over worker processes, the simulated
        PSTN in one of its own), then every line registered with the switch at its
        worker's address (see harness/sip/register.py for why not through pjsua)."""
        specs = self.worker_specs()
        self.farm = AgentFarm(specs, self._on_worker_stalls)
        self.farm.start()
        self.farm.watch = self._failure
        done = register_each(
            Registrar(self.switch.sip_host, self.switch.sip_port, self.switch.domain),
            [(f"{line.name} ({line.number})", line.number, line.password, self.contact(line))
             for line in self.plan.lines])
        n, rrd = len(self.plan.lines), sorted(done.rrd_s)
        self.registration = {"lines": n, "registered": n - len(done.failed),
                             "rrd_s_max": round(rrd[-1], 4) if rrd else None,
                             "rrd_s_median": round(rrd[len(rrd) // 2], 4) if rrd else None}
        if done.failed:
            raise SipError(done.problem("registration", n, "lines"))
        if self.cfg.pstn.mode == "carrier":  # the PSTN's numbers: DIDs at the other carrier
            self.registration["pstn_dids"] = register_dids(
                self.carrier_access(), carrier_dids(self.plan.pstn, self.plan.pstn_callers),
                f"{self.farm.specs[PSTN_WORKER].address}:{self.farm.ports[PSTN_WORKER]}")

    def _failure(self) -> str:
        """'' while the switch (and the lab's other carrier) run, else why not."""
        return self.switch.failure() or (self.carrier.failure() if self.carrier else "")

    def worker_specs(self) -> list[WorkerSpec]:
        """Lines dealt round-robin over the line workers (`agents.lines_per_worker`
        each), so that a line and the line it forwards to never share a process (one
        Endpoint answers the forwarded INVITE 482, a merged request); the simulated
        PSTN's gateway and subscribers in one more."""
        layout, lines = self.layout, self.plan.lines
        apart = [(src.name, dst.name) for rule in self.plan.forwarding
                 if (src := self.plan.line(rule.line)) and
                 (dst := self.plan.line_by_number(rule.target))]
        groups = [[Seat(lines[i], lines[i].name, layout.line_rtp(i)) for i in group]
                  for group in deal_lines([line.name for line in lines], layout.workers, apart)]
        proxy, media = self._proxy(), self.cfg.media
        listener = self.switch.tls_listener()
        tls = TlsFiles(listener.ca_file, listener.agent_cert, listener.agent_key,
                       f"sip:{listener.host}:{listener.port};transport=tls;lr") \
            if listener is not None else None
        specs = [WorkerSpec(f"w{i + 1}", self.run_dir / f"pjsua-w{i + 1}.log", self.switch.domain,
                            proxy, tuple(seats), AGENT_PORTS_PER_LINE,
                            (layout.receiver_base(i), RECEIVER_PORTS),
                            sip_port=layout.worker_sip_port(i), tls=tls,
                            clock_rate=media.clock_rate, jb_init_ms=media.jb_init_ms)
                 for i, seats in enumerate(groups)]
        pstn_rtp = layout.pstn_rtp
        assert RECEIVER_PORTS + AGENT_PORTS_PER_LINE * len(self.plan.pstn_callers) <= \
            AGENT_PORTS_PER_LINE * PSTN_AGENTS
        pstn_host, pstn_port = self.switch.pstn_entry  # a B2BUA may front the switch
        domain, pstn_proxy, password = PSTN_DOMAIN, f"sip:{pstn_host}:{pstn_port};lr", None
        if self.cfg.pstn.mode == "carrier":  # DIDs at another network, its outbound proxy
            access = self.carrier_access()
            domain, pstn_proxy, password = access.domain, access.proxy, access.password
        specs.append(WorkerSpec(PSTN_WORKER, self.run_dir / "pjsua-pstn.log", domain,
                                pstn_proxy,
                                self.pstn.seats(pstn_rtp + RECEIVER_PORTS - AGENT_PORTS_PER_LINE,
                                                AGENT_PORTS_PER_LINE, password),
                                AGENT_PORTS_PER_LINE, (pstn_rtp, RECEIVER_PORTS),
                                sip_port=self.pstn.port, gateway=True,
                                pstn_by_did=password is not None,
                                clock_rate=media.clock_rate, jb_init_ms=media.jb_init_ms))
        if self.access is not None:
            specs += self.access.worker_specs(specs[0], self.run_dir, self.switch.sip_port)
        return specs

    def _on_worker_stalls(self, lates: list[tuple[float, float]]) -> None:
        for end, late in lates:
            self.guard.record(end, late)

    def caller_addr(self, seat: str, tls: bool = False) -> str:
        """The SIP address (host:port) of the seat's worker (its TLS one: `tls`)."""
        assert self.farm is not None
        worker = self.farm.worker_of(seat)
        ports = self.farm.tls_ports if tls else self.farm.ports
        return f"{self.farm.specs[worker].address}:{ports[worker]}"

    def contact(self, line: Line, tls: bool = False) -> str:
        """The Contact `line` registers: its worker's address (its TLS one: `tls`)."""
        if tls:
            return f"sip:{line.number}@{self.caller_addr(line.name, tls=True)};transport=tls"
        return f"sip:{line.number}@{self.caller_addr(line.name)}"

    def refs_for(self, codec: str) -> dict[str, reference.Reference]:
        """The pair a call in `codec` plays and is scored against (G.722: 16 kHz talkers)."""
        if reference.band_for(codec) == "nb":
            return self.refs
        with self.lock:
            if self._wideband_refs is None:
                self._wideband_refs = reference.references_for(codec, self.run_dir / "reference")
            return self._wideband_refs

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
        if self.switch.tls_listener() is None:
            return (f"plan row {spec.plan_id} is a TLS + SRTP call: the switch has no TLS "
                    "listener in this configuration (sut.tls is off; docs/tls-srtp.md)")
        return ""

    def secure_call(self, spec: CallSpec, callee_number: str) -> AbstractContextManager[None]:
        """For a TLS + SRTP row: the called beta line registered at its worker's TLS
        address for the call (the switch then reaches it over TLS, SRTP offered); the
        caller's worker dials from a secure account of the line. Other rows: nothing."""
        why = self.tls_unsupported(spec)
        if why:
            raise SipError(why)
        callee = self.plan.line_by_number(callee_number)
        if spec.transport == "udp" or callee is None:
            return nullcontext()
        return self._registered_over_tls(callee)

    @contextmanager
    def _registered_over_tls(self, line: Line) -> Iterator[None]:
        plain, secure = self.contact(line), self.contact(line, tls=True)
        self.move_registration(line, plain, secure)
        try:
            yield
        finally:
            self.move_registration(line, secure, plain)

    def move_registration(self, line: Line, old: str, new: str, via: str = "") -> None:
        """Re-register `line` at contact `new` instead of `old` (expires 0, then 3600),
        sent to the switch at `via` (default its own address): the switch reaches the
        contact from the socket the REGISTER arrived on (an access link's: its access
        address)."""
        registrar = Registrar(via or self.switch.sip_host, self.switch.sip_port,
                              self.switch.domain)
        try:
            for contact, expires in ((old, 0), (new, 3600)):
                reg = registrar.register(line.number, line.password, contact, expires)
                if reg.code != 200:
                    raise SipError(f"{line.name} ({line.number}): REGISTER {contact} "
                                   f"expires={expires}: {reg.code} {reg.reason}")
        finally:
            registrar.close()

    def crossing(self, spec: CallSpec, seat: str,
                 callee_number: str) -> AbstractContextManager[Crossing]:
        """For a row under an impairment profile: its calling and called beta lines
        behind the access links for the row (harness/access.py). Other rows, or no
        access links (external switch, agents.access_links off): nothing moves."""
        if not spec.profile or self.access is None:
            return nullcontext(Crossing(()))
        if spec.transport != "udp":
            raise SipError(f"plan row {spec.plan_id}: profile={spec.profile!r} with "
                           f"transport={spec.transport!r}: rows under a profile run over "
                           "the access links, which carry UDP lines only")
        caller = None if Party.parse(seat).is_pstn else self.plan.line(seat)
        return self.access.crossing(self, [caller, self.plan.line_by_number(callee_number)])

    def seat_of(self, caller: str) -> str:
        """The seat placing a plan row's call: a beta line, or a PSTN subscriber."""
        party = Party.parse(caller)
        if party.is_pstn:
            if party.tag not in self.pstn.callers:
                raise DialGuardError(party.tag, "not a PSTN subscriber of the simulated PSTN "
                                                 f"(known: {', '.join(self.pstn.callers)})")
            return caller
        return self.plan.line(caller).name

    def breaker_open(self) -> bool:
        return self.switch_losses >= max(1, self.cfg.sut.circuit_breaker)

    def _count_switch_loss(self, result: CallResult) -> None:
        why = self._failure()
        lost = bool(why) or "switch did not answer OPTIONS" in result.error
        if lost:
            self.switch_losses += 1
            self.last_switch_failure = why or "no answer to OPTIONS"
            self.switch_failed = True
        else:
            self.switch_losses = 0

    # the agents' ports and workers (harness/sip/layout.py), placed at start
    @property
    def layout(self) -> AgentLayout:
        return AgentLayout(len(self.plan.lines), self.cfg.agents.lines_per_worker,
                           self.agent_rtp_base)

    @property
    def line_workers(self) -> int:
        return self.layout.workers

    def _free_agent_ports(self) -> int:
        """A free block for the agents' ports, its workers' SIP ports probed one by one
        (a taken one would stop the run at start)."""
        for _ in range(20):
            layout = self.layout.at(free_udp_range(self.layout.size, 10000, 20000))
            if all(udp_port_free(layout.worker_sip_port(i)) for i in range(layout.workers)):
                return layout.base
        raise SipError("no free UDP port block for the agents between 10000 and 20000")

    def agent_rtp_span(self) -> tuple[int, int]:
        """Every RTP port of the harness's agents (lines, PSTN, receiver)."""
        return self.layout.rtp_span

    def receiver_rtp_ports(self, line: str) -> tuple[int, int]:
        """RTP ports on which `line` answers calls (its worker's receiving account), for
        fault injection."""
        assert self.farm is not None
        worker = self.farm.worker_of(self.plan.line(line).name)
        first = self.layout.receiver_base(int(worker[1:]) - 1)
        return first, first + RECEIVER_PORTS - 1

    # -- one plan row ------------------------------------------------------------------
    def run_call(self, spec: CallSpec, retries_on_stall: int | None = None) -> CallResult:
        """Place the call; re-place it while the guard marks it invalid (bounded).

        Circuit breaker: after `sut.circuit_breaker` calls in a row lost the switch,
        no more calls are placed; each gets an `error` verdict saying so."""
        assert self.store is not None
        if self.breaker_open():
            result = error_result(spec, f"not dialled: circuit breaker open after "
                                        f"{self.switch_losses} calls in a row lost the switch "
                                        f"({self.last_switch_failure})", time.time())
            with self.lock:
                self.store.add(result)
            return result
        attempts: list[CallResult] = []
        retries = self.cfg.guard.retries_on_stall if retries_on_stall is None \
            else retries_on_stall
        for _ in range(1 + retries):
            result = self.runner.attempt(spec)
            attempts.append(result)
            if not (result.verdict.status is Status.ERROR and result.verdict.invalid_measurement):
                break
        final = attempts[-1]
        with self.lock:
            self._count_switch_loss(final)
        if len(attempts) > 1:
            earlier = [f"attempt {i + 1} invalid ({r.stall.describe() if r.stall else '?'})"
                       for i, r in enumerate(attempts[:-1])]
            final = replace(final, verdict=replace(final.verdict,
                                                   reasons=final.verdict.reasons + tuple(earlier)))
        with self.lock:
            self.store.add(final)
        return final

    def run_load(self, spec: LoadSpec) -> LoadReport:
        """A busy hour (harness/busyhour.py): every call of it placed at once, each
        measured and stored like a plan row (no re-placing: a call re-placed after a
        stall would no longer be under load; it is flagged instead)."""
        assert self.farm is not None and self.store is not None
        rows = busyhour.busy_hour_calls(self.plan, spec)
        pids = [os.getpid(), *(self.farm.pid(w) for w in self.farm.alive())]
        cpu0 = [busyhour.cpu_seconds(p) for p in pids]
        t0 = time.monotonic()
        sched = PlanScheduler(rows, lambda r: self.run_call(r, retries_on_stall=0), self.plan,
                              len(rows))
        results = [sched.result(r.plan_id) for r in rows]
        wall_s = time.monotonic() - t0
        cpu = [busyhour.cpu_seconds(p) - c for p, c in zip(pids, cpu0, strict=True)]
        from harness.report.results import call_to_json, rfc6076

        rfc = rfc6076([call_to_json(r) for r in results])
        mos, invalid = busyhour.mos_distribution(results)
        status, reasons = busyhour.judge(spec, rfc, mos, invalid, results)
        stall = self.guard.report(t0, time.monotonic())
        report = busyhour.LoadReport(
            spec.plan_id, spec.call_type, len(rows), busyhour.concurrent_peak(results), wall_s,
            {k: rfc[k] for k in ("overall",)}, mos, invalid, stall.max_stall_s,
            {"controller": round(cpu[0], 2), "agents": round(sum(cpu[1:]), 2),
             "per_call": round(sum(cpu) / max(1, len(rows)), 3)},
            {"controller": round(busyhour.rss_mb(pids[0]), 1),
             "agents": round(sum(busyhour.rss_mb(p) for p in pids[1:]), 1)},
            status, reasons)
        with self.lock:
            self.store.add_busy_hour(dataclasses.asdict(report))
        return report

    def run_probe(self, spec: ProbeSpec) -> ProbeReport:
        """A §12 security probe against this session's switch (harness/security/rows.py),
        kept in results.json beside the calls. Run it while no plan row is up."""
        from harness.security.rows import run_probe

        assert self.store is not None
        report = run_probe(self, spec)
        with self.lock:
            self.store.add_probe(report.as_json())
        return report

    def schedule(self, specs: list[CallSpec]) -> PlanScheduler:
        """Place `specs` concurrently (see harness/schedule.py); read each row's result
        with `.result(plan_id)`."""
        # rows under a profile run on the access links beside other rows. The embedded
        # switch's worker on the access address then writes CDRs while its loopback
        # worker does, and Kamailio 5.6's db_sqlite has no busy timeout: a record lost
        # that way is in kamailio.log, and the call is the harness's invalid measurement,
        # re-placed (EmbeddedKamailio.cdr_store_errors), never the switch's fail.
        links = self.access is not None
        return PlanScheduler(specs, self.run_call, self.plan, self.cfg.agents.concurrent_calls,
                             links=links)
