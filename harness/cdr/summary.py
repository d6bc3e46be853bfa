"""The billing summary of a run: calls, billed minutes and charge per class, and
every discrepancy, as the switch bills it next to what the agents observed.

"Billed" figures come from the CDRs (all rows: a duplicate row bills twice, an
orphan row bills a call nobody placed; a B2BUA's record of a call's other leg is
counted among the rows but billed once, as the call's); "expected" figures rate the agents' own talk
times with the same tariff (harness.cdr.billing). Unrated classes add no charge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from harness.cdr.billing import Rating, Tariff, record_rating
from harness.cdr.reconcile import RunReconciliation
from harness.errors import CdrError

_MINUTE = Decimal(60)


@dataclass(frozen=True, slots=True)
class ClassTotals:
    call_class: str  # "" = calls without a class
    calls: int  # calls of the run in this class (by the ledger's class)
    billed_s: int  # sum over the CDR rows rated in this class
    charge: Decimal
    expected_billed_s: int
    expected_charge: Decimal

    @property
    def billed_min(self) -> Decimal:
        return Decimal(self.billed_s) / _MINUTE

    @property
    def expected_billed_min(self) -> Decimal:
        return Decimal(self.expected_billed_s) / _MINUTE


@dataclass(frozen=True, slots=True)
class BillingSummary:
    calls: int
    answered: int
    cdr_rows: int  # matched rows (other legs' too) plus orphans
    missing: int  # calls whose required CDR is absent
    orphans: int
    by_class: tuple[ClassTotals, ...]
    discrepancies: tuple[str, ...]

    @property
    def billed_min(self) -> Decimal:
        return sum((c.billed_min for c in self.by_class), Decimal(0))

    @property
    def charge(self) -> Decimal:
        return sum((c.charge for c in self.by_class), Decimal(0))

    @property
    def expected_charge(self) -> Decimal:
        return sum((c.expected_charge for c in self.by_class), Decimal(0))

    def lines(self) -> list[str]:
        """Plain text for a terminal or a report."""
        out = [f"{_calls(self.calls)}, {self.answered} answered, {self.cdr_rows} CDR rows, "
               f"{self.missing} missing, {self.orphans} orphan(s)",
               f"billed {self.billed_min:.2f} min, charge {self.charge} "
               f"(expected {self.expected_charge})"]
        for c in self.by_class:
            out.append(f"  {c.call_class or '(no class)'}: {_calls(c.calls)}, "
                       f"{c.billed_min:.2f} min billed (expected {c.expected_billed_min:.2f}), "
                       f"charge {c.charge} (expected {c.expected_charge})")
        out += [f"  ! {d}" for d in self.discrepancies]
        return out


def _calls(n: int) -> str:
    return f"{n} call" if n == 1 else f"{n} calls"


def billing_summary(run: RunReconciliation, tariff: Tariff,
                    problems: Sequence[CdrError] = ()) -> BillingSummary:
    """Totals of a reconciled run; `problems` (a source's unreadable rows) are listed
    among the discrepancies, because a call missing from billing may be one of them."""
    billed = [r for c in run.calls for r in c.billed]
    billed += [record_rating(tariff, rec, rec.call_class) for rec in run.orphans]
    expected = [(c.ledger.call_class, c.expected) for c in run.calls]
    classes = sorted({r.call_class for r in billed} | {k for k, _ in expected})
    by_class = tuple(_totals(k, [r for r in billed if r.call_class == k],
                             [e for cls, e in expected if cls == k]) for k in classes)
    missing = sum(1 for c in run.calls if not c.check.matched and c.check.mismatches)
    return BillingSummary(
        calls=len(run.calls), answered=sum(1 for c in run.calls if c.ledger.answered),
        cdr_rows=sum(c.check.rows_found + len(c.other_legs) for c in run.calls)
        + len(run.orphans),
        missing=missing, orphans=len(run.orphans), by_class=by_class,
        discrepancies=run.discrepancies() + tuple(f"unreadable CDR: {p}" for p in problems))


def _totals(call_class: str, billed: Iterable[Rating],
            expected: Sequence[Rating | None]) -> ClassTotals:
    billed = list(billed)
    rated = [e for e in expected if e is not None]
    return ClassTotals(
        call_class, len(expected), sum(r.billed_s for r in billed),
        sum((r.charge for r in billed if r.charge is not None), Decimal(0)),
        sum(e.billed_s for e in rated),
        sum((e.charge for e in rated if e.charge is not None), Decimal(0)))
