"""A minimal classic-pcap reader for UDP/IPv4, fast enough for every RTP packet.

On this class of host pyshark reads about 4 packets/s and tshark needs seconds just
to start, so per-packet RTP work (decoding payload for PESQ, RFC 3550 jitter) reads
the capture directly. The reader is incremental (`offset`) and stops cleanly at a
record dumpcap has not finished writing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from harness.errors import CaptureError

_LINK_ETHERNET, _LINK_RAW, _LINK_NULL, _LINK_SLL, _LINK_RAW_IPV4 = 1, 101, 0, 113, 228


@dataclass(frozen=True, slots=True)
class UdpPacket:
    ts: float  # capture time, epoch seconds
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes

    @property
    def src_addr(self) -> str:
        return f"{self.src}:{self.sport}"

    @property
    def dst_addr(self) -> str:
        return f"{self.dst}:{self.dport}"


def _ipv4(b: bytes) -> str:
    return f"{b[0]}.{b[1]}.{b[2]}.{b[3]}"


def read_udp(path: Path, offset: int = 0) -> tuple[list[UdpPacket], int]:
    """UDP/IPv4 packets from `offset` on; returns them and the offset to resume at.
    Only the header and what lies past `offset` are read (a growing capture is read
    again and again while a run lasts)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(24)
            if len(head) < 24:
                return [], offset
            base = max(offset, 24)
            fh.seek(base)
            data = fh.read()
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read capture: {exc.strerror}") from exc
    magic = head[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian, nano = "<", False
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian, nano = ">", False
    elif magic == b"\x4d\x3c\xb2\xa1":
        endian, nano = "<", True
    elif magic == b"\x0a\x0d\x0d\x0a":
        raise CaptureError(f"{path}: pcapng capture; the harness writes classic pcap (-P)")
    else:
        raise CaptureError(f"{path}: not a pcap file (magic {magic.hex()})")
    linktype = struct.unpack(endian + "I", head[20:24])[0]
    pos = 0
    rec = struct.Struct(endian + "IIII")
    out: list[UdpPacket] = []
    frac = 1e-9 if nano else 1e-6
    while pos + 16 <= len(data):
        sec, sub, incl, _orig = rec.unpack_from(data, pos)
        if pos + 16 + incl > len(data):
            break  # partially written record: resume here next time
        frame = data[pos + 16: pos + 16 + incl]
        pos += 16 + incl
        pkt = _parse_frame(frame, linktype, sec + sub * frac)
        if pkt is not None:
            out.append(pkt)
    return out, base + pos


def _parse_frame(frame: bytes, linktype: int, ts: float) -> UdpPacket | None:
    if linktype == _LINK_ETHERNET:
        if len(frame) < 14:
            return None
        ethertype = int.from_bytes(frame[12:14], "big")
        ip = frame[14:] if ethertype == 0x0800 else b""
    elif linktype == _LINK_SLL:
        ip = frame[16:] if int.from_bytes(frame[14:16], "big") == 0x0800 else b""
    elif linktype == _LINK_NULL:
        ip = frame[4:]
    elif linktype in (_LINK_RAW, _LINK_RAW_IPV4):
        ip = frame
    else:
        return None
    if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
        return None
    ihl = (ip[0] & 0x0F) * 4
    udp = ip[ihl:]
    if len(udp) < 8:
        return None
    sport, dport, ulen = struct.unpack("!HHH", udp[:6])
    return UdpPacket(ts, _ipv4(ip[12:16]), sport, _ipv4(ip[16:20]), dport, udp[8:ulen])
