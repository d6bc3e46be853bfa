"""Kamailio `acc` records in its log, for the writes its SQLite store refused.

The embedded switch's `acc` module writes each record to two backends, the log first
and then the database, in the same process one after the other (acc_cdr.c: a dialog
CDR, `log_write_cdr()` then `db_write_cdr()`; the template logs each rejected attempt
with `acc_log_request()` just before its `acc_db_request()`). Kamailio 5.6's db_sqlite
has no busy timeout: a write that meets another writer's lock fails at once
("database is locked"), and the record is then only in the log.

`read_acc_log` pairs each refused write with the record that process logged just
before it: that record is recovered (the same fields the database would hold, named
as its columns are). A refusal that no logged record of its kind and process
precedes is `lost`: its record is in neither backend. A store error that no refused
write follows is not an accounting record's (the same module serves the lines'
credentials).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# " 1(15271) NOTICE: acc [acc_cdr.c:395]: log_write_cdr(): start_time=...; callid=..."
_LINE = re.compile(r"^\s*\d+\((?P<pid>\d+)\)\s+(?P<level>[A-Z]+):\s+(?P<module>\S+)\s+"
                   r"\[[^\]]*\]:\s+(?P<func>\w+)\(\):\s?(?P<text>.*)$")
# the database write failed (the record logged just before it is its record)
_REFUSED = {("acc", "db_write_cdr"): "cdr", ("acc", "acc_db_request"): "request"}
# the request log's core fields, named as the acc table's columns
_REQUEST_COLUMNS = {"call_id": "callid", "code": "sip_code", "reason": "sip_reason",
                    "timestamp": "time_attr"}


@dataclass(frozen=True, slots=True)
class AccLog:
    """What the log says about the store's refused writes."""

    cdrs: tuple[dict[str, str], ...] = ()  # dialog CDRs (acc_cdrs columns)
    requests: tuple[dict[str, str], ...] = ()  # rejected attempts (acc columns)
    lost: tuple[str, ...] = ()  # refusals with no logged record: the log lines
    refusals: int = 0  # refused writes in all

    def cdr(self, call_id: str) -> dict[str, str] | None:
        return next((c for c in self.cdrs if c.get("callid") == call_id), None)

    def request(self, call_id: str) -> dict[str, str] | None:
        return next((r for r in self.requests if r.get("callid") == call_id), None)


@dataclass(slots=True)
class _Process:
    logged: tuple[str, dict[str, str]] | None = None  # (kind, fields) last logged
    errors: list[str] = field(default_factory=list)  # the store's errors since


def cdr_fields(text: str) -> dict[str, str]:
    """`log_write_cdr()`'s text: `name=value` pairs separated by '; '."""
    return dict(p.split("=", 1) for p in text.split("; ") if "=" in p)


def request_fields(text: str) -> dict[str, str]:
    """`acc_log_request()`'s text: its comment, then `timestamp=...;method=...;
    call_id=...;code=...;reason=...` and the extras, separated by ';'."""
    at = text.find("timestamp=")
    if at < 0:
        return {}
    pairs = dict(p.split("=", 1) for p in text[at:].rstrip().split(";") if "=" in p)
    return {_REQUEST_COLUMNS.get(k, k): v for k, v in pairs.items()}


def read_acc_log(text: str) -> AccLog:
    procs: dict[str, _Process] = {}
    cdrs: list[dict[str, str]] = []
    requests: list[dict[str, str]] = []
    lost: list[str] = []
    refusals = 0
    for line in text.splitlines():
        m = _LINE.match(line)
        if m is None:
            continue
        proc = procs.setdefault(m["pid"], _Process())
        func, module = m["func"], m["module"]
        if module == "acc" and func in ("log_write_cdr", "acc_log_request"):
            fields = cdr_fields(m["text"]) if func == "log_write_cdr" \
                else request_fields(m["text"])
            proc.logged = ("cdr" if func == "log_write_cdr" else "request", fields)
            proc.errors = []
        elif module == "db_sqlite" and m["level"] == "ERROR":
            proc.errors.append(line.strip())  # why the write that follows failed
        elif (kind := _REFUSED.get((module, func))) is not None and m["level"] == "ERROR":
            refusals += 1
            if proc.logged is not None and proc.logged[0] == kind and \
                    proc.logged[1].get("callid"):
                (cdrs if kind == "cdr" else requests).append(proc.logged[1])
            else:
                lost.append(" / ".join([*proc.errors[-1:], line.strip()]))
            proc.logged, proc.errors = None, []
    return AccLog(tuple(cdrs), tuple(requests), tuple(lost), refusals)
