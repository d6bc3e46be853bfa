"""The stall guard must flag a stall caused on purpose: the test process itself is
stopped (SIGSTOP) for a known time, as a paused VM stops every thread."""

import os
import time

from harness.network.faults import ensure_running, stall_process
from harness.run.guard import WORKER, StallGuard


def test_guard_flags_a_stall_caused_on_purpose() -> None:
    guard = StallGuard(threshold_s=0.1, tick_s=0.01)
    guard.start()
    try:
        t0 = time.monotonic()
        helper = stall_process(os.getpid(), after_s=0.3, for_s=0.6)
        helper.wait(timeout=30)
        time.sleep(0.2)
        report = guard.report(t0)
    finally:
        ensure_running(os.getpid())
        guard.stop()
    assert not report.clean
    assert report.stalls_over_threshold >= 1
    assert report.max_stall_s >= 0.5  # the 0.6 s stop, less scheduling slack
    assert "host stalled" in report.describe()


def test_a_stall_counts_for_every_window_it_overlaps() -> None:
    guard = StallGuard(threshold_s=0.1)  # not started: fed by hand
    guard.record(110.0, 0.5)  # stalled from 109.5 to 110.0
    guard.record(120.0, 0.02)  # scheduler noise, under the threshold
    assert guard.report(100.0, 109.0).clean  # ends before the stall
    assert guard.report(110.1, 119.0).clean  # starts after it
    inside = guard.report(109.6, 109.8)  # inside the stall
    assert not inside.clean and inside.max_stall_s == 0.5
    assert not guard.report(109.9, 115.0).clean  # overlaps its end
    assert not guard.report(100.0, 109.6).clean  # overlaps its start
    noisy = guard.report(119.0, 121.0)
    assert noisy.clean and noisy.max_stall_s == 0.02


def test_one_pause_seen_by_every_process_is_one_stall() -> None:
    """A host pause is reported by the sampler and by each agent worker (their own
    lateness): overlapping reports are one stall; separate pauses stay separate."""
    guard = StallGuard(threshold_s=0.1)
    for i in range(34):  # 34 processes saw the same ~0.2 s pause
        guard.record(110.0 + i * 0.001, 0.2)
    guard.record(115.0, 0.15)  # a second pause, later
    report = guard.report(100.0, 120.0)
    assert report.stalls_over_threshold == 2
    assert report.max_stall_s == 0.2
    assert guard.report(112.0, 120.0).stalls_over_threshold == 1


def test_a_late_controller_no_worker_saw_is_the_controllers_own_not_the_hosts() -> None:
    """The controller's sampler waited 125 ms for the GIL (measuring calls already down)
    while every agent worker ran on time: no call's media or timing was touched (the
    agents run in the workers), so the window stays clean and the stall is kept apart.
    A host pause is seen by the workers too, and counts."""
    from harness.run.guard import WORKER

    guard = StallGuard(threshold_s=0.1)
    guard.record(50.0, 0.004, WORKER)  # the workers report (on time: under the floor)
    guard.record(110.0, 0.125)  # the controller alone
    alone = guard.report(100.0, 120.0)
    assert alone.clean and alone.stalls_over_threshold == 0
    assert alone.controller_only == 1 and alone.controller_max_s == 0.125
    assert alone.max_stall_s == 0.0
    guard.record(130.0, 0.125)  # a host pause: the controller ...
    guard.record(130.02, 0.11, WORKER)  # ... and a worker, woken a little later
    paused = guard.report(125.0, 135.0)
    assert not paused.clean and paused.stalls_over_threshold == 1
    assert paused.max_stall_s == 0.125 and paused.controller_only == 0
    guard.record(140.0, 0.04, WORKER)  # a worker only a little late: not the host's
    guard.record(140.0, 0.125)
    assert guard.report(139.0, 141.0).controller_only == 1
    guard.record(150.0, 0.3, WORKER)  # a worker starved alone: its media is late
    assert not guard.report(149.0, 151.0).clean


def test_without_a_worker_feed_or_before_it_arrives_the_controller_stands_for_the_host(
        ) -> None:
    import time

    bare = StallGuard(threshold_s=0.1)  # no farm: nothing to corroborate with
    bare.record(110.0, 0.125)
    assert not bare.report(100.0, 120.0).clean
    from harness.run.guard import WORKER, WORKER_FEED_LAG_S

    fed = StallGuard(threshold_s=0.1)
    fed.record(1.0, 0.004, WORKER)
    now = time.monotonic()
    fed.record(now, 0.125)  # just now: the workers' reports of it may be on their way
    assert not fed.report(now - 1.0, now).clean
    assert WORKER_FEED_LAG_S >= 0.5  # a worker sends its lateness every 0.5 s


def test_a_stall_names_who_saw_the_largest_of_it() -> None:
    """Where the host's time went is evidence: the largest stall counted names the agent
    worker that fell behind (an agent host's included), or the harness's own sampler."""
    guard = StallGuard(threshold_s=0.1)
    guard.record(110.0, 0.104, WORKER, "pstn")
    guard.record(110.01, 0.06, WORKER, "site3-w1")
    report = guard.report(100.0, 120.0)
    assert report.max_stall_by == "agent worker pstn"
    assert report.describe().endswith(", the largest seen by agent worker pstn")
    guard.record(130.0, 0.3)  # the sampler, longest, in a pause a worker saw too
    guard.record(130.05, 0.06, WORKER, "w2")
    assert guard.report(125.0, 131.0).max_stall_by == "the harness's own sampler"
    assert guard.report(140.0, 150.0).max_stall_by == ""
