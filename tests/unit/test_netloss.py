"""Seeded loss patterns (harness/network/netloss.py) and the stage's drop decision, with
crafted packets and a fake netlink socket (no kernel)."""

import socket
import struct
from typing import Any

import pytest

from harness.network import netdelay
from harness.network.impair import PROFILES, profile
from harness.network.netdelay import NF_ACCEPT, NF_DROP, Reader, nlattr, parse_attrs, split_messages
from harness.network.netloss import (
    SEQ_MOD,
    WINDOW,
    LossModel,
    LossReport,
    LossStage,
    Pattern,
    bursts,
    choose_seed,
    flow_seed,
)

BURST3 = LossModel("gilbert_elliott", 0.0077, 0.25, 0.0, 1.0)


def _rtp(seq: int, pt: int = 0) -> bytes:
    return struct.pack(">BBHII", 0x80, pt, seq % SEQ_MOD, 160 * seq, 0xABCD) + b"\xff" * 20


def _rtcp_rr() -> bytes:
    return struct.pack(">BBHI", 0x81, 201, 7, 0xABCD) + b"\0" * 24


def test_same_seed_same_drop_set_other_seed_other_set() -> None:
    for model in (LossModel("bernoulli", 0.03), BURST3):
        a, b = Pattern(model, "loss3/a_to_b/0#0"), Pattern(model, "loss3/a_to_b/0#0")
        assert a.offsets(5000) == b.offsets(5000)
        # drawn lazily: asking out of order gives the same answers
        c = Pattern(model, "loss3/a_to_b/0#0")
        assert [c.dropped(i) for i in range(4999, -1, -1)][::-1] == \
            [i in set(a.offsets(5000)) for i in range(5000)]
        assert Pattern(model, "loss3/b_to_a/0#0").offsets(5000) != a.offsets(5000)


def test_the_profiles_seeds_are_fixed_and_differ_by_direction() -> None:
    p = profile("loss3")
    assert p.loss is not None
    a, b = flow_seed("loss3", "a_to_b", 0, p.loss), flow_seed("loss3", "b_to_a", 0, p.loss)
    assert a.startswith("loss3/a_to_b/0#") and b.startswith("loss3/b_to_a/0#")
    assert a == flow_seed("loss3", "a_to_b", 0, p.loss)  # a string seed: SHA-512, not hash()
    # pinned: a change to the drawing would change every row's pattern (and its floor)
    assert a == "loss3/a_to_b/0#4"
    assert Pattern(p.loss, a).offsets(200) == [2, 23, 44, 117]


@pytest.mark.parametrize("name", ["loss1", "loss3", "loss5", "burst3"])
def test_each_profiles_window_realises_its_rate(name: str) -> None:
    model = PROFILES[name].loss
    assert model is not None
    for lane in ("a_to_b", "b_to_a"):
        lost = Pattern(model, flow_seed(name, lane, 0, model)).offsets(WINDOW)
        assert len(lost) == pytest.approx(model.mean_loss * WINDOW, rel=0.10)


def test_bernoulli_rate_over_a_long_sequence() -> None:
    for p in (0.01, 0.03, 0.05):
        pat = Pattern(LossModel("bernoulli", p), f"long/{p}")
        lost = pat.offsets(SEQ_MOD)
        assert len(lost) / SEQ_MOD == pytest.approx(p, rel=0.08)
        runs = bursts([pat.dropped(i) for i in range(SEQ_MOD)])
        assert sum(runs) / len(runs) == pytest.approx(1 / (1 - p), rel=0.05)  # isolated


def test_gilbert_elliott_mean_loss_and_burst_length() -> None:
    assert BURST3.mean_loss == pytest.approx(0.0077 / 0.2577)
    pat = Pattern(BURST3, "long/burst3")
    lost = set(pat.offsets(SEQ_MOD))
    assert len(lost) / SEQ_MOD == pytest.approx(BURST3.mean_loss, rel=0.12)
    runs = bursts([i in lost for i in range(SEQ_MOD)])
    assert sum(runs) / len(runs) == pytest.approx(1 / 0.25, rel=0.12)  # h = 0: 1/r
    assert max(runs) >= 10
    # h, k between 0 and 1: the general four-parameter model's mean loss
    ge = LossModel("gilbert_elliott", 0.05, 0.3, 0.4, 0.99)
    lost = Pattern(ge, "long/ge").offsets(SEQ_MOD)
    assert len(lost) / SEQ_MOD == pytest.approx(ge.mean_loss, rel=0.08)
    assert ge.mean_loss == pytest.approx(0.01 * 0.3 / 0.35 + 0.6 * 0.05 / 0.35)


def test_models_parse_from_their_argument_and_refuse_nonsense() -> None:
    for m in (LossModel("bernoulli", 0.03), BURST3):
        assert LossModel.parse(m.arg()) == m
    with pytest.raises(ValueError, match="outside 0..1"):
        LossModel("bernoulli", 3.0)
    with pytest.raises(ValueError, match="expected bernoulli:p"):
        LossModel.parse("gilbert_elliott:0.1,0.2")
    with pytest.raises(ValueError, match="no seed"):
        choose_seed(LossModel("bernoulli", 0.5), "x", window=1000, tolerance=0.0, tries=3)


def test_bursts_are_runs_of_consecutive_losses() -> None:
    assert bursts([]) == []
    assert bursts([True, True, False, True, False, False, True, True, True]) == [2, 1, 3]


def test_stage_drops_by_offset_from_the_flows_first_seq_and_passes_rtcp() -> None:
    model = LossModel("bernoulli", 0.05)
    stage = LossStage("loss5", model, {7: "a_to_b", 9: "b_to_a"})
    planned = Pattern(model, flow_seed("loss5", "a_to_b", 0, model)).offsets(300)
    base = 65500  # the sequence number wraps within the flow
    dropped = [i for i in range(300) if stage.decide(7, 30000, _rtp(base + i))]
    assert dropped == planned
    assert not any(stage.decide(7, 30001, _rtcp_rr()) for _ in range(20))
    assert not stage.decide(7, 30000, b"\x00\x01")  # not RTP: passes
    assert not stage.decide(7, 30000, b"\x40" + b"\0" * 15)  # RTP version 1: passes
    rep = stage.report()
    (flow,) = rep.flows
    assert (flow.lane, flow.dport, flow.first_seq) == ("a_to_b", 30000, 65500)
    assert flow.packets == 300 and flow.dropped == len(planned)
    assert list(flow.dropped_offsets) == planned and flow.last_offset == 299
    assert flow.loss_pct == pytest.approx(100 * len(planned) / 300, abs=0.001)
    assert rep.rtcp_passed == 20 and rep.other_passed == 2
    assert LossReport.parse(_json(rep)) == rep


def test_each_direction_and_each_new_flow_on_a_lane_gets_its_own_pattern() -> None:
    model = LossModel("bernoulli", 0.05)
    stage = LossStage("loss5", model, {7: "a_to_b", 9: "b_to_a"})
    for i in range(400):
        for dev, port in ((7, 30000), (9, 30010), (7, 30020)):
            stage.decide(dev, port, _rtp(1000 * dev + port + i))
    seeds = [f.seed.split("#")[0] for f in stage.report().flows]
    assert seeds == ["loss5/a_to_b/0", "loss5/b_to_a/0", "loss5/a_to_b/1"]
    assert stage.lane_of(99) == "if99"  # an interface nobody named


def _json(rep: LossReport) -> dict[str, Any]:
    import json
    from dataclasses import asdict
    doc: dict[str, Any] = json.loads(json.dumps(asdict(rep)))
    return doc


# -- the reader's verdicts, with a fake netlink socket ------------------------------------
def _queued(packet_id: int, outdev: int, dport: int, udp_payload: bytes) -> bytes:
    ip = bytes([0x45, 0]) + struct.pack(">H", 28 + len(udp_payload)) + b"\0" * 16
    udp = struct.pack(">HHHH", 40000, dport, 8 + len(udp_payload), 0)
    attrs = (nlattr(1 | 0x4000, struct.pack(">IHB", packet_id, 0x0800, 3))
             + nlattr(6 | 0x4000, struct.pack(">I", outdev))
             + nlattr(10, (ip + udp + udp_payload)[:64]))
    body = struct.pack(">BBH", socket.AF_INET, 0, 5) + attrs
    msg = struct.pack("=IHHII", 16 + len(body), 3 << 8 | 0, 0, 0, 0) + body
    return msg + b"\0" * (-len(msg) % 4)


class FakeNetlink:
    def __init__(self, datagrams: list[bytes]) -> None:
        self.datagrams, self.sent = datagrams, []  # type: ignore[var-annotated]

    def __call__(self, *args: Any) -> "FakeNetlink":
        return self

    def setsockopt(self, *args: Any) -> None: ...
    def bind(self, *args: Any) -> None: ...
    def fileno(self) -> int: return -1

    def recv(self, size: int) -> bytes:
        if not self.datagrams:
            raise BlockingIOError
        return self.datagrams.pop(0)

    def send(self, msg: bytes) -> None:
        self.sent.append(msg)


def test_reader_sends_drop_for_planned_offsets_and_accepts_the_rest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    model = LossModel("bernoulli", 0.05)
    planned = set(Pattern(model, flow_seed("loss5", "b_to_a", 0, model)).offsets(200))
    datagrams = [_queued(100 + i, 4, 31000, _rtp(777 + i)) for i in range(200)]
    datagrams.append(_queued(300, 4, 31001, _rtcp_rr()))
    fake = FakeNetlink(datagrams)
    monkeypatch.setattr(netdelay.socket, "socket", fake)
    reader = Reader(0.0, 0.0, seed=1, loss=LossStage("loss5", model, {4: "b_to_a"}))
    reader.queue = 5
    reader._read()
    reader._release_due()
    verdicts = {}
    for msg in fake.sent:
        (m,) = split_messages(msg)
        code, packet_id = struct.unpack(">II", parse_attrs(m.body[4:])[2])
        verdicts[packet_id] = code
    assert len(verdicts) == 201
    assert {i - 100 for i, v in verdicts.items() if v == NF_DROP} == planned
    assert verdicts[300] == NF_ACCEPT  # RTCP
    assert len(reader.timing.ids) == 201  # dropped packets are not "bypassed"
