"""The result database: every call committed as it is measured, a crashed run kept
and shown INCOMPLETE, any past run rendered again from the database alone."""

import json
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from harness.errors import ReportError
from harness.model import Status
from harness.report.__main__ import main
from harness.report.results import ResultStore
from harness.report.store import SqliteStore, open_store
from harness.verdict.thresholds import ThresholdTable
from tests.unit.test_results import _result

CRASHING_RUN = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from harness.model import (CallResult, CallSpec, CallTiming, CdrCheck, QualityScore,
                               Status, Verdict)
    from harness.report.results import ResultStore

    def result(plan_id, status):
        q = tuple(QualityScore(d, s, 4.28, "nb", True) for d in ("a_to_b", "b_to_a")
                  for s in ("agent", "wire"))
        return CallResult(CallSpec(plan_id, "on-net cross-site", "site1/01", "site2/01"),
                          "cid-" + plan_id, 200, CallTiming(0.003, 1.004, 13.3, 0.001), q,
                          CdrCheck(True), None,
                          Verdict(status, () if status is Status.PASS else ("cdr: no record",)))

    store = ResultStore(Path(sys.argv[1]) / "run-crash", "run-crash", {"sut": "x"})
    store.add(result("1.1", Status.PASS))
    store.add(result("1.2", Status.FAIL))
    os._exit(137)  # killed: no close(), no interpreter shutdown, nothing flushed
""")


def _load_fixture(db: SqliteStore, doc: dict, run_dir: Path, finished: bool) -> None:
    db.begin_run(doc["run_id"], doc["started_wall"], str(run_dir), doc["environment"])
    for call in doc["calls"]:
        db.add_call(doc["run_id"], call["seq"], call)
    db.update_run(doc["run_id"], doc["environment"], [], 1.0 if finished else None)


def test_a_crashed_run_keeps_every_finished_call_and_reads_incomplete(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = subprocess.run([sys.executable, "-c", CRASHING_RUN, str(reports)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 137, proc.stderr
    db = open_store(reports / "results.db")
    run = db.load_run("run-crash")
    assert [c["plan_id"] for c in run.calls] == ["1.1", "1.2"]
    assert [c["verdict"] for c in run.calls] == ["pass", "fail"]
    assert run.finished is False and run.status == "INCOMPLETE"
    db.close()
    # results.json was complete after each call too
    doc = json.loads((reports / "run-crash" / "results.json").read_text())
    assert doc["status"] == "INCOMPLETE" and len(doc["calls"]) == 2
    # and the run renders from the database, flagged as incomplete
    assert main(["render", "--db", str(reports / "results.db"), "--run", "run-crash",
                 "--out", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "index.html").read_text()
    assert 'id="incomplete"' in html and "INCOMPLETE" in html
    assert (tmp_path / "out" / "calls" / "1.2-1.html").is_file()


def test_each_call_is_committed_before_add_returns(run_dir: Path) -> None:
    store = ResultStore(run_dir, "run-live", {"sut": "x"})
    store.add(_result("1.1", Status.FAIL))
    # a second, independent reader sees the row while the writer is still open
    other = sqlite3.connect(run_dir.parent / "results.db")
    rows = other.execute("SELECT plan_id, verdict, srd_s, setup_s, mos_a_to_b, mos_b_to_a,"
                         " cdr_matched FROM calls WHERE run_id = 'run-live'").fetchall()
    assert rows == [("1.1", "fail", 0.003, 1.004, 4.28, 4.28, 1)]
    assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finished = other.execute("SELECT finished FROM runs WHERE run_id = 'run-live'").fetchone()
    assert finished == (0,)
    other.close()
    store.close()
    run = open_store(run_dir.parent / "results.db").load_run("run-live")
    assert run.finished and run.status == "complete"
    assert (run_dir / "index.html").is_file() and (run_dir / "junit.xml").is_file()


def test_the_call_document_carries_its_thresholds_and_stream_figures(run_dir: Path) -> None:
    result = _result("1.1", Status.PASS)
    art = "calls/1.1-1/recorded_a_to_b.wav"
    streams = {"wire_a_to_b": {"loss_pct": 0.5, "jitter_ms": 3.25}}
    # carried on the result, not read back from the call's folder
    (run_dir / "calls" / "1.1-1" / "streams.json").write_text(json.dumps({"stale": 1}))
    store = ResultStore(run_dir, "r", {})
    # the limits the call was judged by (compiled from the row and the table)
    limits = ThresholdTable.build().compile(result.spec.expect, "onnet", "PCMU", row="1.1")
    judged = replace(result.spec, expect=limits.applied_to(result.spec.expect))
    store.add(replace(result, spec=judged, artifacts=(("recorded_a_to_b", art),),
                      streams=streams))
    doc = store.calls[0]
    assert {k: doc["expect"][k] for k in ("final_code", "srd_s_max", "setup_s_max",
                                          "mos_lqo_min", "cdr")} == \
        {"final_code": 200, "srd_s_max": 3.0, "setup_s_max": None, "mos_lqo_min": 4.2,
         "cdr": True}
    assert doc["codec"] == "PCMU" and doc["seq"] == 1 and doc["streams"] == streams
    store.close()


def test_indexed_columns_follow_the_document(tmp_path: Path, results_doc: dict) -> None:
    db = SqliteStore(tmp_path / "results.db")
    _load_fixture(db, results_doc, tmp_path, finished=True)
    rows = db.conn.execute("SELECT seq, verdict, invalid_measurement, mos_a_to_b, cdr_matched"
                           " FROM calls ORDER BY seq").fetchall()
    # call 2: A->B not validly scored (silence at the agent) -> NULL; call 5: stalled
    assert rows[:5] == [(1, "pass", 0, 4.285, 1), (2, "fail", 0, None, 1),
                        (3, "fail", 0, None, 1), (4, "fail", 0, 4.285, 0),
                        (5, "error", 1, None, 1)]
    assert db.conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    db.close()


def test_any_past_run_renders_again_from_the_database(tmp_path: Path, results_doc: dict,
                                                       run_dir: Path) -> None:
    db_path = tmp_path / "reports" / "results.db"
    db = SqliteStore(db_path)
    _load_fixture(db, results_doc, run_dir, finished=True)
    older = dict(results_doc, run_id="20261125-010000-1", started_wall=1795500000.0)
    _load_fixture(db, older, tmp_path / "gone", finished=False)
    db.close()
    out = tmp_path / "again"
    assert main(["render", "--db", str(db_path), "--run", results_doc["run_id"],
                 "--out", str(out)]) == 0
    html = (out / "index.html").read_text()
    assert "NOT ACCEPTED" in html and 'id="incomplete"' not in html
    assert "Median PDD per run" in html  # two runs in the database: the trend is drawn
    assert len(list((out / "calls").glob("*.html"))) == len(results_doc["calls"])
    # links from the new place still reach the run's files
    page = (out / "calls" / "4.x-2.html").read_text()
    assert 'src="../../reports/' in page and "4.x-1/recorded_a_to_b.wav" in page
    # the older run lost its directory: it still renders, shown incomplete
    assert main(["render", "--db", str(db_path), "--run", older["run_id"],
                 "--out", str(tmp_path / "old")]) == 0
    assert 'id="incomplete"' in (tmp_path / "old" / "index.html").read_text()


def test_list_shows_runs_newest_first(tmp_path: Path, results_doc: dict,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    db_path = tmp_path / "results.db"
    db = SqliteStore(db_path)
    _load_fixture(db, results_doc, tmp_path, finished=True)
    _load_fixture(db, dict(results_doc, run_id="crashed-run", started_wall=1795700000.0),
                  tmp_path, finished=False)
    db.close()
    assert main(["--list", "--db", str(db_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("crashed-run") and "INCOMPLETE" in lines[1]
    assert lines[2].startswith(results_doc["run_id"]) and "complete" in lines[2]
    assert lines[2].split()[-4:] == ["7", "3", "3", "1"]


def test_unknown_run_and_missing_database_are_named(tmp_path: Path, results_doc: dict,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list", "--db", str(tmp_path / "nope.db")]) == 2
    assert "nope.db: no result database here" in capsys.readouterr().err
    db = SqliteStore(tmp_path / "results.db")
    _load_fixture(db, results_doc, tmp_path, finished=True)
    with pytest.raises(ReportError, match=r"no run 'x' \(latest: 20261126-032250-7030\)"):
        db.load_run("x")
    db.close()


def test_secrets_are_never_stored_or_printed(tmp_path: Path) -> None:
    env = {"config": json.dumps({"sut": {"ami_password": "hunter2", "api_token": "tok-123"},
                                 "numbers": {"line_password": ""}}),
           "cdr_uri": "postgresql://billing:s3cr3t@db.example/cdr", "client_secret": "abc999"}
    store = ResultStore(tmp_path / "reports" / "r", "r", env)
    store.close()
    texts = [(tmp_path / "reports" / "r" / name).read_text() for name in
             ("index.html", "results.json", "junit.xml")]
    texts.append(json.dumps(open_store(tmp_path / "reports" / "results.db").load_run("r")
                            .environment))
    for text in texts:
        for secret in ("hunter2", "tok-123", "s3cr3t", "abc999"):
            assert secret not in text
    assert "postgresql://billing:***@db.example/cdr" in texts[0]


def test_an_interrupted_plan_is_reported_incomplete(run_dir: Path) -> None:
    store = ResultStore(run_dir, "run-int", {})
    store.add(_result("1.1", Status.PASS))
    store.close(finished=False)  # e.g. Ctrl-C: the plan did not run to its end
    store.close()  # a second close (every exit path closes) changes nothing
    assert 'id="incomplete"' in (run_dir / "index.html").read_text()
    assert open_store(run_dir.parent / "results.db").load_run("run-int").status == "INCOMPLETE"


def test_a_busy_hour_is_kept_in_the_database_and_results_json(run_dir: Path) -> None:
    store = ResultStore(run_dir, "run-busy", {"sut": "x"})
    store.add_busy_hour({"plan_id": "8.1", "status": "pass", "calls": 42})
    doc = json.loads((run_dir / "results.json").read_text())
    (kept,) = doc["busy_hour"]
    assert kept["stored_wall"] >= store.started_wall  # when it was judged: the timeline
    assert kept == {"plan_id": "8.1", "status": "pass", "calls": 42,
                    "stored_wall": kept["stored_wall"]}
    again = SqliteStore(store.db_path).load_run("run-busy")
    assert again.busy_hours == (kept,)
    store.db.close()
