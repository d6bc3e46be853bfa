"""CDR sources behind one Protocol, chosen by URI scheme.

    sqlite:////abs/path/acc.db                Kamailio acc/acc_cdrs (dialog CDRs) in SQLite
    asterisk-csv:///abs/path/Master.csv       Asterisk cdr_csv (no header, fixed columns)
    freeswitch-csv:///abs/path/Master.csv     FreeSWITCH mod_cdr_csv ("example" template)
    freeswitch-json:///abs/dir-or-file        FreeSWITCH mod_json_cdr documents
    csv:///abs/path/cdr.csv?caller=From&...   any CSV with a header, columns mapped in the URI
    fake://                                   in-memory records for unit tests

Drivers are imported lazily so that a source the run does not use costs nothing.
File sources return the good rows and list each bad one in `problems` (a CdrError
naming file, line and field); see docs/cdr.md.
"""

from __future__ import annotations

from typing import Protocol

from harness.errors import CdrError
from harness.model import CdrRecord


class CdrSource(Protocol):
    uri: str

    def by_call_id(self, call_id: str) -> list[CdrRecord]: ...

    def all(self) -> list[CdrRecord]: ...


SCHEMES = ("sqlite", "asterisk-csv", "freeswitch-csv", "freeswitch-json", "csv", "fake")


def open_source(uri: str) -> CdrSource:
    scheme = uri.split("://", 1)[0] if "://" in uri else ""
    if scheme == "sqlite":
        from harness.cdr.kamailio_sqlite import KamailioSqliteCdr

        return KamailioSqliteCdr(uri)
    if scheme == "asterisk-csv":
        from harness.cdr.asterisk_csv import AsteriskCsvCdr

        return AsteriskCsvCdr(uri)
    if scheme == "freeswitch-csv":
        from harness.cdr.freeswitch_csv import FreeswitchCsvCdr

        return FreeswitchCsvCdr(uri)
    if scheme == "freeswitch-json":
        from harness.cdr.freeswitch_json import FreeswitchJsonCdr

        return FreeswitchJsonCdr(uri)
    if scheme == "csv":
        from harness.cdr.generic_csv import GenericCsvCdr

        return GenericCsvCdr(uri)
    if scheme == "fake":
        from harness.cdr.fake import FakeCdrSource

        return FakeCdrSource()
    raise CdrError(uri, "unknown CDR source scheme (expected "
                        + ", ".join(f"{s}://" for s in SCHEMES) + ")")
