"""Any CSV with a header row: a billing system's export, a rated CDR file.

    csv:///srv/billing/cdr.csv?call_id=CallID&caller=From&callee=To
        &answer=AnswerTime&end=EndTime&duration=Billsec&disposition=Status
        &time_format=iso

The query maps CdrRecord fields to the file's column names:

    caller, callee     required: the numbers (any notation; digits are kept)
    answer or start    at least one: answer time, set-up time
    end                required: end (hang-up) time
    call_id            SIP Call-ID (without it calls are matched on numbers and time)
    duration           talk time in seconds (default: end - answer)
    billed             billable seconds after the rating increment
    charge             rated charge (a decimal amount)
    call_class         the class the call was rated in
    carrier            the interexchange carrier's CIC the call was billed to (dial-around)
    disposition        status word, hangup cause or SIP code (default: answered
                       when there is an answer time, else failed)
    sip_code           final SIP response code

and the format: `time_format=epoch|iso|<strptime pattern>` (default iso: ISO 8601,
`2026-11-26 10:12:43.185` or with a zone; `%` in a pattern is written `%25`),
`delimiter=;` (or `tab`), `tz=`, `encoding=`.
"""

from __future__ import annotations

from harness.cdr.files import (
    FileCdrSource,
    RowProblem,
    SourceUri,
    check_decoded,
    csv_rows,
    money,
    parse_rows,
    required,
    seconds,
    stamp,
    text_field,
)
from harness.cdr.normalise import ANSWERED, FAILED, UNKNOWN, digits, disposition
from harness.errors import CdrError
from harness.model import CdrRecord

FIELDS = ("call_id", "caller", "callee", "start", "answer", "end", "duration", "billed",
          "charge", "call_class", "carrier", "disposition", "sip_code")
_FORMAT = ("time_format", "delimiter")


class GenericCsvCdr(FileCdrSource):
    def __init__(self, uri: str) -> None:
        super().__init__()
        src = SourceUri.parse(uri, "csv", FIELDS + _FORMAT)
        self.uri, self.path = uri, src.path
        self._tz, self._encoding = src.zone(), src.encoding()
        self.columns = {f: src.params[f] for f in FIELDS if src.params.get(f)}
        absent = [f for f in ("caller", "callee", "end") if f not in self.columns]
        if absent or not ({"answer", "start"} & self.columns.keys()):
            need = absent + ([] if {"answer", "start"} & self.columns.keys()
                             else ["answer or start"])
            raise CdrError(uri, f"the URI maps no column for {', '.join(need)} "
                                "(e.g. ?caller=From&callee=To&answer=AnswerTime&end=EndTime)")
        self._time_format = src.get("time_format", "iso")
        delimiter = src.get("delimiter", ",")
        self._delimiter = "\t" if delimiter == "tab" else delimiter
        if len(self._delimiter) != 1:
            raise CdrError(uri, f"delimiter={delimiter!r}: expected one character or 'tab'")
        self._header: tuple[str, ...] = ()

    def _load(self) -> tuple[list[CdrRecord], list[CdrError]]:
        rows = csv_rows(self.path, self._encoding, self._delimiter)
        first = next(rows, None)
        if first is None or first.error:
            raise CdrError(str(self.path), "no header row" if first is None
                           else f"unreadable header: {first.error}", line=1)
        self._header = tuple(h.strip().lstrip("\ufeff") for h in first.fields)
        for name, column in self.columns.items():
            if column not in self._header:
                raise CdrError(str(self.path), f"column {column!r} (mapped to {name}) is not "
                               f"in the header ({', '.join(self._header)})",
                               line=first.line, field=column)
        return parse_rows(self.path, rows, self._record)

    def _record(self, fields: tuple[str, ...]) -> CdrRecord:
        if len(fields) != len(self._header):
            short = len(fields) < len(self._header)
            raise RowProblem(self._header[len(fields)] if short else f"column {len(fields)}",
                             f"{'missing' if short else 'unexpected'}: the row has "
                             f"{len(fields)} columns, the header {len(self._header)}")
        row = dict(zip(self._header, fields, strict=True))
        check_decoded(row)
        col = self.columns
        times = {k: stamp(row, col[k], self._tz, self._time_format) if k in col else None
                 for k in ("start", "answer", "end")}
        if times["end"] is None:
            raise RowProblem(col["end"], "empty")
        duration = seconds(row, col["duration"]) if "duration" in col else None
        if duration is None and times["answer"] is not None:
            duration = times["end"] - times["answer"]
        code_text = text_field(row, col["sip_code"]) if "sip_code" in col else ""
        if code_text and not code_text.isdigit():
            raise RowProblem(col["sip_code"], f"{code_text!r} is not a SIP response code")
        return CdrRecord(
            call_id=text_field(row, col["call_id"]) if "call_id" in col else "",
            caller=digits(required(row, col["caller"])),
            callee=digits(required(row, col["callee"])),
            answer_wall=times["answer"], end_wall=times["end"], duration_s=duration,
            disposition=self._disposition(row, times["answer"] is not None),
            sip_code=int(code_text) if code_text else None, source=self.uri,
            raw=tuple(row.items()),
            call_class=text_field(row, col["call_class"]) if "call_class" in col else "",
            carrier=text_field(row, col["carrier"]) if "carrier" in col else None,
            start_wall=times["start"],
            billed_s=seconds(row, col["billed"]) if "billed" in col else None,
            charge=money(row, col["charge"]) if "charge" in col else None)

    def _disposition(self, row: dict[str, str], answered: bool) -> str:
        column = self.columns.get("disposition")
        if column is None:
            return ANSWERED if answered else FAILED
        word = required(row, column)
        found = disposition(word, answered)
        if found == UNKNOWN:
            raise RowProblem(column, f"unknown disposition {word!r} (expected a status such "
                                     "as ANSWERED, BUSY, NO ANSWER, FAILED, CANCELLED, a "
                                     "hangup cause or a SIP code)")
        return found
