import math
import sqlite3
from pathlib import Path

import pytest

from harness.cdr import open_source
from harness.cdr.kamailio_sqlite import KamailioSqliteCdr, julian_to_unix
from harness.errors import CdrError

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture
def acc_db(tmp_path: Path) -> Path:
    db = tmp_path / "acc.db"
    con = sqlite3.connect(db)
    con.executescript((DATA / "kamailio_acc_cdrs.sql").read_text())
    con.commit()
    con.close()
    return db


def test_recorded_kamailio_rows(acc_db: Path) -> None:
    src = open_source(f"sqlite:///{acc_db}")
    rows = src.all()
    assert len(rows) == 2
    r = src.by_call_id(rows[1].call_id)[0]
    assert (r.caller, r.callee, r.disposition, r.sip_code) == (
        "4135550100", "4135550112", "answered", 200)
    assert r.duration_s == pytest.approx(13.341)
    assert r.end_wall is not None and r.answer_wall is not None
    assert r.end_wall - r.answer_wall == pytest.approx(r.duration_s, abs=0.01)
    raw = dict(r.raw)
    # the Julian start/end columns are the whole seconds of answer and end
    assert julian_to_unix(float(raw["start_time"])) == pytest.approx(
        math.floor(float(raw["answer_ts"])), abs=1e-3)
    assert julian_to_unix(float(raw["end_time"])) == pytest.approx(
        math.floor(float(raw["end_ts"])), abs=1e-3)


def test_missing_database_and_table_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CdrError, match="does not exist"):
        KamailioSqliteCdr(f"sqlite:///{tmp_path / 'none.db'}").all()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(CdrError, match="acc_cdrs"):
        KamailioSqliteCdr(f"sqlite:///{empty}").all()
    with pytest.raises(CdrError, match="unknown CDR source scheme"):
        open_source("ftp://example/cdr.csv")
