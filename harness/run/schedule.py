"""Plan rows placed concurrently, as a beta trial's lines are busy at once.

Up to `agents.concurrent_calls` rows run at a time, each in a thread of its own (a
call mostly waits on its agents; the measuring after it reads the capture and has
speech scored). A row waits while it would share a party with a call in progress
(its calling line or PSTN subscriber, the line it dials, the lines that one forwards
to) and while the simulated PSTN already carries 4 calls (its worker is one pjsua2
process, which holds 4). A row under a network impairment profile crosses the access
links, which carry one such row at a time while the other rows go on beside it on the
loopback; without access links (an external switch) the impairment applies to every
agent's media and its row runs alone.

Among the rows that may start, the longest goes first: the 61 s billing call started
last would set the run's length. `result(plan_id)` blocks until that row's call is
measured, so a pytest item per row reports in plan order while the calls overlap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from harness.errors import HarnessError
from harness.model import CallResult, CallSpec
from harness.numberplan import NumberPlan
from harness.pstn.directory import Route
from harness.run.runner import error_result
from harness.sip.attribution import PSTN_SEAT

T = TypeVar("T")


PSTN_LEGS = 4  # the simulated PSTN's worker holds 4 calls (one pjsua2 process)


def _route(dial: str, plan: NumberPlan) -> Route | None:
    """Where `dial` goes, or None when the dial guard refuses it (no call is placed)."""
    try:
        return plan.route_dial(dial)
    except HarnessError:
        return None


def parties(spec: CallSpec, plan: NumberPlan) -> frozenset[str]:
    """Every party a row's call may ring or be placed from (for mutual exclusion).

    A far end in the PSTN is a party only when the row withholds the caller's
    identity (*67): two calls to one PSTN number are told apart by their calling
    numbers (harness/sip/attribution.py), two anonymous ones would not be."""
    withheld = spec.dial.startswith("*67") or spec.expect.caller_id == "anonymous"
    far = plan.far_ends(spec.dial, spec.transfer_to, spec.conference_with)
    return frozenset({spec.caller, *(seat for seat in far
                                     if withheld or not seat.startswith(PSTN_SEAT))})


def expected_s(spec: CallSpec) -> float:
    """Roughly how long a row's call lasts: ringing, talk (a scored call talks at least
    its ~12 s reference), a ring that is never answered (the switch's timeout)."""
    talk = max(spec.talk_s, 12.0) if spec.expect.scored else spec.talk_s
    ring = 8.0 if spec.callee_behaviour == "no_answer" else spec.answer_after_s
    return ring + (talk if spec.expect.final_code == 200 else 0.0)


def pstn_legs(spec: CallSpec, plan: NumberPlan) -> int:
    """Calls the row puts on the simulated PSTN: a far end there, a caller from there."""
    route = _route(spec.dial, plan)
    return int(spec.caller_party.is_pstn) + int(route is not None and
                                                      route.trunk is not None)


class PlanScheduler:
    def __init__(self, specs: Sequence[CallSpec], run_call: Callable[[CallSpec], CallResult],
                 plan: NumberPlan, concurrency: int, links: bool = False) -> None:
        """`links`: rows under a profile cross access links of their own (the profile
        impairs those links only), so they run beside other rows, one at a time; without
        them a profile impairs every agent's media and its row runs alone."""
        self.run_call = run_call
        self.links = links
        self.concurrency = max(1, concurrency)
        self._queue = list(specs)
        self._parties = {s.plan_id: parties(s, plan) for s in specs}
        self._pstn = {s.plan_id: pstn_legs(s, plan) for s in specs}
        self._pstn_up = 0
        self._busy: set[str] = set()
        self._running: set[str] = set()
        self._exclusive = False
        self._impaired = False  # a row under a profile is up (on the access links)
        self._results: dict[str, CallResult] = {}
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._feed, name="plan-scheduler", daemon=True)
        self._stopped = False
        self._held = 0  # jobs waiting to run alone (a busy hour)
        self._thread.start()

    def result(self, plan_id: str) -> CallResult:
        with self._cond:
            while plan_id not in self._results:
                self._cond.wait()
            return self._results[plan_id]

    def exclusive(self, job: Callable[[], T]) -> T:
        """Run `job` once no row is up, starting no row until it returns."""
        with self._cond:
            self._held += 1
            while self._running:
                self._cond.wait()
        try:
            return job()
        finally:
            with self._cond:
                self._held -= 1
                self._cond.notify_all()

    def stop(self, wait_s: float = 60.0) -> None:
        """Start no more rows (an interrupted run) and let the rows in progress finish
        (up to `wait_s`), so the session closes under no running call."""
        deadline = time.monotonic() + wait_s
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            while self._running and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))

    def _startable(self, spec: CallSpec) -> bool:
        if self._held or self._exclusive or len(self._running) >= self.concurrency:
            return False
        if spec.profile and self.links:  # the two access links carry one row at a time
            if self._impaired:
                return False
        elif spec.profile:
            return not self._running  # impaired on the loopback: alone
        if self._pstn_up + self._pstn[spec.plan_id] > PSTN_LEGS:
            return False
        return not (self._parties[spec.plan_id] & self._busy)

    def _feed(self) -> None:
        with self._cond:
            while self._queue and not self._stopped:
                ready = [s for s in self._queue if self._startable(s)]
                # longest first: a long call started last would set the run's length
                spec = max(ready, key=expected_s) if ready else None
                if spec is None:
                    self._cond.wait()
                    continue
                self._queue.remove(spec)
                self._running.add(spec.plan_id)
                self._busy |= self._parties[spec.plan_id]
                self._pstn_up += self._pstn[spec.plan_id]
                self._exclusive = bool(spec.profile) and not self.links
                self._impaired = self._impaired or bool(spec.profile)
                threading.Thread(target=self._one, args=(spec,), name=f"call-{spec.plan_id}",
                                 daemon=True).start()
            for spec in self._queue if self._stopped else ():
                self._results[spec.plan_id] = error_result(spec, "not placed: the run was "
                                                           "interrupted", 0.0)
            self._cond.notify_all()

    def _one(self, spec: CallSpec) -> None:
        try:
            result = self.run_call(spec)
        except Exception as exc:  # noqa: BLE001 - the row gets an error verdict, never lost
            result = error_result(spec, f"harness error: {exc!r}", 0.0)
        with self._cond:
            self._results[spec.plan_id] = result
            self._running.discard(spec.plan_id)
            self._busy -= self._parties[spec.plan_id]
            self._pstn_up -= self._pstn[spec.plan_id]
            self._exclusive = False
            if spec.profile:
                self._impaired = False
            self._cond.notify_all()
