"""A stand-in softswitch for unit tests of logic that only needs the Protocol."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.cdr import CdrSource
from harness.cdr.fake import FakeCdrSource
from harness.numberplan import NumberPlan
from harness.softswitch import TlsListener


@dataclass
class FakeSoftswitch:
    name: str = "fake"
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    domain: str = "beta.test"
    cdrs: FakeCdrSource = field(default_factory=FakeCdrSource)
    started: bool = False
    serves_access_links: bool = False
    access_address: str = ""
    pstn_address: str = "127.0.0.1"

    @property
    def pstn_entry(self) -> tuple[str, int]:
        return (self.sip_host, self.sip_port)

    separate_trunks = False

    def start(self, plan: NumberPlan, pstn_port: int,
              trunk_ports: Mapping[str, int] | None = None, mwi_port: int = 0) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False

    def cdr_source(self) -> CdrSource:
        return self.cdrs

    def capture_filter(self) -> str:
        return f"udp port {self.sip_port}"

    def versions(self) -> dict[str, str]:
        return {"fake": "0"}

    def alive(self) -> bool:
        return self.started

    def tls_listener(self) -> TlsListener | None:
        return None

    def cdr_store_errors(self, since: int = -1) -> tuple[int, str]:
        return 0, ""

    def failure(self) -> str:
        return "" if self.started else "fake switch stopped"
