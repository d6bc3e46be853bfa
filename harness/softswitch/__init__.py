"""The system under test, seen through one small Protocol.

`Softswitch` is what the session needs from any switch: where to send SIP, which
domain the lines belong to, how to read its CDRs, how to filter a capture, what
versions to print in the report. `kamailio.EmbeddedKamailio` is the default;
`fake.FakeSoftswitch` stands in for unit tests of pure logic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from harness.cdr import CdrSource
from harness.numberplan import NumberPlan


@dataclass(frozen=True, slots=True)
class TlsListener:
    """Where a switch takes SIP over TLS, and the files the agents need for it: the CA
    that signed the switch's certificate, and the agents' own certificate and key
    (presented when the switch connects to a TLS phone). docs/tls-srtp.md."""

    host: str
    port: int
    ca_file: Path
    agent_cert: Path
    agent_key: Path


class Softswitch(Protocol):
    name: str
    # access links (harness/network/netns.py): True if the switch can also listen at an access
    # address the harness gives it (`access_address`, set before start); a switch the
    # harness does not run cannot
    serves_access_links: bool
    access_address: str
    # where the simulated PSTN's gateways listen (agents.hosts pstn=, set before start):
    # 127.0.0.1, or their agent host's address; a switch the harness does not run is
    # told by its own configuration
    pstn_address: str

    @property
    def sip_host(self) -> str: ...

    @property
    def sip_port(self) -> int: ...

    @property
    def domain(self) -> str: ...

    @property
    def pstn_entry(self) -> tuple[str, int]:
        """(host, port) the simulated PSTN gateway sends incoming DID calls to: the
        switch itself, unless a B2BUA fronts it (sut.pstn_b2bua, docs/b2bua-lab.md)."""
        ...

    @property
    def separate_trunks(self) -> bool:
        """Whether the harness gives each PSTN trunk group a gateway port of its own
        (`start`'s `trunk_ports`, chosen free): the embedded switch with nothing between
        it and the simulated PSTN. A switch the harness does not run is told its trunk
        groups' ports by the config (sut.pstn_trunk_ports) instead."""
        ...

    def start(self, plan: NumberPlan, pstn_port: int,
              trunk_ports: Mapping[str, int] | None = None, mwi_port: int = 0) -> None:
        """Start (or check) the switch: off-net calls to the simulated PSTN gateway at
        127.0.0.1:`pstn_port`, a trunk group in `trunk_ports` to its own port there (the
        voicemail pilot to trunk group "vm"'s, whose platform sends its NOTIFYs from
        `mwi_port`: the embedded switch)."""
        ...

    def stop(self) -> None: ...

    def cdr_source(self) -> CdrSource: ...

    def capture_filter(self) -> str: ...

    def versions(self) -> dict[str, str]: ...

    def alive(self) -> bool: ...

    def tls_listener(self) -> TlsListener | None:
        """The switch's TLS listener when TLS is configured (sut.tls), else None."""
        ...

    def failure(self) -> str:
        """'' while the switch's own processes run, else why not (cheap: called while
        calls are up); a switch the harness does not run reports ''."""
        ...

    def cdr_store_errors(self, since: int = -1) -> tuple[int, str]:
        """(a mark of now, '' unless the switch's own log says a CDR write failed after
        the mark `since`): the embedded switch's SQLite store was busy. A switch the
        harness does not run reports (0, ''): its missing record is the switch's."""
        ...
