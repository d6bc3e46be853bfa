"""The crash-safe result store: one SQLite database for every run (`reports/results.db`).

Each call is one committed row as soon as it is measured (WAL journal,
`synchronous=FULL`: a committed row survives a crash of the harness or of the host),
so a run that dies keeps every finished call and can be rendered again later; a run
whose `finished` flag was never set is shown INCOMPLETE. Trends over past runs read
the indexed columns; the call's full JSON document (`call_to_json`) is kept beside
them and is what every report is rendered from.

    runs  (run_id PK, started_wall, finished, finished_wall, run_dir, environment JSON,
           errors JSON)
    calls (run_id, seq, plan_id, call_type, verdict, invalid_measurement, srd_s,
           setup_s, timing_valid, mos_a_to_b, mos_b_to_a, cdr_matched, started_wall, doc)
    loads (run_id, seq, doc)   background load levels (harness.load), if any
    busy_hours (run_id, seq, doc)   busy-hour rows
    verdicts (run_id PK, doc)   the run's one verdict (harness/verdict/run.py)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ReportError

SCHEMA_VERSION = 1

_DDL = """
CREATE TABLE IF NOT EXISTS runs (
    run_id        TEXT PRIMARY KEY,
    started_wall  REAL NOT NULL,
    finished      INTEGER NOT NULL DEFAULT 0,
    finished_wall REAL,
    run_dir       TEXT NOT NULL,
    environment   TEXT NOT NULL DEFAULT '{}',
    errors        TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS calls (
    run_id              TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    seq                 INTEGER NOT NULL,
    plan_id             TEXT NOT NULL,
    call_type           TEXT NOT NULL,
    verdict             TEXT NOT NULL,
    invalid_measurement INTEGER NOT NULL,
    srd_s               REAL,
    setup_s             REAL,
    timing_valid        INTEGER NOT NULL,
    mos_a_to_b          REAL,
    mos_b_to_a          REAL,
    cdr_matched         INTEGER,
    started_wall        REAL,
    doc                 TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS loads (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    doc    TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS busy_hours (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    doc    TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS verdicts (
    run_id TEXT PRIMARY KEY REFERENCES runs(run_id) ON DELETE CASCADE,
    doc    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_plan ON calls(plan_id);
CREATE INDEX IF NOT EXISTS calls_type ON calls(call_type, verdict);
CREATE INDEX IF NOT EXISTS runs_started ON runs(started_wall);
"""


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run as the report sees it: the run row and its calls' JSON documents."""

    run_id: str
    started_wall: float
    finished: bool
    run_dir: str
    environment: dict[str, Any] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    calls: tuple[dict[str, Any], ...] = ()
    finished_wall: float | None = None
    loads: tuple[dict[str, Any], ...] = ()  # background load levels (docs/load.md)
    busy_hours: tuple[dict[str, Any], ...] = ()  # busy-hour rows (harness/run/busyhour.py)
    verdict: dict[str, Any] | None = None  # the run's one verdict, once judged
    # §12 security probes (harness/security/rows.py): in results.json, not the database
    security: tuple[dict[str, Any], ...] = ()
    billing: dict[str, Any] | None = None  # the run's billing summary (results.json)

    @property
    def status(self) -> str:
        return "complete" if self.finished else "INCOMPLETE"

    @classmethod
    def from_document(cls, doc: dict[str, Any], run_dir: Path | str = "") -> RunRecord:
        """From a `results.json` document (what `ResultStore.document()` writes)."""
        return cls(doc["run_id"], float(doc["started_wall"]), bool(doc["finished"]),
                   str(run_dir), dict(doc.get("environment") or {}),
                   tuple(doc.get("errors") or ()), tuple(doc.get("calls") or ()),
                   loads=tuple((doc.get("load") or {}).get("levels") or ()),
                   busy_hours=tuple(doc.get("busy_hour") or ()), verdict=doc.get("verdict"),
                   security=tuple(doc.get("security") or ()), billing=doc.get("billing"))


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A run row with its verdict counts, for `--list` and the trend chart."""

    run_id: str
    started_wall: float
    finished: bool
    calls: int
    passed: int
    failed: int
    errors: int


def _direction_mos(doc: dict[str, Any], direction: str) -> float | None:
    q = (doc.get("quality") or {}).get(direction) or {}
    value = q.get("mos_lqo")
    return float(value) if value is not None and q.get("valid") else None


def _index_columns(doc: dict[str, Any]) -> tuple[Any, ...]:
    timing = doc.get("timing") or {}
    cdr = doc.get("cdr")
    return (doc["plan_id"], doc["call_type"], doc["verdict"],
            int(bool(doc.get("invalid_measurement"))), timing.get("srd_s"),
            timing.get("setup_s"), int(bool(timing.get("valid", True))),
            _direction_mos(doc, "a_to_b"), _direction_mos(doc, "b_to_a"),
            None if cdr is None else int(bool(cdr.get("matched"))), doc.get("started_wall"))

_INSERT_CALL = (
    "INSERT INTO calls (run_id, seq, plan_id, call_type, verdict, invalid_measurement, srd_s,"
    " setup_s, timing_valid, mos_a_to_b, mos_b_to_a, cdr_matched, started_wall, doc)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


class SqliteStore:
    """`reports/results.db`. One connection per process; every write is its own commit."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # calls finish in their own threads; the session serialises every write
            self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                        check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.executescript(_DDL)
            self.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise ReportError(f"{self.path}: cannot open the result database: {exc}") from exc

    @contextmanager
    def _tx(self, what: str) -> Iterator[sqlite3.Connection]:
        """One transaction, committed on exit; a database error names the file."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise ReportError(f"{self.path}: {what}: {exc}") from exc
            raise

    # -- writing (the harness, one call at a time) ------------------------------------------
    def begin_run(self, run_id: str, started_wall: float, run_dir: str,
                  environment: dict[str, Any]) -> None:
        """Start (or restart: a run id used again replaces the old record) a run."""
        with self._tx(f"cannot start run {run_id}") as c:
            c.execute("DELETE FROM calls WHERE run_id = ?", (run_id,))
            c.execute("DELETE FROM loads WHERE run_id = ?", (run_id,))
            c.execute("DELETE FROM busy_hours WHERE run_id = ?", (run_id,))
            c.execute("DELETE FROM verdicts WHERE run_id = ?", (run_id,))
            c.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            c.execute("INSERT INTO runs (run_id, started_wall, run_dir, environment) "
                      "VALUES (?, ?, ?, ?)",
                      (run_id, started_wall, run_dir, json.dumps(environment, default=str)))

    def add_call(self, run_id: str, seq: int, doc: dict[str, Any]) -> None:
        with self._tx(f"cannot store call {doc.get('plan_id')} #{seq} of run {run_id}") as c:
            c.execute(_INSERT_CALL, (run_id, seq, *_index_columns(doc),
                                     json.dumps(doc, default=str)))

    def put_load(self, run_id: str, seq: int, doc: dict[str, Any]) -> None:
        """A background load level (written when it starts, replaced when it stops)."""
        with self._tx(f"cannot store load level #{seq} of run {run_id}") as c:
            c.execute("INSERT OR REPLACE INTO loads (run_id, seq, doc) VALUES (?, ?, ?)",
                      (run_id, seq, json.dumps(doc, default=str)))

    def add_busy_hour(self, run_id: str, seq: int, doc: dict[str, Any]) -> None:
        with self._tx(f"cannot store busy hour #{seq} of run {run_id}") as c:
            c.execute("INSERT OR REPLACE INTO busy_hours (run_id, seq, doc) VALUES (?, ?, ?)",
                      (run_id, seq, json.dumps(doc, default=str)))

    def put_verdict(self, run_id: str, doc: dict[str, Any]) -> None:
        with self._tx(f"cannot store the verdict of run {run_id}") as c:
            c.execute("INSERT OR REPLACE INTO verdicts (run_id, doc) VALUES (?, ?)",
                      (run_id, json.dumps(doc, default=str)))

    def update_run(self, run_id: str, environment: dict[str, Any], errors: list[str],
                   finished_wall: float | None) -> None:
        with self._tx(f"cannot update run {run_id}") as c:
            c.execute("UPDATE runs SET environment = ?, errors = ?, finished = ?,"
                      " finished_wall = ? WHERE run_id = ?",
                      (json.dumps(environment, default=str), json.dumps(errors),
                       int(finished_wall is not None), finished_wall, run_id))

    def close(self) -> None:
        self.conn.close()

    # -- reading (the report, the CLI) -------------------------------------------------------
    def load_run(self, run_id: str) -> RunRecord:
        row = self.conn.execute(
            "SELECT run_id, started_wall, finished, run_dir, environment, errors, finished_wall"
            " FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            known = ", ".join(s.run_id for s in self.runs(5)) or "none"
            raise ReportError(f"{self.path}: no run {run_id!r} (latest: {known})")
        calls = tuple(json.loads(d) for (d,) in self.conn.execute(
            "SELECT doc FROM calls WHERE run_id = ? ORDER BY seq", (run_id,)))
        loads = tuple(json.loads(d) for (d,) in self.conn.execute(
            "SELECT doc FROM loads WHERE run_id = ? ORDER BY seq", (run_id,)))
        busy = tuple(json.loads(d) for (d,) in self.conn.execute(
            "SELECT doc FROM busy_hours WHERE run_id = ? ORDER BY seq", (run_id,)))
        verdict = self.conn.execute("SELECT doc FROM verdicts WHERE run_id = ?",
                                    (run_id,)).fetchone()
        return RunRecord(row[0], row[1], bool(row[2]), row[3], json.loads(row[4]),
                         tuple(json.loads(row[5])), calls, row[6], loads, busy,
                         json.loads(verdict[0]) if verdict else None)

    def latest_run_id(self) -> str | None:
        row = self.conn.execute(
            "SELECT run_id FROM runs ORDER BY started_wall DESC LIMIT 1").fetchone()
        return None if row is None else str(row[0])

    def runs(self, limit: int = 50, until: float | None = None) -> list[RunSummary]:
        """The newest `limit` runs (started at or before `until`), newest first."""
        rows = self.conn.execute(
            "SELECT r.run_id, r.started_wall, r.finished, COUNT(c.seq),"
            " COALESCE(SUM(c.verdict = 'pass'), 0), COALESCE(SUM(c.verdict = 'fail'), 0),"
            " COALESCE(SUM(c.verdict = 'error'), 0)"
            " FROM runs r LEFT JOIN calls c ON c.run_id = r.run_id"
            " WHERE r.started_wall <= ? GROUP BY r.run_id ORDER BY r.started_wall DESC"
            " LIMIT ?", (1e308 if until is None else until, limit))
        return [RunSummary(r[0], r[1], bool(r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    def figures(self, run_id: str) -> list[tuple[str, float | None, int, float | None,
                                                 float | None]]:
        """(verdict, srd_s if its timing was valid, invalid_measurement, MOS A->B, MOS B->A)
        per call: the indexed columns the trend chart needs, without the documents."""
        rows = self.conn.execute(
            "SELECT verdict, CASE WHEN timing_valid THEN srd_s END, invalid_measurement,"
            " mos_a_to_b, mos_b_to_a FROM calls WHERE run_id = ? ORDER BY seq", (run_id,))
        return [(str(r[0]), r[1], int(r[2]), r[3], r[4]) for r in rows]


def open_store(path: Path | str) -> SqliteStore:
    """Open an existing database for reading; unlike `SqliteStore`, never creates one."""
    if str(path) != ":memory:" and not Path(path).is_file():
        raise ReportError(f"{path}: no result database here (a run writes "
                         "reports/results.db)")
    return SqliteStore(path)
