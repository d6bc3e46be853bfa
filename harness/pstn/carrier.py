"""The PSTN far end across another network (pstn.mode: carrier; docs/other-carrier.md).

On a carrier's real network the far end of an off-net call is not on a port the
switch can be told about: the harness owns numbers (DIDs) at another carrier and
receives the calls there. The simulated PSTN's numbers are then lines registered at
that network with digest auth, all hosted by the PSTN agent worker; its subscribers
dial the beta lines through that network (their outbound proxy). Routing is judged
by which DID rang (`harness.verdict.call_types`), caller ID and timing as that network delivered
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.errors import SipError
from harness.sip.register import Registrar, register_each


@dataclass(frozen=True, slots=True)
class CarrierAccess:
    """Where the DIDs live: the other network's SIP address, domain, and the DIDs'
    digest password."""

    host: str
    port: int
    domain: str
    password: str

    @property
    def proxy(self) -> str:
        """The DIDs' outbound proxy (loose routing)."""
        return f"sip:{self.host}:{self.port};lr"


def register_dids(access: CarrierAccess, dids: tuple[str, ...], contact_at: str,
                  expires: int = 3600) -> dict[str, Any]:
    """REGISTER every DID at the other network with its Contact at `contact_at`
    (host:port of the PSTN agent worker), answering the digest challenge; a summary
    for the report's environment. Raises SipError naming the DIDs that failed."""
    done = register_each(Registrar(access.host, access.port, access.domain),
                         [(did, did, access.password, f"sip:{did}@{contact_at}")
                          for did in dids], expires)
    if done.failed:
        raise SipError(done.problem(f"registration at the other carrier {access.host}:"
                                    f"{access.port} ({access.domain})", len(dids), "DIDs"))
    return {"carrier": f"{access.host}:{access.port}", "domain": access.domain,
            "dids": len(dids), "registered": len(dids),
            "rrd_s_max": round(max(done.rrd_s), 4) if done.rrd_s else None}
