"""In-memory CDR source for unit tests of reconciliation logic."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.model import CdrRecord


@dataclass
class FakeCdrSource:
    records: list[CdrRecord] = field(default_factory=list)
    uri: str = "fake://"

    def by_call_id(self, call_id: str) -> list[CdrRecord]:
        return [r for r in self.records if r.call_id == call_id]

    def all(self) -> list[CdrRecord]:
        return list(self.records)
