"""Checks of a secure call (TLS signalling, SRTP media), from evidence the call left:

* the agents' own TLS connections (PJSIP's `onTransportState`): the protocol version
  negotiated and whether the peer's certificate verified (RFC 5922 §7: chain to the
  trusted CA, subjectAltName matching the host connected to);
* the media profile each agent's stream runs (the SDP transport, RFC 3711 / RFC 4568:
  `RTP/SAVP` with SDES keys);
* the RTP on the wire: an SRTP packet carries its authentication tag after the
  encrypted payload (RFC 3711 §3.1: 10 bytes for HMAC-SHA1-80, 4 for -32, 16 for an
  AEAD suite), so a 20 ms G.711 frame is never exactly 160 bytes long on the wire, and
  its bytes are indistinguishable from random (entropy near 8 bits per byte).

The wire audio of an SRTP call cannot be decoded by the capture (the keys are in the
TLS-protected SDP): its wire score is a note (`wire_note`), not a defect; PESQ comes
from the agents' recordings.
"""

from __future__ import annotations

import math
from collections import Counter

from harness.capture.rtp import RtpPacket
from harness.model import QualityScore
from harness.party import Party
from harness.sip.scenario import CallOutcome, TlsSession

MIN_TLS = ("TLSv1.2", "TLSv1.3")
G711_FRAME = 160  # bytes of a 20 ms PCMU/PCMA frame (RFC 3551 §4.5.14)
# payload entropy, bits/byte: measured 5.8-6.0 for the reference speech in G.711
# u-law, 7.998-7.999 for the same speech in SRTP; below this it is not ciphertext
MIN_CIPHER_ENTROPY = 7.5
WIRE_NOTE = "not decodable: SRTP (media encrypted on the wire; scored from the recordings)"


def tls_checks(sessions: list[TlsSession], switch_addr: str) -> list[str]:
    """The caller's TLS connection to the switch: TLS 1.2 or later, the switch's
    certificate verified. The connection may predate the call (PJSIP reuses it)."""
    to_switch = [s for s in sessions if s.remote == switch_addr]
    if not to_switch:
        return [f"tls: no TLS connection to the switch at {switch_addr}"]
    last = to_switch[-1]
    fails = []
    if last.state != "connected":
        fails.append(f"tls: the connection to {switch_addr} is {last.state}"
                     + (f" ({last.error})" if last.error else ""))
    if last.protocol not in MIN_TLS:
        fails.append(f"tls: {last.protocol} negotiated with the switch, expected TLS 1.2+")
    if not last.verified:
        fails.append(f"tls: the switch's certificate did not verify: "
                     f"{'; '.join(last.verify_msgs) or 'unknown reason'}")
    return fails


def payload_entropy_bits(rtp: list[RtpPacket]) -> float:
    """Shannon entropy of the RTP payload bytes, bits per byte (8.0 = random)."""
    counts = Counter(b for p in rtp for b in p.payload)
    total = sum(counts.values())
    if not total:
        return 0.0
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def srtp_checks(out: CallOutcome, toward: dict[str, list[RtpPacket]]) -> list[str]:
    """Each beta line's leg negotiated RTP/SAVP, and no bare G.711 frame reached it. A
    PSTN party's leg is plain RTP by design (the simulated PSTN trunk is UDP).

    `toward`: the RTP on the wire toward each receiver ("a_to_b": toward the callee)."""
    fails = []
    for direction, leg in (("a_to_b", out.b), ("b_to_a", out.a)):
        if leg is None or leg.stats is None or Party.in_pstn(leg.agent_name):
            continue
        if leg.stats.media_profile != "RTP/SAVP":
            fails.append(f"srtp: {leg.agent_name}'s stream runs "
                         f"{leg.stats.media_profile or 'an unknown profile'}, not RTP/SAVP")
        rtp = toward.get(direction, [])
        bare = sum(1 for p in rtp if len(p.payload) == G711_FRAME)
        if leg.stats.codec.upper() in ("PCMU", "PCMA") and bare:
            fails.append(f"srtp: {bare} of {len(rtp)} RTP packets toward the receiver "
                         f"{direction} are bare {G711_FRAME}-byte G.711 frames (unencrypted)")
        entropy = payload_entropy_bits(rtp)
        if len(rtp) >= 50 and entropy < MIN_CIPHER_ENTROPY:
            fails.append(f"srtp: RTP payload toward the receiver {direction} has "
                         f"{entropy:.2f} bits/byte of entropy (ciphertext: ~8): not encrypted")
    return fails


def wire_note(direction: str, band: str, connected_s: float,
              ceiling: float | None) -> QualityScore:
    """The wire 'score' of an SRTP call: not scored, by design."""
    return QualityScore(direction, "wire", None, band, True, (), 0.0, connected_s,
                        ceiling_mos_lqo=ceiling, note=WIRE_NOTE)
