"""Faults injected into realistic CDR files, each caught with the right reason.

The clean files reconcile without a single mismatch; each fault below is one edit a
misbehaving switch or rating system would make, and must be reported under its own
field (and only the fields that follow from it)."""

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cdr import open_source
from harness.cdr.reconcile import RunReconciliation, reconcile_run
from harness.model import CdrRecord
from tests.unit.cdr_fixtures import (
    DATA,
    asterisk_uri,
    freeswitch_csv_uri,
    freeswitch_json_uri,
    ledgers,
    policy,
    rated_uri,
)

ASTERISK_SAME = policy(equivalent_dispositions=frozenset({("cancelled", "no_answer")}))
Rows = list[dict[str, str]]


def _run(uri: str, **kw: object) -> RunReconciliation:
    src = open_source(uri)
    records = src.all()
    assert getattr(src, "problems", []) == []
    return reconcile_run(ledgers(), records, policy(**kw) if kw else ASTERISK_SAME)


def _fields(run: RunReconciliation, index: int) -> set[str]:
    return {m.field for m in run.calls[index].check.mismatches}


def _others_clean(run: RunReconciliation, index: int) -> bool:
    return all(c.ok for i, c in enumerate(run.calls) if i != index)


@pytest.mark.parametrize("uri", [asterisk_uri(), freeswitch_csv_uri(), freeswitch_json_uri(),
                                 rated_uri()])
def test_clean_files_reconcile(uri: str) -> None:
    run = _run(uri)
    assert run.ok, run.discrepancies()


def test_asterisk_cancelled_needs_the_equivalence() -> None:
    run = reconcile_run(ledgers(), open_source(asterisk_uri()).all(), policy())
    assert [str(m) for c in run.calls for m in c.check.mismatches] == [
        "disposition: expected cancelled, got no_answer"]


# ---- the rated export (matched by Call-ID) -------------------------------------------

def _rated(tmp_path: Path, edit: Callable[[Rows], None]) -> str:
    text = (DATA / "rated_cdrs.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    edit(rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "rated.csv"
    path.write_text(out.getvalue())
    return rated_uri(path)


def _set(index: int, **cells: str) -> Callable[[Rows], None]:
    return lambda rows: rows[index].update(cells)


RATED_FAULTS = [
    ("missing row", lambda rows: rows.pop(5), 5, {"cdr"}),
    ("duplicate row", lambda rows: rows.insert(1, dict(rows[0])), 0, {"cdr"}),
    ("wrong number", _set(5, To="+12125550178"), 5, {"callee"}),
    ("end time shifted by 5 s", _set(0, EndTime="2026-11-26T10:13:02.532Z"), 0, {"end_time"}),
    ("wrong rounding: 6/6 billed per second", _set(5, BilledSec="62", Charge="0.0258"), 5,
     {"rounding", "billed_s", "charge"}),
    ("wrong rounding: 30/6 rounded down", _set(6, BilledSec="90", Charge="0.3600"), 6,
     {"rounding", "billed_s", "charge"}),
    ("wrong call class", _set(5, Class="local", BilledSec="120", Charge="0.0200"), 5,
     {"call_class", "billed_s", "charge"}),
    ("billing after hang-up", _set(0, EndTime="2026-11-26T10:13:01.532Z", Billsec="17.344"),
     0, {"end_time", "duration_s", "false_answer_supervision"}),
    ("billing before the answer",
     _set(6, AnswerTime="2026-11-26T10:16:01.869Z", Billsec="97.538", BilledSec="102",
          Charge="0.4080"),
     6, {"answer_time", "duration_s", "billed_s", "charge", "false_answer_supervision"}),
    ("busy call billed as answered",
     _set(1, AnswerTime="2026-11-26T10:13:05.901Z", Billsec="0.190", BilledSec="60",
          Charge="0.0100", Status="ANSWERED", SipCode="200"),
     1, {"disposition", "false_answer_supervision"}),
]


@pytest.mark.parametrize(("fault", "edit", "index", "want"), RATED_FAULTS,
                         ids=[f[0] for f in RATED_FAULTS])
def test_rated_export_fault(tmp_path: Path, fault: str, edit: Callable[[Rows], None],
                            index: int, want: set[str]) -> None:
    run = _run(_rated(tmp_path, edit), equivalent_dispositions=frozenset())
    assert _fields(run, index) == want, run.discrepancies()
    assert _others_clean(run, index) and run.orphans == ()


def test_missing_and_duplicate_are_told_apart(tmp_path: Path) -> None:
    missing = _run(_rated(tmp_path, lambda rows: rows.pop(5))).calls[5].check
    assert not missing.matched and missing.mismatches[0].actual == "none"
    duplicate = _run(_rated(tmp_path, lambda rows: rows.insert(1, dict(rows[0])))).calls[0]
    assert duplicate.check.rows_found == 2
    assert str(duplicate.check.mismatches[0]) == "cdr: expected 1 record, got 2 records"


def test_billing_after_hangup_is_named(tmp_path: Path) -> None:
    edit = _set(0, EndTime="2026-11-26T10:13:01.532Z", Billsec="17.344")
    (fas,) = [m for m in _run(_rated(tmp_path, edit)).calls[0].check.mismatches
              if m.field == "false_answer_supervision"]
    assert fas.actual == "billing continued 4.001 s after the hang-up"


def test_wrong_rounding_cites_the_rule(tmp_path: Path) -> None:
    run = _run(_rated(tmp_path, _set(5, BilledSec="62", Charge="0.0258")))
    by_field = {m.field: m for m in run.calls[5].check.mismatches}
    assert by_field["rounding"].expected == "66 s (6/6 of the CDR's 61.936 s, rounded up)"
    assert by_field["billed_s"].actual == "62 s"
    assert by_field["charge"].expected.startswith("0.0275 (long_distance at 0.0250/min)")


def test_orphan_row(tmp_path: Path) -> None:
    stranger = {"CallID": "never-placed@10.20.0.5", "From": "+14135550199",
                "To": "+14135550188", "Class": "local", "SetupTime": "2026-11-26T10:20:00Z",
                "AnswerTime": "2026-11-26T10:20:03Z", "EndTime": "2026-11-26T10:21:00Z",
                "Billsec": "57.000", "BilledSec": "60", "Charge": "0.0100",
                "Status": "ANSWERED", "SipCode": "200"}
    run = _run(_rated(tmp_path, lambda rows: rows.append(stranger)))
    assert all(c.ok for c in run.calls) and not run.ok
    assert [r.call_id for r in run.orphans] == ["never-placed@10.20.0.5"]
    assert run.discrepancies()[0].startswith("orphan CDR never-placed@10.20.0.5 14135550199")


# ---- policy: CDRs for unanswered calls ---------------------------------------------

def test_cdrs_forbidden_for_failed_and_cancelled_calls() -> None:
    run = _run(rated_uri(), cdr_forbidden_for=frozenset({"failed", "cancelled"}),
               cdr_required_for=frozenset({"answered", "busy", "no_answer"}))
    assert [i for i, c in enumerate(run.calls) if not c.ok] == [3, 4]
    assert run.calls[4].check.mismatches[0].expected == (
        "no record (failed calls must not leave a CDR)")


def test_cdrs_required_for_failed_calls(tmp_path: Path) -> None:
    uri = _rated(tmp_path, lambda rows: rows.pop(4))
    assert _fields(_run(uri), 4) == {"cdr"}
    lenient = _run(uri, cdr_required_for=frozenset({"answered"}))
    assert lenient.ok and not lenient.calls[4].check.matched


# ---- Asterisk Master.csv (matched on numbers and time) -----------------------------

def _asterisk(tmp_path: Path, edit: Callable[[list[str]], None]) -> str:
    lines = (DATA / "asterisk_Master.csv").read_text().splitlines()
    edit(lines)
    path = tmp_path / "Master.csv"
    path.write_text("\n".join(lines) + "\n")
    return asterisk_uri(path)


def _replace(index: int, old: str, new: str) -> Callable[[list[str]], None]:
    def edit(lines: list[str]) -> None:
        assert old in lines[index]
        lines[index] = lines[index].replace(old, new)
    return edit


ASTERISK_FAULTS = [
    ("missing row", lambda lines: lines.pop(6), 6, {"cdr"}),
    ("duplicate row", lambda lines: lines.insert(0, lines[0]), 0, {"cdr"}),
    ("wrong number", _replace(5, '"2125550187"', '"2125550178"'), 5, {"callee"}),
    ("end time shifted by 5 s", _replace(0, '"2026-11-26 10:12:57"', '"2026-11-26 10:13:02"'),
     0, {"end_time"}),
    ("wrong call class", _replace(5, '"long_distance"', '"local"'), 5,
     {"call_class", "billed_s", "charge"}),
    ("billing after hang-up",
     _replace(0, '"2026-11-26 10:12:57",14,13,', '"2026-11-26 10:13:02",19,18,'), 0,
     {"end_time", "duration_s", "false_answer_supervision"}),
]


@pytest.mark.parametrize(("fault", "edit", "index", "want"), ASTERISK_FAULTS,
                         ids=[f[0] for f in ASTERISK_FAULTS])
def test_asterisk_fault(tmp_path: Path, fault: str, edit: Callable[[list[str]], None],
                        index: int, want: set[str]) -> None:
    run = _run(_asterisk(tmp_path, edit))
    assert _fields(run, index) == want, run.discrepancies()
    assert _others_clean(run, index) and run.orphans == ()


def test_records_are_kept_as_evidence() -> None:
    run = _run(freeswitch_json_uri())
    record = run.calls[0].check.record
    assert isinstance(record, CdrRecord) and record.sip_code == 200
    assert run.calls[0].matched_by == "call_id"
