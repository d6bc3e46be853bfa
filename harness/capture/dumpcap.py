"""One dumpcap per run, on the harness's own interface and ports only (and one per
access link, harness/network/netns.py: `Captures`).

`dumpcap` (no dissection) costs little CPU during live calls; analysis happens after
each call. Writing a file (`-w FILE`), dumpcap 4.0 flushes it every 500 ms; writing
to its standard output (`-w -`, here redirected to the file) it flushes each batch
libpcap delivers (within its 250 ms read timeout): a call's packets are readable
sooner. A reader still `sync()`s on a marker packet sent after the call (the
post-call OPTIONS ping) before it reads.
"""

from __future__ import annotations

import bisect
import dataclasses
import heapq
import shutil
import socket
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path

from harness.capture.pcap import UdpPacket, read_udp
from harness.errors import CaptureError, EnvironmentMissing
from harness.softswitch.process import ChildProcess


class Capture:
    def __init__(self, path: Path, interface: str, bpf: str) -> None:
        self.path, self.interface, self.bpf = path, interface, bpf
        self._child: ChildProcess | None = None
        self._packets: list[UdpPacket] = []
        self._offset = 0
        self._lock = threading.Lock()  # calls are measured in parallel threads
        self.lost = ""  # why this capture can be read no further ('' while it can)

    def start(self, timeout_s: float = 30.0) -> None:
        exe = shutil.which("dumpcap")
        if exe is None:
            raise EnvironmentMissing("dumpcap", "tshark")
        log = self.path.with_suffix(".log")
        self._child = ChildProcess("dumpcap", [exe, "-i", self.interface, "-f", self.bpf,
                                               "-w", "-", "-P", "-B", "8"], log,
                                   stdout_path=self.path)
        self._child.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self._child.running():
                raise CaptureError(f"dumpcap exited at start-up: {self._child.log_tail()}")
            if self.path.exists() and self.path.stat().st_size >= 24 and \
                    "Capturing on" in log.read_text(errors="replace"):
                return
            time.sleep(0.05)
        raise CaptureError(f"dumpcap did not start capturing within {timeout_s:.0f} s: "
                           f"{self._child.log_tail()}")

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop()
            self._child = None

    def mark(self, tag: bytes) -> None:
        """Nothing to do: the post-call OPTIONS ping on the loopback is the marker."""

    @property
    def shift_s(self) -> float:
        """What to take off the file's packet times to have them in this machine's wall
        clock (0: captured here)."""
        return 0.0

    def refresh(self) -> list[UdpPacket]:
        with self._lock:
            new, self._offset = read_udp(self.path, self._offset)
            shift = self.shift_s
            if shift:
                new = [dataclasses.replace(p, ts=p.ts - shift) for p in new]
            self._packets.extend(new)
            return self._packets

    def sync(self, marker: Callable[[UdpPacket], bool], timeout_s: float = 5.0,
             since_wall: float = 0.0, only: Collection[str] | None = None) -> bool:
        """Read until a packet matching `marker` (sent at `since_wall` or later) is in
        the file: dumpcap has flushed everything before it. (`only`: see Captures.)"""
        deadline = time.monotonic() + timeout_s
        while True:
            packets = self.refresh()
            with self._lock:
                start = bisect.bisect_left(packets, since_wall - 1.0, key=lambda p: p.ts)
                if any(marker(p) for p in packets[start:]):
                    return True
            if time.monotonic() > deadline or self.lost:
                return False
            time.sleep(0.05)

    def packets_between(self, t0_wall: float, t1_wall: float) -> list[UdpPacket]:
        with self._lock:
            packets = self._packets
            lo = bisect.bisect_left(packets, t0_wall, key=lambda p: p.ts)
            hi = bisect.bisect_right(packets, t1_wall, key=lambda p: p.ts)
            return packets[lo:hi]

    def write_slice(self, packets: list[UdpPacket], dest: Path) -> None:
        """A per-call pcap (raw IPv4 link type) of the given packets."""
        import struct

        with open(dest, "wb") as fh:
            fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 228))
            for p in packets:
                udp_len = 8 + len(p.payload)
                ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0, 0, 64, 17, 0,
                                 bytes(int(x) for x in p.src.split(".")),
                                 bytes(int(x) for x in p.dst.split(".")))
                udp = struct.pack("!HHHH", p.sport, p.dport, udp_len, 0) + p.payload
                sec = int(p.ts)
                usec = int(round((p.ts - sec) * 1e6))
                frame = ip + udp
                fh.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)


class Captures:
    """The run's capture on the loopback and one on each access link's host-side veth
    (and each agent host's own, `add`), read as one: packets merged in time order.

    A reader syncs on a marker: the loopback one is the post-call OPTIONS ping; `mark`
    sends the same marker through every access link (a UDP datagram from the switch's
    access address to the discard port of the line side), so each link's dumpcap has
    flushed the call before it is read."""

    def __init__(self, main: Capture, links: list[tuple[Capture, str, str]]) -> None:
        self.main = main
        self.links = links  # (capture, access address, line-side address)
        self.path = main.path
        self._marks: list[tuple[float, bytes]] = []  # (sent at, tag) of `mark`
        self._lock = threading.Lock()  # calls are measured in parallel threads

    def start(self, timeout_s: float = 30.0) -> None:
        for cap in self._all():
            cap.start(timeout_s)

    def stop(self) -> None:
        for cap in self._all():
            cap.stop()

    def add(self, capture: Capture, core: str, address: str) -> None:
        """One more capture, started already (an agent host's own): read with the others,
        its marker sent from `core` ('' any address of this machine) to `address`."""
        with self._lock:
            self.links = [*self.links, (capture, core, address)]

    def mark(self, tag: bytes) -> None:
        with self._lock:
            self._marks = [*self._marks[-7:], (time.time(), tag)]
        for _, core, address in self.links:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind((core, 0))
                sock.sendto(tag, (address, 9))

    def sync(self, marker: Callable[[UdpPacket], bool], timeout_s: float = 5.0,
             since_wall: float = 0.0, only: Collection[str] | None = None) -> bool:
        """The loopback capture up to `marker`; each link's up to the last `mark` sent
        since `since_wall` (none sent: the links are not waited for). `only`: the
        line-side addresses whose captures a reader needs (a call's parties'); the
        others are neither read nor waited for (an agent host's capture is fetched over
        the network: a call reads its own hosts' only). None: every one."""
        if not self.main.sync(marker, timeout_s, since_wall):
            return False
        with self._lock:
            marks = [tag for sent, tag in self._marks if sent >= since_wall]
        if not marks:
            return True
        tag = marks[-1]
        # a capture lost (an agent host's, with the host) is not waited for: the calls
        # it would have shown are the harness's errors, named with the host
        return all(cap.sync(lambda p: tag in p.payload, timeout_s, since_wall) or
                   bool(cap.lost) for cap, _, address in self.links
                   if only is None or address in only)

    def packets_between(self, t0_wall: float, t1_wall: float) -> list[UdpPacket]:
        return list(heapq.merge(*(cap.packets_between(t0_wall, t1_wall)
                                  for cap in self._all()), key=lambda p: p.ts))

    def write_slice(self, packets: list[UdpPacket], dest: Path) -> None:
        self.main.write_slice(packets, dest)

    def _all(self) -> list[Capture]:
        return [self.main, *(cap for cap, _, _ in self.links)]
