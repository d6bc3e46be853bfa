"""SIP message text (RFC 3261 §7, §25): the one parser of the harness.

Every place that reads SIP off a socket or out of a capture (the agents, the wire
capture, the registrar, the switch's OPTIONS probe, the security probes and the
torture replay) reads it here, so that all of them know the same compact forms,
unfold the same way and find the body at the same empty line.

* start line: a Request-Line ('METHOD Request-URI SIP/2.0') or a Status-Line
  ('SIP/2.0 200 OK'), one SP between the parts (§7.1, §7.2);
* header fields: names case-insensitive and compact forms expanded (§7.3.3 and the
  IANA Header Fields registry, `COMPACT`), a line that starts with SP or HT continues
  the field above it (folding, §7.3.1), repeated fields and, for the fields whose
  grammar is a comma-separated list (`LIST_HEADERS`), each list element are values in
  the order they came;
* the body: everything after the first empty line (§7.4), blank lines inside kept;
* CRLF or a bare LF ends a line.

`parse` raises `SipTextError` naming what is wrong; `parse_lenient` never raises
(an unrecognised start line gives a message that is neither request nor response,
and lines that are not header fields are skipped), for callers that must take what
the network sends as it comes. No pjsua2, no I/O: plain string handling.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from harness.errors import HarnessError

# Compact form -> full name (lower case): RFC 3261 §7.3.3 and the IANA SIP "Header
# Fields" registry's compact forms.
COMPACT: Final[Mapping[str, str]] = MappingProxyType({
    "i": "call-id",              # RFC 3261
    "m": "contact",              # RFC 3261
    "e": "content-encoding",     # RFC 3261
    "l": "content-length",       # RFC 3261
    "c": "content-type",         # RFC 3261
    "f": "from",                 # RFC 3261
    "s": "subject",              # RFC 3261
    "k": "supported",            # RFC 3261
    "t": "to",                   # RFC 3261
    "v": "via",                  # RFC 3261
    "a": "accept-contact",       # RFC 3841
    "b": "referred-by",          # RFC 3892
    "d": "request-disposition",  # RFC 3841
    "j": "reject-contact",       # RFC 3841
    "o": "event",                # RFC 6665 (was RFC 3265)
    "r": "refer-to",             # RFC 3515
    "u": "allow-events",         # RFC 6665 (was RFC 3265)
    "x": "session-expires",      # RFC 4028
    "y": "identity",             # RFC 8224 (was RFC 4474)
    "n": "identity-info",        # RFC 4474; deprecated by RFC 8224, still read
})

# Header fields whose grammar is a comma-separated list (`1#element` / `#element`):
# RFC 3261 §20/§25 and the extensions above, plus Reason (RFC 3326),
# P-Asserted-Identity (RFC 3325), Path (RFC 3327) and Service-Route (RFC 3608).
# Other fields (the Date, the digest challenges and credentials, ...) hold commas
# that do not separate values.
LIST_HEADERS: Final = frozenset({
    "accept", "accept-contact", "accept-encoding", "accept-language", "alert-info",
    "allow", "allow-events", "call-info", "contact", "content-encoding",
    "content-language", "error-info", "in-reply-to", "p-asserted-identity", "path",
    "proxy-require", "reason", "record-route", "reject-contact", "request-disposition",
    "require", "route", "service-route", "supported", "unsupported", "via", "warning",
})

_LINE_BREAK = re.compile(r"\r?\n")
_EMPTY_LINE = re.compile(r"\r?\n\r?\n")
_TOKEN = r"[A-Za-z0-9.!%*_+`'~\-]+"  # RFC 3261 §25.1 token
_REQUEST_LINE = re.compile(rf"(?P<method>{_TOKEN}) (?P<uri>\S+) (?P<version>SIP/[0-9]+\.[0-9]+)")
_STATUS_LINE = re.compile(r"(?P<version>SIP/2\.0) (?P<code>[0-9]{3})(?: (?P<reason>.*))?")


class SipTextError(HarnessError):
    """SIP message text that is not a SIP message (names the part that is wrong)."""


def canonical_name(name: str) -> str:
    """A header field name as this module keys it: lower case, compact form expanded."""
    key = name.strip().lower()
    return COMPACT.get(key, key)


def split_message(text: str) -> tuple[str, str | None]:
    """(header section, body) of `text`: split at the first empty line; the body is
    None when there is no empty line (a truncated message), the whole text then the
    header section."""
    m = _EMPTY_LINE.search(text)
    return (text, None) if m is None else (text[:m.start()], text[m.end():])


def start_line(text: str) -> str:
    """The first line of `text` (up to its CRLF or LF)."""
    return _LINE_BREAK.split(text, maxsplit=1)[0]


def status_code(text: str) -> int | None:
    """The status code of `text`'s start line if that is a Status-Line, else None."""
    m = _STATUS_LINE.fullmatch(start_line(text))
    return int(m["code"]) if m else None


@dataclass(frozen=True, slots=True)
class FieldSpan:
    """Where one header field stands in a header section, folded lines included."""

    name: str  # canonical_name of what precedes the colon; "" for a line without one
    start: int  # offset of the field's first line
    stop: int  # end of its last line (the line break excluded)
    colon: int  # offset of the colon, -1 for a line without one


def field_spans(head: str) -> tuple[FieldSpan, ...]:
    """Every header field of a header section (`split_message`'s first part), after
    its start line, in order. A line that starts with SP or HT continues the field
    above it; one with no field above it stands as a field of its own."""
    breaks = list(_LINE_BREAK.finditer(head))
    spans: list[FieldSpan] = []
    for i, brk in enumerate(breaks):
        start = brk.end()
        stop = breaks[i + 1].start() if i + 1 < len(breaks) else len(head)
        if start == stop:  # the line break that ends a message cut short of its body
            continue
        if head[start:start + 1] in (" ", "\t") and spans:
            last = spans[-1]
            spans[-1] = FieldSpan(last.name, last.start, stop, last.colon)
            continue
        colon = head.find(":", start, stop)
        name = canonical_name(head[start:colon]) if colon >= 0 else ""
        spans.append(FieldSpan(name, start, stop, colon))
    return tuple(spans)


def split_list(value: str) -> tuple[str, ...]:
    """The elements of a comma-separated header value; commas inside a quoted string
    or between < and > do not separate."""
    parts: list[str] = []
    depth, quoted, escaped, start = 0, False, False, 0
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif quoted:
            escaped, quoted = ch == "\\", ch != '"'
        elif ch == '"':
            quoted = True
        elif ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return tuple(p.strip() for p in parts if p.strip())


@dataclass(frozen=True, slots=True)
class SipText:
    """One SIP message as parsed by `parse` / `parse_lenient`."""

    start_line: str
    fields: tuple[tuple[str, str], ...]  # (canonical name, unfolded value), in order
    body: str = ""
    terminated: bool = True  # the header section ended with an empty line
    method: str = ""  # a request's method, "" for anything else
    uri: str = ""  # a request's Request-URI
    version: str = ""  # the SIP-Version ("SIP/2.0"); "" when the start line is neither kind
    status: int | None = None  # a response's status code
    reason: str = ""  # a response's reason phrase

    @property
    def is_request(self) -> bool:
        return bool(self.method)

    @property
    def is_response(self) -> bool:
        return self.status is not None

    def headers(self, name: str) -> tuple[str, ...]:
        """Every value of header `name` (any case, compact or full), in order: each
        field's, and each element of a list field (`LIST_HEADERS`)."""
        key = canonical_name(name)
        values = [v for n, v in self.fields if n == key]
        if key in LIST_HEADERS:
            return tuple(e for v in values for e in split_list(v))
        return tuple(values)

    def header(self, name: str) -> str:
        """The first value of header `name` (the topmost Via, ...), "" without one."""
        values = self.headers(name)
        return values[0] if values else ""

    def field(self, name: str) -> str:
        """The whole value of the first `name` field (a list field unsplit), "" without."""
        key = canonical_name(name)
        return next((v for n, v in self.fields if n == key), "")

    def field_map(self) -> dict[str, str]:
        """Canonical name -> the whole value of its first field, in order of first
        appearance."""
        out: dict[str, str] = {}
        for name, value in self.fields:
            out.setdefault(name, value)
        return out

    @property
    def call_id(self) -> str:
        return self.header("call-id")

    @property
    def cseq(self) -> tuple[int, str]:
        """(sequence number, method) of the CSeq; 0 / "" for what is absent or no number."""
        parts = self.header("cseq").split()
        try:
            number = int(parts[0]) if parts else 0
        except ValueError:
            number = 0
        return number, parts[1] if len(parts) > 1 else ""


def parse(data: str | bytes) -> SipText:
    """`data` (bytes are read as UTF-8) as a SIP message; SipTextError names the first
    thing that makes it none: no start line, a start line that is neither a
    Request-Line nor a Status-Line, a header line without a name and colon, or a
    continuation line with no field above it."""
    return _parse(data, strict=True)


def parse_lenient(data: str | bytes) -> SipText:
    """`data` as a SIP message, taking what can be read: never raises. A start line
    that is neither kind leaves method, version and status empty; lines that are not
    header fields are skipped."""
    return _parse(data, strict=False)


def _parse(data: str | bytes, strict: bool) -> SipText:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    head, body = split_message(text)
    first = start_line(head)
    if strict and not first.strip():
        raise SipTextError("SIP message has no start line (empty first line)")
    request, response = _REQUEST_LINE.fullmatch(first), _STATUS_LINE.fullmatch(first)
    if strict and request is None and response is None:
        raise SipTextError(f"SIP start line {first[:80]!r} is neither a Request-Line "
                           "('METHOD Request-URI SIP/2.0') nor a Status-Line "
                           "('SIP/2.0 <3-digit code> <reason>')")
    fields = []
    for span in field_spans(head):
        raw = head[span.start:span.stop]
        if strict and raw[:1] in (" ", "\t"):
            raise SipTextError(f"SIP header line {raw[:80]!r} continues no header field")
        if not span.name:
            if strict:
                raise SipTextError(f"SIP header line {raw[:80]!r} has no 'name:'")
            continue
        lines = _LINE_BREAK.split(head[span.colon + 1:span.stop])
        fields.append((span.name, " ".join(ln.strip() for ln in lines if ln.strip())))
    if response is not None:
        return SipText(first, tuple(fields), body or "", body is not None,
                       version=response["version"], status=int(response["code"]),
                       reason=response["reason"] or "")
    if request is not None:
        return SipText(first, tuple(fields), body or "", body is not None,
                       method=request["method"], uri=request["uri"],
                       version=request["version"])
    return SipText(first, tuple(fields), body or "", body is not None)
