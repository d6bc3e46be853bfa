"""Kamailio `acc` dialog CDRs (`acc_cdrs`) read from SQLite.

The embedded switch writes, per dialog: `start_time`/`end_time` (db_sqlite stores
DATETIME as a Julian day number, whole seconds), `duration` (seconds, ms resolution)
and the `cdr_extra` columns the harness configures: `callid`, `src_user`, `dst_user`,
`dialed`, `call_class`, `carrier`, `invite_ts`, `answer_ts`, `end_ts` (epoch "sec.usec" taken
with $TV(Sn) when the INVITE, its 2xx and the BYE passed the switch) and `sip_code`.

`log_path` (the embedded switch's own log): a record whose write the SQLite store
refused is read from the log instead, where the same `acc` module wrote it just
before (harness/cdr/kamailio_log.py); its `source` says so. Only a refused write is
read from there: a record missing from the store with no refusal logged is missing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

from harness.cdr.kamailio_log import AccLog, read_acc_log
from harness.errors import CdrError
from harness.model import CdrRecord

_Row = Mapping[str, object]

_JULIAN_UNIX_EPOCH = 2440587.5


def julian_to_unix(value: float) -> float:
    """Kamailio db_sqlite DATETIME (a Julian day number) -> epoch seconds.

    Measured on Kamailio 5.6.3: the stored day is the whole second of the event
    minus 0.5 s, so the conversion adds the half second back (the result is an
    integer second: sub-second times come from the `*_ts` extras)."""
    return (value - _JULIAN_UNIX_EPOCH) * 86400.0 + 0.5


def _epoch(text: object) -> float | None:
    if text in (None, ""):
        return None
    try:
        return float(str(text))
    except ValueError:
        return None


class KamailioSqliteCdr:
    def __init__(self, uri: str, log_path: Path | None = None) -> None:
        if not uri.startswith("sqlite://"):
            raise CdrError(uri, "expected a sqlite:// URI")
        self.uri = uri
        # Kamailio's convention: sqlite:///rel.db is relative, sqlite:////abs.db absolute
        self.path = Path(uri[len("sqlite:///"):])
        self.log_path = log_path

    def refused(self) -> AccLog:
        """The store's refused writes, as the switch's log has them (none without it)."""
        if self.log_path is None or not self.log_path.exists():
            return AccLog()
        return read_acc_log(self.log_path.read_text(encoding="utf-8", errors="replace"))

    def _from_log(self, row: _Row) -> _Row:
        return {**row, "_source": f"{self.log_path} (the acc module's log: the SQLite "
                                  "store refused the write)"}

    def _rows(self, where: str = "", args: tuple[str, ...] = (),
              table: str = "acc_cdrs") -> list[_Row]:
        if not self.path.exists():
            raise CdrError(str(self.path), "CDR database does not exist")
        try:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5.0)
        except sqlite3.Error as exc:
            raise CdrError(str(self.path), f"cannot open: {exc}") from exc
        try:
            con.row_factory = sqlite3.Row
            cur = con.execute(f"SELECT * FROM {table} {where} ORDER BY id", args)
            return [{k: r[k] for k in r.keys()} for r in cur]
        except sqlite3.Error as exc:
            if table != "acc_cdrs" and "no such table" in str(exc):
                return []  # a switch without per-transaction accounting
            raise CdrError(str(self.path), f"cannot read table {table}: {exc}") from exc
        finally:
            con.close()

    def by_call_id(self, call_id: str) -> list[CdrRecord]:
        rows = [self._record(r) for r in self._rows("WHERE callid = ?", (call_id,))]
        rows = rows or [self._rejected(r) for r in self._rows(
            "WHERE callid = ? AND method = 'INVITE'", (call_id,), "acc")]
        if rows:
            return rows
        refused = self.refused()
        if (cdr := refused.cdr(call_id)) is not None:
            return [self._record(self._from_log(cdr))]
        if (req := refused.request(call_id)) is not None:
            return [self._rejected(self._from_log(req))]
        return []

    def all(self) -> list[CdrRecord]:
        dialogs = [self._record(r) for r in self._rows()]
        refused = self.refused()
        known = {r.call_id for r in dialogs}
        dialogs += [self._record(self._from_log(c)) for c in refused.cdrs
                    if c["callid"] not in known]
        known = {r.call_id for r in dialogs}
        rejected = [self._rejected(r) for r in self._rows("WHERE method = 'INVITE'", (), "acc")
                    if r["callid"] not in known]
        known |= {r.call_id for r in rejected}
        rejected += [self._rejected(self._from_log(r)) for r in refused.requests
                     if r["callid"] not in known and r.get("method", "INVITE") == "INVITE"]
        return dialogs + rejected

    def _rejected(self, row: _Row) -> CdrRecord:
        """An attempt the switch rejected itself (no dialog): its `acc` row."""
        code = str(row.get("sip_code") or "")
        when = _epoch(row.get("time_attr"))
        if when is not None and row.get("time_exten") is not None:
            when += int(str(row.get("time_exten"))) / 1e6
        return CdrRecord(
            call_id=str(row.get("callid") or ""), caller=str(row.get("src_user") or ""),
            callee=str(row.get("dst_user") or ""), answer_wall=None, end_wall=None,
            start_wall=when, duration_s=0.0,
            disposition="busy" if code in ("486", "600") else "failed",
            sip_code=int(code) if code.isdigit() else None, source=_source(row, self.uri),
            raw=_raw(row), call_class=str(row.get("call_class") or ""),
            carrier=_carrier(row))

    def delete_call(self, call_id: str) -> int:
        """Remove a call's CDR rows (fault injection in tests: 'the switch lost it')."""
        con = sqlite3.connect(str(self.path), timeout=5.0)
        try:
            with con:
                cur = con.execute("DELETE FROM acc_cdrs WHERE callid = ?", (call_id,))
            return cur.rowcount
        finally:
            con.close()

    def _record(self, row: _Row) -> CdrRecord:
        start = _epoch(row.get("start_time"))
        if start is not None and start < 1e7:  # a Julian day, not epoch seconds
            start = julian_to_unix(start)
        duration = _epoch(row.get("duration"))
        code = str(row.get("sip_code") or "")
        # a failed dialog has start = end = the INVITE's whole second and duration 0:
        # no answer and no end; its time is the INVITE's (invite_ts, microseconds)
        answer = _epoch(row.get("answer_ts")) or (start if code.startswith("2") else None)
        end = _epoch(row.get("end_ts"))
        if end is None and answer is not None and duration is not None:
            end = answer + duration
        disposition = ("answered" if code.startswith("2") else
                       "cancelled" if code == "487" else
                       "busy" if code in ("486", "600") else
                       "no_answer" if code in ("408", "480") else
                       "failed" if code else "unknown")
        return CdrRecord(
            call_id=str(row.get("callid") or ""), caller=str(row.get("src_user") or ""),
            callee=str(row.get("dst_user") or ""), answer_wall=answer, end_wall=end,
            duration_s=duration, disposition=disposition,
            sip_code=int(code) if code.isdigit() else None, source=_source(row, self.uri),
            raw=_raw(row), call_class=str(row.get("call_class") or ""),
            carrier=_carrier(row), start_wall=_epoch(row.get("invite_ts")))


def _source(row: _Row, uri: str) -> str:
    return str(row.get("_source") or uri)


def _carrier(row: _Row) -> str | None:
    """The carrier column ('' for the line's own carrier); None: not recorded here."""
    return str(row.get("carrier") or "") if "carrier" in row else None


def _raw(row: _Row) -> tuple[tuple[str, str], ...]:
    return tuple((k, "" if v is None else str(v)) for k, v in row.items() if k != "_source")
