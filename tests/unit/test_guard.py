"""The stall guard must flag a stall caused on purpose: the test process itself is
stopped (SIGSTOP) for a known time, as a paused VM stops every thread."""

import os
import time

from harness.network.faults import ensure_running, stall_process
from harness.run.guard import StallGuard


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
