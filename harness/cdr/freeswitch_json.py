"""FreeSWITCH `mod_json_cdr` records: one JSON document per call leg.

    freeswitch-json:///var/log/freeswitch/json_cdr            (a directory)
    freeswitch-json:///var/log/freeswitch/json_cdr/a_<uuid>.cdr.json
    freeswitch-json:///srv/cdr/collected.jsonl               (one document per line)

In a directory every `*.json` file is read (mod_json_cdr names them
`a_<uuid>.cdr.json` for the caller's leg with `prefix-a-leg`, `<uuid>.cdr.json`
otherwise). A file holds one document, or one per line (`.jsonl`, or documents that
follow each other). A document has `channel_data`, `variables` and `callflow` (a list
of profiles in FreeSWITCH 1.10, an object before). With `encode-values` (the
default) every variable is URL-encoded; values are decoded here.

Read from `variables`: `sip_call_id`, `start_uepoch` / `answer_uepoch` /
`end_uepoch` (microseconds; `*_epoch` seconds as fallback; 0 = never), `billmsec`
(or `billsec`), `hangup_cause`, `sip_term_status` and the call class from the variable
named by `call_class=` (default `call_class`), the carrier (CIC) the call was billed
to from the variable named by `carrier=` (default `carrier`; absent: not recorded).
The numbers come from the variables
`caller_id_number` / `destination_number` when set, else from the first callflow
profile's `caller_profile`, else from `sip_from_user` / `sip_req_user`.

A leg whose caller profile has an `originator` is a B-leg (the switch's call to the
callee); `legs=a` (the default) skips those, `legs=all` keeps them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from harness.cdr.files import FileCdrSource, RowProblem, SourceUri, check_decoded
from harness.cdr.normalise import digits, disposition_from_cause
from harness.errors import CdrError
from harness.model import CdrRecord

_SUFFIXES = (".json", ".jsonl", ".ndjson")


class FreeswitchJsonCdr(FileCdrSource):
    def __init__(self, uri: str) -> None:
        super().__init__()
        src = SourceUri.parse(uri, "freeswitch-json", ("legs", "call_class", "carrier"))
        self.uri, self.path = uri, src.path
        self._encoding = src.encoding()
        self._class_var = src.get("call_class", "call_class")
        self._carrier_var = src.get("carrier", "carrier")
        self._legs = src.get("legs", "a")
        if self._legs not in ("a", "all"):
            raise CdrError(uri, f"legs={self._legs!r}: expected 'a' or 'all'")

    def _files(self) -> list[Path]:
        if self.path.is_dir():
            return sorted(p for p in self.path.iterdir() if p.suffix in _SUFFIXES)
        return [self.path]

    def _stamp(self) -> object:
        super()._stamp()  # raises a clear error when the path itself is gone
        seen = []
        for path in self._files():
            try:  # the switch may rotate a file away between listing and stat
                st = path.stat()
            except OSError:
                continue
            seen.append((path.name, st.st_size, st.st_mtime_ns))
        return tuple(seen)

    def _load(self) -> tuple[list[CdrRecord], list[CdrError]]:
        records: list[CdrRecord] = []
        problems: list[CdrError] = []
        for path in self._files():
            for line, doc in _documents(path, self._encoding, problems):
                try:
                    record = self._record(doc)
                except RowProblem as p:
                    problems.append(CdrError(str(path), p.problem, line=line, field=p.field))
                    continue
                if record is not None:
                    records.append(record)
        return records, problems

    def _record(self, doc: object) -> CdrRecord | None:
        if not isinstance(doc, dict) or not isinstance(doc.get("variables"), dict):
            raise RowProblem("variables", "missing: not a mod_json_cdr document")
        profile = _caller_profile(doc)
        if self._legs == "a" and "originator" in profile:
            return None
        var = {str(k): unquote(str(v), errors="surrogateescape")
               for k, v in doc["variables"].items()}
        check_decoded({f"variables.{k}": v for k, v in var.items()})
        answer = _epoch(var, "answer")
        start, end = _epoch(var, "start"), _epoch(var, "end")
        if start is None or end is None:
            raise RowProblem(f"variables.{'start' if start is None else 'end'}_uepoch",
                             "missing or 0")
        cause = var.get("hangup_cause", "")
        if not cause:
            raise RowProblem("variables.hangup_cause", "missing")
        code = var.get("sip_term_status", "")
        return CdrRecord(
            call_id=var.get("sip_call_id", ""),
            caller=_number(var, profile, "caller_id_number", "sip_from_user"),
            callee=_number(var, profile, "destination_number", "sip_req_user"),
            answer_wall=answer, end_wall=end, duration_s=_billsec(var),
            disposition=disposition_from_cause(cause, answered=answer is not None),
            sip_code=int(code) if code.isdigit() else None, source=self.uri,
            raw=tuple(sorted(var.items())), call_class=var.get(self._class_var, ""),
            carrier=var.get(self._carrier_var), start_wall=start)


def _documents(path: Path, encoding: str,
               problems: list[CdrError]) -> Iterator[tuple[int | None, object]]:
    """(line, document) for each JSON document of a file; bad ones go to `problems`."""
    try:  # undecodable bytes survive as surrogates: check_decoded names their variable
        text = path.read_bytes().decode(encoding, errors="surrogateescape")
    except OSError as exc:  # one file of a directory: the others still count
        problems.append(CdrError(str(path), f"cannot read: {exc.strerror or exc}"))
        return
    try:
        yield None, json.loads(text)
        return
    except json.JSONDecodeError as exc:
        if not (path.suffix in (".jsonl", ".ndjson") or exc.msg == "Extra data"):
            problems.append(CdrError(str(path), f"not JSON: {exc.msg} (column {exc.colno})",
                                     line=exc.lineno))
            return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(CdrError(str(path), f"not JSON: {exc.msg} (column {exc.colno})",
                                     line=number))


def _caller_profile(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The caller profile of the first callflow entry (the number as first dialled)."""
    flow = doc.get("callflow")
    entries = flow if isinstance(flow, list) else [flow] if isinstance(flow, dict) else []
    entries = [e for e in entries if isinstance(e, dict)]
    if not entries:
        return {}
    first = min(entries, key=_profile_index)
    profile = first.get("caller_profile")
    return profile if isinstance(profile, dict) else {}


def _profile_index(entry: Mapping[str, Any]) -> int:
    index = str(entry.get("profile_index", "")).strip()
    return int(index) if index.isdigit() else 0


def _number(var: Mapping[str, str], profile: Mapping[str, Any], name: str,
            sip_var: str) -> str:
    value = var.get(name) or unquote(str(profile.get(name) or "")) or var.get(sip_var, "")
    if not value:
        raise RowProblem(f"variables.{name}", f"missing (also in callflow and {sip_var})")
    return digits(value)


def _epoch(var: Mapping[str, str], which: str) -> float | None:
    """`<which>_uepoch` (µs) or `<which>_epoch` (s) -> epoch seconds; 0 -> None."""
    for name, scale in ((f"{which}_uepoch", 1e-6), (f"{which}_epoch", 1.0)):
        value = var.get(name, "")
        if value:
            try:
                number = float(value)
            except ValueError:
                raise RowProblem(f"variables.{name}", f"{value!r} is not a number") from None
            return number * scale if number else None
    return None


def _billsec(var: Mapping[str, str]) -> float:
    for name, scale in (("billmsec", 1e-3), ("billsec", 1.0)):
        value = var.get(name, "")
        if value:
            try:
                return float(value) * scale
            except ValueError:
                raise RowProblem(f"variables.{name}", f"{value!r} is not a number") from None
    raise RowProblem("variables.billsec", "missing")
