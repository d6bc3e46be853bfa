"""Pairing calls with CDRs: by Call-ID, else by numbers and time."""

from dataclasses import replace

import pytest

from harness.cdr import open_source
from harness.cdr.match import match_records
from harness.cdr.normalise import digits, disposition, same_number
from harness.cdr.reconcile import reconcile_run
from harness.model import CdrRecord
from tests.unit.cdr_fixtures import DATA, asterisk_uri, freeswitch_json_uri, ledgers, policy


@pytest.mark.parametrize(("text", "want"), [
    ("4135550100", "4135550100"), ("+1 (413) 555-0100", "14135550100"),
    ('"Site 1" <4135550100>', "4135550100"), ("sip:+14135550100@10.0.0.1;user=phone",
                                                "14135550100"),
    ("tel:+1-413-555-0100", "14135550100"), ("anonymous", "anonymous")])
def test_digits(text: str, want: str) -> None:
    assert digits(text) == want


def test_same_number_compares_the_last_10_digits() -> None:
    assert same_number("+14135550100", "4135550100")
    assert same_number("011442079460123", "+442079460123")
    assert not same_number("4135550100", "4135550101")
    assert not same_number("", "")


def test_an_international_number_cut_to_10_digits_is_another_number() -> None:
    """Both full numbers: compared in E.164, country code included (a switch that
    records +44 20 7946 0958 as 2079460958 named a Maine number, 207)."""
    assert same_number("+442079460958", "sip:011442079460958@gw")
    assert same_number("+14135550100", "1 (413) 555-0100")
    assert not same_number("+442079460958", "2079460958")
    assert not same_number("2079460958", "+442079460958")
    # a form with no prefix is no full number: its last 10 digits still match
    assert same_number("442079460958", "+442079460958")
    assert same_number("5550190", "5550190") and same_number("411", "411")


@pytest.mark.parametrize(("word", "want"), [
    ("ANSWERED", "answered"), ("NO ANSWER", "no_answer"), ("BUSY", "busy"),
    ("CONGESTION", "failed"), ("USER_BUSY", "busy"), ("ORIGINATOR_CANCEL", "cancelled"),
    ("NO_USER_RESPONSE", "no_answer"), ("487", "cancelled"), ("603", "failed"),
    ("canceled", "cancelled"), ("NORMAL_CLEARING", "unknown"), ("whatever", "unknown")])
def test_disposition_vocabulary(word: str, want: str) -> None:
    assert disposition(word) == want


def test_call_id_match_groups_duplicates() -> None:
    recs = open_source(freeswitch_json_uri()).all()
    result = match_records(ledgers(), recs + [recs[0]], window_s=10.0)
    assert [len(c.records) for c in result.calls] == [2, 1, 1, 1, 1, 1, 1]
    assert {c.matched_by for c in result.calls} == {"call_id"} and result.orphans == ()


def test_numbers_and_time_without_call_ids() -> None:
    result = match_records(ledgers(), open_source(asterisk_uri()).all(), window_s=10.0)
    assert [c.matched_by for c in result.calls] == ["numbers+time"] * 7
    assert [c.records[0].callee for c in result.calls] == [lg.callee for lg in ledgers()]


def test_back_to_back_calls_between_the_same_lines_go_to_the_nearest() -> None:
    first = ledgers()[0]
    second = replace(first, call_id="second", start_wall=first.start_wall + 15,
                     answer_wall=first.answer_wall + 15, end_wall=first.end_wall + 15)
    rec = open_source(asterisk_uri()).all()[0]
    later = replace(rec, answer_wall=rec.answer_wall + 15, end_wall=rec.end_wall + 15)
    result = match_records([first, second], [later, rec], window_s=10.0)
    assert [c.records for c in result.calls] == [(rec,), (later,)]


def test_wrong_number_is_matched_on_time_and_the_other_number() -> None:
    recs = open_source(asterisk_uri()).all()
    recs[5] = replace(recs[5], callee="2125550178")
    result = match_records(ledgers(), recs, window_s=10.0)
    assert result.calls[5].matched_by == "time+caller" and result.orphans == ()


def test_orphans_and_a_missing_call() -> None:
    recs = open_source(asterisk_uri()).all()
    stranger = CdrRecord("", "4135550199", "4135550188", 1795690000.0, 1795690030.0, 30.0,
                         "answered")
    result = match_records(ledgers()[1:], recs[:3] + [stranger], window_s=10.0)
    assert result.orphans == (recs[0], stranger)
    assert [c.ledger.call_id for c in result.missing] == [lg.call_id for lg in ledgers()[3:]]


def test_wrong_time_zone_is_hinted() -> None:
    """Master.csv written in UTC read as New York time: every row is 5 h late (the
    agents answer 0.2 s after the whole second Asterisk wrote)."""
    recs = open_source(f"asterisk-csv://{DATA / 'asterisk_Master.csv'}?tz=America/New_York"
                       "&call_class=userfield").all()
    run = reconcile_run(ledgers(), recs, policy())
    assert len(run.orphans) == 7
    first = run.calls[0].check.mismatches[0]
    assert first.field == "cdr" and "+17999.8 s away" in first.actual and "tz=" in first.actual


def test_a_source_without_call_ids_is_matched_by_numbers_and_time() -> None:
    from harness.cdr.book import CdrBook
    from harness.cdr.fake import FakeCdrSource
    from harness.cdr.ledger import Ledger
    from harness.model import CdrRecord

    t0 = 1_795_662_764.0
    ledger = Ledger("cid-9", "4135550100", "4135550190", True, t0, t0 + 12.0, t0 - 1.0)
    mine = CdrRecord("", "4135550100", "4135550190", t0 + 0.4, t0 + 12.4, 12.0, "answered")
    other = CdrRecord("", "4135550100", "4135550190", t0 - 300.0, t0 - 280.0, 20.0, "answered")
    found = CdrBook(lambda: FakeCdrSource([other, mine]), policy()).check(ledger).check
    assert found.record == mine and found.rows_found == 1


def test_a_source_with_call_ids_does_not_guess() -> None:
    """A record carrying the Call-ID of another call of the run is that call's, even
    when it was written after that call's check and this call has the same numbers."""
    from harness.cdr.book import CdrBook
    from harness.cdr.fake import FakeCdrSource
    from harness.cdr.ledger import Ledger
    from harness.model import CdrRecord

    t0 = 1_795_662_764.0
    ledger = Ledger("cid-9", "4135550100", "4135550190", True, t0, t0 + 12.0, t0 - 1.0)
    earlier = replace(ledger, call_id="cid-8")
    someone_else = CdrRecord("cid-8", "4135550100", "4135550190", t0, t0 + 12.0, 12.0,
                             "answered")
    source = FakeCdrSource([])
    book = CdrBook(lambda: source, policy())
    assert not book.check(earlier).check.matched  # its record is not written yet
    source.records.append(someone_else)
    assert not book.check(ledger).check.matched
    run = book.close()
    assert [c.check.record for c in run.calls] == [someone_else, None] and run.orphans == ()
