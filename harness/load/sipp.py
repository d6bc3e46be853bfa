"""Background load with SIPp: a generator (UAC) placing calls through the switch at a
configured rate and concurrency, and the far end answering them (the "load sink", a
SIPp UAS on its own loopback port, to which the switch routes `load.target`).

    with BackgroundLoad.for_session(session, rate_cps=10, max_calls=20) as load:
        session.run_call(spec)          # probe calls, measured as always
    load.stats                          # LoadStats: offered/achieved cps, failures, ...

Both SIPp processes are children of the harness (own process group, killed with it,
reaped on stop: `harness.softswitch.process.ChildProcess`). Stop is graceful first:
`q` on the UAC's control port (no new calls; calls in progress finish), then the
sink's; a process still running after `hold_s` + grace is killed. Every exit path
stops both.

The generator authenticates as `load.caller` by digest (what any switch can offer a
test account; no trust by address). All SIP goes to 127.0.0.1; any other switch
address is refused. While the load runs, the run's `ResultStore` tags each probe call
with the load level, and the level's statistics, the host-stall guard's report over
its window and the harness's and SIPp's CPU are stored beside them (docs/load.md).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from harness.config import HarnessConfig, LoadConfig
from harness.errors import ConfigError, DialGuardError, EnvironmentMissing, HarnessError
from harness.load import LoadError
from harness.load.scenario import UAS_SCENARIO, uac_scenario
from harness.load.stats import LoadStats, answered
from harness.softswitch.process import (
    ChildProcess,
    PortHold,
    free_udp_port,
    udp_bound_by,
    udp_port_free,
)

if TYPE_CHECKING:
    from harness.numberplan import NumberPlan
    from harness.report.results import ResultStore
    from harness.run.guard import StallGuard
    from harness.run.session import HarnessSession
    from harness.softswitch import Softswitch

LOOPBACK = "127.0.0.1"
STOP_GRACE_S = 5.0  # beyond hold_s, for calls in progress to finish after 'q'


@dataclass(frozen=True, slots=True)
class LoadTarget:
    """Where the load goes and as whom: the switch's address, the generator's
    account, the number dialled and the sink's port (None: the switch answers)."""

    host: str
    port: int
    domain: str
    caller: str
    password: str
    target: str
    sink_port: int | None

    @classmethod
    def resolve(cls, cfg: HarnessConfig, switch: Softswitch, plan: NumberPlan) -> LoadTarget:
        """From the config's load section and the running switch; refuses a switch off
        127.0.0.1 and numbers of the probe plan (the load must not ring a probe's party)."""
        ld, f = cfg.load, cfg.source
        if switch.sip_host != LOOPBACK:
            raise LoadError(f"background load goes to {LOOPBACK} only; the switch is at "
                            f"{switch.sip_host}:{switch.sip_port}")
        for name in ("caller", "target"):
            number = getattr(ld, name)
            try:
                plan.route(number)
            except DialGuardError:
                continue  # outside the probe plan: what a load number must be
            raise DialGuardError(number, f"load.{name} is a number of the probe plan "
                                         "(a beta line or a simulated PSTN party)")
        from harness.softswitch.kamailio import EmbeddedKamailio

        if isinstance(switch, EmbeddedKamailio):
            _same_load(switch.load, ld, f)
            return cls(LOOPBACK, switch.sip_port, switch.domain, ld.caller,
                       switch.load_password, ld.target, switch.load_sink_port)
        if not ld.password:
            raise ConfigError(f, "load.password", ld.password, "an external switch needs the "
                              "load account's digest password (use ${ENV_VAR})")
        if ld.sink and not ld.sink_port:
            raise ConfigError(f, "load.sink_port", ld.sink_port, "an external switch needs it "
                              "set (the port it sends load.target to), or load.sink: false")
        return cls(LOOPBACK, switch.sip_port, switch.domain, ld.caller, ld.password,
                   ld.target, ld.sink_port if ld.sink else None)


def _same_load(rendered: LoadConfig, wanted: LoadConfig, file: str) -> None:
    for name in ("caller", "target", "sink_port"):
        if getattr(wanted, name) and getattr(rendered, name) != getattr(wanted, name):
            raise ConfigError(file, f"load.{name}", getattr(wanted, name),
                              f"the embedded switch was rendered with "
                              f"{getattr(rendered, name)!r}: construct it with the run's load "
                              "section (EmbeddedKamailio(cfg.sut, run_dir, cfg.load))")


def sipp_binary() -> str:
    path = shutil.which("sipp")
    if path is None:
        raise EnvironmentMissing("sipp", "sip-tester")
    return path


@dataclass(frozen=True, slots=True)
class Ports:
    uac: int  # the generator's SIP port
    uac_control: int  # its control port (-cp: 'q' stops it gracefully)
    sink_control: int


def uac_command(sipp: str, t: LoadTarget, rate_cps: float, max_calls: int, hold_s: float,
                work: Path, ports: Ports, timeout_s: float = 10.0) -> list[str]:
    """The generator's argv (SIPp 3.6): calls to t.target through the switch; a call
    waiting longer than `timeout_s` for a response fails (TimeoutOnRecv)."""
    return [sipp, f"{t.host}:{t.port}", "-sf", str(work / "load-uac.xml"),
            "-i", LOOPBACK, "-p", str(ports.uac), "-cp", str(ports.uac_control), "-nostdin",
            "-s", t.target, "-key", "caller", t.caller, "-key", "domain", t.domain,
            "-au", t.caller, "-ap", t.password,
            "-r", f"{rate_cps:g}", "-rp", "1000", "-l", str(max_calls),
            "-cid_str", "load-%u-%p@%s",  # the hold is in the scenario (uac_scenario)
            "-recv_timeout", str(int(round(timeout_s * 1000))),
            "-trace_stat", "-stf", str(work / "uac-stat.csv"), "-fd", "1",
            "-trace_rtt", "-rtt_freq", "1", "-trace_error_codes",
            "-trace_err", "-error_file", str(work / "uac-errors.log")]


def sink_command(sipp: str, sink_port: int, work: Path, ports: Ports) -> list[str]:
    """The load sink's argv: answers every call on 127.0.0.1:sink_port."""
    return [sipp, "-sf", str(work / "load-uas.xml"), "-i", LOOPBACK, "-p", str(sink_port),
            "-cp", str(ports.sink_control), "-nostdin",
            "-trace_stat", "-stf", str(work / "uas-stat.csv"), "-fd", "1"]


def in_dir(work: Path, argv: list[str]) -> list[str]:
    """argv run with `work` as its working directory: SIPp writes its -trace_rtt and
    -trace_error_codes files into the working directory, named after the scenario."""
    return ["/bin/sh", "-c", 'cd "$0" && exec "$@"', str(work), *argv]


def _cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds of a live process (and its reaped children)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return sum(int(v) for v in fields[11:15]) / tick


def _taken(port: int) -> str:
    return "" if udp_port_free(port) else \
        f" (127.0.0.1:{port} is held by another process)"


def _distinct_free_ports(n: int, exclude: set[int]) -> list[int]:
    """`n` free ports, none of them equal (each is only probed, not bound, until its
    SIPp starts) nor in `exclude`."""
    ports: list[int] = []
    for _ in range(n):
        ports.append(free_udp_port(exclude=exclude | set(ports)))
    return ports


def _send_control(port: int, command: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(command.encode(), (LOOPBACK, port))


class BackgroundLoad:
    """SIPp load through the switch, as a context manager around probe calls."""

    def __init__(self, target: LoadTarget, rate_cps: float, max_calls: int, hold_s: float,
                 work_dir: Path, guard: StallGuard | None = None,
                 store: ResultStore | None = None, timeout_s: float = 10.0,
                 sink_hold: PortHold | None = None) -> None:
        if target.host != LOOPBACK or (target.sink_port is not None and not target.sink_port):
            raise LoadError(f"background load to {target.host}:{target.port} refused "
                            f"({LOOPBACK} only, a sink port when there is a sink)")
        self.target, self.rate_cps, self.max_calls, self.hold_s = (target, rate_cps,
                                                                   max_calls, hold_s)
        self.work, self.timeout_s = work_dir, timeout_s
        self.guard, self.store = guard, store
        # the embedded switch holds the sink's port until the sink binds it (PortHold)
        self.sink_hold = sink_hold
        self.uac: ChildProcess | None = None
        self.sink: ChildProcess | None = None
        self.stats: LoadStats | None = None
        self.doc: dict[str, Any] = {}
        self.load_id = ""
        self._t0 = 0.0
        self._sink_killed = False
        self._cpu0 = 0.0

    @classmethod
    def for_session(cls, session: HarnessSession, rate_cps: float | None = None,
                    max_calls: int | None = None, hold_s: float | None = None,
                    timeout_s: float | None = None) -> BackgroundLoad:
        """A load at the config's figures (or these), beside the session's guard and
        store, its files in `<run>/load/<n>/`."""
        from harness.softswitch.kamailio import EmbeddedKamailio

        ld = session.cfg.load
        target = LoadTarget.resolve(session.cfg, session.switch, session.plan)
        hold = session.switch.sink_hold if isinstance(session.switch, EmbeddedKamailio) else None
        n = 1 + sum(1 for _ in (session.run_dir / "load").glob("*")) \
            if (session.run_dir / "load").is_dir() else 1
        return cls(target, ld.rate_cps if rate_cps is None else rate_cps,
                   ld.max_calls if max_calls is None else max_calls,
                   ld.hold_s if hold_s is None else hold_s,
                   session.run_dir / "load" / str(n), session.guard, session.store,
                   ld.timeout_s if timeout_s is None else timeout_s, hold)

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        sipp = sipp_binary()
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / "load-uac.xml").write_text(uac_scenario(self.hold_s), encoding="utf-8")
        (self.work / "load-uas.xml").write_text(UAS_SCENARIO, encoding="utf-8")
        ports = Ports(*_distinct_free_ports(3, exclude={self.target.port,
                                                         self.target.sink_port or 0}))
        self._ports = ports
        self._t0, self._cpu0 = time.monotonic(), time.process_time()
        self._wall0 = time.time()
        try:
            if self.target.sink_port is not None:
                if self.sink_hold is not None:
                    self.sink_hold.release()  # the sink binds it next
                self.sink = ChildProcess("sipp-sink", in_dir(self.work, sink_command(
                    sipp, self.target.sink_port, self.work, ports)), self.work / "sink.log")
                self.sink.start()
                self._wait_bound(self.sink, self.target.sink_port)
            self.uac = ChildProcess("sipp-uac", in_dir(self.work, uac_command(
                sipp, self.target, self.rate_cps, self.max_calls, self.hold_s, self.work,
                ports, self.timeout_s)), self.work / "uac.log")
            self.uac.start()
            self._wait_bound(self.uac, ports.uac)
        except BaseException:
            self._kill()
            raise
        if self.store is not None:
            self.load_id = self.store.begin_load(self.level())

    def level(self) -> dict[str, Any]:
        """The load level probe calls are tagged with."""
        return {"rate_cps": self.rate_cps, "max_calls": self.max_calls, "hold_s": self.hold_s,
                "timeout_s": self.timeout_s,
                "target": self.target.target, "caller": self.target.caller,
                "sink": self.target.sink_port is not None}

    def stop(self) -> LoadStats | None:
        """Stop gracefully (then by force), read the statistics, store the level."""
        if self.uac is None and self.sink is None:
            return self.stats
        stopped_wall = time.time()
        t1 = time.monotonic()
        errors: list[str] = []
        cpu = {"uac_s": _cpu_s(self.uac.pid if self.uac else None),
               "sink_s": _cpu_s(self.sink.pid if self.sink else None),
               "harness_s": round(time.process_time() - self._cpu0, 3)}
        for name, child, port in (("generator", self.uac, self._ports.uac_control),
                                  ("sink", self.sink, self._ports.sink_control)):
            if child is None:
                continue
            if child is self.sink and self._sink_killed:
                errors.append("SIPp sink stopped by the harness during the load "
                              "(fault injection)")
                continue
            if not child.running():
                rc = child.proc.returncode if child.proc else None
                errors.append(f"SIPp {name} exited during the load (code {rc}): "
                              f"{child.log_tail(3)}")
                continue
            _send_control(port, "q")
            # the sink's open calls after the generator ended are the generator's
            # failed ones (already counted): it gets a short grace only
            drain_s = (self.hold_s + self.timeout_s if child is self.uac else 0.0) + STOP_GRACE_S
            deadline = time.monotonic() + drain_s
            while child.running() and time.monotonic() < deadline:
                time.sleep(0.1)
            if child.running() and child is self.uac:
                errors.append(f"SIPp {name} did not stop on 'q' within {drain_s:.0f} s: "
                              "killed")
        self._kill()
        self.stats, sink_counts = self._read(stopped_wall, errors)
        self.doc = self._document(t1, cpu, sink_counts, errors)
        if self.store is not None and self.load_id:
            self.store.end_load(self.load_id, self.doc)
        return self.stats

    def kill_sink(self) -> None:
        """Fault injection (the harness's own tests): the far end stops answering."""
        if self.sink is not None:
            self.sink.stop()
            self._sink_killed = True

    def pids(self) -> list[int]:
        return [c.pid for c in (self.uac, self.sink) if c is not None and c.pid is not None]

    def __enter__(self) -> BackgroundLoad:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None and not issubclass(exc_type, Exception):
            self._kill()  # Ctrl-C: no graceful drain
        try:
            self.stop()
        finally:
            self._kill()

    # -- internals -------------------------------------------------------------------
    def _kill(self) -> None:
        for child in (self.uac, self.sink):
            if child is not None:
                child.stop(timeout_s=2.0)
        if self.sink_hold is not None:
            self.sink_hold.hold()  # kept for the session's next load

    def _wait_bound(self, child: ChildProcess, port: int, timeout_s: float = 10.0) -> None:
        """Until `child` itself holds the port. A port merely no longer free may be
        another process's: the child then fails to bind and exits, and that process
        would answer the load calls (a SIP agent: 404 to every one)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if udp_bound_by(child.pid, port):
                return
            if not child.running():
                raise LoadError(f"{child.name} exited at start-up{_taken(port)}: "
                                f"{child.log_tail()}")
            time.sleep(0.05)
        raise LoadError(f"{child.name} did not bind 127.0.0.1:{port} within "
                        f"{timeout_s:.0f} s{_taken(port)}")

    def _read(self, stopped_wall: float, errors: list[str],
              ) -> tuple[LoadStats | None, tuple[int, int] | None]:
        def text(pattern: str) -> str:
            found = sorted(self.work.glob(pattern))
            return found[-1].read_text(encoding="utf-8", errors="replace") if found else ""
        stats = None
        try:
            stats = LoadStats.parse(text("uac-stat.csv"), text("load-uac_*_rtt.csv"),
                                    text("load-uac_*_error_codes.csv"), stopped_wall)
        except (ValueError, KeyError, OSError) as exc:
            errors.append(f"SIPp statistics unreadable ({self.work / 'uac-stat.csv'}): {exc}")
        sink = answered(text("uas-stat.csv")) if self.sink is not None else None
        return stats, sink

    def _document(self, t1: float, cpu: dict[str, float | None],
                  sink: tuple[int, int] | None, errors: list[str]) -> dict[str, Any]:
        host = asdict(self.guard.report(self._t0, time.monotonic())) if self.guard else None
        return {"level": self.level(), "started_wall": self._wall0,
                "generating_s": round(t1 - self._t0, 3),
                "stats": asdict(self.stats) if self.stats else None,
                "sink": None if sink is None else {"answered": sink[0], "failed": sink[1]},
                "cpu": cpu, "host": host, "errors": errors,
                "files": str(self.work)}


def stop_quietly(load: BackgroundLoad) -> None:
    """For teardown paths that must go on."""
    try:
        load.stop()
    except HarnessError:
        load._kill()
