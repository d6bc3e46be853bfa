"""The controller's side of the agent farm: starts the worker processes, hands each
call to the worker hosting its caller, collects every leg, and is safe to use from
many threads at once (one thread per concurrent call).

No pjsua2 here: the workers own it (`harness/sip/worker.py`); this module sends them
plain orders and receives plain outcomes (`harness/sip/scenario.py`).

A call, as the controller runs it: every live worker is told to expect the call
(its far-end policy and script) and acknowledges; the caller's worker dials; when
the caller leg is down, every worker is asked to finish the call and answers with
the legs it hosted. Pipes keep order per worker, so the answer to "finish" comes
after anything else that worker said about the call.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from harness import cpuwait
from harness.errors import SipError
from harness.sip.attribution import Stray
from harness.sip.hosts import AgentHost, RemoteProcess
from harness.sip.messages import (
    Abort,
    ADone,
    Adopt,
    Adopted,
    Dial,
    Drop,
    Dropped,
    Expect,
    Expected,
    Failed,
    Finish,
    Finished,
    Notified,
    Order,
    Ready,
    Report,
    Stalls,
    Stop,
    Stopped,
    StrayInvite,
)
from harness.sip.scenario import (
    CallOrder,
    CallOutcome,
    LegOutcome,
    Seat,
    WorkerSpec,
    assemble,
)

StallSink = Callable[[str, list[tuple[float, float]]], None]  # (worker, its lates)


@dataclass
class _Pending:
    order: CallOrder
    waiting_for: set[str]  # workers whose acknowledgement / finish is still due
    expected: threading.Event = field(default_factory=threading.Event)
    a_done: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    a: LegOutcome | None = None
    error: str = ""
    t_start: float = 0.0
    t_end: float = 0.0
    legs: list[LegOutcome] = field(default_factory=list)
    phase: str = "expect"
    aborted: str = ""  # the switch failed while this call was up
    a_more: tuple[LegOutcome, ...] = ()  # the caller's other calls (transferred, 3-way)


class AgentFarm:
    def __init__(self, specs: list[WorkerSpec], on_stalls: StallSink | None = None,
                 hosts: Mapping[str, AgentHost] | None = None) -> None:
        """`hosts`: the workers that run on an agent host (harness/sip/hosts.py), by
        name; every other worker is a process of this machine."""
        self.specs = {spec.name: spec for spec in specs}
        self.hosts = dict(hosts or {})
        self.seat_worker = {seat.name: spec.name for spec in specs for seat in spec.seats}
        self._home = dict(self.seat_worker)  # where each seat started
        self._acks: dict[tuple[type[Adopted | Dropped], str],
                         tuple[threading.Event, list[str]]] = {}
        self.on_stalls = on_stalls
        self.watch: Callable[[], str] | None = None  # the switch's failure(), polled
        self.ports: dict[str, int] = {}
        self.tls_ports: dict[str, int] = {}  # workers' TLS transports (sut.tls), else 0
        self.failed = ""  # the switch failed: calls in flight were aborted with this
        self.dead: dict[str, str] = {}  # workers that exited, and why
        self._procs: dict[str, BaseProcess | RemoteProcess] = {}
        self._conns: dict[str, Connection] = {}
        self._send_locks: dict[str, threading.Lock] = {}
        self._calls: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._stopping = False
        self._gone: set[str] = set()  # workers that ended after close() asked them to
        self._thread: threading.Thread | None = None
        self.strays: list[Stray] = []  # INVITEs no call could be attributed to
        self.notices: list[Notified] = []  # message-waiting NOTIFYs the lines got
        # CPU the workers on this host used, as each said when it stopped: forked from
        # the fork server, they are no children of this process (RUSAGE_CHILDREN)
        self.worker_cpu_s = 0.0

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, timeout_s: float = 60.0) -> None:
        from harness.sip.worker import main

        ctx = worker_context()
        group = os.environ.get(cpuwait.ENV, "")  # the session's real-time group, if any
        for name, spec in self.specs.items():
            host = self.hosts.get(name)
            if host is not None:
                self._procs[name], self._conns[name] = host.start_worker(spec)
                self._send_locks[name] = threading.Lock()
                continue
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=main, args=(replace(spec, cpu_group=group), child),
                               name=f"beta-agent-{name}",
                               daemon=True)
            proc.start()
            child.close()
            self._procs[name], self._conns[name] = proc, parent
            self._send_locks[name] = threading.Lock()
        deadline = time.monotonic() + timeout_s
        problems = []
        for name, conn in self._conns.items():
            msg = self._recv_before(conn, deadline, self._procs[name])
            if msg is None:
                problems.append(f"agent worker {name} did not start within {timeout_s:.0f} s")
            elif isinstance(msg, Ready):
                self.ports[name], self.tls_ports[name] = msg.port, msg.tls_port
            else:
                problems.append(msg.why if isinstance(msg, Failed) else
                                f"agent worker {name} said {msg!r} before it was ready")
        if problems:
            self.close()
            raise SipError("; ".join(problems))
        self._thread = threading.Thread(target=self._dispatch, name="agent-farm", daemon=True)
        self._thread.start()

    @staticmethod
    def _recv_before(conn: Connection, deadline: float,
                     proc: BaseProcess | RemoteProcess | None = None) -> Report | None:
        while time.monotonic() < deadline:
            if conn.poll(0.2):
                try:
                    msg: Report = conn.recv()
                except EOFError:
                    return Failed("agent worker exited during start-up")
                if not isinstance(msg, Stalls):
                    return msg
            if isinstance(proc, RemoteProcess) and proc.lost:
                return Failed(proc.lost)
        return None

    def close(self, timeout_s: float = 20.0) -> None:
        self._stopping = True  # workers ending from here on were asked to
        for name in self._procs:
            self._send(name, Stop())
        deadline = time.monotonic() + timeout_s
        for proc in self._procs.values():
            proc.join(max(0.1, deadline - time.monotonic()))
        self._closing.set()
        for proc in self._procs.values():
            if proc.is_alive():
                proc.kill()
                proc.join(2.0)
        if self._thread is not None:
            self._thread.join(2.0)
        for conn in self._conns.values():
            conn.close()
        self._procs.clear()
        self._conns.clear()

    def pid(self, worker: str) -> int:
        pid = self._procs[worker].pid
        assert pid is not None
        return pid

    def worker_of(self, seat: str) -> str:
        return self.seat_worker[seat]

    def seat(self, name: str) -> Seat:
        """The seat `name` as its own worker hosts it."""
        home = self.specs[self._home[name]]
        return next(seat for seat in home.seats if seat.name == name)

    def rehome(self, seat: Seat, worker: str, timeout_s: float = 10.0) -> None:
        """Move `seat` to `worker` (an access worker, for one row) or back to its own
        worker (`worker` = its home): the new host adopts it before calls go there, the
        old one drops it after. No call of the seat may be up."""
        old = self.seat_worker[seat.name]
        if old == worker:
            return
        if worker != self._home[seat.name]:
            self._ask(worker, Adopt(seat), Adopted, seat.name, timeout_s)
        with self._lock:
            self.seat_worker[seat.name] = worker
        if old != self._home[seat.name]:
            self._ask(old, Drop(seat.name), Dropped, seat.name, timeout_s)

    def _ask(self, worker: str, msg: Order, answer: type[Adopted | Dropped], name: str,
             timeout_s: float) -> None:
        done: tuple[threading.Event, list[str]] = (threading.Event(), [])
        with self._lock:
            self._acks[(answer, name)] = done
        try:
            self._send(worker, msg)
            if worker in self.dead or not done[0].wait(timeout_s):
                raise SipError(f"agent worker {worker} did not answer "
                               f"{type(msg).__name__.lower()} {name} "
                               f"within {timeout_s:.0f} s")
            if done[1] and done[1][0]:
                raise SipError(done[1][0])
        finally:
            with self._lock:
                self._acks.pop((answer, name), None)

    def alive(self) -> list[str]:
        return [name for name in self._procs if name not in self.dead]

    # -- one call ----------------------------------------------------------------------
    def place(self, order: CallOrder) -> CallOutcome:
        """Place `order` and return once every leg of it has been reported."""
        script = order.script
        t0 = time.monotonic()
        why = self.failed or (self.watch() if self.watch else "")
        caller_worker = self.seat_worker.get(order.caller, "")
        # the caller, or a line the call is to reach, on a worker that is gone: the
        # harness cannot place or answer it (a line the switch rings there would never
        # answer, and that is not the switch's fault)
        down = [(seat, worker) for seat in (order.caller, *_seats_of(order))
                if (worker := self.seat_worker.get(seat, "")) in self.dead or
                (seat == order.caller and not worker)]
        if why or down:
            seat, worker = down[0] if down else ("", "")
            what = f"{why} while waiting for an answer from {order.target_uri}" if why else \
                f"agent worker {worker or '?'} hosting {seat} is not running" + \
                (f" ({self.dead[worker]})" if worker in self.dead else "")
            return CallOutcome(_no_leg(order.caller), None, t0, t0, what)
        workers = self.alive()
        pending = _Pending(order, set(workers))
        with self._lock:
            self._calls[order.key] = pending
            if self.failed:  # the switch failed since the check above: no abort will come
                pending.aborted = f"{self.failed} while the call was up"
        try:
            for name in workers:
                self._send(name, Expect(order.key, order.far_end, script))
            if not pending.expected.wait(10.0):
                took = set(workers) - pending.waiting_for
                for name in took:  # let go of the call where it was taken
                    self._send(name, Finish(order.key))
                raise SipError(f"agent workers {sorted(pending.waiting_for)} did not take "
                               "the call within 10 s")
            with self._lock:
                pending.phase, pending.waiting_for = "dial", set()
            self._send(caller_worker, Dial(order))
            budget_s = script.ring_timeout_s + script.talk_s + 70.0
            if not pending.a_done.wait(budget_s):
                pending.error = f"agent worker {caller_worker} did not report the call " \
                                f"within {budget_s:.0f} s"
            with self._lock:
                pending.phase, pending.waiting_for = "finish", set(self.alive())
                if not pending.waiting_for:
                    pending.finished.set()
            for name in list(pending.waiting_for):
                self._send(name, Finish(order.key))
            if not pending.finished.wait(30.0):
                pending.error = pending.error or \
                    f"agent workers {sorted(pending.waiting_for)} did not finish the call"
        except SipError as exc:
            pending.error = pending.error or str(exc)
        finally:
            with self._lock:
                self._calls.pop(order.key, None)
        a = pending.a or _no_leg(order.caller)
        # a far end torn down by the abort may end the call before the caller's worker
        # hears of it: the call still failed with the switch
        return assemble(a, pending.legs, pending.t_start or t0, pending.t_end or t0,
                        pending.error or pending.aborted, pending.a_more, order.far_end,
                        self.strays_of(order.key, t0, time.monotonic()))

    def strays_of(self, key: str, t0: float, t1: float) -> tuple[Stray, ...]:
        """The unattributed INVITEs that may have been call `key`'s: those it was
        among the candidates of, and those no call fitted that came while it was up."""
        with self._lock:
            return tuple(s for s in self.strays if key in s.candidates or
                         (not s.candidates and t0 <= s.invite.t_mono <= t1))

    def notices_to(self, seat: str, since_wall: float) -> list[Notified]:
        """The message-waiting NOTIFYs line `seat` got from `since_wall` on, in order."""
        with self._lock:
            return [n for n in self.notices if n.seat == seat and n.t_wall >= since_wall]

    # -- the dispatcher thread -------------------------------------------------------------
    def _dispatch(self) -> None:
        next_watch = 0.0
        while not self._closing.is_set():
            by_conn = {conn: name for name, conn in list(self._conns.items())
                       if name not in self.dead and name not in self._gone}
            sentinels = {self._procs[name].sentinel: name for name in by_conn.values()}
            for ready in wait([*by_conn, *sentinels], timeout=0.25):
                if ready in by_conn:
                    name = by_conn[ready]
                    try:
                        self._on_message(name, ready.recv())
                    except (EOFError, OSError):
                        self._on_death(name, "" if self._stopping else self._exit(name))
                elif not self._closing.is_set():
                    name = sentinels[ready]  # type: ignore[index]
                    self._on_death(name, "" if self._stopping else self._exit(name))
            now = time.monotonic()
            if self.watch is not None and not self.failed and self._calls and now >= next_watch:
                next_watch = now + 0.25
                why = self.watch()
                if why:
                    self.failed = why
                    with self._lock:
                        for pending in self._calls.values():
                            pending.aborted = f"{why} while the call was up"
                    for name in self.alive():
                        self._send(name, Abort(why))

    def _exit(self, worker: str) -> str:
        """How a worker ended: its exit code (-9: SIGKILL), once the process is reaped;
        a remote one's host lost: that, with the host named."""
        proc = self._procs[worker]
        proc.join(1.0)
        if isinstance(proc, RemoteProcess) and proc.lost:
            return proc.lost
        return "its pipe closed" if proc.exitcode is None else f"exit code {proc.exitcode}"

    def _on_message(self, worker: str, msg: Report) -> None:
        match msg:
            case Stalls(lates):
                if self.on_stalls is not None:
                    self.on_stalls(worker, list(lates))
            case Failed(why):
                self._on_death(worker, why)
            case Stopped(cpu_s):
                if worker not in self.hosts:  # an agent host's CPU is that host's
                    self.worker_cpu_s += cpu_s
            case Ready():
                pass
            case StrayInvite(stray):
                with self._lock:
                    self.strays.append(stray)
            case Notified():
                with self._lock:
                    self.notices.append(msg)
            case Adopted(seat, problem) | Dropped(seat, problem):
                with self._lock:
                    ack = self._acks.get((type(msg), seat))
                if ack is not None:
                    ack[1].append(problem)
                    ack[0].set()
            case Expected(key) | ADone(key) | Finished(key):
                with self._lock:
                    pending = self._calls.get(key)
                    if pending is not None:
                        self._on_call_report(pending, worker, msg)
            case _:
                raise SipError(f"agent worker {worker}: unknown message {msg!r}")

    def _on_call_report(self, pending: _Pending, worker: str,
                        msg: Expected | ADone | Finished) -> None:
        match msg:
            case Expected():
                self._tick_off(pending, worker, pending.expected)
            case ADone():
                pending.a, pending.t_start, pending.t_end = msg.leg, msg.t_start, msg.t_end
                pending.a_more = msg.more
                pending.error = pending.error or msg.error
                pending.a_done.set()
            case Finished():
                pending.legs.extend(msg.legs)
                self._tick_off(pending, worker, pending.finished)

    @staticmethod
    def _tick_off(pending: _Pending, worker: str, event: threading.Event) -> None:
        pending.waiting_for.discard(worker)
        if not pending.waiting_for:
            event.set()

    def _on_death(self, worker: str, how: str) -> None:
        """A worker is gone (exited, crashed, its pipe broke): every call waiting on it
        is told at once, never left to its timeout."""
        with self._lock:
            if self._stopping:  # asked to stop: not a loss, just no longer listened to
                self._gone.add(worker)
                return
            if worker in self.dead:
                return
            self.dead[worker] = how if how.startswith("agent worker") else \
                f"agent worker {worker} exited ({how})"
            for pending in self._calls.values():
                if self.seat_worker.get(pending.order.caller) == worker and \
                        not pending.a_done.is_set():
                    pending.error = pending.error or self.dead[worker]
                    pending.a_done.set()
                elif pending.phase != "expect" and not pending.finished.is_set():
                    # its legs there are lost, and who the switch rang may have been
                    # there: the call is not judged against the switch
                    pending.error = pending.error or \
                        f"{self.dead[worker]} while the call was up"
                event = {"expect": pending.expected, "finish": pending.finished}.get(
                    pending.phase)
                if event is not None and worker in pending.waiting_for:
                    self._tick_off(pending, worker, event)

    def _send(self, worker: str, msg: Order) -> None:
        if worker in self.dead:
            return
        try:
            with self._send_locks[worker]:
                self._conns[worker].send(msg)
        except (OSError, ValueError) as exc:
            self._on_death(worker, f"agent worker {worker}: pipe broken ({exc})")


def worker_context() -> multiprocessing.context.ForkServerContext:
    """How the agent workers are started: forked from a fork server (multiprocessing
    "forkserver": a clean single-threaded process of its own, never the controller with
    its threads), which has imported the worker's modules (pjsua2 among them, no
    Endpoint created) once for every session of this process. A session starts its
    ~34 workers ~2 s sooner than with "spawn", where each is a new interpreter that
    imports them again. The fork server ends with the controller, and the workers with
    it (PR_SET_PDEATHSIG, harness/sip/worker.py)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["harness.sip.worker"])
    return ctx


def _seats_of(order: CallOrder) -> tuple[str, ...]:
    """The beta lines a call is to ring or reach by name: the dialled line, a
    transfer's and a 3-way call's third party."""
    policy = order.far_end
    return tuple(s for s in (policy.dialled_line, policy.transfer_seat,
                             policy.conference_seat, *policy.busy_lines)
                 if s and not s.startswith("pstn:"))


def _no_leg(caller: str) -> LegOutcome:
    return LegOutcome("a", caller, "", (), None, None, None, 0.0, 0.0)
