"""A test of the harness's own that failed while this host stalled runs once more,
alone (a pytest plugin of the selftest's: tests/conftest.py).

Why: many of the harness's own tests judge real-time figures (set-up delay, a BYE's
timing, an injected delay, a 3-way call's turns). On this class of host the VM is
paused now and then, or starved of CPU, for a tenth of a second and more; a figure
taken across it describes the host, not the code under test. The harness's own guard
marks such a measurement invalid and the test fails rather than passes (a test that
passes on invalid figures is a defect). An invalid measurement is neither a pass nor
a fail of the code: it is measured again, as the plan re-places a call the guard
flagged (harness/run/session.py `run_call`).

What counts as "failed while the host stalled", from data and not from the test's
words alone:
  * the stall watch, the harness's own stall guard run in the selftest's process (its
    sampler wakes every `TICK_S` and records how late each wake-up was): a failed
    call phase whose window holds a wake-up later than `STALL_S` (the guard's default
    threshold) was measured across a stall;
  * or the failure is the harness guard's own verdict ("host stalled", "invalid
    measurement", "no valid attempt"), or names a figure the harness found invalid
    ("invalid_measurement: ...": its own instruments, harness/media/assess.py).

What is not done: a test that failed with no stall in its window is not run again
(a flaky detector must show as failed), a failed set-up or teardown is not run again,
and a test runs at most twice. Its second run takes an exclusive turn
(tests/turns.py) when the selftest runs tests in parallel: nothing beside it. Both
runs are reported: the first as `rerun` (terminal letter R, listed at the end with
the stall that caused it), the second as what it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import pytest
from _pytest.reports import TestReport
from _pytest.runner import runtestprotocol

from harness.run.guard import StallGuard

TICK_S = 0.02  # the watch's sleep
STALL_S = 0.1  # a wake-up this late is a stall (the harness guard's default threshold)
# the guard's words, and the verdict reason the harness gives an invalid figure
GUARD_WORDS = ("host stalled", "invalid measurement", "invalid_measurement", "no valid attempt")
RERUN = "rerun"
_ATTEMPT = pytest.StashKey[int]()  # the attempt under way, 1 or 2 (set by Reruns.run)
_AGAIN = pytest.StashKey["Stalled | None"]()  # why the attempt under way runs again


def stall_watch() -> StallGuard:
    """The selftest's own watch: the harness's stall guard (harness/run/guard.py), in
    this process, fed by no agent worker, so every late wake-up of its sampler counts."""
    return StallGuard(threshold_s=STALL_S, tick_s=TICK_S)


@dataclass(frozen=True, slots=True)
class Stalled:
    """Why a failed test is run again."""

    worst_s: float
    guard_said: str

    def describe(self) -> str:
        parts = []
        if self.worst_s >= STALL_S:
            parts.append(f"this host stalled {self.worst_s * 1000:.0f} ms during it")
        if self.guard_said:
            parts.append(f"the harness guard said {self.guard_said!r}")
        return " and ".join(parts)


def stalled_failure(report: TestReport, worst_s: float) -> Stalled | None:
    """Was `report` (a failed call phase) measured across a stall? None if it passed,
    failed in set-up or teardown, or failed with no stall in its window."""
    if report.when != "call" or not report.failed:
        return None
    crash = getattr(report.longrepr, "reprcrash", None)  # the exception's own message
    text = str(getattr(crash, "message", "") or "").lower()
    said = next((w for w in GUARD_WORDS if w in text), "")
    if worst_s < STALL_S and not said:
        return None
    return Stalled(worst_s, said)


class Reruns:
    """The plugin: registered by tests/conftest.py, which gives it the turns."""

    def __init__(self, watch: StallGuard) -> None:
        self.watch = watch
        self.done: list[tuple[str, str]] = []  # (nodeid, why) of each test run again

    def run(self, item: pytest.Item, nextitem: pytest.Item | None,
            go_alone: Callable[[], None] | None = None) -> None:
        """The test's protocol (set-up, call, teardown, logged), once more if its call
        failed across a stall; `go_alone()` first takes the exclusive turn."""
        ihook = item.ihook
        for attempt in (1, 2):
            item.stash[_ATTEMPT] = attempt
            item.stash[_AGAIN] = None
            ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
            reports = runtestprotocol(item, nextitem=nextitem, log=False)
            why = item.stash[_AGAIN]
            call = next((r for r in reports if r.when == "call"), None)
            if why is not None and call is not None:
                call.outcome = RERUN  # type: ignore[assignment]  # pytest-rerunfailures' word
                call.sections.append(("rerun", why.describe()))
            for rep in reports:
                ihook.pytest_runtest_logreport(report=rep)
            ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
            if why is None:
                return
            self.done.append((item.nodeid, why.describe()))
            if go_alone is not None:
                go_alone()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None],
                                  ) -> Generator[None, TestReport, TestReport]:
        """Decided as soon as the call phase's report is made, before the teardown: the
        teardown hooks then know the test runs again (`runs_again`), and keep what its
        second run needs (a shared session is not closed under it)."""
        report = yield
        if report.when == "call" and item.stash.get(_ATTEMPT, 0) == 1:
            item.stash[_AGAIN] = stalled_failure(
                report, self.watch.report(*_monotonic(report)).max_stall_s)
        return report

    @pytest.hookimpl
    def pytest_report_teststatus(self, report: TestReport) -> tuple[str, str, str] | None:
        if report.outcome == RERUN:  # type: ignore[comparison-overlap]
            return RERUN, "R", ("RERUN", {"yellow": True})
        return None

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        reruns = [r for r in terminalreporter.stats.get(RERUN, []) if r.when == "call"]
        if not reruns:
            return
        terminalreporter.section("run again after a stall")
        for rep in reruns:
            why = next((text for name, text in rep.sections if name == "rerun"), "")
            terminalreporter.write_line(f"{rep.nodeid}: {why}")


def runs_again(item: pytest.Item) -> bool:
    """Will `item` run once more after this attempt (asked by its teardown's hooks)?"""
    return item.stash.get(_AGAIN, None) is not None


def _monotonic(report: TestReport) -> tuple[float, float]:
    """The report's window (wall clock in pytest's reports) on the monotonic clock."""
    shift = time.time() - time.monotonic()
    return report.start - shift, report.stop - shift
