"""RTP streams from captured UDP: per-SSRC statistics and payload decoded to PCM.

Statistics follow RFC 3550: expected packets from the extended sequence range
(A.3), interarrival jitter J += (|D| - J)/16 in timestamp units (A.8), reported in
milliseconds. Decoding places each packet's samples at its RTP timestamp, so a
sender that was late (host stall) still yields continuous audio, and a lost packet
leaves silence exactly where it belongs.

G.722 is stateful (SB-ADPCM): its packets are decoded as one sequence in timestamp
order, the decoder state running on across a gap as a receiver's would, and placed at
two audio samples per RTP clock tick (the clock counts 8000/s for 16 kHz audio,
RFC 3551 §4.5.2).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from harness.capture.pcap import UdpPacket
from harness.media import g722
from harness.media.g711 import decode_payload

# payload type -> (codec, RTP clock rate) (RFC 3551 Table 4)
STATIC_PT = {0: ("PCMU", 8000), 8: ("PCMA", 8000), 9: ("G722", 8000)}
AUDIO_RATE = {"PCMU": 8000, "PCMA": 8000, "G722": 16000}  # samples/s of the decoded audio


@dataclass(frozen=True, slots=True)
class RtpPacket:
    ts_arrival: float
    src: str
    dst: str
    ssrc: int
    seq: int
    timestamp: int
    pt: int
    marker: bool
    payload: bytes


@dataclass(frozen=True, slots=True)
class StreamStats:
    """Wire statistics of one RTP stream (RFC 3550)."""

    src: str
    dst: str
    ssrc: int
    codec: str
    packets: int
    expected: int
    lost: int
    loss_pct: float
    duplicates: int
    out_of_order: int
    jitter_ms: float
    max_jitter_ms: float
    duration_s: float


def parse_rtp(pkt: UdpPacket) -> RtpPacket | None:
    b = pkt.payload
    if len(b) < 12 or b[0] >> 6 != 2:
        return None
    pt = b[1] & 0x7F
    if 64 <= pt <= 95:  # RTCP packet types 200-204 land here
        return None
    cc = b[0] & 0x0F
    seq, ts, ssrc = struct.unpack("!HII", b[2:12])
    head = 12 + 4 * cc
    if b[0] & 0x10 and len(b) >= head + 4:  # header extension
        head += 4 + 4 * int.from_bytes(b[head + 2: head + 4], "big")
    payload = b[head:]
    if b[0] & 0x20 and payload:  # padding
        payload = payload[: -payload[-1]]
    return RtpPacket(pkt.ts, pkt.src_addr, pkt.dst_addr, ssrc, seq, ts, pt,
                     bool(b[1] & 0x80), payload)


def rtp_toward(packets: list[UdpPacket], dst: str, since_wall: float = 0.0) -> list[RtpPacket]:
    """RTP packets addressed to `dst` ("ip:port") from `since_wall` on (a call's media
    cannot precede its INVITE: earlier packets to that port are an earlier call's
    tail), in capture order."""
    return _rtp_at(packets, dst, "dst_addr", since_wall)


def rtp_from(packets: list[UdpPacket], src: str, since_wall: float = 0.0) -> list[RtpPacket]:
    """RTP packets sent from `src` ("ip:port", a sender's RTP socket) from `since_wall`
    on, in capture order: a sender's stream whatever it was sent to."""
    return _rtp_at(packets, src, "src_addr", since_wall)


def _rtp_at(packets: list[UdpPacket], addr: str, end: str, since_wall: float,
            ) -> list[RtpPacket]:
    """The RTP among `packets` whose `end` ("src_addr" | "dst_addr") is `addr`."""
    out = []
    for p in packets:
        if p.ts >= since_wall and getattr(p, end) == addr:
            r = parse_rtp(p)
            if r is not None:
                out.append(r)
    return out


def _main_ssrc(rtp: list[RtpPacket]) -> int | None:
    counts: dict[int, int] = {}
    for r in rtp:
        counts[r.ssrc] = counts.get(r.ssrc, 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else None


def audio_packets(rtp: list[RtpPacket]) -> list[RtpPacket]:
    """The dominant SSRC's packets of its dominant payload type: the audio. RFC 4733
    telephone-event shares the SSRC but not the audio timing, under whatever dynamic
    payload type the offer and answer gave it (101, 96, a B2BUA's own)."""
    ssrc = _main_ssrc(rtp)
    mine = [r for r in rtp if r.ssrc == ssrc]
    counts: dict[int, int] = {}
    for r in mine:
        counts[r.pt] = counts.get(r.pt, 0) + 1
    if not counts:
        return []
    pt = max(counts, key=lambda k: counts[k])
    return [r for r in mine if r.pt == pt]


def sender_lateness_ms(rtp: list[RtpPacket]) -> float | None:
    """How far a sender fell behind its own media clock, ms: the spread of its audio
    packets' transit (arrival less RTP timestamp, ITU-T Y.1540 packet delay variation
    against the earliest packet) over `rtp`. Taken where the packets leave the sender,
    it is the sender's own lateness (a healthy endpoint: a few ms; one its host starved:
    the starvation). None for fewer than two packets."""
    pkts = audio_packets(rtp)
    if len(pkts) < 2:
        return None
    rate = STATIC_PT.get(pkts[0].pt, ("", 8000))[1]
    base, transits = pkts[0].timestamp, []
    for r in pkts:
        off = (r.timestamp - base) & 0xFFFFFFFF
        if off > 0x7FFFFFFF:  # a timestamp before the first (reordered)
            off -= 0x100000000
        transits.append(r.ts_arrival - off / rate)
    return 1000.0 * (max(transits) - min(transits))


def stream_stats(rtp: list[RtpPacket]) -> StreamStats | None:
    """Statistics of the dominant SSRC among `rtp` (RFC 3550 A.3 and A.8): sequence
    numbers over all its packets (telephone-events take theirs from the same space),
    jitter over its audio payload type only (`audio_packets`)."""
    audio = audio_packets(rtp)
    if not audio:
        return None
    ssrc, audio_pt = audio[0].ssrc, audio[0].pt
    pkts = [r for r in rtp if r.ssrc == ssrc]
    codec, rate = STATIC_PT.get(audio_pt, (f"PT{audio_pt}", 8000))
    ext_seqs, seen = [], set()
    dup = ooo = 0
    cycles, last = 0, None
    max_ext = -1
    jitter = max_jitter = 0.0
    prev_transit: float | None = None
    for r in pkts:
        if last is not None and r.seq < last and last - r.seq > 0x8000:
            cycles += 0x10000
        ext = cycles + r.seq
        last = r.seq
        if ext in seen:
            dup += 1
            continue
        seen.add(ext)
        if ext < max_ext:
            ooo += 1
        max_ext = max(max_ext, ext)
        ext_seqs.append(ext)
        if r.pt != audio_pt:
            continue
        transit = r.ts_arrival * rate - r.timestamp
        if prev_transit is not None:
            d = abs(transit - prev_transit)
            jitter += (d - jitter) / 16.0
            max_jitter = max(max_jitter, jitter)
        prev_transit = transit
    expected = max(ext_seqs) - min(ext_seqs) + 1
    lost = max(0, expected - len(ext_seqs))
    return StreamStats(
        src=audio[0].src, dst=audio[0].dst, ssrc=ssrc, codec=codec, packets=len(ext_seqs),
        expected=expected, lost=lost, loss_pct=100.0 * lost / expected if expected else 0.0,
        duplicates=dup, out_of_order=ooo, jitter_ms=jitter / rate * 1000.0,
        max_jitter_ms=max_jitter / rate * 1000.0,
        duration_s=pkts[-1].ts_arrival - pkts[0].ts_arrival)


def decode_stream(rtp: list[RtpPacket]) -> tuple[np.ndarray, str, int]:
    """PCM (int16) of the dominant SSRC, samples placed by RTP timestamp; returns
    (pcm, codec, audio sample rate)."""
    ssrc = _main_ssrc(rtp)
    pkts = [r for r in rtp if r.ssrc == ssrc and r.pt in STATIC_PT]
    if not pkts:
        return np.zeros(0, dtype=np.int16), "none", 8000
    codec, clock = STATIC_PT[pkts[0].pt]
    rate = AUDIO_RATE[codec]
    base = pkts[0].timestamp
    payloads: dict[int, bytes] = {}  # RTP clock offset -> payload, first copy kept
    for r in pkts:
        off = (r.timestamp - base) & 0xFFFFFFFF
        if off > 0x7FFFFFFF:  # before the first packet (reordered): skip
            continue
        payloads.setdefault(off, r.payload)
    if not payloads:
        return np.zeros(0, dtype=np.int16), codec, rate
    offsets = sorted(payloads)
    if codec == "G722":
        pcm = g722.decode(b"".join(payloads[o] for o in offsets))
        lengths = [2 * len(payloads[o]) for o in offsets]
        starts = np.cumsum([0, *lengths])
        pieces = {o * rate // clock: pcm[starts[i]: starts[i + 1]]
                  for i, o in enumerate(offsets)}
    else:
        pieces = {o: decode_payload(codec, payloads[o]) for o in offsets}
    end = max(off + len(p) for off, p in pieces.items())
    out = np.zeros(end, dtype=np.int16)
    for off, pcm_piece in pieces.items():
        out[off: off + len(pcm_piece)] = pcm_piece
    return out, codec, rate
