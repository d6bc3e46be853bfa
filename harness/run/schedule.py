"""Plan rows placed concurrently, as a beta trial's lines are busy at once.

Up to `agents.concurrent_calls` rows run at a time, each in a thread of its own (a
call mostly waits on its agents; the measuring after it reads the capture and has
speech scored). A row waits while it would share a party with a call in progress
(its calling line or PSTN subscriber, the line it dials, the lines that one forwards
to) and while a gateway worker of the simulated PSTN it needs already carries 4 calls
(each is one pjsua2 process, which holds 4; each trunk group may have its own). A row
under a network impairment profile crosses a pair of access links, which carries one
such row at a time while the other rows go on beside it on the loopback; without
access links (an external switch) the impairment applies to every agent's media and
its row runs alone.

`result(plan_id)` blocks until that row's call is measured, so a pytest item per row
reports in plan order while the calls overlap.

Among the rows that may start, the one on the longest chain goes first: the 61 s
billing call, or a row under a profile while the other such rows queue behind it for
the access-link pairs (started last, either would set the run's length). When the
slots are not what bounds the rows (their calls, spread over the slots, end half a
plain call before the longest does), a row a probe cannot run beside (not *quiet*,
below) is weighed one plain call longer: the rows up last are then plain calls
talking, and the probes run beside them instead of after the busy hour.

Two kinds of row are jobs of their own (`after_rows`), run one at a time once every
row has started, each holding the switch until it *releases* it (which it may do
before it ends):

* `alone` jobs (the busy hour: every line in a call) wait for every row to end; the
  busy hour releases the switch when its last call is down, so its measuring (PESQ of
  84 recordings) overlaps the security probes after it, not rows with media.
* other jobs (security probes: nothing may reach a far end during one but what the
  probe caused) may start while the rows still up are *quiet*: past their set-up, with
  nothing left to signal to a far end (`quiet_from_s`: a plain call talking), and
  share no line with them. A row's re-placement waits while a probe runs
  (HarnessSession.run_call). Such a job may go ahead of an `alone` job still waiting
  for the rows (the busy hour waiting for the 61 s billing call) when its expected
  length fits before the last row's expected end: it then costs the run no time.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from harness.errors import HarnessError
from harness.model import CallResult, CallSpec
from harness.numberplan import NumberPlan
from harness.party import Party
from harness.pstn.directory import Route
from harness.run.runner import error_result
from harness.sip.attribution import PSTN_SEAT

# a job run after the rows: given `release`, to call once the switch is no longer its own
Job = Callable[[Callable[[], None]], object]


@dataclass(frozen=True, slots=True)
class _Queued:
    key: str
    job: Job
    alone: bool  # no row may be up (the busy hour)
    expected_s: float | None  # how long it holds the switch (None: unknown)
    parties: frozenset[str]  # lines it uses (a probe's identity, its real call's)


# an agent worker holds 4 calls (one pjsua2 process): a gateway of the simulated PSTN,
# or a worker hosting beta lines, whichever of its lines they are on
WORKER_CALLS = 4
CALL_BEFORE_S = 3.5  # a call return row's call before: 2 s ringing, set-up, measuring
PLAIN_CALL_S = 12.0  # a scored call's talk: its ~12 s references heard whole


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
    far = plan.far_ends(spec.reaches, *spec.before_dials, spec.transfer_to,
                        spec.conference_with)
    waiting = (spec.waiting_caller,) if spec.waiting_caller and \
        not Party.in_pstn(spec.waiting_caller) else ()
    picker = (spec.picked_up_by,) if spec.picked_up_by else ()
    return frozenset({spec.caller, *waiting, *picker, *(seat for seat in far
                                     if withheld or not seat.startswith(PSTN_SEAT))})


def expected_s(spec: CallSpec) -> float:
    """Roughly how long a row's call lasts: ringing, talk (a scored call talks at least
    its ~12 s reference; a fax call, T.30 sending one page: ~30 s), a ring that is never
    answered (the switch's timeout) or picked up (when the picking line dials)."""
    talk = max(spec.talk_s, PLAIN_CALL_S) if spec.expect.scored else spec.talk_s
    before = CALL_BEFORE_S * len(spec.calls_before)  # call return's, one after another
    if spec.expect.final_code != 200:
        return before + (8.0 if spec.callee_behaviour == "no_answer" else
                         spec.answer_after_s)
    return before + answered_call_s(spec, talk)


def answered_call_s(spec: CallSpec, talk_s: float) -> float:
    """An answered row's call: its ringing (until the pickup, for a picked-up call),
    then `talk_s` (a fax call: as long as T.30 takes)."""
    ring = spec.pickup_at_s + 1.0 if spec.picked_up_by else spec.answer_after_s
    if spec.voicemail:  # rung unanswered, the deposit, then the retrieval: its digits,
        # the message (the deposit's length) and a pad, with the NOTIFYs between
        return VOICEMAIL_RING_S + talk_s + talk_s + VOICEMAIL_STEPS_S
    return ring + (max(talk_s, FAX_CALL_S) if spec.fax else talk_s)


VOICEMAIL_RING_S = 4.0  # numbers.voicemail_after_s, ours
VOICEMAIL_STEPS_S = 6.0  # the retrieval's digits and pad, the two NOTIFYs


FAX_CALL_S = 30.0  # a fax row's call: one page through T.30 (measured 26-30 s)


def quiet_from_s(spec: CallSpec, plan: NumberPlan) -> float | None:
    """How long after its placing a row's call sends nothing more that could reach a far
    end (a plain answered call, talking), or None if it may until its end: a transfer,
    a 3-way call, hold, DTMF, a forwarded or refused call, a row under a profile (its
    lines move back), anything not answered at once."""
    if spec.transfer_to or spec.conference_with or spec.hold_at_s is not None or \
            spec.dtmf_a or spec.dtmf_b or spec.callee_behaviour != "answer" or \
            spec.profile or spec.expect.final_code != 200 or spec.calls_before or \
            spec.waiting_caller or \
            len(plan.far_ends(spec.dial)) != 1:
        return None
    return spec.answer_after_s + 4.0


def pstn_legs(spec: CallSpec, plan: NumberPlan,
              gateway_of: Callable[[str | None], str] = lambda trunk: "pstn"
              ) -> Counter[str]:
    """Calls the row puts on each of the simulated PSTN's gateway workers (`gateway_of`
    a trunk group; None: the one PSTN subscribers call from): a caller from there, a
    far end there (dialled, transferred to, conferenced in)."""
    legs: Counter[str] = Counter()
    if spec.caller_party.is_pstn or any(Party.in_pstn(p) for p in spec.calls_before):
        legs[gateway_of(None)] += 1
    if spec.waiting_caller and Party.in_pstn(spec.waiting_caller):  # beside the row's call
        legs[gateway_of(None)] += 1
    for dial in (spec.reaches, spec.transfer_to, spec.conference_with):
        route = _route(dial, plan) if dial else None
        if route is not None and route.trunk is not None and \
                plan.line_by_number(route.number) is None:
            legs[gateway_of(route.trunk)] += 1
    return legs


def line_legs(spec: CallSpec, plan: NumberPlan,
              worker_of: Callable[[str], str]) -> Counter[str]:
    """Calls the row holds at once on each agent worker hosting its lines (`worker_of`
    a line's seat): its caller's and the line it dials, a waiting caller's, a transfer
    target's, a third party's (a line its call may be forwarded or hunted to takes the
    place of the one it dials), and a second on a line that holds two calls at once (a
    3-way or blind-transfer caller, an attended transferor, a line taking a waiting
    call). A worker holds WORKER_CALLS calls (one pjsua2 Endpoint), whichever of its lines
    they are on."""
    route = _route(spec.reaches, plan)
    dialled = plan.line_by_number(route.number) if route is not None else None
    seats = [spec.caller, spec.waiting_caller, spec.picked_up_by]
    seats += [dialled.name] if dialled is not None else []
    for dial in (spec.transfer_to, spec.conference_with):
        far = _route(dial, plan) if dial else None
        line = plan.line_by_number(far.number) if far is not None else None
        seats += [line.name] if line is not None else []
    if spec.conference_with or (spec.transfer_to and spec.transfer_kind == "blind"):
        seats.append(spec.caller)
    if dialled is not None and (spec.waiting_caller or (
            spec.transfer_to and spec.transfer_kind == "attended")):
        seats.append(dialled.name)
    legs: Counter[str] = Counter()
    for seat in seats:
        party = Party.of_seat(seat) if seat else None
        if party is not None and party.is_line:
            legs[worker_of(seat)] += 1
    return legs


class PlanScheduler:
    def __init__(self, specs: Sequence[CallSpec], run_call: Callable[[CallSpec], CallResult],
                 plan: NumberPlan, concurrency: int, links: int = 0,
                 gateway_of: Callable[[str | None], str] = lambda trunk: "pstn",
                 duration: Callable[[CallSpec], float] = expected_s,
                 worker_of: Callable[[str], str] | None = None) -> None:
        """`links`: the access-link pairs rows under a profile cross (the profile
        impairs those links only), so they run beside other rows, one to a pair; with
        none a profile impairs every agent's media and its row runs alone. `gateway_of`:
        the simulated PSTN's gateway worker of a trunk group (each holds WORKER_CALLS).
        `duration`: how long a
        row's call lasts (the session's estimate follows the call's script). `worker_of`:
        the agent worker hosting a line (each holds WORKER_CALLS calls too); None: not
        counted."""
        self.run_call = run_call
        self.links = links
        self._duration = {s.plan_id: duration(s) for s in specs}
        self.concurrency = max(1, concurrency)
        self._queue = list(specs)
        self._parties = {s.plan_id: parties(s, plan) for s in specs}
        self._quiet = {s.plan_id: quiet_from_s(s, plan) for s in specs}
        # the slots do not bound the rows: the quiet ones may go last (module docstring)
        self._quiet_last = bool(specs) and sum(self._duration.values()) / self.concurrency \
            + PLAIN_CALL_S / 2 <= max(self._duration.values())
        self._since: dict[str, float] = {}  # running rows: when each was placed
        # calls each row puts on each agent worker: the simulated PSTN's gateways and,
        # when known, the workers hosting its lines
        self._calls = {s.plan_id: pstn_legs(s, plan, gateway_of) + (
            line_legs(s, plan, worker_of) if worker_of is not None else Counter())
            for s in specs}
        self._calls_up: Counter[str] = Counter()
        self._busy: set[str] = set()
        self._running: set[str] = set()
        self._exclusive = False
        self._impaired = 0  # rows under a profile up (one on each access-link pair)
        self._results: dict[str, CallResult] = {}
        self._cond = threading.Condition()
        self._stopped = False
        # after the rows, one at a time: (key, job, alone: no row may still be up)
        self._jobs: list[_Queued] = []
        self._job_up = ""  # the job holding the switch ("": none)
        self._job_results: dict[str, tuple[object, BaseException | None]] = {}
        self._feeding = True  # the feeder thread runs (it ends when nothing is queued)
        threading.Thread(target=self._feed, name="plan-scheduler", daemon=True).start()

    def result(self, plan_id: str) -> CallResult:
        with self._cond:
            while plan_id not in self._results:
                self._cond.wait()
            return self._results[plan_id]

    def after_rows(self, key: str, job: Job, alone: bool = False,
                   expected_s: float | None = None, parties: Iterable[str] = ()) -> None:
        """Queue `job` to run once every row has started and the jobs queued before it
        have released the switch: `alone`, once every row is done (a busy hour needs
        every line); else beside rows that are quiet and do not use its `parties` (a
        probe), and ahead of a waiting `alone` job if `expected_s` fits before the rows'
        expected end. `job_result(key)` is what it returned (or raised)."""
        with self._cond:
            self._jobs.append(_Queued(key, job, alone, expected_s, frozenset(parties)))
            self._cond.notify_all()
            if not self._feeding:  # every row was done: the feeder had ended
                self._feeding = True
                threading.Thread(target=self._feed, name="plan-scheduler", daemon=True).start()

    def job_result(self, key: str) -> object:
        with self._cond:
            while key not in self._job_results:
                self._cond.wait()
            value, exc = self._job_results[key]
        if exc is not None:
            raise exc
        return value

    def stop(self, wait_s: float = 60.0) -> None:
        """Start no more rows (an interrupted run) and let the rows in progress finish
        (up to `wait_s`), so the session closes under no running call."""
        deadline = time.monotonic() + wait_s
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            while (self._running or self._job_up) and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))

    def _startable(self, spec: CallSpec) -> bool:
        if self._exclusive or self._job_up or \
                len(self._running) >= self.concurrency:
            return False
        if spec.profile and self.links:  # each pair of access links carries one row
            if self._impaired >= self.links:
                return False
        elif spec.profile:
            return not self._running  # impaired on the loopback: alone
        if any(self._calls_up[w] + n > WORKER_CALLS for w, n in self._calls[spec.plan_id].items()):
            return False
        return not (self._parties[spec.plan_id] & self._busy)

    def _chain_s(self, spec: CallSpec) -> float:
        """How long the rows queued behind `spec` for what it needs keep it busy: its own
        call and every queued row that needs one of its parties (a hunt group's rows,
        which all ring its lines, run one after another: started last, they set the
        run's length); for a row under a profile, every queued such row over the link
        pairs."""
        own = self._duration[spec.plan_id]
        if spec.profile and self.links:
            impaired = [self._duration[s.plan_id] for s in self._queue if s.profile]
            return max(own, sum(impaired) / self.links)
        mine = self._parties[spec.plan_id]
        return own + sum(self._duration[s.plan_id] for s in self._queue
                         if s is not spec and not s.profile and self._parties[s.plan_id] & mine)

    def _weight(self, spec: CallSpec) -> float:
        """The order rows start in: the longest chain first; with slots to spare, a row
        no probe can run beside as if one plain call longer (module docstring)."""
        loud = self._quiet_last and self._quiet[spec.plan_id] is None
        return self._chain_s(spec) + (PLAIN_CALL_S if loud else 0.0)

    def _quiet_now(self) -> tuple[bool, float]:
        """(every running row is quiet, seconds until the last becomes so)."""
        now, wait = time.monotonic(), 0.0
        for plan_id in self._running:
            quiet = self._quiet.get(plan_id)
            if quiet is None:
                return False, 0.0
            wait = max(wait, self._since[plan_id] + quiet - now)
        return wait <= 0, wait

    def _rows_end_in_s(self) -> float:
        """Seconds until the last running row's call is expected to end."""
        now = time.monotonic()
        return max((self._since[p] + self._duration[p] - now for p in self._running),
                   default=0.0)

    def _beside_rows(self, queued: _Queued) -> bool:
        return self._quiet_now()[0] and not (queued.parties & self._busy)

    def _next_job(self) -> tuple[str, Job] | None:
        if self._job_up or not self._jobs or self._queue:
            return None
        first = self._jobs[0]
        if (not self._running) if first.alone else self._beside_rows(first):
            self._jobs.pop(0)
            return first.key, first.job
        if first.alone:  # waiting for the rows: a job that ends before they do goes first
            room = self._rows_end_in_s()
            for queued in self._jobs[1:]:
                if not queued.alone and queued.expected_s is not None and \
                        queued.expected_s <= room and self._beside_rows(queued):
                    self._jobs.remove(queued)
                    return queued.key, queued.job
        return None

    def _feed(self) -> None:
        with self._cond:
            while (self._queue or self._jobs) and not self._stopped:
                ready = [s for s in self._queue if self._startable(s)]
                # the longest chain first: started last, it would set the run's length
                spec = max(ready, key=self._weight) if ready else None
                job = self._next_job() if spec is None else None
                if job is not None:
                    self._job_up = job[0]
                    threading.Thread(target=self._run_job, args=job, name=f"job-{job[0]}",
                                     daemon=True).start()
                    continue
                if spec is None:
                    # a probe waiting for the rows up to become quiet: look again then
                    _, wait = self._quiet_now() if not self._queue and \
                        any(not q.alone for q in self._jobs) else (False, 0.0)
                    self._cond.wait(wait + 0.05 if wait > 0 else None)
                    continue
                self._queue.remove(spec)
                self._running.add(spec.plan_id)
                self._since[spec.plan_id] = time.monotonic()
                self._busy |= self._parties[spec.plan_id]
                self._calls_up.update(self._calls[spec.plan_id])
                self._exclusive = bool(spec.profile) and not self.links
                self._impaired += bool(spec.profile)
                threading.Thread(target=self._one, args=(spec,), name=f"call-{spec.plan_id}",
                                 daemon=True).start()
            for spec in self._queue if self._stopped else ():
                self._results[spec.plan_id] = error_result(spec, "not placed: the run was "
                                                           "interrupted", 0.0)
            for queued in self._jobs if self._stopped else ():
                self._job_results[queued.key] = (None, HarnessError("not run: the run was "
                                                                    "interrupted"))
            self._jobs.clear()
            self._feeding = False
            self._cond.notify_all()

    def _run_job(self, key: str, job: Job) -> None:
        def release() -> None:
            with self._cond:
                if self._job_up == key:
                    self._job_up = ""
                    self._cond.notify_all()
        value: object = None
        exc: BaseException | None = None
        try:
            value = job(release)
        except BaseException as e:  # noqa: BLE001 - handed to whoever waits for the job
            exc = e
        release()
        with self._cond:
            self._job_results[key] = (value, exc)
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
            self._calls_up.subtract(self._calls[spec.plan_id])
            self._exclusive = False
            self._impaired -= bool(spec.profile)
            self._cond.notify_all()
