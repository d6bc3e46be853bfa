"""T.38 fax terminals (ITU-T T.38: real-time fax over IP) for fax rows whose line the
switch serves with T.38: libspandsp's `t38_terminal` (T.30 over T.38 IFP packets, the
same engine as the G.711 terminals of harness/media/fax.py) through ctypes, and UDPTL
(T.38 §9.1: the IFP packets' UDP transport) coded here.

UDPTL as sent on the wire (ASN.1 aligned PER, as T.38 Annex A defines it and as
gateways send it):

    seq-number                 2 octets, big-endian
    primary-ifp-packet         length determinant, then the IFP packet's octets
    error-recovery             1 octet: 0x00 secondary-ifp-packets, 0x80 fec-info
      secondary-ifp-packets    count (length determinant), then each earlier packet
                               (newest first), length determinant + octets
      fec-info                 fec-npackets (length-prefixed integer), then the FEC
                               octet strings (count, then length-prefixed each)

A length determinant is one octet below 128, else two (0x80 | high six bits, low
octet). A terminal sends each IFP packet with the `REDUNDANCY` packets before it; a
received packet's redundancy fills a gap in the sequence before the primary is used.
FEC is read (its primary used) but not used to recover.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.media.fax import T30Session, library

REDUNDANCY = 3  # earlier IFP packets carried in each UDPTL packet (t38UDPRedundancy)
MAX_DATAGRAM = 400  # octets: the T38FaxMaxDatagram both ends are told
MAX_BIT_RATE = 14400  # T38MaxBitRate: V.17 at its fastest
MAX_REPEATS = 3  # the most copies of one packet sent when libspandsp asks for repeats

_TX_PACKET = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                              ctypes.POINTER(ctypes.c_uint8), ctypes.c_int, ctypes.c_int)
T38_TRANSFERRED_TCF = 2  # T38_DATA_RATE_MANAGEMENT_TRANSFERRED_TCF (t38_core.h)


class UdptlError(ValueError):
    """A datagram that is not a UDPTL packet."""


@dataclass(frozen=True, slots=True)
class UdptlPacket:
    seq: int
    primary: bytes
    secondary: tuple[bytes, ...] = ()  # packets seq-1, seq-2, ... (redundancy)
    fec: bool = False  # error recovery by FEC (not used to recover here)


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    if n < 0x4000:
        return bytes([0x80 | (n >> 8), n & 0xFF])
    raise UdptlError(f"UDPTL: a field of {n} octets (at most 16383)")


def _read_length(data: bytes, at: int) -> tuple[int, int]:
    if at >= len(data):
        raise UdptlError("UDPTL: cut short before a length")
    first = data[at]
    if first & 0x80 == 0:
        return first, at + 1
    if first & 0x40:
        raise UdptlError(f"UDPTL: a fragmented length (0x{first:02x}) at octet {at}")
    if at + 1 >= len(data):
        raise UdptlError("UDPTL: cut short inside a length")
    return ((first & 0x3F) << 8) | data[at + 1], at + 2


def _read_octets(data: bytes, at: int) -> tuple[bytes, int]:
    n, at = _read_length(data, at)
    if at + n > len(data):
        raise UdptlError(f"UDPTL: a field of {n} octets runs past the packet's end")
    return data[at:at + n], at + n


def encode_udptl(packet: UdptlPacket) -> bytes:
    """A UDPTL packet with redundancy (secondary-ifp-packets) as error recovery."""
    out = bytearray(((packet.seq & 0xFFFF) >> 8, packet.seq & 0xFF))
    out += _length(len(packet.primary)) + packet.primary
    out.append(0x00)
    out += _length(len(packet.secondary))
    for ifp in packet.secondary:
        out += _length(len(ifp)) + ifp
    return bytes(out)


def decode_udptl(data: bytes) -> UdptlPacket:
    if len(data) < 4:
        raise UdptlError(f"UDPTL: {len(data)} octets is too short for a packet")
    seq = (data[0] << 8) | data[1]
    primary, at = _read_octets(data, 2)
    if at >= len(data):
        raise UdptlError("UDPTL: no error-recovery field")
    choice, at = data[at], at + 1
    if choice & 0x80:  # fec-info: the primary alone
        return UdptlPacket(seq, primary, (), True)
    count, at = _read_length(data, at)
    secondary = []
    for _ in range(count):
        ifp, at = _read_octets(data, at)
        secondary.append(ifp)
    return UdptlPacket(seq, primary, tuple(secondary))


class UdptlReceiver:
    """In-order IFP packets out of UDPTL packets: a gap is filled from the redundancy
    of the packet after it; a repeat is dropped."""

    def __init__(self) -> None:
        self.expected: int | None = None
        self.received = 0  # UDPTL packets
        self.recovered = 0  # IFP packets taken from redundancy
        self.lost = 0  # IFP packets neither received nor recovered

    def feed(self, packet: UdptlPacket) -> list[tuple[int, bytes]]:
        """The IFP packets (seq, octets) this packet delivers, in order."""
        self.received += 1
        if self.expected is None:
            self.expected = packet.seq
        gap = (packet.seq - self.expected) & 0xFFFF
        if gap >= 0x8000:  # older than what was delivered: a repeat
            return []
        out = []
        for back in range(gap, 0, -1):  # the missed ones, oldest first
            seq = (packet.seq - back) & 0xFFFF
            if back <= len(packet.secondary):
                out.append((seq, packet.secondary[back - 1]))
                self.recovered += 1
            else:
                self.lost += 1
        out.append((packet.seq, packet.primary))
        self.expected = (packet.seq + 1) & 0xFFFF
        return out


@functools.cache
def _t38_library() -> Any:
    """libspandsp with its T.38 terminal's signatures set (once per process)."""
    sp = library()
    vp, i = ctypes.c_void_p, ctypes.c_int
    sp.t38_terminal_init.restype = vp
    sp.t38_terminal_init.argtypes = [vp, i, _TX_PACKET, vp]
    sp.t38_terminal_free.argtypes = [vp]
    sp.t38_terminal_get_t30_state.restype = vp
    sp.t38_terminal_get_t30_state.argtypes = [vp]
    sp.t38_terminal_get_t38_core_state.restype = vp
    sp.t38_terminal_get_t38_core_state.argtypes = [vp]
    sp.t38_terminal_send_timeout.argtypes = [vp, i]
    sp.t38_core_rx_ifp_packet.argtypes = [vp, ctypes.c_char_p, i, ctypes.c_uint16]
    sp.t38_set_t38_version.argtypes = [vp, i]
    sp.t38_set_data_rate_management_method.argtypes = [vp, i]
    sp.t38_set_max_datagram_size.argtypes = [vp, i]
    sp.t38_set_fastest_image_data_rate.argtypes = [vp, i]
    return sp


class T38Terminal(T30Session):
    """One side of a T.38 fax call: libspandsp's t38_terminal, sending `path` (the
    calling side by default) or receiving into it. `send` is given each UDPTL datagram
    to put on the wire; `receive` takes each datagram received; `tick` advances the
    terminal's clock (call it every 20 ms with 160 samples)."""

    def __init__(self, role: str, path: Path, calling: bool,
                 send: Callable[[bytes], None], ident: str = "beta harness") -> None:
        self._send = send
        sp = self._sp = _t38_library()
        self._tx_cb = _TX_PACKET(self._tx_packet)  # kept: C holds the pointer
        self._state = sp.t38_terminal_init(None, 1 if calling else 0, self._tx_cb, None)
        if not self._state:
            raise OSError("libspandsp: t38_terminal_init failed")
        core = sp.t38_terminal_get_t38_core_state(self._state)
        sp.t38_set_t38_version(core, 0)
        sp.t38_set_data_rate_management_method(core, T38_TRANSFERRED_TCF)
        sp.t38_set_max_datagram_size(core, MAX_DATAGRAM)
        sp.t38_set_fastest_image_data_rate(core, MAX_BIT_RATE)
        self._core = core
        super().__init__(sp.t38_terminal_get_t30_state(self._state), role, path, False, ident)
        self._seq = 0
        self._history: list[bytes] = []  # the last IFP packets sent, newest first
        self.rx = UdptlReceiver()
        self.sent = 0  # UDPTL packets sent
        self.undecodable = 0  # datagrams received that were not UDPTL

    def _tx_packet(self, _core: int, _user: int, buf: ctypes._Pointer[ctypes.c_uint8],
                   length: int, count: int) -> int:
        ifp = ctypes.string_at(buf, length)
        datagram = encode_udptl(UdptlPacket(self._seq, ifp, tuple(self._history[:REDUNDANCY])))
        self._history.insert(0, ifp)
        del self._history[REDUNDANCY:]
        self._seq = (self._seq + 1) & 0xFFFF
        # libspandsp asks some packets (indicators) to be sent more than once; the
        # redundancy in every packet covers the rest
        for _ in range(count if 1 <= count <= MAX_REPEATS else 1):
            self._send(datagram)
            self.sent += 1
        return 0

    def receive(self, datagram: bytes) -> None:
        """A UDPTL datagram from the far end (not one: ignored and counted)."""
        try:
            packet = decode_udptl(datagram)
        except UdptlError:
            self.undecodable += 1
            return
        for seq, ifp in self.rx.feed(packet):
            self._sp.t38_core_rx_ifp_packet(self._core, ifp, len(ifp), seq)

    def tick(self, samples: int = 160) -> None:
        self._sp.t38_terminal_send_timeout(self._state, samples)

    def close(self) -> None:
        if self._state:
            self._sp.t38_terminal_free(self._state)
            self._state = None
