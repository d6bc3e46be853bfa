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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.capture.dumpcap import Capture, Captures
from harness.cdr.ledger import Ledger
from harness.config import HarnessConfig
from harness.cpuwait import RealtimeGroup, realtime_children
from harness.errors import DialGuardError, HarnessError, SipError, SoftswitchError
from harness.media import pool, reference
from harness.model import CallResult, CallSpec, LoadSpec, ProbeSpec, Status
from harness.network.access import AccessLinks, Crossing
from harness.network.sshhost import LabHosts
from harness.numberplan import NumberPlan
from harness.party import Party
from harness.pstn.carrier import CarrierAccess, register_dids
from harness.pstn.directory import carrier_dids
from harness.pstn.simulator import PSTN_DOMAIN, PstnSimulator, gateway_worker
from harness.pstn.voicemail import MwiSender
from harness.report.results import ResultStore, prune_runs
from harness.run import busyhour
from harness.run.agenthosts import AgentHosts
from harness.run.billing import cdr_book, close_billing
from harness.run.breaker import CircuitBreaker
from harness.run.busyhour import LoadReport, run_cost, rusage_now
from harness.run.guard import WORKER, StallGuard
from harness.run.hooks import NO_HOOKS, TestHooks
from harness.run.registrations import Registrations, tls_unsupported
from harness.run.runner import PSTN_WORKER, CallRunner, error_result, script_for
from harness.run.schedule import CALL_BEFORE_S, PlanScheduler, answered_call_s, expected_s
from harness.security.rows import ProbeReport
from harness.sip.farm import AgentFarm
from harness.sip.hosts import AgentHost
from harness.sip.layout import (
    AGENT_PORTS_PER_LINE,
    PSTN_AGENTS,
    RECEIVER_PORTS,
    AgentLayout,
    deal_apart,
    deal_lines,
)
from harness.sip.scenario import Seat, TlsFiles, TlsSession, WorkerSpec
from harness.softswitch import Softswitch
from harness.softswitch.process import free_udp_range, release_udp_range
from harness.verdict.call_types import Promises
from harness.verdict.run import RowOutcome, judge_run

if TYPE_CHECKING:
    from harness.softswitch.carrier import OtherCarrier



def provenance(plan_digest: str, thresholds: str) -> dict[str, str]:
    """What a signed report must pin down: the harness's commit (with "+dirty" for
    uncommitted changes), a hash of the plan rows and the thresholds judged by, and
    who ran it (user@host)."""
    repo = Path(__file__).resolve().parents[2]

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


# where the agents' port block may lie: below the switch's RTP range (20000-30000), and
# from 61000 up (above Linux's default ephemeral range; free_udp_range clips the
# host's own)
AGENT_PORT_WINDOWS = ((10000, 20000), (61000, 65536))


class HarnessSession:
    def __init__(self, cfg: HarnessConfig, reports_dir: Path, run_id: str | None = None,
                 switch: Softswitch | None = None, hooks: TestHooks = NO_HOOKS) -> None:
        self.cfg = cfg
        self.hooks = hooks  # the harness's own test faults (harness/run/hooks.py)
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
        # the agents' and the embedded switch's wait for a CPU (harness/cpuwait.py)
        limit = cfg.guard.rt_wait_limit_pct or None
        self.rt_group = RealtimeGroup.create(f"beta-{self.run_id}") if limit else None
        self.guard = StallGuard(cfg.guard.stall_threshold_s, cfg.guard.tick_s,
                                self.rt_group, limit)
        self.capture: Capture | Captures | None = None
        self.farm: AgentFarm | None = None
        self.access: AccessLinks | None = None  # rows under a profile run over these
        # customer sites (and the simulated PSTN) whose lines run on an agent host
        # (docs/agent-hosts.md)
        self.agent_hosts = AgentHosts(cfg, self.run_dir, self.run_id, self.hooks)
        self.tls_sessions: list[TlsSession] = []  # secure callers' TLS connections, as seen
        self.registrations: Registrations | None = None  # where each line is registered
        self.store: ResultStore | None = None
        self.refs = reference.references_for("PCMU", self.run_dir / "reference")
        self._wideband_refs: dict[str, reference.Reference] | None = None
        self.agent_rtp_base = 0
        self.started = False
        self._rusage: tuple[float, float] | None = None  # CPU used before start (run_cost)
        self._agents_cpu_s = 0.0  # what the local agent workers used (run_cost)
        self._closed = False
        self._cdr_mark = -1  # the switch's CDR-store error mark at start (-1: none yet)
        self.placed: dict[str, int] = {}  # calls placed per plan id: evidence folders
        typed = cfg.parsed()  # the tariff and thresholds (parsed from the text each call)
        # every call's CDR check, and the run's billing (harness/run/billing.py)
        self.cdr_book = cdr_book(self.switch.cdr_source, cfg.cdr, cfg.load, typed.tariff)
        self.breaker = CircuitBreaker(cfg.sut.circuit_breaker, self._failure)
        self.lock = threading.Lock()  # calls run in threads: the store, ledgers, counters
        self._probing = threading.Condition()  # no call is placed while a probe runs
        self._probes_up = 0
        self.pstn = PstnSimulator(self.plan)
        self.mwi: MwiSender | None = None  # the lab's voicemail platform's NOTIFYs
        self.runner = CallRunner(self)
        self.thresholds = typed.thresholds

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        prune_runs(self.run_dir.parent, self.cfg.capture.keep_runs, self.run_id)
        self.store = ResultStore(self.run_dir, self.run_id, {"status": "starting"})
        self._rusage = rusage_now()
        try:
            lab = self.agent_hosts.lab_count
            if lab and not self.switch.serves_access_links:
                raise HarnessError("agents.hosts: lab agent hosts (site=lab) live behind the "
                                   "embedded switch's access links; this switch has none "
                                   "(use ssh:user@host for an external switch)")
            if (self.cfg.agents.access_links or lab) and self.switch.serves_access_links:
                self.access = AccessLinks.create(hosts=lab)
                self.switch.access_address = self.access.core
            self.switch.pstn_address = self.agent_hosts.pstn_address(self.access)
            with realtime_children(self.rt_group):
                self._start_switch()
            self._cdr_mark = self.switch.cdr_store_errors()[0]  # its own store's losses
            self.agent_rtp_base = self._free_agent_ports()
            if self.cfg.capture.enabled:
                hi = self.agent_rtp_span()[1]
                bpf = (f"({self.switch.capture_filter()}) or (udp and host 127.0.0.1 and "
                       f"portrange {self.agent_rtp_base}-{hi})")
                if self.cfg.pstn.mode == "carrier":
                    access = self.carrier_access()
                    bpf += f" or (udp and host {access.host} and port {access.port})"
                main = Capture(self.run_dir / "capture.pcap", self.cfg.capture.interface, bpf)
                # the lab's agent hosts capture their own traffic (unless told not to):
                # their links are not captured here too
                self.capture = main if self.access is None else \
                    Captures(main, self.access.captures(
                        self.run_dir, hosts=not self.cfg.agents.host_capture))
                self.capture.start()
            self.guard.start()
            self.agent_hosts.start(self.access)
            self.capture = self.agent_hosts.start_captures(self.capture, self.access)
            with realtime_children(self.rt_group):
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
        pstn_port = self.pstn.reserve_port(self.cfg.sut.pstn_port, self.cfg.sut.trunk_ports(),
                                           separate=self.switch.separate_trunks,
                                           mwi_port=self.cfg.sut.voicemail_mwi_port)
        if self.cfg.pstn.mode != "carrier":
            self.switch.start(self.plan, pstn_port, self.pstn.trunk_ports, self.pstn.mwi_port)
            if self.pstn.mwi_port and self.plan.voicemail_pilot:  # the lab's voicemail
                # platform's NOTIFY sender
                self.mwi = MwiSender(self.pstn.mwi_port, self.plan.voicemail_pilot,
                                     self.switch.domain,
                                     (self.switch.sip_host, self.switch.sip_port))
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

    def clocks_of(self, workers: set[str]) -> dict[str, Any]:
        """The agent hosts among `workers`' and their clock offsets, as corrected in the
        times they reported (docs/agent-hosts.md)."""
        return self.agent_hosts.clocks_of(self.farm, workers)

    def clock_errors(self, workers: set[str]) -> list[str]:
        """Why figures across the agent hosts among `workers` cannot be trusted."""
        return self.agent_hosts.clock_errors(self.farm, workers)

    # the agent hosts, as the harness's own tests and benches look at them
    @property
    def hosts(self) -> dict[str, AgentHost]:
        return self.agent_hosts.hosts

    @property
    def lab_hosts(self) -> LabHosts | None:
        return self.agent_hosts.lab

    def tls_hop(self, seat: str) -> str:
        """Where the seat's worker reaches the switch over TLS (host:port): the switch's
        TLS listener, at its access address for a line on a lab agent host."""
        listener = self.switch.tls_listener()
        spec = self.farm.specs.get(self.farm.worker_of(seat)) if self.farm else None
        if spec is not None and spec.tls is not None:
            return spec.tls.proxy.removeprefix("sip:").split(";", 1)[0]
        return f"{listener.host}:{listener.port}" if listener is not None else ""

    def environment(self) -> dict[str, Any]:
        env: dict[str, Any] = {"run_id": self.run_id, "system_under_test": self.switch.name}
        env.update(self.switch.versions())
        if self.carrier is not None:
            env.update(self.carrier.versions())
        env["pjsip"] = "2.15 (pjsua2-python)"
        env["agents"] = f"{len(self.farm.ports) if self.farm else 0} worker processes, " \
                        f"up to {self.cfg.agents.concurrent_calls} calls at once"
        env["registration"] = self.registration
        if self.agent_hosts:
            env["agent_hosts"] = self.agent_hosts.environment(self.farm)
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
        run's one verdict is judged from them, the billing and the run's errors. Once:
        pytest may close the session at its end and again when it unconfigures."""
        if self._closed:
            return
        self._closed = True
        for step, stop in self._teardown():
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 - named in the run's errors, the rest go on
                if self.store is not None:
                    self.store.add_error(f"closing the run: {step} failed: "
                                         f"{type(exc).__name__}: {exc}")
        if self.store is not None and not self.store.finished:
            if self.breaker.switch_failed:
                self.store.add_error(f"the switch failed during the run "
                                     f"({self.breaker.last_failure})")
            done = finished and not self.breaker.switch_failed
            if rows is not None:
                billing = (self.store.billing or {}).get("discrepancies") or ()
                self.store.verdict = judge_run(rows, done, tuple(billing),
                                               tuple(self.store.errors))
                self.store.provenance = provenance(plan_digest, repr(self.thresholds))
                try:
                    build = "; ".join(f"{k} {v}" for k, v in self.switch.versions().items())
                except Exception as exc:  # noqa: BLE001 - the verdict is written regardless
                    build = f"not known ({type(exc).__name__}: {exc})"
                self.store.provenance["switch_build"] = build
            self.store.close(done)

    def _teardown(self) -> list[tuple[str, Callable[[], None]]]:
        """What `close` stops, in order: the workers before the capture and the switch,
        billing once the switch's records are final. A step that fails is named in the
        run's errors (the run is then INCOMPLETE), and every later step still runs, so
        the verdict and the report are always written."""
        def farm() -> None:
            if self.farm is not None:
                farm, self.farm = self.farm, None
                farm.close()
                self._agents_cpu_s += farm.worker_cpu_s
                for why in farm.dead.values():  # workers lost during the run
                    if self.store is not None:
                        self.store.add_error(why)

        def capture() -> None:
            if self.capture is not None:
                self.capture.stop()

        def carrier() -> None:
            if self.carrier is not None:
                self.carrier.stop()

        def ports() -> None:
            if self.mwi is not None:
                self.mwi.close()
                self.mwi = None
            self.pstn.release_ports()
            release_udp_range(self.agent_rtp_base)

        def cost() -> None:
            if self.store is not None and self._rusage is not None:
                self.store.cost = run_cost(self._rusage, len(self.store.calls),
                                           self._agents_cpu_s)

        def hosts() -> None:
            env = self.store.environment if self.store is not None else {}
            for drift in self.agent_hosts.close(env):
                if self.store is not None:
                    self.store.add_error(drift)

        def access() -> None:
            if self.access is not None:
                access, self.access = self.access, None
                access.destroy()

        def rt_group() -> None:
            if self.rt_group is not None:
                self.rt_group.remove()

        return [("the agent workers' stop", farm), ("the agent hosts' stop", hosts),
                ("the stall guard's stop", self.guard.stop),
                ("the scoring pool's shutdown", pool.shutdown),
                ("the capture's stop", capture), ("billing", self._billing),
                ("the switch's stop", self.switch.stop), ("the carrier's stop", carrier),
                ("releasing the ports", ports), ("the run's cost", cost),
                ("the access links' removal", access),
                ("the real-time group's removal", rt_group)]

    @property
    def ledgers(self) -> list[Ledger]:
        """Every call as the agents saw it, for billing."""
        return self.cdr_book.ledgers

    def _billing(self) -> None:
        """The run's billing, closed and written (harness/run/billing.py)."""
        if self.store is None:
            return
        refused = self.switch.cdr_store_errors(self._cdr_mark)[1]
        out = close_billing(self.cdr_book, self.run_dir, refused)
        if out.error:
            self.store.add_error(out.error)
        if out.billing is not None:
            self.store.billing = out.billing

    @contextmanager
    def hooked(self, **changes: Any) -> Iterator[TestHooks]:
        """The harness's own tests: this session with other test hooks for the block
        (e.g. `codec_override="PCMA"`), the previous ones back after. Only between
        calls: a call reads the hooks once, when it is placed."""
        before = self.hooks
        self.hooks = replace(before, **changes)
        try:
            yield self.hooks
        finally:
            self.hooks = before

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
        self.farm = AgentFarm(specs, self._on_worker_stalls, self.agent_hosts.on_host(specs))
        self.farm.start()
        self.farm.watch = self._failure
        via = {line.name: self.access.core for line in self.plan.lines
               if self.access is not None and line.site in self.agent_hosts.lab_sites}
        self.registrations = Registrations(self.switch, self.plan, self.farm, via)
        self.registrations.register_all()
        if self.cfg.pstn.mode == "carrier":  # the PSTN's numbers: DIDs at the other carrier
            self.registrations.summary["pstn_dids"] = register_dids(
                self.carrier_access(), carrier_dids(self.plan.pstn, self.plan.pstn_callers),
                f"{self.farm.specs[PSTN_WORKER].address}:{self.farm.ports[PSTN_WORKER]}")

    def _failure(self) -> str:
        """'' while the switch (and the lab's other carrier) run, else why not."""
        return self.switch.failure() or (self.carrier.failure() if self.carrier else "")

    def worker_specs(self) -> list[WorkerSpec]:
        """Lines dealt round-robin over the line workers (`agents.lines_per_worker`
        each), so that a line and the line it forwards to never share a process (one
        Endpoint answers the forwarded INVITE 482, a merged request); the simulated
        PSTN's main gateway and subscribers in one more, and a gateway worker for each
        trunk group with a port of its own."""
        layout, lines = self.layout, self.plan.lines
        apart = [(src.name, dst.name) for rule in self.plan.forwarding
                 if (src := self.plan.line(rule.line)) and
                 (dst := self.plan.line_by_number(rule.target))]
        # a hunt group's lines (and its overflow line) ring one after another for one
        # request: apart on an agent host too
        rung = [(*hunt.members, *filter(None, [hunt.overflow])) for hunt in self.plan.hunt_groups]
        hunting = [(a, b) for group in rung for k, a in enumerate(group) for b in group[k + 1:]]
        on_hosts = self.agent_hosts.host_of_site
        here = [i for i, line in enumerate(lines) if line.site not in on_hosts]
        per = max(1, self.cfg.agents.lines_per_worker)
        groups = [[Seat(lines[here[j]], lines[here[j]].name, layout.line_rtp(here[j]))
                   for j in group]
                  for group in deal_lines([lines[i].name for i in here],
                                          max(1, -(-len(here) // per)), apart)] if here else []
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
        specs += [WorkerSpec(gateway_worker(trunk), self.run_dir / f"pjsua-pstn-{trunk}.log",
                             domain, pstn_proxy, (), AGENT_PORTS_PER_LINE,
                             (layout.trunk_rtp(i), RECEIVER_PORTS), sip_port=port,
                             gateway=True, trunk=trunk, clock_rate=media.clock_rate,
                             jb_init_ms=media.jb_init_ms)
                  for i, (trunk, port) in enumerate(self.pstn.trunk_ports.items())]
        if self.switch.pstn_address != "127.0.0.1":  # the PSTN on an agent host of its own
            specs = [dataclasses.replace(spec, address=self.switch.pstn_address)
                     if spec.gateway else spec for spec in specs]
        template = WorkerSpec("template", self.run_dir, self.switch.domain, proxy, (),
                              AGENT_PORTS_PER_LINE, (layout.receiver_base(0), RECEIVER_PORTS),
                              sip_port=layout.worker_sip_port(0), clock_rate=media.clock_rate,
                              jb_init_ms=media.jb_init_ms)
        specs += self._host_specs(template, apart + hunting)
        if self.access is not None:
            specs += self.access.worker_specs(template, self.run_dir, self.switch.sip_port)
        return specs

    def _host_specs(self, template: WorkerSpec,
                    apart: list[tuple[str, str]]) -> list[WorkerSpec]:
        """The workers on agent hosts: each host's lines dealt over workers of its own
        (`<host>-w<j>`), bound to the host's address; a lab host reaches the switch at
        its access address, any other at the switch's own. The same port layout as
        here: each host has its own ports."""
        layout, lines = self.layout, self.plan.lines
        per = max(1, self.cfg.agents.lines_per_worker)
        specs = []
        sites = self.agent_hosts
        for name, host in self.hosts.items():
            mine = [i for i, line in enumerate(lines) if sites.host_of_site.get(line.site) == name]
            lab = name in {f"site{n}" for n in sites.lab_sites}
            proxy = f"sip:{self.access.core}:{self.switch.sip_port};lr" \
                if lab and self.access is not None else template.proxy
            listener = self.switch.tls_listener()
            tls = TlsFiles(listener.ca_file, listener.agent_cert, listener.agent_key,
                           f"sip:{self.access.core}:{listener.port};transport=tls;lr") \
                if lab and listener is not None and self.access is not None else None
            for j, group in enumerate(deal_apart([lines[i].name for i in mine], per, apart)):
                specs.append(dataclasses.replace(
                    template, name=f"{name}-w{j + 1}",
                    log_path=self.run_dir / f"pjsua-{name}-w{j + 1}.log", proxy=proxy,
                    seats=tuple(Seat(lines[mine[k]], lines[mine[k]].name,
                                     layout.line_rtp(mine[k])) for k in group),
                    receiver_rtp=(layout.receiver_base(j), RECEIVER_PORTS),
                    sip_port=layout.worker_sip_port(j), address=host.address, tls=tls))
        return specs

    def _on_worker_stalls(self, worker: str, lates: list[tuple[float, float]]) -> None:
        for end, late in lates:
            self.guard.record(end, late, WORKER, worker)

    @property
    def registration(self) -> dict[str, Any]:
        """The lines' registration figures (results.json environment.registration)."""
        return self.registrations.summary if self.registrations else {}

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

    def tls_unsupported(self, spec: CallSpec) -> str:
        """Why this session cannot place `spec` as asked ('' when it can)."""
        return tls_unsupported(spec, self.switch)

    def crossing(self, spec: CallSpec, seat: str,
                 callee_number: str) -> AbstractContextManager[Crossing]:
        """For a row under an impairment profile: its calling and called beta lines
        behind the access links for the row (harness/network/access.py). Other rows, or no
        access links (external switch, agents.access_links off): nothing moves."""
        if not spec.profile or self.access is None:
            return nullcontext(Crossing(()))
        if spec.transport != "udp":
            raise SipError(f"plan row {spec.plan_id}: profile={spec.profile!r} with "
                           f"transport={spec.transport!r}: rows under a profile run over "
                           "the access links, which carry UDP lines only")
        caller = None if Party.parse(seat).is_pstn else self.plan.line(seat)
        assert self.registrations is not None
        return self.access.crossing(self.registrations,
                                    [caller, self.plan.line_by_number(callee_number)])

    def call_dir(self, plan_id: str) -> Path:
        """A new evidence folder for a call of `plan_id` (its n-th placing: calls/<id>-n)."""
        with self.lock:
            self.placed[plan_id] = self.placed.get(plan_id, 0) + 1
            call_dir = self.run_dir / "calls" / f"{plan_id}-{self.placed[plan_id]}"
        call_dir.mkdir(parents=True, exist_ok=True)
        return call_dir

    def keep_tls(self, sessions: Iterable[TlsSession]) -> None:
        """A secure call's TLS connections, as its caller saw them (the run's TLS table)."""
        with self.lock:
            self.tls_sessions.extend(sessions)

    def seat_of(self, caller: str) -> str:
        """The seat placing a plan row's call: a beta line, or a PSTN subscriber."""
        party = Party.parse(caller)
        if party.is_pstn:
            if party.tag not in self.pstn.callers:
                raise DialGuardError(party.tag, "not a PSTN subscriber of the simulated PSTN "
                                                 f"(known: {', '.join(self.pstn.callers)})")
            return caller
        return self.plan.line(caller).name

    # the agents' ports and workers (harness/sip/layout.py), placed at start
    @property
    def layout(self) -> AgentLayout:
        return AgentLayout(len(self.plan.lines), self.cfg.agents.lines_per_worker,
                           self.agent_rtp_base, len(self.pstn.trunk_ports))

    @property
    def line_workers(self) -> int:
        return self.layout.workers

    def _free_agent_ports(self) -> int:
        """A free block for the agents' ports, its workers' SIP ports probed one by one
        (a taken one would stop the run at start): below the switch's RTP range, else
        above the kernel's ephemeral range (several harness sessions on one host, e.g.
        the selftest's workers, each hold a block of ~2,100 ports)."""
        layout = self.layout
        for low, high in AGENT_PORT_WINDOWS:
            try:
                return free_udp_range(layout.size, low, high, must_be_free=lambda base: (
                    layout.at(base).worker_sip_port(i) for i in range(layout.workers)))
            except SoftswitchError:
                continue  # this window is full: the next
        raise SipError("no free UDP port block for the agents ("
                       + ", ".join(f"{lo}-{hi - 1}" for lo, hi in AGENT_PORT_WINDOWS)
                       + ", outside the kernel's ephemeral range)")

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
    def run_call(self, spec: CallSpec, retries_on_stall: int | None = None,
                 on_down: Callable[[], None] | None = None,
                 in_probe: bool = False, lane: str = "rows") -> CallResult:
        """Place the call; re-place it while the guard marks it invalid (bounded).
        `on_down`: called when a placing's call is down, before it is measured. A
        security probe may run beside calls already up (harness/run/schedule.py): no
        call is placed while one runs, but the probe's own real call (`in_probe`).

        Circuit breaker: after `sut.circuit_breaker` calls in a row lost the switch,
        no more calls are placed; each gets an `error` verdict saying so."""
        assert self.store is not None
        if self.breaker.open:
            result = error_result(spec, self.breaker.refusal(), time.time())
            with self.lock:
                self.store.add(result)
            return result
        attempts: list[CallResult] = []
        retries = self.cfg.guard.retries_on_stall if retries_on_stall is None \
            else retries_on_stall
        for _ in range(1 + retries):
            if not in_probe:
                with self._probing:
                    self._probing.wait_for(lambda: not self._probes_up)
            result = self.runner.attempt(spec, on_down, lane)
            attempts.append(result)
            if not (result.verdict.status is Status.ERROR and result.verdict.invalid_measurement):
                break
        final = attempts[-1]
        self.breaker.count(final.error)
        if len(attempts) > 1:
            earlier = [f"attempt {i + 1} invalid ({invalid_because(r)})"
                       for i, r in enumerate(attempts[:-1])]
            final = replace(final, verdict=replace(final.verdict,
                                                   reasons=final.verdict.reasons + tuple(earlier)),
                            earlier_walls=tuple(r.started_wall for r in attempts[:-1]))
        with self.lock:
            self.store.add(final)
        return final

    def run_load(self, spec: LoadSpec,
                 on_calls_down: Callable[[], None] | None = None) -> LoadReport:
        """A busy hour (harness/run/busyhour.py): every call of it placed at once, each
        measured and stored like a plan row (no re-placing: a call re-placed after a
        stall would no longer be under load; it is flagged instead). `on_calls_down`:
        called once every call of it is down, while they are still being measured.

        Its CPU and stall figures span its calls and their measuring (when the plan's
        security rows run beside that measuring, their probes' share too)."""
        assert self.farm is not None and self.store is not None
        rows = busyhour.busy_hour_calls(self.plan, spec)
        up = {r.plan_id for r in rows}

        def down(plan_id: str) -> None:
            with self.lock:
                up.discard(plan_id)
                last = not up
            if last and on_calls_down is not None:
                on_calls_down()
        pids = [os.getpid(), *(self.farm.pid(w) for w in self.farm.alive())]
        cpu0 = [busyhour.cpu_seconds(p) for p in pids]
        t0, t0_wall = time.monotonic(), time.time()
        sched = PlanScheduler(rows, lambda r: self.run_call(
            r, retries_on_stall=0, on_down=lambda: down(r.plan_id), lane="load"), self.plan,
            len(rows),
            gateway_of=self.pstn.gateway_of)
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
            self.store.add_busy_hour({**dataclasses.asdict(report), "started_wall": t0_wall})
        return report

    def run_probe(self, spec: ProbeSpec) -> ProbeReport:
        """A §12 security probe against this session's switch (harness/security/rows.py),
        kept in results.json beside the calls. Run it while no plan row is up."""
        from harness.security.rows import run_probe

        assert self.store is not None
        with self._probing:
            self._probes_up += 1
        try:
            started_wall = time.time()
            report = run_probe(self, spec)
        finally:
            with self._probing:
                self._probes_up -= 1
                self._probing.notify_all()
        with self.lock:
            self.store.add_probe({**report.as_json(), "started_wall": started_wall})
        return report

    def schedule(self, specs: list[CallSpec]) -> PlanScheduler:
        """Place `specs` concurrently (see harness/run/schedule.py); read each row's result
        with `.result(plan_id)`, queue the busy hour and probes with `.after_rows`."""
        # rows under a profile run on the access links beside other rows. The embedded
        # switch's worker on the access address then writes CDRs while its loopback
        # worker does, and Kamailio 5.6's db_sqlite has no busy timeout: a record lost
        # that way is in kamailio.log, and the call is the harness's invalid measurement,
        # re-placed (EmbeddedKamailio.cdr_store_errors), never the switch's fail.
        pairs = len(self.access.pairs) if self.access is not None else 0
        return PlanScheduler(specs, self.run_call, self.plan, self.cfg.agents.concurrent_calls,
                             links=pairs, gateway_of=self.pstn.gateway_of,
                             duration=self.call_length_s, worker_of=self._line_worker)

    def _line_worker(self, seat: str) -> str:
        """The agent worker hosting a line's seat (for the scheduler's calls per worker)."""
        return self.farm.worker_of(seat) if self.farm is not None else "agents"

    def call_length_s(self, spec: CallSpec) -> float:
        """How long a row's call lasts, from the script its agents will follow: its
        ringing, then its talk (a scored call's every voice heard whole, a 3-way call's
        three turns, the speech after a resume). Only the scheduler's order depends on it."""
        if spec.expect.final_code != 200:
            return expected_s(spec)
        scorer = self.runner.scorer
        third = scorer.third_ref(spec) if scorer.has_third_party(spec) else None
        script = script_for(spec, self.refs_for(spec.codec), third, self.run_dir,
                            self.cfg.media.tail_pad_s,
                            three_way_uri="sip:3way" if spec.conference_with else "")
        # a TLS row first moves both lines onto TLS registrations (about 10 s, measured);
        # a call return row places its calls before first
        return answered_call_s(spec, script.talk_s) + \
            (10.0 if spec.transport == "tls" else 0.0) + CALL_BEFORE_S * len(spec.calls_before)


def invalid_because(result: CallResult) -> str:
    """Why a placing's figures were invalid: the causes its checks name (the host's
    stalls in the window of the figure, a CDR the switch's own store refused, a delay
    stage that died...), each once; else the stalls of its whole window."""
    causes = dict.fromkeys(c.cause for c in result.verdict.checks if c.cause)
    if causes:
        return "; ".join(causes)
    if result.stall is not None and not result.stall.clean:
        return result.stall.describe()
    return "?"
