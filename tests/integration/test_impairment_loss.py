"""Seeded loss (harness/network/netloss.py in the NFQUEUE stage): the packets a profile drops
are the ones its fixed pattern names, in each direction, every run — checked on the
wire, by RTP sequence number, against a pattern computed independently here.

One test sends crafted RTP through the stage on the loopback (no call); the other
places real calls through Kamailio + rtpengine over the access links."""

import json
import random
import socket
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import harness.run.runner
from harness.capture.pcap import read_udp
from harness.capture.rtp import parse_rtp
from harness.model import CallSpec, Expect, Status
from harness.network.impair import Applied, Profile, applied, profile
from harness.network.netloss import SEQ_MOD, Pattern, flow_seed
from harness.run.session import HarnessSession
from harness.sip.farm import AgentFarm
from harness.sip.scenario import CallOrder, CallOutcome

pytestmark = [pytest.mark.integration, pytest.mark.fault]


def _rtp(seq: int, ts: int) -> bytes:
    return struct.pack(">BBHII", 0x80, 0, seq % SEQ_MOD, ts, 0x1234) + b"\xff" * 160


def test_crafted_rtp_loses_exactly_the_planned_offsets_and_rtcp_passes() -> None:
    p = profile("burst3")
    assert p.loss is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 23)
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(0.5)
        port = rx.getsockname()[1]
        runs = [_crafted_run(p, rx, tx, port) for _ in range(2)]
    assert runs[0] == runs[1]  # the same "call" twice, from other initial sequence numbers


def _crafted_run(p: Profile, rx: socket.socket, tx: socket.socket, port: int) -> list[int]:
    assert p.loss is not None
    base, got, rtcp = random.randrange(SEQ_MOD), set(), 0
    with applied(p, port, port) as a:
        for i in range(800):
            tx.sendto(_rtp(base + i, 160 * i), ("127.0.0.1", port))
            if i % 50 == 0:  # an RTCP receiver report: payload type 201
                tx.sendto(struct.pack(">BBHI", 0x81, 201, 7, 0x1234) + b"\0" * 24,
                          ("127.0.0.1", port))
            time.sleep(0.001)
        try:
            while True:
                d = rx.recv(2048)
                if d[1] == 201:
                    rtcp += 1
                else:
                    got.add((struct.unpack(">H", d[2:4])[0] - base) % SEQ_MOD)
        except TimeoutError:
            pass
    assert a.loss is not None and a.delay is not None and a.delay.valid
    (flow,) = a.loss.flows
    lost = sorted(set(range(800)) - got)
    planned = Pattern(p.loss, flow_seed("burst3", "lo", 0, p.loss)).offsets(800)
    assert lost == planned == list(flow.dropped_offsets)
    assert rtcp == a.loss.rtcp_passed == 16  # RTCP untouched
    assert flow.packets == 800 and flow.bursts < flow.dropped  # bursty
    return lost


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Applied, CallOutcome]]:
    found: list[tuple[Applied, CallOutcome]] = []
    last: list[Applied] = []
    real_applied: Callable[..., Any] = harness.run.runner.applied
    real_place: Callable[..., CallOutcome] = AgentFarm.place

    @contextmanager
    def tapped(*args: Any, **kw: Any) -> Iterator[Applied]:
        with real_applied(*args, **kw) as a:
            last.append(a)
            yield a

    def place(farm: AgentFarm, order: CallOrder) -> CallOutcome:
        out = real_place(farm, order)
        found.append((last[-1], out))
        return out

    monkeypatch.setattr(harness.run.runner, "applied", tapped)
    monkeypatch.setattr(AgentFarm, "place", place)
    return found


def _lost_on_wire(pcap: Any, sender: str, receiver: str, first_seq: int,
                  last: int) -> set[int]:
    """Offsets 0..last (from the stage's first sequence number to its last) the sender
    put on the wire that never reached the receiver. (The sender's packets after the
    switch closed the call's media never reach the stage: not counted.)"""
    sent: dict[int, set[int]] = {}
    came: dict[int, set[int]] = {}
    packets, _ = read_udp(pcap)
    for pk in packets:
        r = parse_rtp(pk)
        if r is None:
            continue
        if pk.src_addr == sender:
            sent.setdefault(r.ssrc, set()).add(r.seq)
        elif pk.dst_addr == receiver:
            came.setdefault(r.ssrc, set()).add(r.seq)
    (ssrc,) = [s for s in sent if s in came]  # one stream, relayed unchanged
    offsets = {(s - first_seq) % SEQ_MOD for s in sent[ssrc]}
    assert set(range(last + 1)) <= offsets  # the sender's stream, whole
    reached = {(s - first_seq) % SEQ_MOD for s in came[ssrc]}
    return {o for o in offsets if o <= last and o not in reached}


def test_loss3_call_drops_exactly_the_planned_rtp_offsets_each_direction(
        live: HarnessSession, seen: list[tuple[Applied, CallOutcome]]) -> None:
    p = profile("loss3")
    assert p.loss is not None
    drops = []
    for floor in (1.0, 4.2):  # the second row asks loss3 for the clean floor: a fault
        row = CallSpec("6.x", "on-net under loss3", "site1/03", "site2/05",
                       profile="loss3", expect=Expect(mos_lqo_min=floor, audio=False))
        r = live.run_call(row)
        for _ in range(2):  # a host stall excuses an attempt, never the fault's check
            if floor == 1.0 or not r.verdict.invalid_measurement:
                break
            r = live.run_call(row)
        assert r.final_code == 200, r.verdict.reasons
        if floor > 1.0:
            assert not r.verdict.invalid_measurement, r.verdict.reasons
            assert r.verdict.status is Status.FAIL
            assert any(x.startswith("quality.") and "< 4.20" in x for x in r.verdict.reasons)
        a, out = seen[-1]
        assert a.loss is not None and out.b is not None
        assert out.a.stats is not None and out.b.stats is not None
        arts = dict(r.artifacts)
        stored = json.loads((live.run_dir / arts["call"]).parent.joinpath(
            "loss_stage.json").read_text())
        assert stored["profile"] == "loss3" and len(stored["flows"]) == 2
        call = [c for c in json.loads((live.run_dir / "results.json").read_text())["calls"]
                if c["call_id"] == r.call_id][-1]
        assert call["loss_stage"] == stored  # the row's figures are stored with it
        pcap = live.run_dir / arts["call"]
        per = {}
        for d, snd, rcv in (("a_to_b", out.a, out.b), ("b_to_a", out.b, out.a)):
            flow = a.loss.lane(d)
            assert flow is not None and flow.seed == flow_seed("loss3", d, 0, p.loss)
            lost = _lost_on_wire(pcap, snd.stats.local_rtp, rcv.stats.local_rtp,
                                 flow.first_seq, flow.last_offset)
            sent = flow.last_offset + 1
            assert flow.packets == sent  # the stage saw every packet from its first on
            planned = set(Pattern(p.loss, flow.seed).offsets(sent))
            assert lost == planned == set(flow.dropped_offsets), d
            assert 2.0 <= flow.loss_pct <= 4.0 and flow.dropped > 5
            per[d] = sorted(lost)
            print(f"\nloss3 {d}: sent {sent}, dropped {flow.dropped} ({flow.loss_pct} %), "
                  f"{flow.bursts} bursts max {flow.burst_max}; wire loss "
                  f"{json.loads((live.run_dir / arts['streams']).read_text())[f'wire_{d}']}")
        assert per["a_to_b"] != per["b_to_a"]  # each direction its own pattern
        drops.append(per)
    # the same pattern both calls, as far as both ran
    for d in ("a_to_b", "b_to_a"):
        n = min(max(x[d], default=0) for x in drops)
        assert [o for o in drops[0][d] if o <= n] == [o for o in drops[1][d] if o <= n]
