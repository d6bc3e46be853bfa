"""The system under test, seen through one small Protocol.

`Softswitch` is what the session needs from any switch: where to send SIP, which
domain the lines belong to, how to read its CDRs, how to filter a capture, what
versions to print in the report. `kamailio.EmbeddedKamailio` is the default;
`fake.FakeSoftswitch` stands in for unit tests of pure logic.
"""

from __future__ import annotations

from typing import Protocol

from harness.cdr import CdrSource
from harness.numberplan import NumberPlan


class Softswitch(Protocol):
    name: str

    @property
    def sip_host(self) -> str: ...

    @property
    def sip_port(self) -> int: ...

    @property
    def domain(self) -> str: ...

    def start(self, plan: NumberPlan, pstn_port: int) -> None: ...

    def stop(self) -> None: ...

    def cdr_source(self) -> CdrSource: ...

    def capture_filter(self) -> str: ...

    def versions(self) -> dict[str, str]: ...

    def alive(self) -> bool: ...

    def failure(self) -> str:
        """'' while the switch's own processes run, else why not (cheap: called while
        calls are up); a switch the harness does not run reports ''."""
        ...
