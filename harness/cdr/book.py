"""The run's CDR book: every call's records claimed and checked once, as calls end.

The session owns one `CdrBook`; the call pipeline hands it each call's `Ledger` (the
agents' own account) the moment the call is over:

    result = book.check(ledger)   # waits up to `wait_s` for the switch to write it,
                                  # claims the call's records (harness.cdr.match),
                                  # runs the full check (reconcile.check_call) and
                                  # keeps the result; result.check is the row's CDR check
    run = book.close()            # at the end of the run: the kept results, late
                                  # records, and the orphans -> summary.billing_summary

So the row's verdict and the run's billing summary are one matching and one check of
one set of records, never two. A record a call has claimed is never given to another;
calls are checked from many threads at once, so claims take a lock.

While a call waits for its record, it claims by Call-ID (any of its dialogs) or, in a
source without Call-IDs, by numbers and the nearest time; only when the wait is over
does it guess among records that carry Call-IDs nobody knows, or that agree on one
number only (tiers 3-4 of harness.cdr.match), so that a call whose record is late
does not take one a call still running will claim by its Call-ID.

At `close`: a call's records written after its check are attached to it (another leg
silently, a copy of its own leg as the duplicate it is); a call that had none may
still claim one, and is then told its record came late; records of the run's time
window claimed by no call are orphans.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from harness.cdr import CdrSource
from harness.cdr.ledger import Ledger
from harness.cdr.match import TIERS, CallMatch, Claims
from harness.cdr.reconcile import CallReconciliation, CdrPolicy, RunReconciliation, check_call
from harness.model import CdrRecord, Mismatch

WAITING_TIERS = TIERS[:2]  # Call-ID; numbers+time among records without a Call-ID


@dataclass(slots=True)
class _Call:
    ledger: Ledger
    match: CallMatch | None = None  # None: its check failed (the source was unreadable)
    result: CallReconciliation | None = None


class CdrBook:
    """`source` is called for a fresh view of the switch's records; `ignore` drops
    records that are no call of the plan's (a background load's); `since_wall` opens
    the run's time window for orphans (None: every record of the source)."""

    def __init__(self, source: Callable[[], CdrSource], policy: CdrPolicy,
                 wait_s: float = 0.0, ignore: Callable[[CdrRecord], bool] | None = None,
                 since_wall: float | None = None, poll_s: float = 0.1) -> None:
        self.policy = policy
        self.wait_s = wait_s
        self.since_wall = since_wall
        self._source = source
        self._ignore = ignore or (lambda _record: False)
        self._poll_s = poll_s
        self._claims = Claims(policy.match_window_s)
        self._calls: list[_Call] = []
        self._lock = threading.Lock()

    @property
    def ledgers(self) -> list[Ledger]:
        """Every call handed to the book, as the agents saw it."""
        with self._lock:
            return [c.ledger for c in self._calls]

    @property
    def calls(self) -> tuple[CallReconciliation, ...]:
        """The per-call results kept so far (the calls whose check completed)."""
        with self._lock:
            return tuple(c.result for c in self._calls if c.result is not None)

    def check(self, ledger: Ledger) -> CallReconciliation:
        """Claim `ledger`'s records (waiting up to `wait_s`: the switch writes them at
        the BYE), check them fully and keep the result. A source that cannot be read
        raises (CdrError); the call is kept and tried again at `close`."""
        call = _Call(ledger)
        with self._lock:
            self._calls.append(call)
        source = self._source()
        deadline = time.monotonic() + self.wait_s
        while True:
            final = time.monotonic() >= deadline
            records = self._read(source)
            with self._lock:
                match = self._claims.claim(ledger, records, TIERS if final else WAITING_TIERS)
                if match.records or final:
                    call.match, call.result = match, self._check(match)
                    return call.result
            time.sleep(self._poll_s)

    def close(self, until_wall: float | None = None) -> RunReconciliation:
        """Every call's result (late records taken into account) and the orphans."""
        records = self._read(self._source())
        until = time.time() if until_wall is None else until_wall
        with self._lock:
            for call in self._calls:
                if call.match is not None and call.match.records:
                    late = self._claims.claim_late(call.match, records)
                    if late is not call.match:
                        call.match, call.result = late, self._check(late)
            without = [c for c in self._calls if c.match is None or not c.match.records]
            for tier in TIERS:  # as harness.cdr.match.match_records: tier by tier
                for call in without:
                    if call.match is not None and call.match.records:
                        continue  # found in an earlier tier
                    found = self._claims.claim(call.ledger, records, (tier,))
                    if found.records:
                        came_late = call.match is not None  # else: its check had failed
                        call.match, call.result = found, self._check(found, came_late)
            for call in without:
                if call.match is None or call.result is None:
                    call.match = self._claims.claim(call.ledger, records, ())
                    call.result = self._check(call.match)
            orphans = tuple(r for r in self._claims.free(records) if self._in_run(r, until))
            return RunReconciliation(tuple(c.result for c in self._calls
                                           if c.result is not None), orphans)

    def _read(self, source: CdrSource) -> list[CdrRecord]:
        return [r for r in source.all() if not self._ignore(r)]

    def _check(self, match: CallMatch, late: bool = False) -> CallReconciliation:
        result = check_call(match.ledger, match.records, self.policy, match.matched_by,
                            match.nearest_s, match.other_legs)
        if not late:
            return result
        note = Mismatch("cdr", f"its record within cdr.wait_s ({self.wait_s:g} s) of the "
                               "call's end", "written later (found at the end of the run)")
        return replace(result, check=replace(result.check,
                                             mismatches=(note, *result.check.mismatches)))

    def _in_run(self, record: CdrRecord, until: float) -> bool:
        if self.since_wall is None:
            return True
        when = next((t for t in (record.answer_wall, record.start_wall, record.end_wall)
                     if t is not None), None)
        slack = self.policy.match_window_s
        return when is None or self.since_wall - slack <= when <= until + slack
