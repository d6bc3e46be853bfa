"""Reconcile the switch's CDRs against what the harness observed.

The ground truth is the agents' own view of the call (the `Ledger`): who called
which normalised number, when the 200 OK arrived, when the BYE left. The switch's
record must agree within the configured tolerances.

Two entry points, one matching (harness.cdr.match) and one check (`check_call`):

* `harness.cdr.book.CdrBook`: what a session uses, call by call as calls end (each
  call claims its records and is checked at once; orphans at the end of the run);
* `reconcile_run(ledgers, records, policy)`: a whole run against everything a source
  holds at once (recorded files): matching, then per call `check_call`, then orphans.

`check_call` reports, as `Mismatch(field, expected, actual)`:

    cdr          exactly one record (none: missing; 2+: duplicate; any, for a call
                 whose kind the policy forbids a CDR for); a B2BUA's record of another
                 leg of the call is attached, not a duplicate, unless written twice
    caller, callee   same number after normalisation (last 10 digits)
    call_class   the class the switch rated, when the ledger names one
    disposition  answered | busy | no_answer | failed | cancelled
    answer_time, end_time   within `time_tolerance_s`
    duration_s   the CDR's talk time vs the agents', within `duration_tolerance_s`
    billed_s, rounding, charge, false_answer_supervision   see harness.cdr.billing
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.cdr.billing import (
    Rating,
    Tariff,
    billing_mismatches,
    false_answer_supervision,
    record_rating,
)
from harness.cdr.ledger import Ledger
from harness.cdr.match import match_records
from harness.cdr.normalise import (
    ANSWERED,
    DISPOSITIONS,
    FAILED,
    UNANSWERED,
    same_number,
    wall,
)
from harness.errors import ConfigError
from harness.model import CdrCheck, CdrRecord, Mismatch

__all__ = ["CallReconciliation", "CdrPolicy", "Ledger", "RunReconciliation", "check_call",
           "reconcile_run"]


def _fmt_t(value: float | None) -> str:
    return "none" if value is None else f"{value:.3f}"


_KINDS = frozenset(DISPOSITIONS) - {"unknown"}


@dataclass(frozen=True, slots=True)
class CdrPolicy:
    """How strict the reconciliation is; every figure is data, not code.

    cdr_required_for / cdr_forbidden_for: call outcomes (answered, busy, no_answer,
    failed, cancelled) that must / must not leave a CDR; others may. A ledger that is
    only "not answered" counts as `failed`. equivalent_dispositions: (expected,
    accepted) pairs for switches that cannot tell two outcomes apart, e.g.
    ("cancelled", "no_answer") for Asterisk, which writes NO ANSWER for both."""

    time_tolerance_s: float = 1.0
    duration_tolerance_s: float = 1.0
    match_window_s: float = 10.0
    tariff: Tariff = field(default_factory=Tariff)
    cdr_required_for: frozenset[str] = _KINDS
    cdr_forbidden_for: frozenset[str] = frozenset()
    equivalent_dispositions: frozenset[tuple[str, str]] = frozenset()

    def __post_init__(self) -> None:
        for name in ("cdr_required_for", "cdr_forbidden_for"):
            unknown = set(getattr(self, name)) - _KINDS
            if unknown:
                raise ConfigError("<cdr policy>", name, sorted(unknown),
                                  f"expected some of {', '.join(sorted(_KINDS))}")
        both = self.cdr_required_for & self.cdr_forbidden_for
        if both:
            raise ConfigError("<cdr policy>", "cdr_forbidden_for", sorted(both),
                              "also in cdr_required_for")


@dataclass(frozen=True, slots=True)
class CallReconciliation:
    """One call's verdict: the check, how its CDR was found, and its billing both
    as the agents' observation rates it (`expected`) and as the CDR(s) bill it.
    `other_legs`: the switch's records of the call's other dialogs (not billed)."""

    ledger: Ledger
    check: CdrCheck
    matched_by: str = ""
    expected: Rating | None = None
    billed: tuple[Rating, ...] = ()
    other_legs: tuple[CdrRecord, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.check.mismatches


@dataclass(frozen=True, slots=True)
class RunReconciliation:
    calls: tuple[CallReconciliation, ...]
    orphans: tuple[CdrRecord, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.orphans and all(c.ok for c in self.calls)

    def discrepancies(self) -> tuple[str, ...]:
        """One line per mismatch ('<Call-ID>: field: expected X, got Y') and orphan."""
        lines = [f"{c.ledger.call_id}: {m}" for c in self.calls for m in c.check.mismatches]
        lines += [f"orphan CDR {r.call_id or '(no Call-ID)'} {r.caller} -> {r.callee} "
                  f"at {wall(r.answer_wall or r.start_wall or r.end_wall)}: no call of this "
                  "run matches it" for r in self.orphans]
        return tuple(lines)


def _expected_disposition(ledger: Ledger) -> str:
    """answered | a specific unanswered outcome | '' (not answered, unspecified)."""
    if ledger.answered:
        return ANSWERED
    return ledger.disposition if ledger.disposition in UNANSWERED else ""


def _presence(ledger: Ledger, records: Sequence[CdrRecord], policy: CdrPolicy,
              nearest_s: float | None) -> list[Mismatch]:
    kind = _expected_disposition(ledger) or FAILED
    if not records:
        if kind not in policy.cdr_required_for:
            return []
        hint = "" if nearest_s is None else (
            f" (nearest CDR with these numbers is {nearest_s:+.1f} s away: check the "
            "source's tz= and the switch's clock)")
        return [Mismatch("cdr", f"1 record for Call-ID {ledger.call_id}", "none" + hint)]
    if kind in policy.cdr_forbidden_for:
        return [Mismatch("cdr", f"no record ({kind} calls must not leave a CDR)",
                         f"{len(records)} record(s)")]
    if len(records) > 1:
        return [Mismatch("cdr", "1 record", f"{len(records)} records")]
    return []


def _parties_and_outcome(ledger: Ledger, rec: CdrRecord, policy: CdrPolicy) -> list[Mismatch]:
    out = [Mismatch(name, want, got or "none")
           for name, want, got in (("caller", ledger.caller, rec.caller),
                                   ("callee", ledger.callee, rec.callee))
           if not same_number(want, got)]
    if ledger.call_class and rec.call_class.casefold() != ledger.call_class.casefold():
        out.append(Mismatch("call_class", ledger.call_class, rec.call_class or "not recorded"))
    expected = _expected_disposition(ledger)
    got = rec.disposition or "unknown"
    if expected:
        ok = got == expected or (expected, got) in policy.equivalent_dispositions
    else:
        ok = got in UNANSWERED
    if not ok:
        out.append(Mismatch("disposition", expected or "not answered", got))
    return out


def _times(ledger: Ledger, rec: CdrRecord, policy: CdrPolicy) -> list[Mismatch]:
    """Answered: answer and end times, and the duration. Not answered: the attempt's
    start (the INVITE), when both sides know it, and an end only if the record has
    one (a switch need not give an attempt that never became a call an end time)."""
    out: list[Mismatch] = []
    if ledger.answered:
        pairs = [("answer_time", ledger.answer_wall, rec.answer_wall),
                 ("end_time", ledger.end_wall, rec.end_wall)]
    else:
        pairs = [("start_time", ledger.start_wall, rec.start_wall)] \
            if ledger.start_wall is not None and rec.start_wall is not None else []
        if rec.end_wall is not None:
            pairs.append(("end_time", ledger.end_wall, rec.end_wall))
    for name, exp, act in pairs:
        if exp is None and not ledger.answered:
            continue
        if exp is None or act is None or abs(exp - act) > policy.time_tolerance_s:
            off = "" if exp is None or act is None else f" (off by {act - exp:+.3f} s)"
            out.append(Mismatch(name, wall(exp), wall(act) + off))
    talk = ledger.talk_s
    if ledger.answered and (talk is None or rec.duration_s is None
                            or abs(talk - rec.duration_s) > policy.duration_tolerance_s):
        out.append(Mismatch("duration_s", _fmt_t(talk), _fmt_t(rec.duration_s)))
    return out


def _other_legs(records: Sequence[CdrRecord]) -> list[Mismatch]:
    """A record of another leg of the call written twice is a duplicate too."""
    count = Counter(r.call_id for r in records)
    return [Mismatch("cdr", f"1 record for leg {cid}", f"{n} records")
            for cid, n in count.items() if n > 1]


def check_call(ledger: Ledger, records: Sequence[CdrRecord], policy: CdrPolicy | None = None,
               matched_by: str = "call_id", nearest_s: float | None = None,
               other_legs: Sequence[CdrRecord] = ()) -> CallReconciliation:
    """Every check of one call against the CDR rows found for it (`records`: the
    call's own leg; `other_legs`: the switch's records of its other dialogs)."""
    policy = policy or CdrPolicy()
    tariff = policy.tariff
    mismatches = _presence(ledger, records, policy, nearest_s)
    expected = tariff.rate_call(ledger.call_class, ledger.talk_s if ledger.answered else 0.0)
    if not records:
        return CallReconciliation(ledger, CdrCheck(False, tuple(mismatches), None, 0),
                                  "", expected)
    mismatches += _other_legs(other_legs)
    rec = records[0]
    mismatches += _parties_and_outcome(ledger, rec, policy) + _times(ledger, rec, policy)
    talk = ledger.talk_s
    if ledger.answered and talk is not None and rec.disposition == ANSWERED:
        mismatches += billing_mismatches(tariff, rec, ledger.call_class or rec.call_class,
                                         talk, policy.duration_tolerance_s)
    fas = false_answer_supervision(rec, ledger.answered, ledger.answer_wall, ledger.end_wall,
                                   policy.time_tolerance_s)
    if fas is not None:
        mismatches.append(fas)
    billed = tuple(record_rating(tariff, r, r.call_class or ledger.call_class) for r in records)
    return CallReconciliation(ledger, CdrCheck(True, tuple(mismatches), rec, len(records)),
                              matched_by, expected, billed, tuple(other_legs))


def reconcile_run(ledgers: Sequence[Ledger], records: Sequence[CdrRecord],
                  policy: CdrPolicy | None = None) -> RunReconciliation:
    """Match every call of a run to the source's records, check each, list orphans."""
    policy = policy or CdrPolicy()
    matched = match_records(ledgers, records, policy.match_window_s)
    calls = tuple(check_call(m.ledger, m.records, policy, m.matched_by, m.nearest_s,
                             m.other_legs) for m in matched.calls)
    return RunReconciliation(calls, matched.orphans)
