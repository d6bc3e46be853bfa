"""The selftest's one more run for a test that failed while the host stalled
(tests/reruns.py), in a pytest of its own: a real pause of that pytest's process
(SIGSTOP, then SIGCONT from a child 0.3 s later, as a paused VM stops every thread)
is what makes a failure "stalled"."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

CONFTEST = '''
import pytest
from tests.reruns import Reruns, stall_watch

WATCH = stall_watch()
RERUNS = Reruns(WATCH)

def pytest_configure(config):
    config.pluginmanager.register(RERUNS, "reruns")
    WATCH.start()

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    RERUNS.run(item, nextitem)
    return True
'''

HELPERS = '''
import os, signal, subprocess, time
from pathlib import Path

def pause(seconds=0.3):
    """This process stopped for `seconds`, as a paused VM stops it."""
    subprocess.Popen(["sh", "-c", f"sleep {seconds}; kill -CONT {os.getpid()}"])
    time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGSTOP)
    time.sleep(0.1)  # the watch's next wake-up records the lateness

def first_time(name):
    """True on a test's first run (a file remembers it)."""
    mark = Path(name + ".ran")
    if mark.exists():
        return False
    mark.write_text("1")
    return True
'''


def outcomes(result: pytest.RunResult) -> dict[str, int]:
    return result.parseoutcomes()


@pytest.fixture
def selftest(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(helpers=HELPERS)
    return pytester


def test_a_failure_across_a_stall_is_run_again_and_its_second_run_counts(
        selftest: pytest.Pytester) -> None:
    selftest.makepyfile(test_x='''
from helpers import pause, first_time
def test_timing():
    if first_time("timing"):
        pause()
        assert False, "set-up delay 0.45 s > 0.3 s"
''')
    result = selftest.runpytest_subprocess("-p", "no:cacheprovider")
    assert outcomes(result) == {"passed": 1, "rerun": 1}
    result.stdout.fnmatch_lines(["*run again after a stall*",
                                 "*test_timing: this host stalled * ms during it*"])


def test_a_failure_with_no_stall_is_not_run_again(selftest: pytest.Pytester) -> None:
    selftest.makepyfile(test_x='''
from helpers import first_time
def test_detector():
    if first_time("detector"):
        assert False, "a flaky detector"
''')
    result = selftest.runpytest_subprocess("-p", "no:cacheprovider")
    assert outcomes(result) == {"failed": 1}
    result.stdout.no_fnmatch_line("*run again*")


def test_a_test_runs_at_most_twice(selftest: pytest.Pytester) -> None:
    selftest.makepyfile(test_x='''
from helpers import pause
def test_always_stalled():
    pause()
    assert False, "stalled every time"
''')
    result = selftest.runpytest_subprocess("-p", "no:cacheprovider")
    assert outcomes(result) == {"failed": 1, "rerun": 1}


def test_the_harness_guards_own_verdict_counts_as_a_stall(selftest: pytest.Pytester) -> None:
    selftest.makepyfile(test_x='''
from helpers import first_time
def test_row():
    if first_time("row"):
        assert False, "1.1: no valid attempt: host stalled 131 ms (threshold 100 ms)"
''')
    result = selftest.runpytest_subprocess("-p", "no:cacheprovider")
    assert outcomes(result) == {"passed": 1, "rerun": 1}
    result.stdout.fnmatch_lines(["*test_row: the harness guard said 'host stalled'*"])


def test_a_failed_set_up_is_not_run_again(selftest: pytest.Pytester) -> None:
    selftest.makepyfile(test_x='''
import pytest
from helpers import pause
@pytest.fixture
def session():
    pause()
    raise RuntimeError("the switch did not start")
def test_needs_session(session):
    pass
''')
    result = selftest.runpytest_subprocess("-p", "no:cacheprovider")
    assert outcomes(result) == {"errors": 1}


def test_a_module_fixture_is_set_up_again_for_the_second_run(
        selftest: pytest.Pytester) -> None:
    """The last test of a module tears its module's fixtures down; run again, it gets
    them anew (and the next module its own)."""
    selftest.makepyfile(test_a='''
import pytest
from helpers import pause, first_time
STARTS = []
@pytest.fixture(scope="module")
def session():
    STARTS.append(1)
    yield len(STARTS)
def test_first(session):
    assert session == 1
def test_last(session):
    if first_time("last"):
        pause()
        assert False
    assert session == 2
''', test_b='''
def test_other():
    pass
''')
    result = selftest.runpytest_subprocess("-p", "no:cacheprovider")
    assert outcomes(result) == {"passed": 3, "rerun": 1}


def test_a_shared_resource_closed_at_teardown_stays_open_for_the_second_run(
        selftest: pytest.Pytester) -> None:
    """The integration tests' shared session is closed by a teardown hook when the next
    test does not use it (tests/integration/conftest.py). A test run again after a stall
    must find it open: CI once ran the fax test a second time on a closed session
    ("assert None is not None where None = session.farm"). The hook asks `runs_again`."""
    selftest.makepyfile(test_x='''
import pytest
from helpers import pause, first_time

class Shared:
    open = None

@pytest.fixture(scope="module")
def live():
    if Shared.open is None:
        Shared.open = {"farm": "up"}
    return Shared.open

def test_uses(live):
    if first_time("uses"):
        pause()
        assert False, "invalid_measurement: the path delayed the page"
    assert live.get("farm") == "up", "closed under the second run"

def test_does_not_use():
    pass
''')
    selftest.makeconftest(CONFTEST + '''
from tests.reruns import runs_again

@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    import test_x
    if runs_again(item):
        return
    if "live" in getattr(item, "fixturenames", ()) and (
            nextitem is None or "live" not in getattr(nextitem, "fixturenames", ())):
        if test_x.Shared.open is not None:
            test_x.Shared.open.clear()  # closed: its farm gone
''')
    result = selftest.runpytest_subprocess("-p", "no:cacheprovider")
    assert outcomes(result) == {"passed": 2, "rerun": 1}, result.stdout.str()


def test_two_workers_report_the_second_run(selftest: pytest.Pytester) -> None:
    """Under pytest-xdist (`SELFTEST_WORKERS=2`) the first run reaches the controller's
    summary as `rerun`, the second as what it was."""
    selftest.makepyfile(test_x='''
from helpers import pause, first_time
def test_timing():
    if first_time("timing"):
        pause()
        assert False, "set-up delay 0.45 s > 0.3 s"
def test_other():
    pass
''')
    result = selftest.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    assert outcomes(result) == {"passed": 2, "rerun": 1}
    result.stdout.fnmatch_lines(["*test_timing: this host stalled * ms during it*"])
