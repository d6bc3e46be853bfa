"""CDR sources behind one Protocol, chosen by URI scheme.

    sqlite:////abs/path/acc.db   Kamailio acc/acc_cdrs (dialog CDRs) in SQLite
    fake://                      in-memory records for unit tests

Drivers are imported lazily so that a source the run does not use costs nothing.
"""

from __future__ import annotations

from typing import Protocol

from harness.errors import CdrError
from harness.model import CdrRecord


class CdrSource(Protocol):
    uri: str

    def by_call_id(self, call_id: str) -> list[CdrRecord]: ...

    def all(self) -> list[CdrRecord]: ...


def open_source(uri: str) -> CdrSource:
    if uri.startswith("sqlite://"):
        from harness.cdr.kamailio_sqlite import KamailioSqliteCdr

        return KamailioSqliteCdr(uri)
    if uri.startswith("fake://"):
        from harness.cdr.fake import FakeCdrSource

        return FakeCdrSource()
    raise CdrError(uri, "unknown CDR source scheme (expected sqlite:// or fake://)")
