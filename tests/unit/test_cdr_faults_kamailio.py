"""Faults injected into a real CDR set: the rows the embedded Kamailio 5.6 wrote for two
answered on-net calls (tests/data/kamailio_acc_cdrs.sql), each altered in SQL the way a
faulty switch would write them, then reconciled for the whole run."""

import sqlite3
from pathlib import Path

import pytest

from harness.cdr.billing import Tariff
from harness.cdr.kamailio_sqlite import KamailioSqliteCdr
from harness.cdr.ledger import Ledger
from harness.cdr.reconcile import CdrPolicy, reconcile_run

DATA = Path(__file__).parent.parent / "data" / "kamailio_acc_cdrs.sql"
POLICY = CdrPolicy(1.0, 1.0, tariff=Tariff.parse({"onnet": "0.0100 60/60"}))


def _db(tmp_path: Path, fault_sql: str = "") -> KamailioSqliteCdr:
    db = tmp_path / "acc.db"
    con = sqlite3.connect(db)
    con.executescript(DATA.read_text())
    if fault_sql:
        con.executescript(fault_sql)
    con.commit()
    con.close()
    return KamailioSqliteCdr(f"sqlite:///{db}")


def _ledgers(source: KamailioSqliteCdr) -> list[Ledger]:
    """What the agents saw: exactly the switch's own figures of the unaltered rows."""
    out = []
    for r in source.all():
        raw = dict(r.raw)
        out.append(Ledger(r.call_id, r.caller, r.callee, True, float(raw["answer_ts"]),
                          float(raw["end_ts"]), float(raw["invite_ts"]), "onnet", "answered"))
    return out


def _fields(tmp_path: Path, fault_sql: str) -> set[str]:
    ledgers = _ledgers(_db(tmp_path / "clean"))
    run = reconcile_run(ledgers, _db(tmp_path / "faulty", fault_sql).all(), POLICY)
    return {m.field for c in run.calls for m in c.check.mismatches} | (
        {"orphan"} if run.orphans else set())


@pytest.fixture(autouse=True)
def _dirs(tmp_path: Path) -> None:
    (tmp_path / "clean").mkdir()
    (tmp_path / "faulty").mkdir()


def test_the_real_set_reconciles_clean(tmp_path: Path) -> None:
    assert _fields(tmp_path, "") == set()


@pytest.mark.parametrize(("fault", "sql", "caught_as"), [
    ("missing row", "DELETE FROM acc_cdrs WHERE id = 2;", {"cdr"}),
    ("duplicate row", "INSERT INTO acc_cdrs (start_time, end_time, duration, callid, "
     "src_user, dst_user, dialed, call_class, invite_ts, answer_ts, end_ts, sip_code) "
     "SELECT start_time, end_time, duration, callid, src_user, dst_user, dialed, "
     "call_class, invite_ts, answer_ts, end_ts, sip_code FROM acc_cdrs WHERE id = 1;",
     {"cdr"}),
    ("wrong number", "UPDATE acc_cdrs SET dst_user = '4135550113' WHERE id = 1;", {"callee"}),
    ("end time shifted by 5 s", "UPDATE acc_cdrs SET end_ts = end_ts + 5.0 WHERE id = 1;",
     {"end_time"}),
    ("wrong call class", "UPDATE acc_cdrs SET call_class = 'local' WHERE id = 1;",
     {"call_class"}),
    ("billing after the hang-up", "UPDATE acc_cdrs SET duration = duration + 5.0, "
     "end_ts = end_ts + 5.0 WHERE id = 2;", {"end_time", "duration_s",
                                             "false_answer_supervision"}),
])
def test_each_fault_is_caught(tmp_path: Path, fault: str, sql: str,
                              caught_as: set[str]) -> None:
    found = _fields(tmp_path, sql)
    assert caught_as <= found, (fault, found)
