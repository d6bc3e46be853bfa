"""A switch the user runs (Asterisk, FreeSWITCH, Kamailio/OpenSIPS in front of a
carrier switch), described by the config file alone.

The harness does not start or stop it. `start()` is the preflight: the switch
answers SIP OPTIONS, its CDR source can be read; the session then registers every
line and reports each failure by line. The switch must route off-net calls to the
simulated PSTN gateway at `sut.pstn_port` and accept incoming DID calls from it.
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.cdr import CdrSource, open_source
from harness.config import SutConfig
from harness.errors import CdrError, SoftswitchError
from harness.numberplan import NumberPlan
from harness.softswitch import TlsListener
from harness.softswitch.process import sip_options_ping


class ExternalSwitch:
    name = "external"
    serves_access_links = False  # lines stay on this host's loopback (docs/impairments.md)
    access_address = ""
    pstn_address = "127.0.0.1"  # its trunks' routes are its own configuration's

    def __init__(self, cfg: SutConfig, source: str = "<config>") -> None:
        self.cfg = cfg
        self.source = source
        self.server = ""

    @property
    def sip_host(self) -> str:
        return self.cfg.sip_host

    @property
    def sip_port(self) -> int:
        return self.cfg.sip_port

    @property
    def domain(self) -> str:
        return self.cfg.domain

    @property
    def pstn_entry(self) -> tuple[str, int]:
        return (self.cfg.sip_host, self.cfg.sip_port)

    separate_trunks = False

    def start(self, plan: NumberPlan, pstn_port: int,
              trunk_ports: Mapping[str, int] | None = None, mwi_port: int = 0) -> None:
        """Preflight: reachable, CDRs readable (registrations: the session's)."""
        where = f"{self.cfg.sip_host}:{self.cfg.sip_port}"
        code = sip_options_ping(self.cfg.sip_host, self.cfg.sip_port, 2.0)
        if code is None:
            raise SoftswitchError(f"{self.source}: sut.sip_host/sip_port {where}: no answer "
                                  "to SIP OPTIONS within 2 s (switch down or unreachable)")
        try:
            self.cdr_source().all()
        except CdrError as exc:
            raise SoftswitchError(f"{self.source}: sut.cdr_uri {self.cfg.cdr_uri!r}: "
                                  f"not readable: {exc}") from exc

    def stop(self) -> None:
        """Not ours to stop."""

    def cdr_source(self) -> CdrSource:
        return open_source(self.cfg.cdr_uri)

    def capture_filter(self) -> str:
        return f"udp and host {self.cfg.sip_host} and port {self.cfg.sip_port}"

    def versions(self) -> dict[str, str]:
        return {"switch": f"external at {self.cfg.sip_host}:{self.cfg.sip_port}",
                "cdr_source": self.cfg.cdr_uri}

    def tls_listener(self) -> TlsListener | None:
        return None

    def cdr_store_errors(self, since: int = -1) -> tuple[int, str]:
        return 0, ""

    def failure(self) -> str:
        """Not ours to watch: an external switch's liveness is the OPTIONS ping after
        every call."""
        return ""

    def alive(self) -> bool:
        return sip_options_ping(self.cfg.sip_host, self.cfg.sip_port, 1.0) is not None
