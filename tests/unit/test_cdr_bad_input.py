"""Bad CDR input: every problem names file, line and field; good rows still count."""

import sqlite3
from pathlib import Path

import pytest

from harness.cdr import open_source
from harness.errors import CdrError
from tests.unit.cdr_fixtures import DATA, RATED_MAP, freeswitch_json_uri, rated_uri


def _where(problems: list[CdrError]) -> list[tuple[int | None, str | None]]:
    return [(p.line, p.field) for p in problems]


def test_asterisk_bad_rows_are_named_and_good_rows_kept() -> None:
    path = DATA / "asterisk_bad_rows.csv"
    src = open_source(f"asterisk-csv://{path}?tz=UTC")
    assert [r.caller for r in src.all()] == ["4135550100", "4135550105"]
    assert _where(src.problems) == [(2, "duration"), (3, "start"), (4, "clid"),
                                    (6, "disposition")]
    assert all(p.source == str(path) for p in src.problems)
    messages = [str(p) for p in src.problems]
    assert messages[0].startswith(f"{path}:2: field 'duration' missing")
    assert "'26/11/2026 10:13:10' is not an ISO 8601 time" in messages[1]
    assert "byte 0xe9" in messages[2] and "encoding=latin-1" in messages[2]
    assert "'ANSWERD'" in messages[3]


def test_latin1_file_read_with_its_encoding() -> None:
    src = open_source(f"asterisk-csv://{DATA / 'asterisk_bad_rows.csv'}?tz=UTC"
                      "&encoding=latin-1")
    rows = src.all()
    assert len(rows) == 3 and _where(src.problems) == [(2, "duration"), (3, "start"),
                                                       (6, "disposition")]
    assert dict(rows[1].raw)["clid"] == '"José Núñez" <4135550103>'


def test_freeswitch_csv_latin1_byte_names_the_variable(tmp_path: Path) -> None:
    good = (DATA / "freeswitch_Master.csv").read_bytes().splitlines()
    path = tmp_path / "Master.csv"
    path.write_bytes(b"\n".join([good[0], good[1].replace(b"Site1 Line02", b"Jos\xe9")]) + b"\n")
    src = open_source(f"freeswitch-csv://{path}?tz=UTC")
    assert len(src.all()) == 1 and _where(src.problems) == [(2, "caller_id_name")]


def test_rated_export_bad_rows() -> None:
    path = DATA / "rated_cdrs_bad.csv"
    src = open_source(rated_uri(path))
    assert len(src.all()) == 4
    assert _where(src.problems) == [(3, "Billsec"), (4, "SetupTime"), (7, "Charge")]
    assert "the row has 7 columns, the header 12" in str(src.problems[0])
    assert "'0.O275' is not an amount of money" in str(src.problems[2])


def test_freeswitch_json_bad_documents() -> None:
    src = open_source(freeswitch_json_uri(DATA / "freeswitch_json_bad"))
    assert [r.caller for r in src.all()] == ["4135550100"]
    truncated, no_cause = src.problems
    assert truncated.line == 1 and "not JSON" in str(truncated)
    assert truncated.source.endswith("a_5f2c9a1e-4b7d-4c0e-8a61-00003c9acb9a.cdr.json")
    assert no_cause.field == "variables.hangup_cause"


def test_freeswitch_json_bad_line_in_json_lines(tmp_path: Path) -> None:
    files = sorted((DATA / "freeswitch_json").glob("a_*.cdr.json"))
    path = tmp_path / "collected.jsonl"
    path.write_text(files[0].read_text() + '{"variables": {"uuid": "x"\n' + files[1].read_text())
    src = open_source(freeswitch_json_uri(path))
    assert len(src.all()) == 2 and _where(src.problems) == [(2, None)]


def test_freeswitch_json_undecodable_variable(tmp_path: Path) -> None:
    text = sorted((DATA / "freeswitch_json").glob("a_*.cdr.json"))[0].read_text()
    path = tmp_path / "a_x.cdr.json"
    path.write_text(text.replace("PJSUA%20v2.15.1", "PJSUA%E9v2.15.1"))
    src = open_source(freeswitch_json_uri(path))
    assert src.all() == [] and [p.field for p in src.problems] == ["variables.sip_user_agent"]


def test_unreadable_files_raise(tmp_path: Path) -> None:
    with pytest.raises(CdrError, match="cannot be read"):
        open_source(f"asterisk-csv://{tmp_path / 'Master.csv'}").all()
    with pytest.raises(CdrError, match="cannot be read"):
        open_source(freeswitch_json_uri(tmp_path / "json_cdr")).all()
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(CdrError, match="no header row"):
        open_source(rated_uri(empty)).all()


def test_generic_header_without_a_mapped_column(tmp_path: Path) -> None:
    path = tmp_path / "cdr.csv"
    lines = (DATA / "rated_cdrs.csv").read_text().splitlines()
    path.write_text("\n".join([lines[0].replace("AnswerTime", "Answer")] + lines[1:]) + "\n")
    with pytest.raises(CdrError) as err:
        open_source(f"csv://{path}?{RATED_MAP}").all()
    assert (err.value.line, err.value.field) == (1, "AnswerTime")
    assert "mapped to answer" in str(err.value)


def test_a_database_that_is_not_a_csv(tmp_path: Path) -> None:
    """Binary garbage is reported row by row, never a crash."""
    path = tmp_path / "Master.csv"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    src = open_source(f"asterisk-csv://{path}")
    assert src.all() == [] and src.problems and all(p.line for p in src.problems)
