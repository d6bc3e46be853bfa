"""A host that starves the harness's real-time processes (CPU hogs among the agents and
the switch, for the whole call) makes the call's figures the host's: invalid, with that
wait named, never the switch's fail.

A module of `alone` tests (tests/turns.py): the hogs starve every process on the host,
so nothing runs beside it (a test beside it was starved too and failed, three tests at
a time); the selftest runs the modules of alone tests first (tests/conftest.py)."""

import os
import subprocess
import sys

import pytest

from harness.cpuwait import join
from harness.model import Status
from harness.run.session import HarnessSession
from tests.integration.test_walking_skeleton import ONNET

pytestmark = [pytest.mark.integration, pytest.mark.alone]

SPIN = "import os, time\nos.nice(-5)\nt = time.time()\nwhile time.time() - t < {s}: pass\n"


@pytest.mark.fault
@pytest.mark.skipif(os.geteuid() != 0, reason="a cgroup of its own and nice -5 need root")
def test_a_host_that_starves_the_real_time_processes_makes_the_call_invalid(
        live: HarnessSession) -> None:
    """CPU hogs among the agents and the switch, at their niceness, for the whole call:
    nothing stops for 100 ms at once, but the real-time processes' group waits for a
    CPU nearly all the time (PSI, harness/cpuwait.py), and the call's figures are the
    host's: invalid, with that wait named, never the switch's fail."""
    if live.rt_group is None:
        pytest.skip("no cgroup v2 group for the real-time processes on this host")
    hogs = [subprocess.Popen([sys.executable, "-c", SPIN.format(s=25)])
            for _ in range(2 * (os.cpu_count() or 2) + 1)]  # two waiting on each CPU
    try:
        for hog in hogs:
            assert join(live.rt_group.path, hog.pid)
        r = live.run_call(ONNET, retries_on_stall=0)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert r.stall is not None and r.stall.starved, r.stall
    assert r.stall.rt_wait_pct is not None and r.stall.rt_wait_pct > 80.0, r.stall
    assert r.verdict.status is Status.ERROR and r.verdict.invalid_measurement, \
        r.verdict.reasons
    assert any("host starved the harness's real-time processes" in x
               for x in r.verdict.reasons), r.verdict.reasons
