"""Asterisk `cdr_csv` records: /var/log/asterisk/cdr-csv/Master.csv.

    asterisk-csv:///var/log/asterisk/cdr-csv/Master.csv?tz=UTC

cdr_csv writes no header; its column order is fixed (cdr_csv.c, build_csv_record):

    accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata,
    start, answer, end, duration, billsec, disposition, amaflags[, uniqueid][, userfield]

`uniqueid` and `userfield` appear when cdr.conf [csv] sets `loguniqueid=yes` and
`loguserfield=yes`. Times are `YYYY-MM-DD HH:MM:SS`, whole seconds, in the switch's
local zone unless `usegmtime=yes`: say which with `tz=`. `answer` is empty for a call
that was not answered. `duration` is start->end and `billsec` answer->end, whole
seconds (truncated unless `initiatedseconds=yes`); `billsec` becomes `duration_s`.

Master.csv carries no SIP Call-ID, so calls are matched on numbers and time. A
dialplan that stores it (`Set(CDR(userfield)=${CHANNEL(pjsip,call-id)})`) can say so
with `call_id=userfield`; a column holding the call class with `call_class=accountcode`,
one holding the carrier (CIC) a call was billed to with `carrier=<column>`.
A cancelled call is written `NO ANSWER`: Asterisk cannot tell it from a timeout.
"""

from __future__ import annotations

from harness.cdr.files import (
    FileCdrSource,
    RowProblem,
    SourceUri,
    by_columns,
    csv_rows,
    parse_rows,
    required,
    seconds,
    stamp,
    text_field,
)
from harness.cdr.normalise import ANSWERED, UNKNOWN, digits, disposition
from harness.errors import CdrError
from harness.model import CdrRecord

COLUMNS = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel",
           "lastapp", "lastdata", "start", "answer", "end", "duration", "billsec",
           "disposition", "amaflags", "uniqueid", "userfield")
_ALWAYS = 16  # uniqueid and userfield are optional (cdr.conf)


class AsteriskCsvCdr(FileCdrSource):
    def __init__(self, uri: str) -> None:
        super().__init__()
        src = SourceUri.parse(uri, "asterisk-csv", ("call_id", "call_class", "carrier"))
        self.uri, self.path = uri, src.path
        self._tz, self._encoding = src.zone(), src.encoding()
        self._call_id_col = src.get("call_id", "")
        self._class_col = src.get("call_class", "")
        self._carrier_col = src.get("carrier", "")
        for key, col in (("call_id", self._call_id_col), ("call_class", self._class_col),
                         ("carrier", self._carrier_col)):
            if col and col not in COLUMNS:
                raise CdrError(uri, f"{key}={col!r} is not a Master.csv column "
                                    f"({', '.join(COLUMNS)})")

    def _load(self) -> tuple[list[CdrRecord], list[CdrError]]:
        return parse_rows(self.path, csv_rows(self.path, self._encoding), self._record)

    def _record(self, fields: tuple[str, ...]) -> CdrRecord:
        row = by_columns(fields, COLUMNS, _ALWAYS)
        word = required(row, "disposition")
        found = disposition(word)
        if found == UNKNOWN:
            raise RowProblem("disposition", f"unknown Asterisk disposition {word!r} "
                                            "(ANSWERED, BUSY, NO ANSWER, FAILED, CONGESTION)")
        answer = stamp(row, "answer", self._tz)
        if found == ANSWERED and answer is None:
            raise RowProblem("answer", "empty, but the disposition is ANSWERED")
        billsec = seconds(row, "billsec")
        if billsec is None:
            raise RowProblem("billsec", "empty")
        start, end = stamp(row, "start", self._tz), stamp(row, "end", self._tz)
        if start is None or end is None:
            raise RowProblem("start" if start is None else "end", "empty")
        caller = digits(text_field(row, "src") or text_field(row, "clid"))
        if not caller:
            raise RowProblem("src", "empty (and no number in clid)")
        return CdrRecord(
            call_id=text_field(row, self._call_id_col) if self._call_id_col else "",
            caller=caller, callee=digits(required(row, "dst")),
            answer_wall=answer, end_wall=end,
            duration_s=billsec, disposition=found, source=self.uri,
            raw=tuple(row.items()),
            call_class=text_field(row, self._class_col) if self._class_col else "",
            carrier=text_field(row, self._carrier_col) if self._carrier_col else None,
            start_wall=start)
