"""Pair the calls the harness placed with the CDRs the switch wrote.

A call claims records; a claimed record is never given to another call. A call
claims, by the first tier that finds anything:

1. `call_id`       every record carrying a Call-ID of one of the call's dialogs (the
                   caller's leg, the far end's legs: through a B2BUA they differ, and
                   the switch may record either or both);
2. `numbers+time`  among records without a Call-ID, the one with the same caller and
                   callee (last 10 digits) whose answer (or, unanswered, start) time
                   is nearest, within `window_s`, with its exact copies;
3. `numbers+time`  the same among records whose Call-ID is no dialog of any call the
                   harness knows (a switch that writes an identifier of its own);
4. `time+caller` / `time+callee`  the nearest such record in the window that agrees
                   on one of the two numbers, so that a wrong number is reported as a
                   wrong number rather than as a missing row plus an orphan.

Legs and duplicates: of the records a call claimed by Call-ID, those of its first
dialog that has any (the caller's leg before the far end's) are the call's record;
the others are its other legs (a B2BUA's B-leg CDR: attached, not billed again). Two
records of one leg (the same Call-ID, or without Call-IDs the same numbers and
times) are a duplicate.

`Claims` is the bookkeeping, one call at a time (harness.cdr.book uses it while calls
end, tiers 3-4 only once a call's wait for its record is over); `match_records`
applies it to a whole run at once, tier by tier. Calls left without a record are
missing; records left unclaimed are orphans.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from harness.cdr.ledger import Ledger
from harness.cdr.normalise import same_number
from harness.model import CdrRecord

# tier keys, in order: Call-ID; numbers+time on records without a Call-ID; on records
# with a Call-ID nobody knows; one number + time
TIERS = ("call_id", "numbers", "numbers_unknown_id", "one_number")


@dataclass(frozen=True, slots=True)
class CallMatch:
    ledger: Ledger
    records: tuple[CdrRecord, ...]  # the call's record (2+: a duplicate)
    matched_by: str  # "call_id" | "numbers+time" | "time+caller" | "time+callee" | ""
    nearest_s: float | None = None  # missing call: offset of the nearest same-numbers CDR
    other_legs: tuple[CdrRecord, ...] = ()  # records of the call's other dialogs


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


def _same_leg(a: CdrRecord, b: CdrRecord) -> bool:
    """Two records of one leg: a switch that wrote the same row twice."""
    return (a.call_id, a.start_wall, a.answer_wall, a.end_wall) == \
        (b.call_id, b.start_wall, b.answer_wall, b.end_wall) and \
        same_number(a.caller, b.caller) and same_number(a.callee, b.callee)


def split_legs(ledger: Ledger, found: Sequence[CdrRecord]
               ) -> tuple[tuple[CdrRecord, ...], tuple[CdrRecord, ...]]:
    """(the call's record(s), its other legs' records): the first of the call's
    dialogs with a record is the call's; without Call-IDs every record is."""
    for cid in ledger.dialogs:
        own = tuple(r for r in found if r.call_id == cid)
        if own:
            return own, tuple(r for r in found if r.call_id != cid)
    return tuple(found), ()


class Claims:
    """Which records calls have claimed. Records are told apart by value and
    occurrence (the k-th equal row of a source is the k-th copy), so a source may be
    read again between claims. Not thread-safe: CdrBook holds a lock around it."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.known: set[str] = set()  # Call-IDs of every dialog of every call seen
        self._taken: Counter[CdrRecord] = Counter()

    def know(self, ledgers: Iterable[Ledger]) -> None:
        for lg in ledgers:
            self.known.update(lg.dialogs)

    def free(self, records: Iterable[CdrRecord]) -> list[CdrRecord]:
        seen: Counter[CdrRecord] = Counter()
        out = []
        for rec in records:
            seen[rec] += 1
            if seen[rec] > self._taken[rec]:
                out.append(rec)
        return out

    def claim(self, ledger: Ledger, records: Sequence[CdrRecord],
              tiers: Sequence[str] = TIERS) -> CallMatch:
        """The first of `tiers` that finds records for `ledger` among the free ones
        claims them; none: an empty match with the nearest-record hint."""
        self.know([ledger])
        free = self.free(records)
        for tier in tiers:
            found, how = self._tier(tier, ledger, free)
            if found:
                self._taken.update(found)
                own, others = split_legs(ledger, found)
                return CallMatch(ledger, own, how, None, others)
        return CallMatch(ledger, (), "", nearest(ledger, free))

    def claim_late(self, match: CallMatch, records: Sequence[CdrRecord]) -> CallMatch:
        """Records of `match`'s dialogs written after it was claimed: a copy of its own
        leg joins its records (a duplicate), any other leg its other legs."""
        late = self._tier("call_id", match.ledger, self.free(records))[0]
        if not late:
            return match
        self._taken.update(late)
        mine = match.records[0].call_id if match.records else ""
        return CallMatch(match.ledger,
                         match.records + tuple(r for r in late if mine and r.call_id == mine),
                         match.matched_by, match.nearest_s,
                         match.other_legs + tuple(r for r in late
                                                  if not mine or r.call_id != mine))

    def _tier(self, tier: str, ledger: Ledger, free: list[CdrRecord]
              ) -> tuple[list[CdrRecord], str]:
        if tier == "call_id":
            ids = set(ledger.dialogs)
            return [r for r in free if r.call_id and r.call_id in ids], "call_id"
        pool = [r for r in free if not r.call_id] if tier == "numbers" else \
            [r for r in free if not r.call_id or r.call_id not in self.known]
        if tier == "one_number":
            return self._one_number(ledger, pool)
        near = self._nearest_in_window(ledger, pool, lambda ok: ok == (True, True))
        if near is None:
            return [], ""
        return [near] + [r for r in _without(pool, near) if _same_leg(r, near)], "numbers+time"

    def _one_number(self, ledger: Ledger, pool: list[CdrRecord]
                    ) -> tuple[list[CdrRecord], str]:
        near = self._nearest_in_window(ledger, pool, lambda ok: ok[0] != ok[1])
        if near is None:
            return [], ""
        return [near], "time+caller" if _numbers(ledger, near)[0] else "time+callee"

    def _nearest_in_window(self, ledger: Ledger, pool: list[CdrRecord],
                           numbers_ok: Callable[[tuple[bool, bool]], bool]
                           ) -> CdrRecord | None:
        best: tuple[float, CdrRecord] | None = None
        for rec in pool:
            off = offset_s(ledger, rec)
            if off is None or abs(off) > self.window_s or \
                    not numbers_ok(_numbers(ledger, rec)):
                continue
            if best is None or abs(off) < best[0]:
                best = (abs(off), rec)
        return None if best is None else best[1]


def _without(records: list[CdrRecord], one: CdrRecord) -> list[CdrRecord]:
    """`records` less one occurrence of `one` (by identity: equal copies stay)."""
    i = next(i for i, r in enumerate(records) if r is one)
    return records[:i] + records[i + 1:]


def match_records(ledgers: Sequence[Ledger], records: Sequence[CdrRecord],
                  window_s: float) -> MatchResult:
    """A whole run at once: every call known first, then tier by tier over the calls
    still without a record (a Call-ID claim is never lost to another call's guess)."""
    claims = Claims(window_s)
    claims.know(ledgers)
    found: dict[int, CallMatch] = {}
    for tier in TIERS:
        for i, lg in enumerate(ledgers):
            if i not in found:
                match = claims.claim(lg, records, (tier,))
                if match.records:
                    found[i] = match
    left = claims.free(records)
    calls = tuple(found.get(i) or CallMatch(lg, (), "", nearest(lg, left))
                  for i, lg in enumerate(ledgers))
    return MatchResult(calls, tuple(left))


def nearest(ledger: Ledger, records: Sequence[CdrRecord]) -> float | None:
    """Offset of the nearest left-over CDR with both numbers equal (outside the window:
    a clue that the source's `tz=` or clock is wrong)."""
    offsets = [off for rec in records if _numbers(ledger, rec) == (True, True)
               and (off := offset_s(ledger, rec)) is not None]
    return min(offsets, key=abs, default=None)
