"""The simulated PSTN interconnect: the carrier's PSTN gateway (with its trunk groups:
local, ld, intl, tollfree, operator, n11, psap), the PSAP and the operator/directory
position behind it, and PSTN subscribers who call into the beta lines.

The gateway is agent workers' SIP transports on 127.0.0.1. As a real interconnect's
trunk groups are separate trunks, each trunk group can have a gateway worker (and
port) of its own (`trunk_ports`): the embedded switch routes each class to its trunk
group's port, and an external switch can be given one per group (`sut.pstn_trunk_ports`).
A trunk group without a port of its own goes to the main gateway (`port`), where the
switch names it in the R-URI (`;tgrp=`, as RFC 4904). Which trunk a call arrived on
is what the harness checks to catch a misrouted class. Each gateway worker is one
pjsua2 process holding 4 calls (harness/run/schedule.py counts them per gateway).
Incoming DID calls leave from the main gateway's address, which the switch trusts by
source address.
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.errors import SoftswitchError
from harness.model import Line
from harness.numberplan import NumberPlan
from harness.party import Party
from harness.pstn.directory import TRUNKS
from harness.sip.scenario import Seat
from harness.softswitch.process import free_udp_range, release_udp_range, udp_port_free
from harness.vocab import VOICEMAIL_TRUNK

PSTN_DOMAIN = "pstn.invalid"
MAIN_GATEWAY = "pstn"  # the main gateway's worker: the PSTN subscribers, other trunks


def gateway_worker(trunk: str) -> str:
    """The agent worker name of a trunk group's own gateway."""
    return f"{MAIN_GATEWAY}-{trunk}"


class PstnSimulator:
    def __init__(self, plan: NumberPlan) -> None:
        self.plan = plan
        self.port = 0
        self.trunk_ports: dict[str, int] = {}  # trunk group -> its own gateway's port
        # the lab's voicemail platform (harness/pstn/voicemail.py): where its NOTIFYs
        # come from (0: none); its media side is trunk group "vm"'s gateway
        self.mwi_port = 0

    def reserve_port(self, configured: int = 0, trunk_ports: Mapping[str, int] | None = None,
                     separate: bool = False, mwi_port: int = 0) -> int:
        """The main gateway's UDP port: the configured one (an external switch routes
        to it), else a free one (before the embedded switch's config is rendered).
        `trunk_ports`: configured ports of trunk groups' own gateways; `separate`: every
        trunk group gets a free port of its own (the embedded switch), and the lab's
        voicemail platform its trunk's and its NOTIFYs' (`mwi_port`: an external
        switch's configured one, with "vm" among its `trunk_ports`)."""
        for where, port in (("sut.pstn_port", configured),
                            ("sut.voicemail_mwi_port", mwi_port),
                            *((f"sut.pstn_trunk_ports {t}", p)
                              for t, p in (trunk_ports or {}).items())):
            if port and not udp_port_free(port):
                raise SoftswitchError(f"{where} {port}: UDP port already in use on 127.0.0.1 "
                                      "(the simulated PSTN gateway listens there)")
        self.trunk_ports = dict(trunk_ports or {})
        if separate and not configured:
            # below the kernel's ephemeral range (32768-60999 here), which any process's
            # outgoing socket may take between this choice and the gateway's bind
            # and the voicemail platform's two (its trunk's gateway, its NOTIFY sender)
            voicemail = bool(self.plan.voicemail_pilot)
            ports = 1 + len(TRUNKS) + (2 if voicemail else 0)
            try:
                first = free_udp_range(ports, 30400, 32700,
                                       must_be_free=lambda start: range(start, start + ports))
            except SoftswitchError:
                raise SoftswitchError(f"no {ports} consecutive free UDP ports for the "
                                      "simulated PSTN's gateways between 30400 and 32700"
                                      ) from None
            self.port = first
            self.trunk_ports = {t: first + 1 + i for i, t in enumerate(TRUNKS)}
            if voicemail:
                self.trunk_ports[VOICEMAIL_TRUNK] = first + 1 + len(TRUNKS)
                self.mwi_port = first + 2 + len(TRUNKS)
            return self.port
        self.port = configured or free_udp_range(1, 30400, 32700)
        self.mwi_port = mwi_port if VOICEMAIL_TRUNK in self.trunk_ports else 0
        return self.port

    def release_ports(self) -> None:
        """Give back the ports `reserve_port` took in the host's book (configured ones
        were never taken there)."""
        for port in (self.port, *self.trunk_ports.values()):
            release_udp_range(port)

    def gateway_of(self, trunk: str | None) -> str:
        """The agent worker a call on `trunk` reaches (None: a call from the PSTN)."""
        return gateway_worker(trunk) if trunk in self.trunk_ports else MAIN_GATEWAY

    @property
    def ports(self) -> dict[int, str]:
        """Every gateway port -> its trunk group ('' for the main gateway)."""
        return {self.port: "", **{p: t for t, p in self.trunk_ports.items()}}

    def seats(self, rtp_base: int, rtp_range: int, password: str | None = None
              ) -> tuple[Seat, ...]:
        """The PSTN subscribers who place incoming calls, as seats of the PSTN's agent
        worker (whose receiving account, on the reserved port, is the gateway). With a
        `password` they are DIDs at another carrier (pstn.mode: carrier) that answer its
        digest challenge; else trusted peers of the gateway."""
        return tuple(Seat(Line(0, j, number, password or ""), str(Party.pstn(number)),
                          rtp_base + j * rtp_range, static=password is None)
                     for j, number in enumerate(self.plan.pstn_callers, start=1))

    @property
    def callers(self) -> tuple[str, ...]:
        return tuple(self.plan.pstn_callers)
