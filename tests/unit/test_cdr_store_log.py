"""The embedded switch's CDRs when its SQLite store refuses a write (Kamailio 5.6's
db_sqlite has no busy timeout): the record the acc module logged just before is read
from its log; a record missing with no refusal logged stays missing (the fault test
of a switch that loses CDRs still fails it). The log lines are the shapes Kamailio
5.6.3 wrote in plan runs (reports/*/sut/kamailio.log)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from harness.cdr.kamailio_log import read_acc_log, request_fields
from harness.cdr.kamailio_sqlite import KamailioSqliteCdr

DATA = Path(__file__).parent.parent / "data" / "kamailio_acc_cdrs.sql"


def _cdr(pid: int, callid: str, answer: float) -> str:
    return (f" 1({pid}) NOTICE: acc [acc_cdr.c:395]: log_write_cdr(): "
            f"start_time={answer:.3f}; end_time={answer + 10.771:.3f}; duration=10.771; "
            f"callid={callid}; src_user=4135550117; dst_user=4135550112; "
            f"dialed=4135550112; call_class=onnet; carrier=; invite_ts={answer - 1:.6f}; "
            f"answer_ts={answer:.6f}; end_ts={answer + 10.771:.6f}; sip_code=200")


def _refused(pid: int, what: str = "db_write_cdr", where: str = "acc_cdr.c:291") -> list[str]:
    return [f" 1({pid}) ERROR: db_sqlite [dbase.c:528]: db_sqlite_commit(): sqlite commit "
            "failed: database is locked",
            f" 1({pid}) ERROR: db_sqlite [dbase.c:177]: db_sqlite_cleanup_query(): finalize "
            "failed: database is locked",
            f" 1({pid}) ERROR: acc [{where}]: {what}(): failed to insert into database",
            *([f" 1({pid}) ERROR: acc [acc_cdr.c:710]: cdr_on_end_confirmed(): failed to "
               "write cdr!"] if what == "db_write_cdr" else [])]


REQUEST = (" 1(7671) NOTICE: acc [acc.c:298]: acc_log_request(): ACC: request accounted: "
           "404 Not Found timestamp=1796475011;method=INVITE;from_tag=ft1;to_tag=;"
           "call_id=rej-1;code=404;reason=Not Found;src_user=4135550117;"
           "dst_user=4135559999;dialed=4135559999;call_class=local;carrier=")


def test_the_refused_cdr_is_the_one_its_process_logged_just_before() -> None:
    log = "\n".join([_cdr(15272, "other-proc", 1796470511.0), _cdr(15271, "refused", 1796470511.5),
                     _cdr(15272, "after", 1796470512.0), *_refused(15271),
                     _cdr(15271, "next", 1796470512.4)])
    acc = read_acc_log(log)
    assert [c["callid"] for c in acc.cdrs] == ["refused"]
    assert acc.cdrs[0]["answer_ts"] == "1796470511.500000"
    assert acc.refusals == 1 and acc.lost == ()


def test_a_refusal_no_logged_record_precedes_is_lost_and_named() -> None:
    # an attempt's record refused by the store, logged by no acc_log_request before it
    # (the template before acc_log_request): the process's last logged record is a CDR
    log = "\n".join([_cdr(7671, "an-answered-call", 1796475000.3),
                     *_refused(7671, "acc_db_request", "acc.c:496")])
    acc = read_acc_log(log)
    assert acc.cdrs == () and acc.requests == () and acc.refusals == 1
    assert len(acc.lost) == 1 and "acc_db_request(): failed to insert" in acc.lost[0]
    assert "database is locked" in acc.lost[0]
    # nothing logged at all by that process
    assert len(read_acc_log("\n".join(_refused(9))).lost) == 1


def test_a_store_error_no_refused_write_follows_is_no_cdrs() -> None:
    """The same module serves the lines' credentials: a failed read there is no loss."""
    log = "\n".join([_cdr(15271, "fine", 1796470511.5), *_refused(15271)[:2],
                     _cdr(15271, "fine-too", 1796470512.5)])
    acc = read_acc_log(log)
    assert acc.lost == () and acc.cdrs == () and acc.refusals == 0


def test_a_refused_attempt_is_read_from_its_request_log() -> None:
    acc = read_acc_log("\n".join([REQUEST, *_refused(7671, "acc_db_request", "acc.c:496")]))
    assert acc.lost == () and len(acc.requests) == 1
    req = acc.requests[0]
    assert (req["callid"], req["sip_code"], req["sip_reason"], req["time_attr"],
            req["dst_user"]) == ("rej-1", "404", "Not Found", "1796475011", "4135559999")
    assert request_fields("no fields here") == {}


def _store(tmp_path: Path, log_lines: list[str], fault_sql: str = "") -> KamailioSqliteCdr:
    db = tmp_path / "acc.db"
    con = sqlite3.connect(db)
    con.executescript(DATA.read_text())
    con.executescript(
        "CREATE TABLE acc (id INTEGER PRIMARY KEY, method, from_tag, to_tag, callid, "
        "sip_code, sip_reason, time, time_attr, time_exten, src_user, dst_user, dialed, "
        "call_class, carrier);" + fault_sql)
    con.commit()
    con.close()
    log = tmp_path / "kamailio.log"
    log.write_text("\n".join(log_lines) + "\n")
    return KamailioSqliteCdr(f"sqlite:///{db}", log)


def test_the_store_reads_a_refused_record_from_the_log_and_says_so(tmp_path: Path) -> None:
    lines = [_cdr(15271, "refused", 1796470511.5), *_refused(15271), REQUEST,
             *_refused(7671, "acc_db_request", "acc.c:496")]
    store = _store(tmp_path, lines)
    [rec] = store.by_call_id("refused")
    assert rec.answer_wall == 1796470511.5 and rec.duration_s == 10.771
    assert rec.disposition == "answered" and rec.caller == "4135550117"
    assert "kamailio.log" in rec.source and "refused the write" in rec.source
    assert ("callid", "refused") in rec.raw and not any(k == "_source" for k, _ in rec.raw)
    [rej] = store.by_call_id("rej-1")
    assert rej.sip_code == 404 and rej.start_wall == 1796475011.0 and "kamailio.log" in \
        rej.source
    everything = store.all()
    assert sorted(r.call_id for r in everything) == sorted(
        ["yKiz2l.xY0nUUYlRQ3GM9.BUDnk0jaGc", "ISa4ne30HgUdWxsIdJwB4fAUGuhEqChw", "refused",
         "rej-1"])


def test_a_record_missing_without_a_refusal_stays_missing(tmp_path: Path) -> None:
    """A switch that loses a CDR is still caught: its record was logged (every CDR is),
    but no write was refused, so the log stands for nothing."""
    callid = "ISa4ne30HgUdWxsIdJwB4fAUGuhEqChw"
    store = _store(tmp_path, [_cdr(15271, callid, 1795663034.38)],
                   "DELETE FROM acc_cdrs WHERE id = 2;")
    assert store.by_call_id(callid) == []
    assert callid not in {r.call_id for r in store.all()}


def test_a_record_the_store_holds_is_read_from_the_store(tmp_path: Path) -> None:
    callid = "ISa4ne30HgUdWxsIdJwB4fAUGuhEqChw"  # refused once, then written (a retry)
    store = _store(tmp_path, [_cdr(15271, callid, 1795663034.38), *_refused(15271)])
    [rec] = store.by_call_id(callid)
    assert rec.source == store.uri
    assert [r.call_id for r in store.all()].count(callid) == 1


def test_a_record_lost_by_the_harnesss_own_store_is_invalid_not_the_switchs_fail() -> None:
    from harness.model import CdrCheck, Expect, Status
    from harness.verdict.metrics import call_timing
    from tests.unit.test_metrics import CALLER, CLEAN, GOOD_Q, judge

    lost = CdrCheck(False, store_error="the embedded switch's CDR store refused 1 write(s)")
    v = judge(Expect(), 200, call_timing(CALLER, CLEAN), GOOD_Q, lost, CLEAN)
    assert v.status is Status.ERROR and v.invalid_measurement
    assert v.reasons == ("cdr: no record for this call (invalid_measurement: the embedded "
                         "switch's CDR store refused 1 write(s))",)
    v = judge(Expect(), 200, call_timing(CALLER, CLEAN), GOOD_Q, CdrCheck(False), CLEAN)
    assert v.status is Status.FAIL and v.reasons == ("cdr: no record for this call",)
