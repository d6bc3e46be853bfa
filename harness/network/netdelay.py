"""A user-space delay stage for UDP on the loopback: Linux NFQUEUE, pure Python.

An iptables rule (harness.network.impair) sends the packets toward the agents' RTP ports to a
netlink queue (nfnetlink_queue, NETLINK_NETFILTER). This module, run as a small
helper process, reads the queue and issues each packet's verdict (NF_ACCEPT) only
when its release time comes, so the packet is really held in the kernel that long.
No copy of the packet is relayed: addresses, ports, RTCP and the switch see nothing
but a later packet.

Release time = arrival at the reader + `delay_ms` + a uniform draw in
[-`jitter_ms`, +`jitter_ms`], never before the previous release on the same flow
(destination port): a single path queue does not reorder, so neither does this stage.

The stage measures itself: for every packet the intended hold against the actual one
(verdict sent - arrival at the reader), and its own scheduling lateness (a wake-up
later than it asked for is a stall of the reader, a host pause most often). The
summary is a `DelayReport`.

Protocol (linux/netfilter/nfnetlink.h, nfnetlink_queue.h): netlink header
(native byte order), `nfgenmsg` (family, version 0, res_id = queue number, big
endian), then attributes (length, type; native; padded to 4). Message types are
`NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_*`; the payload structs are big endian.

A loss profile uses the same stage (`--loss`): an RTP packet whose position in its
flow is in the profile's seeded pattern gets `NF_DROP` at once, every other packet
passes after its hold (none, for a loss-only profile). The patterns and the drop
decision are harness.network.netloss's; the stage reports them as a `LossReport`.

This file and harness.network.netloss import only the standard library: the helper runs as
`python -I -S netdelay.py ...`, with nothing else of the harness loaded.
"""

from __future__ import annotations

import argparse
import errno
import heapq
import json
import os
import random
import select
import socket
import struct
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

if __name__ == "__main__" and not __package__:  # the helper: python -I -S .../netdelay.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from harness.network.netloss import LossModel, LossStage  # noqa: E402

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED / NLA_F_NET_BYTEORDER
NFQA_PACKET_HDR, NFQA_IFINDEX_OUTDEV, NFQA_PAYLOAD = 1, 6, 10
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN, NFQA_CFG_MASK, NFQA_CFG_FLAGS = (
    1, 2, 3, 4, 5)
NFQNL_CFG_CMD_BIND, NFQNL_CFG_CMD_UNBIND, NFQNL_CFG_CMD_PF_BIND = 1, 2, 3
NFQNL_COPY_META, NFQNL_COPY_PACKET = 1, 2
NFQA_CFG_F_FAIL_OPEN = 0x1
NF_DROP, NF_ACCEPT = 0, 1
COPY_RANGE = 64  # IPv4 + UDP + RTP headers: enough to tell flows apart
LATE_MS = 10.0  # a release this much after its time is a late release

_NLMSGHDR = struct.Struct("=IHHII")
_NFGENMSG = struct.Struct(">BBH")
_NLATTR = struct.Struct("=HH")


# -- messages ---------------------------------------------------------------------------
def _align4(n: int) -> int:
    return (n + 3) & ~3


def nlattr(attr_type: int, payload: bytes) -> bytes:
    """One netlink attribute, padded to 4 bytes (the length excludes the padding)."""
    length = _NLATTR.size + len(payload)
    return _NLATTR.pack(length, attr_type) + payload + b"\0" * (_align4(length) - length)


def nfq_message(msg: int, queue: int, attrs: bytes, seq: int, flags: int = NLM_F_REQUEST,
                family: int = socket.AF_UNSPEC) -> bytes:
    """A netlink message of the queue subsystem: header, nfgenmsg, attributes."""
    body = _NFGENMSG.pack(family, 0, queue) + attrs
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), NFNL_SUBSYS_QUEUE << 8 | msg, flags,
                          seq, 0) + body


def config_cmd(queue: int, command: int, seq: int, pf: int = socket.AF_UNSPEC) -> bytes:
    """NFQNL_MSG_CONFIG with NFQA_CFG_CMD (struct nfqnl_msg_config_cmd), ACK asked."""
    return nfq_message(NFQNL_MSG_CONFIG, queue,
                       nlattr(NFQA_CFG_CMD, struct.pack(">BxH", command, pf)), seq,
                       NLM_F_REQUEST | NLM_F_ACK)


def config_params(queue: int, seq: int, copy_mode: int = NFQNL_COPY_PACKET,
                  copy_range: int = COPY_RANGE, maxlen: int = 4096,
                  flags: int = NFQA_CFG_F_FAIL_OPEN) -> bytes:
    """Copy mode and range (nfqnl_msg_config_params, packed), queue length, flags."""
    attrs = (nlattr(NFQA_CFG_PARAMS, struct.pack(">IB", copy_range, copy_mode))
             + nlattr(NFQA_CFG_QUEUE_MAXLEN, struct.pack(">I", maxlen))
             + nlattr(NFQA_CFG_FLAGS, struct.pack(">I", flags))
             + nlattr(NFQA_CFG_MASK, struct.pack(">I", flags)))
    return nfq_message(NFQNL_MSG_CONFIG, queue, attrs, seq, NLM_F_REQUEST | NLM_F_ACK)


def verdict(queue: int, packet_id: int, seq: int, verdict_code: int = NF_ACCEPT) -> bytes:
    """NFQNL_MSG_VERDICT with NFQA_VERDICT_HDR (struct nfqnl_msg_verdict_hdr, big endian)."""
    return nfq_message(NFQNL_MSG_VERDICT, queue,
                       nlattr(NFQA_VERDICT_HDR, struct.pack(">II", verdict_code, packet_id)),
                       seq)


@dataclass(frozen=True, slots=True)
class NlMessage:
    msg_type: int
    flags: int
    seq: int
    body: bytes  # after the netlink header


def split_messages(buf: bytes) -> Iterator[NlMessage]:
    """The netlink messages in one datagram (each aligned to 4 bytes)."""
    off = 0
    while off + _NLMSGHDR.size <= len(buf):
        length, msg_type, flags, seq, _pid = _NLMSGHDR.unpack_from(buf, off)
        if length < _NLMSGHDR.size or off + length > len(buf):
            raise ValueError(f"netlink message at {off}: bad length {length} "
                             f"(datagram of {len(buf)} bytes)")
        yield NlMessage(msg_type, flags, seq, buf[off + _NLMSGHDR.size:off + length])
        off += _align4(length)


def parse_attrs(buf: bytes) -> dict[int, bytes]:
    """Attribute type (flags masked) -> payload."""
    out: dict[int, bytes] = {}
    off = 0
    while off + _NLATTR.size <= len(buf):
        length, attr_type = _NLATTR.unpack_from(buf, off)
        if length < _NLATTR.size or off + length > len(buf):
            raise ValueError(f"netlink attribute at {off}: bad length {length}")
        out[attr_type & NLA_TYPE_MASK] = buf[off + _NLATTR.size:off + length]
        off += _align4(length)
    return out


def netlink_error(m: NlMessage) -> int:
    """The errno of an NLMSG_ERROR (0 = an ACK)."""
    code: int = struct.unpack_from("=i", m.body)[0]
    return -code


@dataclass(frozen=True, slots=True)
class QueuedPacket:
    queue: int
    packet_id: int
    dport: int  # 0 when the copied bytes do not reach the UDP header
    outdev: int = 0  # the outgoing interface's index (0: not given)
    udp_payload: bytes = b""  # as much as was copied (an RTP header fits)


def parse_packet(m: NlMessage) -> QueuedPacket:
    """An NFQNL_MSG_PACKET: packet id (nfqnl_msg_packet_hdr, network byte order), the
    outgoing interface (NFQA_IFINDEX_OUTDEV, big endian), and the UDP destination port
    and payload from the copied IPv4 packet."""
    if m.msg_type != NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET:
        raise ValueError(f"not a queued packet: message type {m.msg_type:#x}")
    _family, _version, queue = _NFGENMSG.unpack_from(m.body)
    attrs = parse_attrs(m.body[_NFGENMSG.size:])
    if NFQA_PACKET_HDR not in attrs:
        raise ValueError("queued packet without NFQA_PACKET_HDR")
    packet_id: int = struct.unpack_from(">I", attrs[NFQA_PACKET_HDR])[0]
    ip = attrs.get(NFQA_PAYLOAD, b"")
    dport, payload = 0, b""
    if len(ip) >= 20 and ip[0] >> 4 == 4:
        ihl = (ip[0] & 0x0F) * 4
        if len(ip) >= ihl + 4:
            dport = struct.unpack_from(">H", ip, ihl + 2)[0]
            payload = ip[ihl + 8:]
    out = attrs.get(NFQA_IFINDEX_OUTDEV, b"")
    outdev: int = struct.unpack(">I", out)[0] if len(out) == 4 else 0
    return QueuedPacket(queue, packet_id, dport, outdev, payload)


# -- scheduling -------------------------------------------------------------------------
def draw_hold_ms(rng: random.Random, delay_ms: float, jitter_ms: float) -> float:
    """One packet's hold: delay_ms + uniform(-jitter_ms, +jitter_ms), never negative."""
    return max(0.0, delay_ms + (rng.uniform(-jitter_ms, jitter_ms) if jitter_ms else 0.0))


class Scheduler:
    """Release times, first in first out per flow: a packet never overtakes the one
    queued before it on the same destination port (its hold is stretched instead)."""

    def __init__(self, delay_ms: float, jitter_ms: float, seed: int) -> None:
        self.delay_ms, self.jitter_ms = delay_ms, jitter_ms
        self.rng = random.Random(seed)
        self.last: dict[int, float] = {}
        self.stretched = 0  # holds lengthened to keep the flow's order

    def release_at(self, arrival_s: float, flow: int) -> float:
        release = arrival_s + draw_hold_ms(self.rng, self.delay_ms, self.jitter_ms) / 1000
        prev = self.last.get(flow)
        if prev is not None and release < prev:
            release, self.stretched = prev, self.stretched + 1
        self.last[flow] = release
        return release


# -- its own timing ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DelayReport:
    """The delay stage's own timing over one block (one call). Hold = verdict sent -
    packet read from the queue; error = actual release - intended release."""

    delay_ms: float
    jitter_ms: float
    packets: int
    flows: int
    intended_mean_ms: float
    intended_min_ms: float
    intended_max_ms: float
    held_mean_ms: float
    held_p95_ms: float
    held_max_ms: float
    error_mean_ms: float
    error_p95_ms: float
    error_max_ms: float
    late_releases: int  # released more than LATE_MS after their time
    stretched: int  # holds lengthened so the flow keeps its order
    reader_max_stall_ms: float  # the reader's worst wake-up lateness
    reader_stalls: int  # wake-ups later than stall_threshold_ms
    reader_stalled_ms: float  # total lateness over those
    stall_threshold_ms: float
    bypassed: int  # gaps in the kernel's packet ids: packets that skipped the stage
    verdict_errors: int
    reader_cpu_s: float
    sched: str  # the reader's scheduling policy
    seed: int
    valid: bool
    problems: tuple[str, ...]

    def describe(self) -> str:
        return (f"delay stage {self.delay_ms:g}±{self.jitter_ms:g} ms: {self.packets} packets, "
                f"held {self.held_mean_ms:.1f}/{self.held_p95_ms:.1f}/{self.held_max_ms:.1f} "
                f"ms mean/p95/max, error {self.error_mean_ms:.2f}/{self.error_p95_ms:.2f} ms "
                f"mean/p95, {self.late_releases} late, reader stall max "
                f"{self.reader_max_stall_ms:.0f} ms"
                + ("" if self.valid else f" — INVALID: {'; '.join(self.problems)}"))

    @classmethod
    def parse(cls, doc: dict[str, object]) -> DelayReport:
        """From the helper's JSON line."""
        problems = doc.get("problems", [])
        fields = {**doc, "problems": tuple(str(p) for p in problems)
                  if isinstance(problems, list) else ()}
        return cls(**fields)  # type: ignore[arg-type]

    @classmethod
    def missing(cls, delay_ms: float, jitter_ms: float, problem: str) -> DelayReport:
        """No figures: the stage did not report (it died or hung)."""
        return cls(delay_ms, jitter_ms, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0,
                   0, 0.0, 0, 0.0, 0.0, 0, 0, 0.0, "", 0, False, (problem,))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


@dataclass(slots=True)
class Timing:
    """Raw per-packet and per-wake-up figures of one run of the reader (seconds)."""

    intended: list[float]
    held: list[float]
    lateness: list[float]  # wake-up lateness, every wake-up
    ids: list[int]


def summarize(t: Timing, delay_ms: float, jitter_ms: float, *, flows: int, stretched: int,
              verdict_errors: int, cpu_s: float, sched: str, seed: int,
              stall_threshold_ms: float, problems: Sequence[str] = ()) -> DelayReport:
    """The per-call summary of the stage's own timing."""
    ms = 1000.0
    errors = [(h - i) * ms for h, i in zip(t.held, t.intended, strict=True)]
    stalls = [x * ms for x in t.lateness if x * ms > stall_threshold_ms]
    ids = sorted(t.ids)
    bypassed = sum(b - a - 1 for a, b in zip(ids, ids[1:], strict=False) if b > a + 1)
    found = list(problems)
    if stalls:
        found.append(f"the delay stage stalled {max(stalls):.0f} ms (threshold "
                     f"{stall_threshold_ms:g} ms, {len(stalls)} stall(s))")
    if bypassed:
        found.append(f"{bypassed} packet(s) skipped the delay stage (queue full or reader "
                     "overrun: fail-open)")

    def mean(v: Sequence[float]) -> float:
        return sum(v) / len(v) if v else 0.0

    return DelayReport(
        delay_ms, jitter_ms, len(t.held), flows,
        round(mean(t.intended) * ms, 3), round(min(t.intended, default=0) * ms, 3),
        round(max(t.intended, default=0) * ms, 3),
        round(mean(t.held) * ms, 3), round(percentile(t.held, 95) * ms, 3),
        round(max(t.held, default=0) * ms, 3),
        round(mean(errors), 3), round(percentile(errors, 95), 3),
        round(max(errors, default=0), 3), sum(1 for e in errors if e > LATE_MS), stretched,
        round(max(t.lateness, default=0) * ms, 3), len(stalls), round(sum(stalls), 3),
        stall_threshold_ms, bypassed, verdict_errors, round(cpu_s, 3), sched, seed,
        not found, tuple(found))


def report_json(r: DelayReport) -> str:
    return json.dumps(asdict(r))


# -- the reader (the helper process) ------------------------------------------------------
SO_RCVBUFFORCE = 33
LOOP_S = 0.010  # the reader wakes at least this often, to measure its own lateness


class Reader:
    """Holds every queued packet until its release time, then accepts it."""

    def __init__(self, delay_ms: float, jitter_ms: float, seed: int,
                 loss: LossStage | None = None) -> None:
        self.loss = loss
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:  # room for a few seconds of stall without overrun
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((0, 0))
        self.seq = 0
        self.queue = -1
        self.scheduler = Scheduler(delay_ms, jitter_ms, seed)
        self.timing = Timing([], [], [], [])
        self.flows: set[int] = set()
        self.verdict_errors = 0
        self.overruns = 0
        self.heap: list[tuple[float, int, int, float]] = []  # release, order, id, arrival
        self.order = 0

    def _request(self, msg: bytes) -> int:
        """Send one config request; its errno from the kernel's ACK (0 = done)."""
        self.sock.send(msg)
        while True:
            for m in split_messages(self.sock.recv(65536)):
                if m.msg_type == NLMSG_ERROR and m.seq == self.seq:
                    return netlink_error(m)

    def bind(self, first_queue: int, tries: int = 64) -> int:
        """Bind the first free queue from `first_queue` on; copy 64 bytes, fail open."""
        self.seq += 1  # PF_BIND is a no-op since Linux 3.8; sent as libnetfilter_queue does
        self._request(config_cmd(0, NFQNL_CFG_CMD_PF_BIND, self.seq, socket.AF_INET))
        for q in range(first_queue, first_queue + tries):
            self.seq += 1
            err = self._request(config_cmd(q, NFQNL_CFG_CMD_BIND, self.seq))
            if err == 0:
                self.queue = q
                break
            if err not in (errno.EBUSY, errno.EPERM):
                raise OSError(err, f"NFQUEUE bind of queue {q}: {os.strerror(err)}")
        else:
            raise OSError(errno.EBUSY, f"NFQUEUE: queues {first_queue}..{q} all taken")
        self.seq += 1
        err = self._request(config_params(self.queue, self.seq))
        if err:
            raise OSError(err, f"NFQUEUE config of queue {self.queue}: {os.strerror(err)}")
        self.sock.setblocking(False)
        return self.queue

    def _read(self) -> None:
        while True:
            try:
                buf = self.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                self.overruns += 1  # the kernel then accepts (fail-open): ids show gaps
                continue
            arrival = time.monotonic()
            for m in split_messages(buf):
                if m.msg_type == NLMSG_ERROR:
                    self.verdict_errors += netlink_error(m) != 0
                    continue
                p = parse_packet(m)
                self.flows.add(p.dport)
                self.timing.ids.append(p.packet_id)
                if self.loss and self.loss.decide(p.outdev, p.dport, p.udp_payload):
                    self.seq += 1
                    self.sock.send(verdict(self.queue, p.packet_id, self.seq, NF_DROP))
                    continue
                release = self.scheduler.release_at(arrival, p.dport)
                self.order += 1
                heapq.heappush(self.heap, (release, self.order, p.packet_id, arrival))

    def _release_due(self) -> None:
        while self.heap and self.heap[0][0] <= time.monotonic():
            release, _, packet_id, arrival = heapq.heappop(self.heap)
            self._accept(packet_id, release, arrival)

    def _accept(self, packet_id: int, release: float, arrival: float) -> None:
        self.seq += 1
        self.sock.send(verdict(self.queue, packet_id, self.seq))
        self.timing.held.append(time.monotonic() - arrival)
        self.timing.intended.append(release - arrival)

    def run(self, control_fd: int, drain_s: float) -> None:
        """Until `control_fd` reaches EOF (the rule is gone), then `drain_s` more to
        release what is held; anything still held after that is released at once."""
        drain_until: float | None = None
        while True:
            now = time.monotonic()
            timeout = LOOP_S if not self.heap else min(LOOP_S, max(0.0, self.heap[0][0] - now))
            fds = [self.sock.fileno()] + ([control_fd] if drain_until is None else [])
            ready, _, _ = select.select(fds, [], [], timeout)
            woke = time.monotonic()
            self.timing.lateness.append(max(0.0, woke - (now + timeout)))
            if self.sock.fileno() in ready:
                self._read()
            if control_fd in ready and not os.read(control_fd, 4096):
                drain_until = woke + drain_s
            self._release_due()
            if drain_until is not None and (not self.heap or woke >= drain_until):
                break
        while self.heap:
            release, _, packet_id, arrival = heapq.heappop(self.heap)
            self._accept(packet_id, release, arrival)

    def close(self) -> None:
        if self.queue >= 0:
            self.seq += 1
            self.sock.setblocking(True)
            self.sock.send(config_cmd(self.queue, NFQNL_CFG_CMD_UNBIND, self.seq))
        self.sock.close()


def _realtime() -> str:
    """SCHED_FIFO priority 1 when allowed: the reader preempts ordinary threads for the
    microseconds a verdict takes, so its releases are not queued behind them."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        return "SCHED_FIFO 1"
    except (OSError, AttributeError):
        return "SCHED_OTHER"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="NFQUEUE delay stage (harness.network.impair)")
    ap.add_argument("--queue", type=int, required=True, help="first queue number to try")
    ap.add_argument("--delay-ms", type=float, required=True)
    ap.add_argument("--jitter-ms", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stall-threshold-ms", type=float, default=100.0)
    ap.add_argument("--no-realtime", action="store_true")
    ap.add_argument("--loss", type=LossModel.parse, help="bernoulli:p | gilbert_elliott:p,r,h,k")
    ap.add_argument("--loss-profile", default="", help="the patterns' seed prefix")
    ap.add_argument("--lane", action="append", default=[], metavar="IFNAME=NAME",
                    help="name the flows leaving IFNAME (their patterns' seed)")
    a = ap.parse_args(argv)
    sched = "SCHED_OTHER" if a.no_realtime else _realtime()
    loss = LossStage(a.loss_profile, a.loss, {
        socket.if_nametoindex(ifname): name
        for ifname, _, name in (x.partition("=") for x in a.lane)}) if a.loss else None
    reader = Reader(a.delay_ms, a.jitter_ms, a.seed, loss)
    try:
        queue = reader.bind(a.queue)
        print(json.dumps({"queue": queue, "pid": os.getpid(), "sched": sched}), flush=True)
        reader.run(sys.stdin.fileno(), (a.delay_ms + a.jitter_ms) / 1000 + 0.5)
    finally:
        reader.close()
    cpu = os.times()
    if loss:
        print(json.dumps({"loss": asdict(loss.report())}), flush=True)
    print(report_json(summarize(
        reader.timing, a.delay_ms, a.jitter_ms, flows=len(reader.flows),
        stretched=reader.scheduler.stretched, verdict_errors=reader.verdict_errors,
        cpu_s=cpu.user + cpu.system, sched=sched, seed=a.seed,
        stall_threshold_ms=a.stall_threshold_ms,
        problems=[f"netlink receive buffer overran {reader.overruns} time(s)"]
        if reader.overruns else [])), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
