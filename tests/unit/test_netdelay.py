"""The delay stage's netlink messages and scheduling, as pure functions (no kernel)."""

import json
import socket
import struct

import pytest

from harness.errors import ConfigError
from harness.network.impair import profile
from harness.network.netdelay import (
    NFQNL_CFG_CMD_BIND,
    NFQNL_COPY_PACKET,
    NLM_F_ACK,
    NLM_F_REQUEST,
    DelayReport,
    Scheduler,
    Timing,
    config_cmd,
    config_params,
    draw_hold_ms,
    netlink_error,
    nlattr,
    parse_attrs,
    parse_packet,
    percentile,
    report_json,
    split_messages,
    summarize,
    verdict,
)


def _kernel_packet(packet_id: int, dport: int, queue: int = 7) -> bytes:
    """An NFQNL_MSG_PACKET as the kernel sends it: packet header, payload (IPv4 + UDP)."""
    ip = bytes([0x45, 0]) + struct.pack(">H", 40) + b"\0" * 16
    udp = struct.pack(">HHHH", 40000, dport, 20, 0)
    attrs = (nlattr(1 | 0x4000, struct.pack(">IHB", packet_id, 0x0800, 3))  # NET_BYTEORDER
             + nlattr(10, ip + udp + b"\x80\x00\x00\x01"))
    body = struct.pack(">BBH", socket.AF_INET, 0, queue) + attrs
    return struct.pack("=IHHII", 16 + len(body), 3 << 8 | 0, 0, 0, 0) + body


def test_attribute_is_padded_and_its_length_excludes_the_padding() -> None:
    a = nlattr(2, b"\x01\x02\x03\x04\x05")
    assert len(a) == 12
    assert struct.unpack_from("=HH", a) == (9, 2)
    assert parse_attrs(a + nlattr(3, b"xy")) == {2: b"\x01\x02\x03\x04\x05", 3: b"xy"}


def test_bind_command_is_a_queue_config_message_asking_for_an_ack() -> None:
    (m,) = split_messages(config_cmd(4321, NFQNL_CFG_CMD_BIND, seq=9))
    assert m.msg_type == 3 << 8 | 2
    assert m.flags == NLM_F_REQUEST | NLM_F_ACK and m.seq == 9
    assert struct.unpack_from(">BBH", m.body) == (socket.AF_UNSPEC, 0, 4321)
    assert parse_attrs(m.body[4:]) == {1: struct.pack(">BxH", NFQNL_CFG_CMD_BIND, 0)}


def test_params_copy_a_small_range_fail_open_with_mask() -> None:
    (m,) = split_messages(config_params(5, seq=1))
    attrs = parse_attrs(m.body[4:])
    assert attrs[2] == struct.pack(">IB", 64, NFQNL_COPY_PACKET)  # packed: 5 bytes
    assert struct.unpack(">I", attrs[3]) == (4096,)
    assert attrs[5] == attrs[4] == struct.pack(">I", 1)  # NFQA_CFG_F_FAIL_OPEN


def test_verdict_carries_accept_and_the_id_in_network_order() -> None:
    (m,) = split_messages(verdict(12, 0x01020304, seq=5))
    assert m.msg_type == 3 << 8 | 1 and m.flags == NLM_F_REQUEST
    assert struct.unpack_from(">H", m.body, 2) == (12,)
    assert parse_attrs(m.body[4:])[2] == b"\0\0\0\x01\x01\x02\x03\x04"


def test_queued_packets_are_split_and_parsed() -> None:
    first = _kernel_packet(0x0A0B0C0D, 30002)
    pad = b"\0" * (-len(first) % 4)
    a, b = (parse_packet(m) for m in split_messages(first + pad + _kernel_packet(2, 30005)))
    assert (a.queue, a.packet_id, a.dport) == (7, 0x0A0B0C0D, 30002)
    assert (b.packet_id, b.dport) == (2, 30005)


def test_meta_only_copy_gives_no_port_and_bad_lengths_are_refused() -> None:
    body = struct.pack(">BBH", 2, 0, 1) + nlattr(1, struct.pack(">IHB", 3, 0x800, 3))
    msg = struct.pack("=IHHII", 16 + len(body), 0x300, 0, 0, 0) + body
    (m,) = split_messages(msg)
    assert parse_packet(m).dport == 0
    with pytest.raises(ValueError, match="bad length"):
        list(split_messages(struct.pack("=IHHII", 400, 0x300, 0, 0, 0)))
    with pytest.raises(ValueError, match="not a queued packet"):
        parse_packet(next(split_messages(verdict(1, 1, 1))))


def test_netlink_error_is_the_positive_errno() -> None:
    err = struct.pack("=IHHII", 36, 2, 0, 3, 0) + struct.pack("=i", -16) + b"\0" * 16
    (m,) = split_messages(err)
    assert netlink_error(m) == 16


def test_hold_without_jitter_is_the_delay() -> None:
    s = Scheduler(150.0, 0.0, seed=1)
    assert [s.release_at(t, 30000) for t in (1.0, 1.02)] == pytest.approx([1.15, 1.17])
    assert s.stretched == 0


def test_jitter_draws_stay_within_bounds_and_cover_them() -> None:
    import random
    rng = random.Random(3)
    draws = [draw_hold_ms(rng, 50.0, 20.0) for _ in range(20000)]
    assert 30.0 <= min(draws) < 30.5 and 69.5 < max(draws) <= 70.0
    assert sum(draws) / len(draws) == pytest.approx(50.0, abs=0.5)
    assert draw_hold_ms(rng, 5.0, 20.0) >= 0.0  # never a negative hold


def test_a_flow_is_never_reordered_other_flows_are_independent() -> None:
    s = Scheduler(50.0, 20.0, seed=11)
    rel: dict[int, list[float]] = {30000: [], 30002: []}
    for i in range(2000):
        for flow in rel:
            rel[flow].append(s.release_at(i * 0.02, flow))
    for r in rel.values():
        assert all(b >= a for a, b in zip(r, r[1:], strict=False))
        holds = [x - i * 0.02 for i, x in enumerate(r)]
        assert min(holds) >= 0.030 - 1e-9 and max(holds) <= 0.070 + 1e-9
    assert 0 < s.stretched < 2 * 2000 // 4  # about 1 in 8 at 20 ms spacing


def test_summary_counts_errors_late_releases_stalls_and_bypassed_packets() -> None:
    t = Timing(intended=[0.150, 0.150, 0.150], held=[0.1502, 0.151, 0.175],
               lateness=[0.0, 0.002, 0.250], ids=[1, 2, 5])
    r = summarize(t, 150.0, 0.0, flows=1, stretched=0, verdict_errors=0, cpu_s=0.1,
                  sched="SCHED_OTHER", seed=1, stall_threshold_ms=100.0)
    assert r.packets == 3 and r.held_max_ms == pytest.approx(175.0)
    assert r.error_max_ms == pytest.approx(25.0) and r.late_releases == 1
    assert r.reader_stalls == 1 and r.reader_max_stall_ms == pytest.approx(250.0)
    assert r.bypassed == 2  # ids 3 and 4 never reached the reader
    assert not r.valid and len(r.problems) == 2
    assert DelayReport.parse(json.loads(report_json(r))) == r
    assert "INVALID" in r.describe()


def test_a_clean_run_is_valid_and_a_missing_report_is_not() -> None:
    t = Timing([0.05] * 4, [0.0501] * 4, [0.001] * 4, [7, 8, 9, 10])
    r = summarize(t, 50.0, 20.0, flows=2, stretched=0, verdict_errors=0, cpu_s=0.0,
                  sched="", seed=0, stall_threshold_ms=100.0)
    assert r.valid and r.problems == () and r.late_releases == 0
    assert not DelayReport.missing(50.0, 20.0, "died").valid


def test_percentile_nearest_rank() -> None:
    assert percentile([], 95) == 0.0
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile([3.0], 50) == 3.0


def test_delay_and_jitter_profiles_are_no_longer_refused() -> None:
    assert (profile("delay150").delay_ms, profile("delay150").jitter_ms) == (150.0, 0.0)
    assert (profile("jitter50").delay_ms, profile("jitter50").jitter_ms) == (50.0, 20.0)
    with pytest.raises(ConfigError, match="unknown impairment profile"):
        profile("delay900")


def test_applied_yields_the_profile_and_no_delay_report_without_delay() -> None:
    from harness.network.impair import applied

    with applied(profile("clean"), 30000, 30099) as a:
        assert a.profile.name == "clean"
    assert a.delay is None
