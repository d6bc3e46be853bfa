"""Early media (RFC 3960): what reached the caller on the wire between the 183 with
SDP and the final response, and the call-progress tones in it (harness/media/tones.py).
Measured on the wire so that it says what the switch delivered, whatever the caller's
agent did with it."""

from __future__ import annotations

from harness.capture.pcap import UdpPacket
from harness.capture.rtp import decode_stream, rtp_toward
from harness.media.tones import ringback_s, sit_found
from harness.model import EarlyMedia
from harness.sip.scenario import LegOutcome


def early_media(caller: LegOutcome, packets: list[UdpPacket]) -> EarlyMedia | None:
    """The early media toward `caller`, or None when its media never started early."""
    start = caller.first("EARLY_MEDIA")
    if start is None:
        return None
    end = caller.first("CONFIRMED") or caller.first("DISCONNECTED")
    local = caller.stats.local_rtp if caller.stats else ""
    rtp = [r for r in (rtp_toward(packets, local, start.t_wall - 0.1) if local else [])
           if end is None or r.ts_arrival <= end.t_wall]
    pcm, _, rate = decode_stream(rtp)
    return EarlyMedia(round(len(rtp) * 0.02, 2), round(ringback_s(pcm, rate), 2),
                      sit_found(pcm, rate))
