"""The run's CDR book against a B2BUA: one matching and one check per call, shared by
the row's verdict and the run's billing summary (issues #15 item 3, #16 item 5).

The seven recorded calls (cdr_fixtures) are replayed as a B2BUA would record them:
the far leg's Call-ID only, both legs as two records, or no Call-ID at all."""

import threading
import time
from dataclasses import replace
from decimal import Decimal

import pytest

from harness.cdr import open_source
from harness.cdr.book import CdrBook
from harness.cdr.fake import FakeCdrSource
from harness.cdr.ledger import Ledger
from harness.cdr.reconcile import RunReconciliation
from harness.cdr.summary import BillingSummary, billing_summary
from harness.model import CdrRecord
from tests.unit.cdr_fixtures import TARIFF, ledgers, policy, rated_uri


def far(call_id: str) -> str:
    """The Call-ID of the B2BUA's leg toward the far end, as the far agent saw it."""
    return f"b-{call_id[:12]}@b2bua"


def b2bua_ledgers() -> list[Ledger]:
    return [replace(lg, call_ids=(far(lg.call_id),)) for lg in ledgers()]


def a_legs() -> list[CdrRecord]:
    return open_source(rated_uri()).all()


def b_legs() -> list[CdrRecord]:
    """The switch's record of each call's far leg: its own Call-ID, set up a little
    after the caller's leg."""
    return [replace(r, call_id=far(r.call_id),
                    start_wall=None if r.start_wall is None else r.start_wall + 0.02)
            for r in a_legs()]


def run_book(records: list[CdrRecord], calls: list[Ledger] | None = None
             ) -> tuple[list[str], RunReconciliation, BillingSummary]:
    """Every call checked as the runner does (row texts as `decide` renders them),
    then the run closed and summarised as the session does."""
    book = CdrBook(lambda: FakeCdrSource(records), policy())
    rows = [f"{lg.call_id}: {m}" for lg in calls or b2bua_ledgers()
            for m in book.check(lg).check.mismatches]
    run = book.close()
    return rows, run, billing_summary(run, TARIFF)


def clean(records: list[CdrRecord]) -> tuple[RunReconciliation, BillingSummary]:
    rows, run, summary = run_book(records)
    assert rows == [] and summary.discrepancies == ()
    assert (summary.calls, summary.missing, summary.orphans) == (7, 0, 0)
    return run, summary


def test_far_leg_call_id_only() -> None:
    run, summary = clean(b_legs())
    assert {c.matched_by for c in run.calls} == {"call_id"}
    assert [c.check.record.call_id for c in run.calls  # type: ignore[union-attr]
            ] == [far(lg.call_id) for lg in ledgers()]
    assert summary.cdr_rows == 7


def test_both_legs_count_once() -> None:
    _, caller_only = clean(a_legs())
    run, summary = clean(b_legs() + a_legs())  # the far legs written first
    assert [c.check.record.call_id for c in run.calls  # type: ignore[union-attr]
            ] == [lg.call_id for lg in ledgers()]  # the caller's leg is the call's
    assert [len(c.other_legs) for c in run.calls] == [1] * 7
    assert [c.check.rows_found for c in run.calls] == [1] * 7
    assert summary.cdr_rows == 14
    assert (summary.charge, summary.billed_min) == (caller_only.charge, caller_only.billed_min)


@pytest.mark.parametrize("style", ["e164", "1+10", "uri"])
def test_no_call_id_numbers_in_any_form(style: str) -> None:
    def form(number: str) -> str:
        d = number.lstrip("+")
        return {"e164": f"+{d}", "1+10": d, "uri": f"sip:+{d}@10.0.0.1;user=phone"}[style]
    records = [replace(r, call_id="", caller=form(r.caller), callee=form(r.callee))
               for r in a_legs()]
    run, _ = clean(records)
    assert {c.matched_by for c in run.calls} == {"numbers+time"}


def test_tel_uri_numbers() -> None:
    records = [replace(r, call_id="", caller=f"tel:{r.caller}") for r in a_legs()]
    clean(records)


def test_a_real_duplicate_is_still_a_duplicate() -> None:
    b = b_legs()
    rows, run, summary = run_book(a_legs() + b + [b[0]])  # the far leg written twice
    want = f"{ledgers()[0].call_id}: cdr: expected 1 record for leg {far(ledgers()[0].call_id)}, " \
           "got 2 records"
    assert rows == [want] and list(summary.discrepancies) == [want]
    a = a_legs()
    rows, _, summary = run_book(a + [a[5]] + b)  # the caller's leg written twice
    want = f"{ledgers()[5].call_id}: cdr: expected 1 record, got 2 records"
    assert rows == [want] and list(summary.discrepancies) == [want]
    assert summary.orphans == 0


def test_an_orphan_is_still_an_orphan() -> None:
    stranger = CdrRecord("never-placed@10.20.0.5", "+14135550199", "+14135550188",
                         1795688403.0, 1795688460.0, 57.0, "answered", 200)
    rows, run, summary = run_book(b_legs() + [stranger])
    assert rows == [] and run.orphans == (stranger,) and summary.orphans == 1
    assert summary.discrepancies[0].startswith("orphan CDR never-placed@10.20.0.5")


def test_timed_out_call_and_wrong_rounding_fail_the_row_and_the_summary() -> None:
    """The switch timed the no-answer call out as something it could not name, and
    billed the long-distance call per second."""
    records = b_legs()
    records[2] = replace(records[2], disposition="unknown", sip_code=None)
    records[5] = replace(records[5], billed_s=62.0, charge=Decimal("0.0258"))
    rows, _, summary = run_book(records)
    assert rows == list(summary.discrepancies)
    fields = {r.split(": ")[1] for r in rows}
    assert fields == {"disposition", "rounding", "billed_s", "charge"}
    assert f"{ledgers()[2].call_id}: disposition: expected no_answer, got unknown" in rows


def test_concurrent_calls_between_the_same_numbers_get_the_nearest_records() -> None:
    t0 = 1_795_690_000.0
    one = Ledger("a-1", "4135550100", "4135550112", True, t0 + 1.0, t0 + 20.0, t0)
    two = replace(one, call_id="a-2", start_wall=t0 + 4.0, answer_wall=t0 + 5.0,
                  end_wall=t0 + 18.0)
    rec_one = CdrRecord("", "+14135550100", "+14135550112", t0 + 1.1, t0 + 20.1, 19.0,
                        "answered", 200, start_wall=t0)
    rec_two = CdrRecord("", "+14135550100", "+14135550112", t0 + 5.1, t0 + 18.1, 13.0,
                        "answered", 200, start_wall=t0 + 4.0)
    book = CdrBook(lambda: FakeCdrSource([rec_one, rec_two]), policy())
    assert book.check(two).check.record == rec_two  # ended first, checked first
    assert book.check(one).check.record == rec_one
    assert book.close().orphans == ()


def test_a_claimed_record_is_not_given_to_another_call() -> None:
    t0 = 1_795_690_000.0
    one = Ledger("a-1", "4135550100", "4135550112", True, t0 + 1.0, t0 + 20.0, t0)
    two = replace(one, call_id="a-2")
    rec = CdrRecord("", "4135550100", "4135550112", t0 + 1.1, t0 + 20.1, 19.0, "answered")
    book = CdrBook(lambda: FakeCdrSource([rec]), policy())
    assert book.check(one).check.record == rec
    assert not book.check(two).check.matched
    summary = billing_summary(book.close(), TARIFF)
    assert (summary.cdr_rows, summary.missing, summary.orphans) == (1, 1, 0)


def test_many_threads_claim_each_record_once() -> None:
    t0 = 1_795_690_000.0
    calls = [Ledger(f"a-{i}", "4135550100", "4135550112", True, t0 + 30 * i + 1,
                    t0 + 30 * i + 20, t0 + 30 * i) for i in range(24)]
    records = [CdrRecord(f"b-{i}" if i % 2 else "", "4135550100", "4135550112",
                         lg.answer_wall + 0.1, lg.end_wall + 0.1, 19.0,  # type: ignore[operator]
                         "answered") for i, lg in enumerate(calls)]
    calls = [replace(lg, call_ids=(f"b-{i}",)) for i, lg in enumerate(calls)]
    book = CdrBook(lambda: FakeCdrSource(records), policy())
    found: dict[str, CdrRecord | None] = {}
    threads = [threading.Thread(target=lambda lg=lg: found.__setitem__(
        lg.call_id, book.check(lg).check.record)) for lg in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [found[lg.call_id] for lg in calls] == records
    assert book.close().orphans == ()


def test_a_record_written_during_the_wait_is_found() -> None:
    source = FakeCdrSource([])
    lg = b2bua_ledgers()[0]
    book = CdrBook(lambda: source, policy(), wait_s=5.0, poll_s=0.02)
    timer = threading.Timer(0.2, lambda: source.records.append(b_legs()[0]))
    timer.start()
    check = book.check(lg).check
    timer.join()
    assert check.matched and check.mismatches == ()


def test_an_unknown_call_id_is_guessed_only_when_the_wait_is_over() -> None:
    """A switch that writes an identifier of its own: numbers and time, after the wait
    (until then the record may be a call's that is still running)."""
    own = [replace(r, call_id=f"switch-{i}") for i, r in enumerate(a_legs())]
    book = CdrBook(lambda: FakeCdrSource(own), policy(), wait_s=0.3, poll_s=0.02)
    t = time.monotonic()
    result = book.check(ledgers()[0])
    assert time.monotonic() - t >= 0.3
    assert result.matched_by == "numbers+time" and result.ok


def test_the_other_leg_written_after_the_check_is_attached() -> None:
    source = FakeCdrSource(a_legs())
    book = CdrBook(lambda: source, policy())
    rows = [m for lg in b2bua_ledgers() for m in book.check(lg).check.mismatches]
    source.records += b_legs()
    run = book.close()
    assert rows == [] and run.ok and run.orphans == ()
    assert [len(c.other_legs) for c in run.calls] == [1] * 7


def test_a_record_written_too_late_is_named_at_the_end() -> None:
    source = FakeCdrSource(a_legs()[1:])
    book = CdrBook(lambda: source, policy(), wait_s=0.0)
    assert not book.check(ledgers()[0]).check.matched
    source.records.insert(0, a_legs()[0])
    (late, *_) = book.close().calls
    assert late.check.matched and late.check.mismatches[0].actual.startswith("written later")


def test_records_from_before_the_run_are_no_orphans() -> None:
    old = CdrRecord("x", "4135550100", "4135550112", 1_000_000.0, 1_000_010.0, 10.0,
                    "answered")
    book = CdrBook(lambda: FakeCdrSource([old]), policy(), since_wall=time.time())
    assert book.close().orphans == ()
