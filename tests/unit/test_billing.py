"""Billing increments (first/next, rounded up), tariffs, charges and the run summary."""

from decimal import Decimal
from pathlib import Path

import pytest

from harness.cdr import open_source
from harness.cdr.billing import Increment, Tariff, false_answer_supervision
from harness.cdr.reconcile import reconcile_run
from harness.cdr.summary import billing_summary
from harness.errors import ConfigError
from harness.model import CdrRecord
from tests.unit.cdr_fixtures import (
    DATA,
    TARIFF,
    asterisk_uri,
    ledgers,
    policy,
    rated_uri,
)


@pytest.mark.parametrize(("increment", "talk_s", "billed_s"), [
    ("1/1", 0.0, 0), ("1/1", 0.2, 1), ("1/1", 13.0004, 13), ("1/1", 13.001, 14),
    ("6/6", 0.5, 6), ("6/6", 6.0, 6), ("6/6", 13.344, 18), ("6/6", 61.936, 66),
    ("30/6", 1.0, 30), ("30/6", 30.0, 30), ("30/6", 30.001, 36), ("30/6", 36.0, 36),
    ("30/6", 94.538, 96),
    ("60/60", 0.001, 60), ("60/60", 60.0, 60), ("60/60", 60.001, 120), ("60/60", 179.9, 180),
])
def test_increment_rounds_up(increment: str, talk_s: float, billed_s: int) -> None:
    assert Increment.parse(increment).billed_s(talk_s) == billed_s


@pytest.mark.parametrize("text", ["60", "0/60", "60/0", "6/6/6", "a/b", "1.5/1"])
def test_bad_increment_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="FIRST/NEXT"):
        Increment.parse(text)


def test_tariff_charges_per_minute_rounded_half_up() -> None:
    tariff = Tariff.parse({"local": "0.0125 6/6", "free": "0"})
    assert tariff.rate_call("local", 13.344) == tariff.rate_call("local", 17.9)
    rating = tariff.rate_call("local", 13.344)
    assert (rating.billed_s, rating.charge) == (18, Decimal("0.0038"))  # 0.00375 -> up
    assert tariff.rate_call("free", 100).charge == Decimal("0.0000")
    unrated = tariff.rate_call("premium", 10.2)
    assert (unrated.billed_s, unrated.charge) == (11, None)  # default 1/1, no price
    assert TARIFF.rate_call("international", 94.538).charge == Decimal("0.3840")


@pytest.mark.parametrize("line", ["", "cheap", "-0.01 60/60", "0.01 60/60 extra", "0.01 60"])
def test_bad_tariff_line_names_the_class(line: str) -> None:
    with pytest.raises(ConfigError, match="'local'"):
        Tariff.parse({"local": line})


def test_false_answer_supervision_cases() -> None:
    t0 = 1795687964.0
    rec = CdrRecord("c", "4135550100", "4135550112", t0, t0 + 13.0, 13.0, "answered")
    assert false_answer_supervision(rec, True, t0 + 0.2, t0 + 13.3, 1.0) is None
    early = false_answer_supervision(rec, True, t0 + 2.5, t0 + 13.3, 1.0)
    assert early is not None and early.actual == "billing started 2.500 s before the real answer"
    late = CdrRecord("c", "1", "2", None, t0 + 20.0, 20.0, "answered")  # no answer time
    fas = false_answer_supervision(late, True, t0, t0 + 13.0, 1.0)
    assert fas is not None and fas.actual == "billing continued 7.000 s after the hang-up"
    ringing = CdrRecord("c", "1", "2", None, t0 + 5.0, 0.0, "no_answer")
    assert false_answer_supervision(ringing, False, None, t0 + 5.0, 1.0) is None
    billed = CdrRecord("c", "1", "2", t0, t0 + 5.0, 5.0, "no_answer")
    fas = false_answer_supervision(billed, False, None, t0 + 5.0, 1.0)
    assert fas is not None and fas.field == "false_answer_supervision"


def test_summary_of_a_clean_run() -> None:
    run = reconcile_run(ledgers(), open_source(rated_uri()).all(), policy())
    summary = billing_summary(run, TARIFF)
    assert (summary.calls, summary.answered, summary.cdr_rows, summary.missing,
            summary.orphans, summary.discrepancies) == (7, 3, 7, 0, 0, ())
    assert summary.billed_min == Decimal("3.7")  # 60 + 66 + 96 s
    assert summary.charge == summary.expected_charge == Decimal("0.4215")
    by_class = {c.call_class: c for c in summary.by_class}
    assert by_class["local"].calls == 5 and by_class["local"].billed_s == 60
    assert by_class["international"].charge == Decimal("0.3840")
    assert summary.lines()[1] == "billed 3.70 min, charge 0.4215 (expected 0.4215)"


def test_summary_shows_double_billing_and_unreadable_rows(tmp_path: Path) -> None:
    lines = (DATA / "asterisk_Master.csv").read_text().splitlines()
    path = tmp_path / "Master.csv"
    path.write_text("\n".join([lines[0], *lines, "garbage"]) + "\n")
    src = open_source(asterisk_uri(path))
    run = reconcile_run(ledgers(), src.all(), policy(
        equivalent_dispositions=frozenset({("cancelled", "no_answer")})))
    summary = billing_summary(run, TARIFF, src.problems)
    local = {c.call_class: c for c in summary.by_class}["local"]
    assert (local.billed_s, local.expected_billed_s) == (120, 60)
    assert local.charge == Decimal("0.0200") and local.expected_charge == Decimal("0.0100")
    assert summary.cdr_rows == 8
    assert summary.discrepancies[0].endswith("cdr: expected 1 record, got 2 records")
    assert summary.discrepancies[-1].startswith("unreadable CDR: ")
    assert "Master.csv:9: field 'src' missing" in summary.discrepancies[-1]


def test_summary_counts_missing_calls_and_orphans() -> None:
    recs = open_source(rated_uri()).all()
    orphan = CdrRecord("x", "4135550199", "4135550188", 1795690000.0, 1795690060.0, 60.0,
                       "answered", call_class="long_distance")
    run = reconcile_run(ledgers(), [r for r in recs if r.call_class != "international"]
                        + [orphan], policy())
    summary = billing_summary(run, TARIFF)
    assert (summary.missing, summary.orphans) == (1, 1)
    ld = {c.call_class: c for c in summary.by_class}["long_distance"]
    assert (ld.calls, ld.billed_s, ld.expected_billed_s) == (1, 66 + 60, 66)
