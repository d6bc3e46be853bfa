"""The real-time processes' wait for a CPU (harness/cpuwait.py, PSI of a cgroup v2 group
of their own) and how the guard judges a window by it: a host that starves the agents
and the embedded switch without ever stopping them 100 ms at once makes the window
unclean, with the wait named."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest

from harness.cpuwait import ENV, RealtimeGroup, join, realtime_children
from harness.model import StallReport
from harness.run.guard import StallGuard, _CpuSnap

QUIET = StallReport(12.0, 0.02, 0, 0.1, 1200)


def test_a_window_whose_real_time_processes_waited_too_long_is_not_clean() -> None:
    starved = StallReport(12.0, 0.02, 0, 0.1, 1200, rt_wait_pct=63.0, rt_wait_limit_pct=50.0)
    assert starved.starved and not starved.clean
    assert starved.describe() == ("host starved the harness's real-time processes: they "
                                  "waited for a CPU 63 % of 12.0 s (at most 50 %)")
    busy = StallReport(12.0, 0.02, 0, 0.1, 1200, rt_wait_pct=21.0, rt_wait_limit_pct=50.0)
    assert busy.clean and not busy.starved
    # no group (not root, no cgroup2), or not judged: the sampler alone decides
    assert StallReport(12.0, 0.02, 0, 0.1, 1200, rt_wait_pct=90.0).clean
    assert QUIET.clean
    both = StallReport(12.0, 0.4, 1, 0.1, 1200, rt_wait_pct=80.0, rt_wait_limit_pct=50.0)
    assert both.describe().startswith("host stalled 400 ms") and "80 %" in both.describe()


def test_the_guard_turns_the_groups_counter_into_a_share_of_the_window() -> None:
    snaps = [_CpuSnap(100.0, 0, 1000, 0, 0), _CpuSnap(101.0, 0, 1100, 10_000, 250_000),
             _CpuSnap(102.0, 0, 1200, 20_000, 1_300_000)]
    steal, pressure, rt_wait = StallGuard._cpu_over(snaps)
    assert steal == 0.0 and pressure == pytest.approx(1.0)
    assert rt_wait == pytest.approx(65.0)  # 1.3 s waited in 2 s
    no_group = [_CpuSnap(100.0, 0, 1000, 0), _CpuSnap(102.0, 0, 1200, 20_000)]
    assert StallGuard._cpu_over(no_group)[2] is None


def test_children_started_in_the_block_are_told_the_group() -> None:
    class Fake:
        path = "/sys/fs/cgroup/unified/beta-x"

    before = os.environ.get(ENV)
    with realtime_children(Fake()):  # type: ignore[arg-type]
        assert os.environ[ENV] == Fake.path
    assert os.environ.get(ENV) == before
    with realtime_children(None):
        assert os.environ.get(ENV) == before


SPIN = "import time\nt = time.time()\nwhile time.time() - t < 1.5: pass\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="a cgroup of its own needs root")
def test_a_real_group_counts_its_members_wait_for_a_cpu() -> None:
    """Real PSI: more spinning members than CPUs wait for one, and the group counts it;
    a group with no member waits for nothing."""
    group = RealtimeGroup.create(f"beta-test-{uuid.uuid4().hex[:8]}")
    if group is None:
        pytest.skip("no writable cgroup v2 hierarchy with PSI on this host")
    try:
        idle = group.waited_us()
        time.sleep(0.5)
        assert group.waited_us() == idle  # nobody in it: no wait
        n = (os.cpu_count() or 2) + 2
        procs = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(n)]
        for p in procs:
            assert join(group.path, p.pid)
        assert sorted(group.members()) == sorted(p.pid for p in procs)
        for p in procs:
            p.wait(timeout=30)
        waited = (group.waited_us() or 0) - (idle or 0)
        assert waited > 200_000, waited  # n spinners on fewer CPUs: most of 1.5 s
    finally:
        group.remove()
    assert not group.path.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="a cgroup of its own needs root")
def test_a_dead_sessions_group_is_removed_and_a_live_ones_kept() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = RealtimeGroup.create(f"beta-20261206-000000-{dead.pid}")
    if stale is None:
        pytest.skip("no writable cgroup v2 hierarchy with PSI on this host")
    mine = RealtimeGroup.create(f"beta-20261206-000001-{os.getpid()}")
    assert mine is not None
    try:
        fresh = RealtimeGroup.create(f"beta-test-{uuid.uuid4().hex[:8]}")  # prunes
        assert fresh is not None
        fresh.remove()
        assert not stale.path.exists() and mine.path.exists()
    finally:
        stale.remove()
        mine.remove()
