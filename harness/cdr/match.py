"""Pair the calls the harness placed with the CDRs the switch wrote.

In order, each record goes to at most one call:

1. `call_id`       the CDR carries the SIP Call-ID the caller used: that call owns it
                   (all such rows, so a duplicate shows as 2 rows of one call);
2. `numbers+time`  a CDR without a usable Call-ID goes to the call with the same caller
                   and callee (last 10 digits) whose answer (or, unanswered, start)
                   time is nearest, within `window_s`; duplicates land together;
3. `time+caller` / `time+callee`  a call still without a CDR takes the nearest
                   left-over CDR in the window that agrees on one of the two numbers,
                   so that a wrong number is reported as a wrong number rather than as
                   a missing row plus an orphan.

Calls left without a record are missing; records left without a call are orphans.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.cdr import CdrSource
from harness.cdr.ledger import Ledger
from harness.cdr.normalise import same_number
from harness.model import CdrRecord


@dataclass(frozen=True, slots=True)
class CallMatch:
    ledger: Ledger
    records: tuple[CdrRecord, ...]
    matched_by: str  # "call_id" | "numbers+time" | "time+caller" | "time+callee" | ""
    nearest_s: float | None = None  # missing call: offset of the nearest same-numbers CDR


@dataclass(frozen=True, slots=True)
class MatchResult:
    calls: tuple[CallMatch, ...]
    orphans: tuple[CdrRecord, ...]

    @property
    def missing(self) -> tuple[CallMatch, ...]:
        return tuple(c for c in self.calls if not c.records)


def offset_s(ledger: Ledger, record: CdrRecord) -> float | None:
    """CDR time minus the agents' time, seconds: answer vs answer when the call was
    answered and the CDR has one, else start vs start, else end vs end."""
    pairs = ((ledger.answer_wall if ledger.answered else None, record.answer_wall),
             (ledger.start_wall, record.start_wall), (ledger.end_wall, record.end_wall))
    for ours, theirs in pairs:
        if ours is not None and theirs is not None:
            return theirs - ours
    return None


def _numbers(ledger: Ledger, record: CdrRecord) -> tuple[bool, bool]:
    return same_number(ledger.caller, record.caller), same_number(ledger.callee, record.callee)


def match_records(ledgers: Sequence[Ledger], records: Sequence[CdrRecord],
                  window_s: float) -> MatchResult:
    found: dict[int, list[CdrRecord]] = {i: [] for i in range(len(ledgers))}
    how: dict[int, str] = {}
    by_call_id = {lg.call_id: i for i, lg in enumerate(ledgers) if lg.call_id}
    left: list[CdrRecord] = []
    for rec in records:
        i = by_call_id.get(rec.call_id) if rec.call_id else None
        if i is None:
            left.append(rec)
        else:
            found[i].append(rec)
            how[i] = "call_id"
    open_calls = [i for i in found if not found[i]]
    left = _by_numbers_and_time(ledgers, open_calls, left, window_s, found, how)
    open_calls = [i for i in found if not found[i]]
    left = _by_one_number(ledgers, open_calls, left, window_s, found, how)
    calls = tuple(CallMatch(lg, tuple(found[i]), how.get(i, ""),
                            None if found[i] else _nearest(lg, left))
                  for i, lg in enumerate(ledgers))
    return MatchResult(calls, tuple(left))


def _by_numbers_and_time(ledgers: Sequence[Ledger], open_calls: list[int],
                         records: list[CdrRecord], window_s: float,
                         found: dict[int, list[CdrRecord]], how: dict[int, str]
                         ) -> list[CdrRecord]:
    """Tier 2: each record to the nearest open call with both numbers equal."""
    left: list[CdrRecord] = []
    for rec in records:
        best: tuple[float, int] | None = None
        for i in open_calls:
            off = offset_s(ledgers[i], rec)
            if off is None or abs(off) > window_s or _numbers(ledgers[i], rec) != (True, True):
                continue
            if best is None or abs(off) < best[0]:
                best = (abs(off), i)
        if best is None:
            left.append(rec)
        else:
            found[best[1]].append(rec)
            how[best[1]] = "numbers+time"
    return left


def _by_one_number(ledgers: Sequence[Ledger], open_calls: list[int],
                   records: list[CdrRecord], window_s: float,
                   found: dict[int, list[CdrRecord]], how: dict[int, str]
                   ) -> list[CdrRecord]:
    """Tier 3: nearest pairs first, one record per call, one number must agree."""
    pairs: list[tuple[float, int, int, str]] = []
    for i in open_calls:
        for j, rec in enumerate(records):
            off = offset_s(ledgers[i], rec)
            caller_ok, callee_ok = _numbers(ledgers[i], rec)
            if off is None or abs(off) > window_s or caller_ok == callee_ok:
                continue
            pairs.append((abs(off), i, j, "time+caller" if caller_ok else "time+callee"))
    taken: set[int] = set()
    for _, i, j, kind in sorted(pairs):
        if found[i] or j in taken:
            continue
        found[i].append(records[j])
        how[i] = kind
        taken.add(j)
    return [rec for j, rec in enumerate(records) if j not in taken]


def _nearest(ledger: Ledger, records: Sequence[CdrRecord]) -> float | None:
    """Offset of the nearest left-over CDR with both numbers equal (outside the window:
    a clue that the source's `tz=` or clock is wrong)."""
    offsets = [off for rec in records if _numbers(ledger, rec) == (True, True)
               and (off := offset_s(ledger, rec)) is not None]
    return min(offsets, key=abs, default=None)


def find_call_records(source: CdrSource, ledger: Ledger, window_s: float) -> list[CdrRecord]:
    """One call's records: by Call-ID; from a source that records no Call-ID at all
    (Asterisk Master.csv, FreeSWITCH's default cdr_csv), by numbers and time. A source
    that does record Call-IDs but has none for this call: the call has no record."""
    records = source.by_call_id(ledger.call_id)
    if records:
        return records
    everything = source.all()
    if not everything or any(r.call_id for r in everything):
        return []
    return list(match_records([ledger], everything, window_s).calls[0].records)
