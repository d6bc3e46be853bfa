"""The simulated PSTN interconnect: the carrier's PSTN gateway (with its trunk groups:
local, ld, intl, tollfree, operator, n11, psap), the PSAP and the operator/directory
position behind it, and PSTN subscribers who call into the beta lines.

One agent worker's SIP transport on 127.0.0.1 is the gateway; the switch names the trunk group a
call takes in the R-URI (`;tgrp=`, as RFC 4904), and which trunk a call arrived on
is what the harness checks to catch a misrouted class. Incoming DID calls leave
from the gateway's address, which the switch trusts by source address.
"""

from __future__ import annotations

from harness.errors import SoftswitchError
from harness.model import Line
from harness.numberplan import NumberPlan
from harness.party import Party
from harness.sip.scenario import Seat
from harness.softswitch.process import free_udp_range, udp_port_free

PSTN_DOMAIN = "pstn.invalid"


class PstnSimulator:
    def __init__(self, plan: NumberPlan) -> None:
        self.plan = plan
        self.port = 0

    def reserve_port(self, configured: int = 0) -> int:
        """The gateway's UDP port: the configured one (an external switch routes to it),
        else a free one (before the embedded switch's config is rendered)."""
        if configured and not udp_port_free(configured):
            raise SoftswitchError(f"sut.pstn_port {configured}: UDP port already in use on "
                                  "127.0.0.1 (the simulated PSTN gateway listens there)")
        # below the kernel's ephemeral range (32768-60999 here), which any process's
        # outgoing socket may take between this choice and the gateway's bind
        self.port = configured or free_udp_range(1, 30400, 32700)
        return self.port

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
