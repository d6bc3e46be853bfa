"""Agent hosts: the lines of a customer site on a machine of their own, reached over
the network (docs/agent-hosts.md).

The transport is execnet, the layer under pytest-xdist: a gateway per host, started
over SSH (`ssh=user@host`), the host's side sent as source (`harness/sip/hostagent.py`)
and run by the host's own Python with the project installed. Each agent worker on a
host is one execnet channel; the worker itself is the same process as on the
controller's machine (`harness/sip/worker.py`), spawned by the host. The farm
(`harness/sip/farm.py`) sees a remote worker as it sees a local one: a pipe and a
process-like handle. Between the two, at the edge, this module

* passes the worker's pickled messages both ways, and
* moves every time a remote worker reports into the controller's clocks: each host's
  monotonic and wall-clock offsets are estimated at start by an NTP-style exchange
  (the round trip with the least delay; its half is the offset's uncertainty) and
  subtracted from every `t_mono`/`t_wall` (and `*_mono`/`*_wall`) field, `ADone`'s
  call span and `Stalls`' pump ends. Set-up timing is measured on the caller's host;
  a figure across hosts compares corrected times. A host whose uncertainty exceeds
  `agents.clock_tolerance_ms` is refused at start: its figures could not be trusted.

Each host captures its own traffic (`HostCapture`): dumpcap on the host, its file
read over a channel of its own as the run's readers ask, copied into the run directory
(`capture-host-<name>.pcap`, in the host's clock as taken) and its packets' times moved
into the controller's clock, read with the run's other captures as one.

A host that is lost (its SSH session dropped, the machine gone) closes every channel
of its gateway: each of its workers is dead to the farm with the host named, and the
calls it carried are the harness's `error`, never the switch's `fail`.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe
from pathlib import Path, PurePosixPath
from typing import Any

from harness.capture.dumpcap import Capture
from harness.capture.pcap import UdpPacket
from harness.errors import CaptureError, SipError
from harness.sip import hostagent
from harness.sip.messages import ADone, Stalls
from harness.sip.scenario import WorkerSpec

CLOCK_ROUNDS = 16


@dataclass(frozen=True, slots=True)
class ClockOffset:
    """How far a host's clocks are from the controller's (host minus controller, s),
    and how sure that is: half the least round trip of the exchange."""

    mono_s: float
    wall_s: float
    uncertainty_s: float
    rounds: int

    def moved_from(self, earlier: ClockOffset) -> float:
        """How far these offsets are from `earlier` ones (s): the larger of the two
        clocks' moves."""
        return max(abs(self.mono_s - earlier.mono_s), abs(self.wall_s - earlier.wall_s))

    def as_dict(self) -> dict[str, float | int]:
        return {"monotonic_offset_ms": round(self.mono_s * 1000, 3),
                "wall_offset_ms": round(self.wall_s * 1000, 3),
                "uncertainty_ms": round(self.uncertainty_s * 1000, 3), "rounds": self.rounds}


ZERO = ClockOffset(0.0, 0.0, 0.0, 0)


def estimate(samples: list[tuple[float, float, float, float, float, float]]) -> ClockOffset:
    """The offsets from (sent_mono, sent_wall, host_mono, host_wall, back_mono, back_wall)
    exchanges: the one with the shortest round trip, its host reading taken as made at
    the midpoint (NTP's assumption of a symmetric path; its error is at most half the
    round trip)."""
    if not samples:
        raise ValueError("no clock exchange")
    s0m, s0w, hm, hw, s1m, s1w = min(samples, key=lambda s: s[4] - s[0])
    return ClockOffset(hm - (s0m + s1m) / 2, hw - (s0w + s1w) / 2, (s1m - s0m) / 2,
                       len(samples))


def to_controller(obj: Any, clock: ClockOffset) -> Any:
    """`obj` (a worker's message, its legs, events, strays) with every time the host
    took moved into the controller's clocks."""
    if clock.mono_s == 0.0 and clock.wall_s == 0.0:
        return obj

    def moved(owner: Any, name: str, value: Any) -> Any:
        if isinstance(value, float) and _is_mono(owner, name):
            return value - clock.mono_s
        if isinstance(value, float) and (name == "t_wall" or name.endswith("_wall")):
            return value - clock.wall_s
        if isinstance(owner, Stalls) and name == "lates":
            return tuple((end - clock.mono_s, late) for end, late in value)
        return None
    return rebuild(obj, moved)


def _is_mono(obj: Any, name: str) -> bool:
    return name == "t_mono" or name.endswith("_mono") or \
        (isinstance(obj, ADone) and name in ("t_start", "t_end"))


@dataclass(frozen=True, slots=True)
class RunRoot:
    """Where the run directory is on a host that does not share it: every path under
    `here` (the controller's run directory) is `there` + the same relative path."""

    here: Path
    there: PurePosixPath

    def out(self, path: Path) -> Path | None:
        """`path` as the host knows it (None: not under the run directory)."""
        try:
            return Path(self.there / path.relative_to(self.here))
        except ValueError:
            return None

    def back(self, path: Path) -> Path | None:
        try:
            return self.here / path.relative_to(Path(self.there))
        except ValueError:
            return None


def map_paths(obj: Any, move: Callable[[Path], Path | None], seen: list[tuple[Path, Path]],
              ) -> Any:
    """`obj` (an order, a spec, a worker's message) with every Path `move` knows
    replaced; each (old, new) pair is appended to `seen`."""
    def moved(_owner: Any, _name: str, value: Any) -> Any:
        if not isinstance(value, Path):
            return None
        new = move(value)
        if new is None:
            return value
        seen.append((value, new))
        return new
    return _one(None, "", obj, moved)


Leaf = Callable[[Any, str, Any], Any]


def rebuild(obj: Any, leaf: Leaf) -> Any:
    """`obj` with each field of a dataclass, and each item of a tuple or list, replaced
    by what `leaf(owner, field name, value)` returns; where it returns None, the value is
    walked into in turn. Parts that did not change are the same objects (frozen
    dataclasses are rebuilt with `replace` only where something changed)."""
    if isinstance(obj, (tuple, list)):
        items = [_one(obj, "", x, leaf) for x in obj]
        if all(new is old for new, old in zip(items, obj, strict=True)):
            return obj
        return tuple(items) if isinstance(obj, tuple) else items
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return obj
    changes = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        new = _one(obj, f.name, value, leaf)
        if new is not value:
            changes[f.name] = new
    return dataclasses.replace(obj, **changes) if changes else obj


def _one(owner: Any, name: str, value: Any, leaf: Leaf) -> Any:
    new = leaf(owner, name, value)
    return rebuild(value, leaf) if new is None else new


class RemoteProcess:
    """A worker on an agent host, as the farm handles a process: `sentinel` becomes
    readable when it is gone, `exitcode` once the host said how it ended, `lost` why
    it is gone when the host could not say (the host or its connection lost)."""

    def __init__(self, host: AgentHost, name: str) -> None:
        self.host, self.name = host, name
        self.pid: int | None = None
        self.exitcode: int | None = None
        self.lost = ""
        self._done = threading.Event()
        self.sentinel, self._wake = os.pipe()
        self.channel: Any = None

    def ended(self, lost: str = "") -> None:
        if self._done.is_set():
            return
        self.lost = self.lost or lost
        self._done.set()
        os.close(self._wake)

    def join(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)

    def is_alive(self) -> bool:
        return not self._done.is_set()

    def kill(self) -> None:
        """Close its conversation: the host kills the worker if it still runs."""
        if self.channel is not None:
            try:
                self.channel.close()
            except Exception:  # noqa: BLE001 - already closed by the host's loss
                pass
        self.ended(f"killed: {self.host.label} did not see it stop")

    def close(self) -> None:
        try:
            os.close(self.sentinel)
        except OSError:
            pass


class AgentHost:
    """One agent host: its execnet gateway, its clock offsets, its workers."""

    def __init__(self, name: str, xspec: str, address: str, tolerance_s: float,
                 root: RunRoot | None = None) -> None:
        """`root`: where the run directory is on the host, when the host does not share
        this machine's file system (None: it does, at the same path)."""
        self.name, self.xspec, self.address = name, xspec, address
        self.tolerance_s = tolerance_s
        self.root = root
        self._files: Any = None
        self._files_lock = threading.Lock()
        self._pushed: set[Path] = set()
        self.copied = [0, 0]  # files put, files got (results.json environment)
        self.clock = ZERO
        self.about: dict[str, Any] = {}
        self.group: Any = None
        self.gateway: Any = None
        self.procs: list[RemoteProcess] = []
        self.specs: list[WorkerSpec] = []  # the workers it started, as the controller sees them
        self.lost = ""
        # why its figures can no longer be put in the controller's clocks ('' while they
        # can): its offsets, measured again during the run, moved beyond the tolerance
        self.drifted = ""
        self.clock_checks: list[ClockOffset] = []  # the offsets measured again, in order
        self._watching = threading.Event()

    @property
    def login(self) -> str:
        """user@host, as the SSH spec names it."""
        return self.xspec.split("//")[0].split()[-1].removeprefix("ssh=")

    @property
    def label(self) -> str:
        """'agent host site1 (root@198.18.1.6)': its name and the login reached."""
        return f"agent host {self.name} ({self.login})"

    def connect(self, timeout_s: float = 30.0) -> None:
        """The gateway up (over SSH), the clocks compared, the host described; a
        SipError naming the host if any of it fails."""
        import execnet

        self._preflight(timeout_s)
        self.group = execnet.Group()
        try:
            self.gateway = self.group.makegateway(self.xspec)
            self.clock = self._sync(timeout_s)
            self.about = self.describe(timeout_s)
        except Exception as exc:  # noqa: BLE001 - execnet raises many kinds; named here
            self.close()
            raise SipError(f"{self.label} could not be started: {type(exc).__name__}: "
                           f"{exc}".strip()) from exc
        if self.clock.uncertainty_s > self.tolerance_s:
            self.close()
            raise SipError(f"{self.label}: its clock offset is known to "
                           f"±{self.clock.uncertainty_s * 1000:.1f} ms only, over the "
                           f"tolerance of {self.tolerance_s * 1000:.0f} ms "
                           "(agents.clock_tolerance_ms): figures across hosts would not hold")

    def _preflight(self, timeout_s: float) -> None:
        """One `ssh ... <python> -c ''` first, its output kept: a host that cannot be
        reached, refuses the key or has no such Python is named with ssh's own words
        (execnet's gateway would only say the host was not found)."""
        head = self.xspec.split("//")
        if not head[0].startswith("ssh="):
            return
        python = next((p.removeprefix("python=") for p in head[1:]
                       if p.startswith("python=")), "python3")
        argv = ["ssh", *head[0].removeprefix("ssh=").split(), f"{python} -c ''"]
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s,  # noqa: S603
                                 check=False, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise SipError(f"{self.label} could not be started: ssh did not finish within "
                           f"{timeout_s:.0f} s") from exc
        if out.returncode != 0:
            said = " ".join(out.stderr.split())[-300:] or f"exit code {out.returncode}"
            raise SipError(f"{self.label} could not be started: ssh: {said}")

    def _sync(self, timeout_s: float) -> ClockOffset:
        ch = self.gateway.remote_exec(hostagent)
        samples = []
        try:
            for _ in range(CLOCK_ROUNDS):
                s0m, s0w = time.monotonic(), time.time()
                ch.send(("clock",))
                _, hm, hw = ch.receive(timeout_s)
                samples.append((s0m, s0w, hm, hw, time.monotonic(), time.time()))
            ch.send(None)
        finally:
            ch.close()
        return estimate(samples)

    def describe(self, timeout_s: float = 10.0) -> dict[str, Any]:
        """What the host says of itself now (harness/sip/hostagent.py about): its
        processes' CPU seconds and memory so far; {} if it is lost."""
        if self.gateway is None or self.lost:
            return {}
        try:
            ch = self.gateway.remote_exec(hostagent)
            ch.send(("about",))
            about: dict[str, Any] = ch.receive(timeout_s)
            return about
        except Exception:  # noqa: BLE001 - a host lost by now
            return {}

    def drift(self, again: ClockOffset | None) -> str:
        """Why the run's figures across this host are not to be trusted, or '': its
        clock offsets measured `again` (at the close) moved further than the tolerance
        since the start (less their uncertainties)."""
        if again is None:
            return ""
        moved = again.moved_from(self.clock)
        slack = self.clock.uncertainty_s + again.uncertainty_s
        if moved - slack <= self.tolerance_s:
            return ""
        return (f"{self.label}: its clock drifted {moved * 1000:.1f} ms during the run "
                f"(agents.clock_tolerance_ms {self.tolerance_s * 1000:.0f}): the figures "
                "across it were corrected with the offset measured at the start")

    def drift_since_start(self) -> float | None:
        """The most the offsets moved since the start, as last measured (s); None if
        never measured again."""
        if not self.clock_checks:
            return None
        return self.clock_checks[-1].moved_from(self.clock)

    def watch_clock(self, every_s: float) -> None:
        """Measure the offsets again every `every_s` while the run lasts: the first that
        moved beyond the tolerance since the start sets `drifted` (for good: the calls
        measured after that are not trusted across this host)."""
        self._watching.set()

        def watch() -> None:
            while self._watching.is_set():
                time.sleep(every_s)
                if not self._watching.is_set():
                    return
                again = self.resync()
                if again is None:
                    return
                self.clock_checks.append(again)
                if not self.drifted:
                    self.drifted = self.drift(again)
        threading.Thread(target=watch, daemon=True, name=f"host-{self.name}-clock").start()

    def stop_watching(self) -> None:
        self._watching.clear()

    def resync(self) -> ClockOffset | None:
        """The offsets measured again (at the end of a run: how far they drifted)."""
        if self.gateway is None or self.lost:
            return None
        try:
            return self._sync(10.0)
        except Exception:  # noqa: BLE001 - a host lost by now: nothing to compare
            return None

    def start_worker(self, spec: WorkerSpec) -> tuple[RemoteProcess, Connection]:
        """Start `spec`'s worker on this host: a process-like handle and the farm's end
        of a pipe, as `multiprocessing` would give for a local worker."""
        proc = RemoteProcess(self, spec.name)
        self.specs.append(spec)
        farm_end, bridge = Pipe()
        try:
            if self.root is not None:
                spec = self.outward(spec)
                self.file_op("mkdir", str(spec.log_path.parent))
            ch = self.gateway.remote_exec(hostagent)
            ch.send(("worker", pickle.dumps(spec)))
            kind, pid = ch.receive(30.0)
        except Exception as exc:  # noqa: BLE001 - named, and the farm reports the worker
            proc.ended(f"{self.label} did not start it: {type(exc).__name__}: {exc}")
            bridge.close()
            return proc, farm_end
        proc.pid, proc.channel = pid, ch
        self.procs.append(proc)
        threading.Thread(target=self._up, args=(proc, ch, bridge), daemon=True,
                         name=f"host-{spec.name}-up").start()
        threading.Thread(target=self._down, args=(ch, bridge), daemon=True,
                         name=f"host-{spec.name}-down").start()
        return proc, farm_end

    def _up(self, proc: RemoteProcess, ch: Any, bridge: Connection) -> None:
        """The worker's messages to the farm, in the controller's clocks."""
        lost = ""
        try:
            while True:
                item = ch.receive()
                if isinstance(item, tuple):  # the host's own word: ("exit", code)
                    if item and item[0] == "exit":
                        proc.exitcode = item[1]
                    continue
                msg = to_controller(pickle.loads(item), self.clock)  # noqa: S301 - our host
                if self.root is not None:
                    msg = self.inward(msg)
                bridge.send(msg)
        except EOFError:
            if proc.exitcode is None:
                lost = f"{self.label}: the connection closed"
        except Exception as exc:  # noqa: BLE001 - execnet's RemoteError, a dead gateway
            lost = f"{self.label} lost: {type(exc).__name__}: {str(exc).strip()[:200]}"
        if lost and not self.lost:
            self.lost = lost
        bridge.close()
        proc.ended(lost)

    def _down(self, ch: Any, bridge: Connection) -> None:
        """The farm's orders to the worker, as they were pickled (on a host that does
        not share the run directory: its paths moved there, the files they name put)."""
        try:
            while True:
                data = bridge.recv_bytes()
                if self.root is not None:
                    data = pickle.dumps(self.outward(pickle.loads(data)))  # noqa: S301
                ch.send(data)
        except (EOFError, OSError):
            pass
        except Exception:  # noqa: BLE001 - the channel died with the host: _up says so
            pass

    # -- the run directory on a host that does not share it ------------------------------
    def outward(self, obj: Any) -> Any:
        """`obj` with its paths under the run directory moved to the host's, and every
        file it names that exists here put there first (once: references,
        certificates); the directories of the others made (where recordings go)."""
        assert self.root is not None
        seen: list[tuple[Path, Path]] = []
        moved = map_paths(obj, self.root.out, seen)
        for here, there in seen:
            if here.is_file():
                if here not in self._pushed:
                    self.file_op("put", str(there), here.read_bytes())
                    self._pushed.add(here)
                    self.copied[0] += 1
            elif here.parent.is_dir():
                self.file_op("mkdir", str(there.parent))
        return moved

    def inward(self, obj: Any) -> Any:
        """`obj` (a worker's message) with the host's paths moved back here, each file
        it names got from the host (a recording written there)."""
        assert self.root is not None
        seen: list[tuple[Path, Path]] = []
        moved = map_paths(obj, self.root.back, seen)
        for there, here in seen:
            self.fetch(there, here)
        return moved

    def fetch(self, there: Path, here: Path) -> bool:
        answer = self.file_op("get", str(there))
        if answer[0] != "ok":
            return False
        here.parent.mkdir(parents=True, exist_ok=True)
        here.write_bytes(answer[1])
        self.copied[1] += 1
        return True

    def file_op(self, *request: Any) -> tuple[Any, ...]:
        """One request of the host's files conversation; an error is raised, named."""
        with self._files_lock:
            if self._files is None:
                self._files = self.gateway.remote_exec(hostagent)
                self._files.send(("files",))
            self._files.send(request)
            answer: tuple[Any, ...] = self._files.receive(60.0)
        if answer[0] == "error":
            raise SipError(f"{self.label}: {request[0]} {request[1]}: {answer[1]}")
        return answer

    def fetch_logs(self) -> None:
        """The workers' logs, from the host into the run directory (evidence); then
        the run's directory on the host is removed (everything the run needs of it is
        here by now)."""
        if self.root is None or self.gateway is None or self.lost:
            return
        try:
            for spec in self.specs:
                for path in (spec.log_path, spec.log_path.with_suffix(".out")):
                    there = self.root.out(path)
                    if there is not None:
                        self.fetch(there, path)
            self.file_op("rmtree", str(self.root.there))
        except Exception:  # noqa: BLE001 - evidence, not a result: best effort
            pass

    def close(self) -> None:
        for proc in self.procs:
            proc.close()
        if self.group is not None:
            try:
                self.group.terminate(timeout=5.0)
            except Exception:  # noqa: BLE001 - a host already gone
                pass
            self.group = self.gateway = None


class HostCapture(Capture):
    """An agent host's own capture: dumpcap on the host (`interface`, default every one
    it has), UDP to or from its address, its file's bytes fetched over a channel when
    a reader refreshes, appended to `path` here (the evidence, in the host's clock as
    taken), and its packets' times moved into the controller's wall clock: less the
    host's wall-clock offset and its capture clock's own offset from that."""

    def __init__(self, host: AgentHost, path: Path, interface: str = "any") -> None:
        super().__init__(path, interface, f"udp and host {host.address}")
        self.host = host
        self._channel: Any = None
        self._fetched = 0  # bytes of the host's file copied here
        self._pull_lock = threading.Lock()
        # the host's capture clock (its kernel's packet times) minus its processes' wall
        # clock, as the host measured it: ~0 but for a process under libfaketime
        self.clock_s = 0.0

    def start(self, timeout_s: float = 30.0) -> None:
        try:
            ch = self.host.gateway.remote_exec(hostagent)
            ch.send(("capture", self.host.address, self.interface))
            answer = ch.receive(timeout_s)
        except Exception as exc:  # noqa: BLE001 - execnet's errors: named here
            raise CaptureError(f"{self.host.label}: its capture could not be started: "
                               f"{type(exc).__name__}: {exc}") from exc
        if answer[0] != "started":
            raise CaptureError(f"{self.host.label}: its capture could not be started: "
                               f"{answer[1]}")
        if answer[1] is None:
            ch.close()
            raise CaptureError(f"{self.host.label}: its capture did not see the datagram "
                               f"the host sent itself ({self.host.address}, UDP port 9): its "
                               "times could not be put in the controller's clock")
        self.clock_s = answer[1]
        self._channel = ch
        self.path.write_bytes(b"")

    def stop(self) -> None:
        """The host's capture stopped and its last bytes copied here."""
        self._pull(("stop",))
        with self._pull_lock:
            if self._channel is not None:
                try:
                    self._channel.close()
                except Exception:  # noqa: BLE001 - a host already gone
                    pass
                self._channel = None

    @property
    def shift_s(self) -> float:
        return self.host.clock.wall_s + self.clock_s

    def refresh(self) -> list[UdpPacket]:
        self._pull(("read",))
        return super().refresh()

    def _pull(self, request: tuple[str]) -> None:
        """The host's file from where this copy ends, appended to it; a host lost
        leaves the copy as it was (its calls are errors already)."""
        with self._pull_lock:
            if self.host.lost and not self.lost:
                self.lost = self.host.lost
            if self._channel is None or self.lost:
                return
            try:
                self._channel.send((*request, self._fetched))
                kind, data = self._channel.receive(30.0)
            except Exception as exc:  # noqa: BLE001 - the host or its channel lost
                self.lost = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
                return
            if kind == "data" and data:
                with open(self.path, "ab") as fh:
                    fh.write(data)
                self._fetched += len(data)
