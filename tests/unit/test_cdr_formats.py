"""Parsers of every CDR format, on the recorded scenario (tests/data/cdr/README.md)."""

import json
import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from harness.cdr import open_source
from harness.cdr.asterisk_csv import AsteriskCsvCdr
from harness.cdr.freeswitch_csv import FreeswitchCsvCdr
from harness.cdr.freeswitch_json import FreeswitchJsonCdr
from harness.cdr.generic_csv import GenericCsvCdr
from harness.errors import CdrError
from tests.unit.cdr_fixtures import (
    DATA,
    asterisk_uri,
    freeswitch_csv_uri,
    freeswitch_json_uri,
    ledgers,
    rated_uri,
)

OUTCOMES = ["answered", "busy", "no_answer", "cancelled", "failed", "answered", "answered"]
T0 = 1795687963.0  # 2026-11-26 10:12:43 UTC, the first call's INVITE (whole second)


def test_open_source_picks_the_driver_by_scheme() -> None:
    assert isinstance(open_source(asterisk_uri()), AsteriskCsvCdr)
    assert isinstance(open_source(freeswitch_csv_uri()), FreeswitchCsvCdr)
    assert isinstance(open_source(freeswitch_json_uri()), FreeswitchJsonCdr)
    assert isinstance(open_source(rated_uri()), GenericCsvCdr)
    with pytest.raises(CdrError, match="unknown CDR source scheme"):
        open_source("xml:///var/log/freeswitch/xml_cdr")


def test_asterisk_master_csv() -> None:
    rows = open_source(asterisk_uri()).all()
    # Asterisk writes NO ANSWER for a call the caller cancelled
    assert [r.disposition for r in rows] == [
        "answered", "busy", "no_answer", "no_answer", "failed", "answered", "answered"]
    first = rows[0]
    assert (first.call_id, first.caller, first.callee, first.call_class) == (
        "", "4135550100", "4135550112", "local")
    assert (first.start_wall, first.answer_wall, first.end_wall) == (T0, T0 + 1, T0 + 14)
    assert first.duration_s == 13.0  # billsec, not duration (start -> end = 14)
    assert dict(first.raw)["lastdata"] == "PJSIP/4135550112@carrier,30,T"
    assert dict(first.raw)["clid"] == '"Site1 Line01" <4135550100>'
    assert rows[1].answer_wall is None and rows[1].duration_s == 0.0
    assert rows[6].callee == "011442079460123"


def test_asterisk_without_uniqueid_and_userfield(tmp_path: Path) -> None:
    """cdr.conf defaults (loguniqueid=no, loguserfield=no) give 16 columns."""
    lines = (DATA / "asterisk_Master.csv").read_text().splitlines()
    short = tmp_path / "Master.csv"
    short.write_text("\n".join(line.rsplit(",", 2)[0] for line in lines) + "\n")
    src = open_source(f"asterisk-csv://{short}?tz=UTC")
    assert [r.disposition for r in src.all()][:3] == ["answered", "busy", "no_answer"]
    assert src.problems == []


def test_asterisk_call_id_from_userfield(tmp_path: Path) -> None:
    text = (DATA / "asterisk_Master.csv").read_text()
    path = tmp_path / "Master.csv"
    path.write_text(text.replace('"local"\n', '"yKiz2l.xY0nUUYlRQ3GM9.BUDnk0jaGc"\n', 1))
    src = open_source(f"asterisk-csv://{path}?tz=UTC&call_id=userfield")
    assert [r.callee for r in src.by_call_id("yKiz2l.xY0nUUYlRQ3GM9.BUDnk0jaGc")] == [
        "4135550112"]


def test_asterisk_local_time_zone() -> None:
    utc = open_source(asterisk_uri()).all()[0]
    berlin = open_source(f"asterisk-csv://{DATA / 'asterisk_Master.csv'}?tz=Europe/Berlin")
    assert berlin.all()[0].answer_wall == utc.answer_wall - 3600  # CET is UTC+1


def test_freeswitch_csv_example_template() -> None:
    rows = open_source(freeswitch_csv_uri()).all()
    assert [r.disposition for r in rows] == OUTCOMES
    asterisk = open_source(asterisk_uri()).all()
    # same calls, written in EST by FreeSWITCH and in UTC by Asterisk
    assert [r.answer_wall for r in rows] == [r.answer_wall for r in asterisk]
    assert [r.call_class for r in rows][-2:] == ["long_distance", "international"]
    assert dict(rows[0].raw)["uuid"] == "5f2c9a1e-4b7d-4c0e-8a61-00003b9aca07"
    assert rows[0].call_id == ""


def test_freeswitch_csv_custom_template_with_call_id(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    path.write_text('"4135550100","4135550112","2026-11-26 10:12:43","2026-11-26 10:12:44",'
                    '"2026-11-26 10:12:57","13","NORMAL_CLEARING","abc@10.20.0.31"\n')
    columns = ("caller_id_number,destination_number,start_stamp,answer_stamp,end_stamp,"
               "billsec,hangup_cause,sip_call_id")
    src = open_source(f"freeswitch-csv://{path}?tz=UTC&columns={columns}")
    (rec,) = src.by_call_id("abc@10.20.0.31")
    assert (rec.disposition, rec.answer_wall, rec.duration_s) == ("answered", T0 + 1, 13.0)
    with pytest.raises(CdrError, match="columns= lacks hangup_cause"):
        open_source(f"freeswitch-csv://{path}?columns=caller_id_number,destination_number,"
                    "start_stamp,answer_stamp,end_stamp,billsec")


def test_freeswitch_json_directory_of_a_legs() -> None:
    src = open_source(freeswitch_json_uri())
    rows = sorted(src.all(), key=lambda r: r.start_wall or 0)
    assert src.problems == []
    assert [r.call_id for r in rows] == [lg.call_id for lg in ledgers()]
    assert [r.disposition for r in rows] == OUTCOMES
    assert [r.sip_code for r in rows] == [200, 486, 480, 487, 404, 200, 200]
    first = rows[0]
    assert first.answer_wall == pytest.approx(1795687964.1868029, abs=1e-6)  # microseconds
    assert first.duration_s == pytest.approx(13.346)  # billmsec
    raw = dict(first.raw)
    assert raw["channel_name"] == "sofia/internal/4135550100@10.20.0.5"  # URL-decoded
    assert raw["caller_id"] == '"Site1 Line01" <4135550100>'


def test_freeswitch_json_b_legs_on_request() -> None:
    assert len(open_source(freeswitch_json_uri(extra="?legs=all")).all()) == 8
    with pytest.raises(CdrError, match="legs='b'"):
        open_source(freeswitch_json_uri(extra="?legs=b"))


def test_freeswitch_json_single_file_and_json_lines(tmp_path: Path) -> None:
    files = sorted((DATA / "freeswitch_json").glob("a_*.cdr.json"))
    one = open_source(freeswitch_json_uri(files[0]))
    assert len(one.all()) == 1
    lines = tmp_path / "collected.jsonl"
    lines.write_text("".join(f.read_text() for f in files))
    assert len(open_source(freeswitch_json_uri(lines)).all()) == 7


def test_freeswitch_json_numbers_from_callflow_or_sip_variables(tmp_path: Path) -> None:
    doc = json.loads(sorted((DATA / "freeswitch_json").glob("a_*"))[0].read_text())
    del doc["callflow"]
    (tmp_path / "a_1.cdr.json").write_text(json.dumps(doc))
    (rec,) = open_source(freeswitch_json_uri(tmp_path)).all()
    assert (rec.caller, rec.callee) == ("4135550100", "4135550112")  # sip_from/req_user


def test_generic_rated_export() -> None:
    src = open_source(rated_uri())
    rows = src.all()
    assert [r.disposition for r in rows] == OUTCOMES
    first = rows[0]
    assert (first.caller, first.callee) == ("14135550100", "14135550112")  # +1 stripped
    assert first.answer_wall == pytest.approx(1795687964.188)
    assert (first.duration_s, first.billed_s, first.charge) == (13.344, 60.0, Decimal("0.0100"))
    assert rows[6].callee == "442079460123"
    assert src.by_call_id(first.call_id) == [first]


def test_generic_epoch_semicolons_without_call_id() -> None:
    uri = (f"csv://{DATA / 'pbx_export_epoch.csv'}?caller=src&callee=dst&start=start_epoch"
           "&answer=answer_epoch&end=end_epoch&duration=talk_s&disposition=result"
           "&time_format=epoch&delimiter=;")
    rows = open_source(uri).all()
    assert [r.disposition for r in rows] == ["answered", "busy", "no_answer"]
    assert rows[0].duration_s == 13.342 and rows[0].call_id == ""


def test_generic_defaults_and_strptime_format(tmp_path: Path) -> None:
    path = tmp_path / "cdr.csv"
    path.write_text("from,to,answered,ended\n"
                    "4135550100,4135550112,26/11/2026 10:12:44,26/11/2026 10:12:57\n"
                    "4135550101,4135550113,,26/11/2026 10:13:06\n")
    uri = (f"csv://{path}?caller=from&callee=to&answer=answered&end=ended"
           "&time_format=%25d/%25m/%25Y %25H:%25M:%25S")
    answered, failed = open_source(uri).all()
    assert (answered.disposition, answered.duration_s) == ("answered", 13.0)
    assert answered.answer_wall == T0 + 1
    assert failed.disposition == "failed" and failed.duration_s is None


def test_generic_uri_mistakes_are_named() -> None:
    with pytest.raises(CdrError, match="maps no column for end"):
        open_source(f"csv://{DATA / 'rated_cdrs.csv'}?caller=From&callee=To&answer=AnswerTime")
    with pytest.raises(CdrError, match="unknown parameter 'answer_time'"):
        open_source(f"csv://{DATA / 'rated_cdrs.csv'}?{'caller=From'}&answer_time=X")
    with pytest.raises(CdrError, match="unknown time zone"):
        open_source(asterisk_uri() + "&tz=Mars/Olympus")
    with pytest.raises(CdrError, match="unknown encoding"):
        open_source(asterisk_uri() + "&encoding=klingon")


def test_a_source_rereads_its_file_only_when_it_changed(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    shutil.copy(DATA / "asterisk_Master.csv", path)
    src = open_source(asterisk_uri(path))
    assert len(src.all()) == 7
    first = src.all()
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines + [lines[0]]) + "\n")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    assert len(src.all()) == 8 and first == src.all()[:7]
