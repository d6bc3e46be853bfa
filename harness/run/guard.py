"""Host-stall guard: measures the harness's own scheduling latency.

A thread sleeps `tick_s` in a loop and records how late each wake-up is. On this
class of host the VM is paused by its hypervisor now and then (seconds at a time);
during such a pause every process stops, the switch included, so a timing or a
media recording taken across it describes the host and not the system under test.

`report(t0, t1)` answers for a window of monotonic time: the worst lateness seen,
how many wake-ups were later than the threshold, and the CPU steal and CPU pressure
(PSI) over the window. A measurement taken in a window that is not `clean` is
flagged `invalid_measurement` by its caller, with `StallReport.describe()` as the
evidence; it is never reported as the switch's delay.

Who saw it: the sampler runs in the controller, and every agent worker reports its
own lateness (`record(..., source=WORKER)`). A pause of the host stops them all, so
the workers see it too. A late wake-up of the controller's sampler that no worker saw
(no worker late by half the threshold at that moment) is the controller's own: its
sampler waited for the GIL behind the measuring of calls already down. The
controller is in no call's media or timing (the agents run in the workers, the
capture in dumpcap, impairments in helpers of their own), so such a stall distorts no
figure: it is counted apart (`StallReport.controller_only`), not against the window.
Without a worker feed (no farm), or before the workers' reports of that moment can
have arrived (WORKER_FEED_LAG_S), the sampler alone stands for the host.
"""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass, replace

from harness.cpuwait import RealtimeGroup
from harness.model import StallReport

_RECORD_FLOOR_S = 0.005  # lateness below this is scheduler noise, not recorded
CONTROLLER = "controller"  # the sampler thread of the controller process
WORKER = "worker"  # an agent worker's pump (harness/sip/worker.py)
# a worker sends its late wake-ups every 0.5 s: a controller stall more recent than
# this may not have its workers' reports in yet, and counts (the cautious reading)
WORKER_FEED_LAG_S = 1.0


@dataclass(frozen=True, slots=True)
class _CpuSnap:
    t_mono: float
    steal_jiffies: int | None
    total_jiffies: int | None
    pressure_us: int | None
    rt_wait_us: int | None = None  # the real-time group's PSI (harness/cpuwait.py)


def _cpu_snapshot(group: RealtimeGroup | None = None) -> _CpuSnap:
    snap = _host_snapshot()
    if group is None:
        return snap
    return replace(snap, rt_wait_us=group.waited_us())


def _host_snapshot() -> _CpuSnap:
    steal = total = pressure = None
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            parts = fh.readline().split()
        values = [int(v) for v in parts[1:]]
        total, steal = sum(values[:8]), values[7]
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/proc/pressure/cpu", encoding="ascii") as fh:
            some = fh.readline().split()
        pressure = int(some[-1].split("=")[1])
    except (OSError, ValueError, IndexError):
        pass
    return _CpuSnap(time.monotonic(), steal, total, pressure)


class StallGuard:
    """Background sampler of scheduling latency (start once per session)."""

    def __init__(self, threshold_s: float = 0.1, tick_s: float = 0.01,
                 group: RealtimeGroup | None = None,
                 rt_wait_limit_pct: float | None = None) -> None:
        """`group`: the session's real-time processes (harness/cpuwait.py), whose wait
        for a CPU is judged against `rt_wait_limit_pct` of a window (None: reported,
        not judged)."""
        self.threshold_s = threshold_s
        self.tick_s = tick_s
        self.group = group
        self.rt_wait_limit_pct = rt_wait_limit_pct
        self._ends: list[float] = []  # monotonic time each late wake-up happened
        self._lates: list[float] = []  # how late (s), parallel to _ends
        self._sources: list[str] = []  # who was late (CONTROLLER | WORKER), parallel
        self._who: list[str] = []  # which worker ('' the sampler), parallel
        self._workers_seen = False  # a worker has reported (its lateness corroborates)
        self._marks: list[tuple[float, int]] = []  # (time, wake-ups so far), every 50th
        self._count = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._snaps: list[_CpuSnap] = []

    def start(self) -> None:
        if self._thread is not None:
            return
        self._snaps.append(_cpu_snapshot(self.group))
        self._thread = threading.Thread(target=self._run, name="stall-guard", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    def _run(self) -> None:
        tick = self.tick_s
        prev = time.monotonic()
        while not self._stop.is_set():
            time.sleep(tick)
            now = time.monotonic()
            late = now - prev - tick
            prev = now
            self.record(now, late)
            with self._lock:
                if self._count % 50 == 0:
                    self._marks.append((now, self._count))
                    if self._count % 100 == 0:
                        self._snaps.append(_cpu_snapshot(self.group))

    def record(self, end_mono: float, late_s: float, source: str = CONTROLLER,
               who: str = "") -> None:
        """One wake-up `late_s` late at `end_mono`: the sampler's (CONTROLLER), an
        agent worker's (WORKER), or a test's."""
        with self._lock:
            if source == CONTROLLER:
                self._count += 1
            else:
                self._workers_seen = True
            if late_s >= _RECORD_FLOOR_S:
                idx = bisect.bisect_right(self._ends, end_mono)
                self._ends.insert(idx, end_mono)
                self._lates.insert(idx, late_s)
                self._sources.insert(idx, source)
                self._who.insert(idx, who)

    def report(self, t0: float, t1: float | None = None) -> StallReport:
        """Stalls that overlap [t0, t1] (monotonic seconds); t1 defaults to now.

        A stall is the interval [end - lateness, end]; it counts for the window if
        it overlaps it at all, because a pause just before a measurement ends or
        just after it starts still distorts the events inside it.
        """
        t1 = time.monotonic() if t1 is None else t1
        with self._lock:
            lo = bisect.bisect_left(self._ends, t0)  # stalls ending before t0 miss it
            settled = time.monotonic() - WORKER_FEED_LAG_S  # workers' reports are in
            counted: list[tuple[float, float]] = []  # the host's, or a worker's own
            own: list[tuple[float, float]] = []  # the controller's own (no worker saw it)
            worst, worst_by = 0.0, ""  # the largest counted stall, and who saw it
            for end, late, src, who in zip(self._ends[lo:], self._lates[lo:],
                                           self._sources[lo:], self._who[lo:], strict=True):
                if end - late > t1:
                    continue
                alone = src == CONTROLLER and self._workers_seen and end <= settled and \
                    not self._worker_saw(end - late, end)
                (own if alone else counted).append((end, late))
                if not alone and late > worst:
                    worst, worst_by = late, (f"agent worker {who}" if who else
                                             "the harness's own sampler" if src == CONTROLLER
                                             else src)
            marks = [(t, n) for t, n in self._marks if t0 <= t <= t1]
            snaps = [s for s in self._snaps if t0 - 1.0 <= s.t_mono <= t1 + 1.0]
        samples = marks[-1][1] - marks[0][1] if len(marks) >= 2 else 0
        over = _merged([(end - late, end) for end, late in counted if late > self.threshold_s])
        own_over = _merged([(end - late, end) for end, late in own if late > self.threshold_s])
        steal, pressure, rt_wait = self._cpu_over(snaps, self.group)
        return StallReport(window_s=max(t1 - t0, 0.0),
                           max_stall_s=max((late for _e, late in counted), default=0.0),
                           stalls_over_threshold=len(over), threshold_s=self.threshold_s,
                           samples=samples, cpu_steal_pct=steal, cpu_pressure_pct=pressure,
                           controller_only=len(own_over),
                           controller_max_s=max((late for _e, late in own), default=0.0),
                           rt_wait_pct=rt_wait, rt_wait_limit_pct=self.rt_wait_limit_pct,
                           max_stall_by=worst_by)

    def _worker_saw(self, start: float, end: float) -> bool:
        """Did an agent worker fall behind, by half the threshold, while the controller's
        sampler was late over [start, end]? (called with the lock held)"""
        lo = bisect.bisect_left(self._ends, start)  # woke before it began: not it
        hi = bisect.bisect_right(self._ends, end + 1.0)  # a worker wakes after it too
        return any(src == WORKER and late >= self.threshold_s / 2 and e - late <= end
                   for e, late, src in zip(self._ends[lo:hi], self._lates[lo:hi],
                                           self._sources[lo:hi], strict=True))

    @staticmethod
    def _cpu_over(snaps: list[_CpuSnap], group: RealtimeGroup | None = None,
                  ) -> tuple[float | None, float | None, float | None]:
        """(CPU steal %, host CPU pressure %, the real-time group's wait %) over the
        snapshots (one a second) around a window."""
        if len(snaps) < 2:
            snaps = snaps + [_cpu_snapshot(group)]
        if len(snaps) < 2:
            return None, None, None
        first, last = snaps[0], snaps[-1]
        steal = pressure = rt_wait = None
        if None not in (first.steal_jiffies, last.steal_jiffies, first.total_jiffies,
                        last.total_jiffies):
            dtotal = (last.total_jiffies or 0) - (first.total_jiffies or 0)
            if dtotal > 0:
                steal = 100.0 * ((last.steal_jiffies or 0) - (first.steal_jiffies or 0)) / dtotal
        dt = last.t_mono - first.t_mono
        if first.pressure_us is not None and last.pressure_us is not None and dt > 0:
            pressure = 100.0 * (last.pressure_us - first.pressure_us) / 1e6 / dt
        if first.rt_wait_us is not None and last.rt_wait_us is not None and dt > 0:
            rt_wait = 100.0 * (last.rt_wait_us - first.rt_wait_us) / 1e6 / dt
        return steal, pressure, rt_wait


def _merged(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Stall intervals that overlap, as one: a pause of the whole host is reported by the
    sampler and by every agent worker at once, and is one stall, not 34."""
    out: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
