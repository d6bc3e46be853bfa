"""Reconcile the switch's CDR for one call against what the harness observed.

The ground truth is the agents' own view of the call (the `Ledger`): who called
which normalised number, when the 200 OK arrived, when the BYE left. The switch's
record must agree within the configured tolerances.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.model import CdrCheck, CdrRecord, Mismatch


@dataclass(frozen=True, slots=True)
class Ledger:
    """What really happened on a call, from the agents (wall clock, seconds)."""

    call_id: str
    caller: str
    callee: str
    answered: bool
    answer_wall: float | None
    end_wall: float | None

    @property
    def talk_s(self) -> float | None:
        if self.answer_wall is None or self.end_wall is None:
            return None
        return self.end_wall - self.answer_wall


def _fmt_t(value: float | None) -> str:
    return "none" if value is None else f"{value:.3f}"


def reconcile(ledger: Ledger, records: list[CdrRecord], time_tolerance_s: float,
              duration_tolerance_s: float) -> CdrCheck:
    if not records:
        return CdrCheck(False, (Mismatch("cdr", "1 record for Call-ID " + ledger.call_id,
                                         "none"),), None, 0)
    mismatches: list[Mismatch] = []
    if len(records) > 1:
        mismatches.append(Mismatch("cdr", "1 record", f"{len(records)} records"))
    rec = records[0]
    if rec.caller != ledger.caller:
        mismatches.append(Mismatch("caller", ledger.caller, rec.caller))
    if rec.callee != ledger.callee:
        mismatches.append(Mismatch("callee", ledger.callee, rec.callee))
    want = "answered" if ledger.answered else "not answered"
    got = "answered" if rec.disposition == "answered" else f"not answered ({rec.disposition})"
    if want != got.split(" (")[0]:
        mismatches.append(Mismatch("disposition", want, got))
    if ledger.answered:
        for name, exp, act in (("answer_time", ledger.answer_wall, rec.answer_wall),
                               ("end_time", ledger.end_wall, rec.end_wall)):
            if exp is None or act is None or abs(exp - act) > time_tolerance_s:
                off = "" if exp is None or act is None else f" (off by {act - exp:+.3f} s)"
                mismatches.append(Mismatch(name, _fmt_t(exp), _fmt_t(act) + off))
        talk = ledger.talk_s
        if talk is None or rec.duration_s is None or \
                abs(talk - rec.duration_s) > duration_tolerance_s:
            mismatches.append(Mismatch("duration_s", _fmt_t(talk), _fmt_t(rec.duration_s)))
    return CdrCheck(matched=True, mismatches=tuple(mismatches), record=rec,
                    rows_found=len(records))
