"""What every file-backed CDR source shares: its URI, reading rows, parsing fields.

A source reads the whole file on `all()` (re-read only when the file changed), keeps
the good rows and lists every bad one in `problems` as a `CdrError` naming the file,
the line and the field. A file that cannot be read at all raises `CdrError`.

URIs are file URIs with a query: `scheme:///abs/path?tz=UTC&encoding=utf-8`.
Parameters every file source accepts:

    tz=UTC          zone of timestamps written without one (IANA name, or `local`)
    encoding=utf-8  how the switch encodes the file (Asterisk writes bytes as given)
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from harness.errors import CdrError
from harness.model import CdrRecord

COMMON_PARAMS = frozenset({"tz", "encoding"})


class RowProblem(ValueError):
    """One field of one row is unusable. Caught inside `harness.cdr` and turned into
    a `CdrError` that names the file and line; it never reaches a caller."""

    def __init__(self, field: str | None, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")


@dataclass(frozen=True, slots=True)
class SourceUri:
    """`scheme:///path?k=v`, split and checked against the parameters a source knows."""

    uri: str
    scheme: str
    path: Path
    params: Mapping[str, str]

    @classmethod
    def parse(cls, uri: str, scheme: str, known: Iterable[str]) -> SourceUri:
        parts = urlsplit(uri)
        if parts.scheme != scheme:
            raise CdrError(uri, f"expected a {scheme}:// URI")
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise CdrError(uri, f"no file path (expected {scheme}:///abs/path)")
        allowed = COMMON_PARAMS | set(known)
        params: dict[str, str] = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key not in allowed:
                raise CdrError(uri, f"unknown parameter '{key}' (known: "
                                    f"{', '.join(sorted(allowed))})")
            params[key] = value
        return cls(uri, scheme, Path(path), params)

    def get(self, key: str, default: str) -> str:
        return self.params.get(key, default) or default

    def zone(self) -> dt.tzinfo | None:
        """The `tz` parameter (default UTC); None means the harness host's local zone."""
        name = self.get("tz", "UTC")
        if name == "local":
            return None
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CdrError(self.uri, f"unknown time zone tz={name!r}: {exc}") from exc

    def encoding(self) -> str:
        name = self.get("encoding", "utf-8")
        try:
            "".encode(name)
        except LookupError as exc:
            raise CdrError(self.uri, f"unknown encoding={name!r}") from exc
        return name


# ---- field parsers: raise RowProblem naming the field -------------------------------

def text_field(row: Mapping[str, str], name: str) -> str:
    value = row.get(name)
    if value is None:
        raise RowProblem(name, "missing")
    for pos, ch in enumerate(value):
        if "\udc80" <= ch <= "\udcff":
            raise RowProblem(name, f"byte 0x{ord(ch) - 0xdc00:02x} at character {pos + 1} "
                                   "is not valid in the file's encoding (set encoding= in "
                                   "the URI, e.g. encoding=latin-1)")
    return value.strip()


def required(row: Mapping[str, str], name: str) -> str:
    value = text_field(row, name)
    if not value:
        raise RowProblem(name, "empty")
    return value


def seconds(row: Mapping[str, str], name: str) -> float | None:
    """A duration in seconds (`13`, `13.341`); empty -> None."""
    value = text_field(row, name)
    if not value:
        return None
    try:
        out = float(value)
    except ValueError:
        raise RowProblem(name, f"{value!r} is not a number of seconds") from None
    if out < 0 or out != out:
        raise RowProblem(name, f"{value!r} is not a number of seconds >= 0")
    return out


def money(row: Mapping[str, str], name: str) -> Decimal | None:
    value = text_field(row, name)
    if not value:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise RowProblem(name, f"{value!r} is not an amount of money") from None


_TIME_FORMATS = {"iso": "an ISO 8601 time (YYYY-MM-DD HH:MM:SS[.fff][zone])",
                 "epoch": "a time in epoch seconds"}


def stamp(row: Mapping[str, str], name: str, tz: dt.tzinfo | None,
          time_format: str = "iso") -> float | None:
    """A timestamp -> epoch seconds; empty (or an epoch of 0) -> None.

    time_format: `epoch` (seconds, fractions allowed), `iso` (ISO 8601; also
    Asterisk's and FreeSWITCH's `YYYY-MM-DD HH:MM:SS`) or a strptime pattern. A time
    without a zone is read in `tz` (None = the host's local zone)."""
    value = text_field(row, name)
    if not value:
        return None
    try:
        if time_format == "epoch":
            epoch = float(value)
            return None if epoch == 0 else epoch
        when = (dt.datetime.fromisoformat(value) if time_format == "iso"
                else dt.datetime.strptime(value, time_format))
    except ValueError:
        want = _TIME_FORMATS.get(time_format, f"a time in the format {time_format!r}")
        raise RowProblem(name, f"{value!r} is not {want}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz) if tz is not None else when.astimezone()
    return when.timestamp()


# ---- reading -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int  # physical line the row starts on (1-based)
    fields: tuple[str, ...]
    error: str = ""  # the csv module could not split this row


def csv_rows(path: Path, encoding: str, delimiter: str = ",") -> Iterator[CsvRow]:
    """Every non-blank CSV row of a file, with its line number.

    Undecodable bytes survive as surrogates so that `check_decoded` can name the
    field that holds them."""
    try:
        handle = path.open(encoding=encoding, errors="surrogateescape", newline="")
    except OSError as exc:
        raise CdrError(str(path), f"cannot open: {exc.strerror or exc}") from exc
    with handle:
        reader = csv.reader(handle, delimiter=delimiter)
        start = 1
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield CsvRow(start, (), str(exc))
            else:
                if any(f.strip() for f in fields):
                    yield CsvRow(start, tuple(fields))
            start = reader.line_num + 1


def check_decoded(row: Mapping[str, str]) -> None:
    """Raise for the first field holding bytes the file's encoding could not decode."""
    for name in row:
        text_field(row, name)


def by_columns(fields: tuple[str, ...], columns: tuple[str, ...],
               optional_from: int) -> dict[str, str]:
    """Fields -> {column: value}. Columns from index `optional_from` on may be absent
    (Asterisk's uniqueid/userfield, enabled in cdr.conf); fewer or more is a bad row."""
    if len(fields) < optional_from:
        missing = columns[len(fields)]
        raise RowProblem(missing, f"missing: the row has {len(fields)} columns, "
                                  f"expected {optional_from} to {len(columns)}")
    if len(fields) > len(columns):
        raise RowProblem(f"column {len(columns) + 1}",
                         f"unexpected: the row has {len(fields)} columns, "
                         f"expected at most {len(columns)}")
    row = dict(zip(columns, fields, strict=False))
    check_decoded(row)
    return row


class FileCdrSource:
    """Base of the file sources: caching, `problems`, `by_call_id` over `all()`.

    Subclasses set `uri` and `path` and implement `_load()`."""

    uri: str
    path: Path

    def __init__(self) -> None:
        self.problems: list[CdrError] = []
        self._seen: object = None
        self._records: list[CdrRecord] = []

    def all(self) -> list[CdrRecord]:
        stamp_now = self._stamp()
        if stamp_now != self._seen:
            records, problems = self._load()
            self._records, self.problems, self._seen = records, problems, stamp_now
        return list(self._records)

    def by_call_id(self, call_id: str) -> list[CdrRecord]:
        return [r for r in self.all() if call_id and r.call_id == call_id]

    def _stamp(self) -> object:
        """What changes when the file does (size, mtime); raises if it is gone."""
        try:
            st = self.path.stat()
        except OSError as exc:
            raise CdrError(str(self.path), f"CDR file cannot be read: "
                                           f"{exc.strerror or exc}") from exc
        return (st.st_size, st.st_mtime_ns)

    def _load(self) -> tuple[list[CdrRecord], list[CdrError]]:
        raise NotImplementedError


def parse_rows(path: Path, rows: Iterable[CsvRow],
               parse: Callable[[tuple[str, ...]], CdrRecord]
               ) -> tuple[list[CdrRecord], list[CdrError]]:
    """Apply `parse` to every row; a RowProblem becomes a CdrError for file:line:field."""
    records: list[CdrRecord] = []
    problems: list[CdrError] = []
    for row in rows:
        if row.error:
            problems.append(CdrError(str(path), f"unreadable row: {row.error}", line=row.line))
            continue
        try:
            records.append(parse(row.fields))
        except RowProblem as p:
            problems.append(CdrError(str(path), p.problem, line=row.line, field=p.field))
    return records, problems
