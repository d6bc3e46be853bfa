"""FreeSWITCH `mod_cdr_csv` records: /var/log/freeswitch/cdr-csv/Master.csv.

    freeswitch-csv:///var/log/freeswitch/cdr-csv/Master.csv?tz=UTC

No header; the columns are the channel variables of the template in cdr_csv.conf.xml.
The shipped `default-template` is "example":

    "${caller_id_name}","${caller_id_number}","${destination_number}","${context}",
    "${start_stamp}","${answer_stamp}","${end_stamp}","${duration}","${billsec}",
    "${hangup_cause}","${uuid}","${bleg_uuid}","${accountcode}","${read_codec}",
    "${write_codec}"

Another template is described with `columns=` (its variable names in order, comma
separated); it must hold caller_id_number, destination_number, start_stamp,
answer_stamp, end_stamp, billsec and hangup_cause. `legs=a` (the default) logs only
the caller's leg, one row per call. `*_stamp` are local time `YYYY-MM-DD HH:MM:SS`
(say the switch's zone with `tz=`); `answer_stamp` is empty when the leg was not
answered. The disposition comes from the answer stamp and the Q.850 hangup cause
(NORMAL_CLEARING, USER_BUSY, NO_ANSWER, ORIGINATOR_CANCEL...).

The "example" template has no SIP Call-ID: add `"${sip_call_id}"` to the template
and to `columns=` to match calls by Call-ID; `call_class=<column>` names a column
holding the call class (e.g. `accountcode`), `carrier=<column>` one holding the carrier
(CIC) a call was billed to.
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
from harness.cdr.normalise import digits, disposition_from_cause
from harness.errors import CdrError
from harness.model import CdrRecord

EXAMPLE_TEMPLATE = ("caller_id_name", "caller_id_number", "destination_number", "context",
                    "start_stamp", "answer_stamp", "end_stamp", "duration", "billsec",
                    "hangup_cause", "uuid", "bleg_uuid", "accountcode", "read_codec",
                    "write_codec")
NEEDED = ("caller_id_number", "destination_number", "start_stamp", "answer_stamp",
          "end_stamp", "billsec", "hangup_cause")


class FreeswitchCsvCdr(FileCdrSource):
    def __init__(self, uri: str) -> None:
        super().__init__()
        src = SourceUri.parse(uri, "freeswitch-csv", ("columns", "call_class", "carrier"))
        self.uri, self.path = uri, src.path
        self._tz, self._encoding = src.zone(), src.encoding()
        given = src.get("columns", "")
        self.columns = (tuple(c.strip() for c in given.split(",")) if given
                        else EXAMPLE_TEMPLATE)
        self._class_col = src.get("call_class", "")
        self._carrier_col = src.get("carrier", "")
        absent = [c for c in (*NEEDED, self._class_col, self._carrier_col)
                  if c and c not in self.columns]
        if absent:
            raise CdrError(uri, f"columns= lacks {', '.join(absent)} (has "
                                f"{', '.join(self.columns)})")

    def _load(self) -> tuple[list[CdrRecord], list[CdrError]]:
        return parse_rows(self.path, csv_rows(self.path, self._encoding), self._record)

    def _record(self, fields: tuple[str, ...]) -> CdrRecord:
        row = by_columns(fields, self.columns, len(self.columns))
        answer = stamp(row, "answer_stamp", self._tz)
        start, end = stamp(row, "start_stamp", self._tz), stamp(row, "end_stamp", self._tz)
        if start is None or end is None:
            raise RowProblem("start_stamp" if start is None else "end_stamp", "empty")
        billsec = seconds(row, "billsec")
        if billsec is None:
            raise RowProblem("billsec", "empty")
        cause = required(row, "hangup_cause")
        return CdrRecord(
            call_id=text_field(row, "sip_call_id") if "sip_call_id" in row else "",
            caller=digits(required(row, "caller_id_number")),
            callee=digits(required(row, "destination_number")),
            answer_wall=answer, end_wall=end, duration_s=billsec,
            disposition=disposition_from_cause(cause, answered=answer is not None),
            source=self.uri, raw=tuple(row.items()),
            call_class=text_field(row, self._class_col) if self._class_col else "",
            carrier=text_field(row, self._carrier_col) if self._carrier_col else None,
            start_wall=start)
