"""Media figures the harness's own instruments spoiled are invalid (the call re-placed),
never the switch's failure: a talking agent its host starved (it left its speech behind
its own media clock, seen where the capture took it leaving the agent), and a capture
that dropped packets the receiving agent got. Measured on this host with two CPU hogs
beside a 22-row run: talkers 2.8-5.5 s behind their clock, every agent score ~1.1, and
the rows failed against the switch before these checks."""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest

from harness.capture.pcap import UdpPacket
from harness.capture.rtp import RtpPacket, parse_rtp, sender_lateness_ms, stream_stats
from harness.media.assess import TALKER_LATE_MS, lost_in_capture, talker_late
from harness.model import Expect, Status
from harness.verdict.checks import Outcome
from harness.verdict.metrics import call_timing
from tests.unit.test_lost_in_agent import CLEAN_STREAM
from tests.unit.test_metrics import CALLER, CLEAN, OK_CDR, _q, judge

T0 = 1_700_000_000.0


def _talker(n: int, late: dict[int, float] | None = None,
            events: tuple[int, ...] = (), event_pt: int = 96) -> list[RtpPacket]:
    """A talker's 20 ms G.711 packets; packet i leaves `late[i]` s behind its clock
    (and every one after it too: a starved clock does not catch up); packets at the
    `events` positions are RFC 4733 events of `event_pt`, repeated at one timestamp."""
    out, behind = [], 0.0
    for i in range(n):
        behind = max(behind, (late or {}).get(i, 0.0))
        pt, ts = (event_pt, 5000 + 160 * events[0]) if i in events else (0, 5000 + 160 * i)
        head = struct.pack("!BBHII", 0x80, pt, 1000 + i, ts, 0x1234)
        pkt = parse_rtp(UdpPacket(T0 + 0.02 * i + behind, "198.18.1.1", 20000,
                                  "127.0.0.1", 40010, head + bytes(160)))
        assert pkt is not None
        out.append(pkt)
    return out


def test_a_healthy_talker_is_on_its_clock() -> None:
    assert sender_lateness_ms(_talker(540)) == pytest.approx(0.0, abs=1e-3)
    assert sender_lateness_ms(_talker(540, {200: 0.004})) == pytest.approx(4.0, abs=1e-3)
    assert talker_late(4.0) == ()
    assert sender_lateness_ms(_talker(1)) is None


def test_a_starved_talker_is_caught_with_how_far_behind_it_fell() -> None:
    late = sender_lateness_ms(_talker(540, {120: 2.8}))
    assert late is not None and round(late) == 2800
    (why,) = talker_late(late)
    assert why.startswith("invalid_measurement: the harness's talking agent sent this "
                          "speech up to 2800 ms behind its own media clock")
    assert talker_late(TALKER_LATE_MS + 1.0) != ()


def test_telephone_events_are_not_the_talkers_lateness_under_any_payload_type() -> None:
    """RFC 4733 events repeat one timestamp for 200 ms: timed as audio they read 220 ms
    'late' (seen with pjsua's PT 96, which the filter for 101 let through). They keep
    their sequence numbers in the count: no loss."""
    for pt in (96, 101, 120):
        rtp = _talker(540, events=tuple(range(300, 312)), event_pt=pt)
        assert sender_lateness_ms(rtp) == pytest.approx(0.0, abs=1e-3)
        st = stream_stats(rtp)
        assert st is not None and (st.lost, st.packets, st.codec) == (0, 540, "PCMU")
        assert st.max_jitter_ms == pytest.approx(0.0, abs=1e-3)


def test_a_starved_talker_makes_the_call_an_error_not_a_fail() -> None:
    """Both sources of the direction invalid, and so is the stream figure that failed on
    the same packets: the verdict is an error re-placed, with the cause named."""
    (why,) = talker_late(2800.0)
    spoiled = (_q("a_to_b", "agent", 1.10, False, (why,)), _q("a_to_b", "wire", 4.34, False,
                                                              (why,)),
               _q("b_to_a", "agent", 4.37), _q("b_to_a", "wire", 4.37))
    jittery = {"wire_a_to_b": replace(CLEAN_STREAM, jitter_ms=40.0, max_jitter_ms=363.8)}
    v = judge(Expect(), 200, call_timing(CALLER, CLEAN), spoiled, OK_CDR, streams=jittery)
    assert v.status is Status.ERROR and v.invalid_measurement
    stream = [c for c in v.checks if c.criterion == "stream.jitter_ms"]
    assert [c.outcome for c in stream] == [Outcome.INVALID]
    assert "talking agent sent this speech up to 2800 ms" in stream[0].cause
    # the same jitter with both sources valid is the path's
    clean_q = tuple(_q(d, s, 4.3) for d in ("a_to_b", "b_to_a") for s in ("agent", "wire"))
    v = judge(Expect(), 200, call_timing(CALLER, CLEAN), clean_q, OK_CDR, streams=jittery)
    assert v.status is Status.FAIL
    assert [c.outcome for c in v.checks if c.criterion == "stream.jitter_ms"] == \
        [Outcome.FAIL]


def test_packets_the_agent_got_and_the_capture_lacks_are_the_captures() -> None:
    holed = replace(CLEAN_STREAM, lost=34, loss_pct=6.3)
    why = lost_in_capture(holed, 506, 0)
    assert why.startswith("invalid_measurement: the capture lacks 34 packet(s) the "
                          "receiving agent got")
    # loss the agent saw too is the path's; a packet or two is the windows' difference
    assert lost_in_capture(holed, 506, 34) == ""
    assert lost_in_capture(replace(CLEAN_STREAM, lost=2, loss_pct=0.4), 538, 0) == ""
    assert lost_in_capture(holed, None, None) == ""  # the agent's count unknown
    assert lost_in_capture(None, 506, 0) == ""
