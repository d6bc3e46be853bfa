"""Wire timing from a recorded capture of a real on-net call through the embedded
Kamailio (caller 127.0.0.1:44396, switch 127.0.0.1:48987, callee on its own port),
placed with X-Harness-Delay-Ms: 300, so the switch held the INVITE 300 ms; the
callee rang 1 s before answering."""

from dataclasses import replace
from pathlib import Path

import pytest

from harness.capture.pcap import read_udp
from harness.capture.sip import call_ladder, parse_sip, wire_timing

PCAP = Path(__file__).parent.parent / "data" / "onnet_call_sip.pcap"
CALLER, SWITCH = "127.0.0.1:44396", "127.0.0.1:48987"


@pytest.fixture(scope="module")
def ladder() -> list:  # type: ignore[type-arg]
    packets, _ = read_udp(PCAP)
    invite = next(m for m in map(parse_sip, packets) if m and m.method == "INVITE")
    return call_ladder(packets, invite.call_id)


def test_ladder_of_a_proxied_call(ladder: list) -> None:  # type: ignore[type-arg]
    labels = [(m.src == CALLER, m.label()) for m in ladder if m.src in (CALLER, SWITCH)
              and m.dst in (CALLER, SWITCH)]
    # the caller's leg: challenge, authenticated INVITE, 100, 180, 200, ACK, BYE, 200
    assert labels[:3] == [(True, "INVITE"), (False, "407 (INVITE)"), (True, "ACK")]
    assert (False, "180 (INVITE)") in labels and (False, "200 (INVITE)") in labels
    assert (True, "BYE") in labels and (False, "200 (BYE)") in labels
    assert len({m.src for m in ladder} | {m.dst for m in ladder}) == 3  # caller, switch, callee


def test_wire_timing_figures(ladder: list) -> None:  # type: ignore[type-arg]
    t = wire_timing(ladder, CALLER, SWITCH)
    invite = ladder[0]
    ringing = next(m for m in ladder if m.code == 180 and m.dst == CALLER)
    ok = next(m for m in ladder if m.code == 200 and m.method == "INVITE" and m.dst == CALLER)
    assert t.srd_s == pytest.approx(ringing.ts - invite.ts)
    assert t.setup_s == pytest.approx(ok.ts - invite.ts)
    assert t.srd_s is not None and 0.300 < t.srd_s < 0.310  # the injected 300 ms
    assert t.setup_s is not None and 1.300 < t.setup_s < 1.400  # + 1 s of ringing
    assert t.sdd_s is not None and 0 < t.sdd_s < 0.1
    assert t.retransmissions == 0


def test_a_repeated_message_counts_as_a_retransmission(ladder: list) -> None:  # type: ignore[type-arg]
    again = replace(ladder[0], ts=ladder[0].ts + 0.5)  # RFC 3261 timer A fired
    t = wire_timing([ladder[0], again, *ladder[1:]], CALLER, SWITCH)
    assert t.retransmissions == 1


def test_a_challenge_is_not_the_first_response(ladder: list) -> None:  # type: ignore[type-arg]
    no_ringing = [m for m in ladder if m.code != 180]
    t = wire_timing(no_ringing, CALLER, SWITCH)
    assert t.srd_s == t.setup_s  # the 200, not the 407


def test_the_report_ladder_is_drawn_from_the_capture(ladder: list) -> None:  # type: ignore[type-arg]
    from dataclasses import asdict

    from harness.report.ladder import ladder_svg, wire_steps

    doc = {"caller": CALLER, "switch": SWITCH, "messages": [asdict(m) for m in ladder]}
    steps = wire_steps(doc)
    assert steps is not None
    assert [(s.party, s.label, s.towards) for s in steps[:2]] == [
        ("a", "INVITE", "switch"), ("a", "407 Proxy Auth Required (INVITE)", "a")]
    assert ("b", "INVITE", "b") in [(s.party, s.label, s.towards) for s in steps]
    assert "captured on the wire" in ladder_svg([], wire=doc)
    # two lines on one address: the hop of a message is not in the packet
    same = {**doc, "messages": [{**m, "dst": CALLER} if m["src"] == SWITCH and
                                m["method"] == "INVITE" and m["code"] is None else m
                                for m in doc["messages"]]}
    assert wire_steps(same) is None


def test_a_calls_own_packets_leave_other_calls_in_its_window_out() -> None:
    """The slice written as a call's call.pcap: its dialogs' SIP (any leg's Call-ID,
    as a B2BUA changes it) and RTP/RTCP of its legs' media addresses, nothing else."""
    from harness.capture.pcap import UdpPacket
    from harness.capture.sip import own_packets

    def sip(call_id: str) -> UdpPacket:
        return UdpPacket(1.0, "127.0.0.1", 5060, "127.0.0.1", 5070,
                         f"BYE sip:x@h SIP/2.0\r\nCall-ID: {call_id}\r\nCSeq: 2 BYE\r\n"
                         f"Content-Length: 0\r\n\r\n".encode())

    def rtp(sport: int, dport: int) -> UdpPacket:
        return UdpPacket(1.0, "127.0.0.1", sport, "127.0.0.1", dport, b"\x80\x00" + b"\0" * 170)

    mine = [sip("a-leg"), sip("b-leg"), rtp(30000, 41000), rtp(41001, 30001)]
    theirs = [sip("other"), rtp(30010, 41010)]
    kept = own_packets(mine + theirs, {"a-leg", "b-leg"}, {"127.0.0.1:41000"})
    assert kept == mine


def test_a_parsed_message_keeps_its_text_for_the_call_page() -> None:
    from harness.capture.pcap import UdpPacket
    from harness.capture.sip import MESSAGE_TEXT_MAX, parse_sip

    raw = (b"INVITE sip:4135550112@beta.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5001;"
           b"branch=z9hG4bKa\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp"
           b"\r\n\r\nv=0\r\nm=audio 4000 RTP/AVP 0 8\r\n")
    m = parse_sip(UdpPacket(1.0, "127.0.0.1", 5001, "127.0.0.1", 5060, raw))
    assert m is not None and m.text == raw.decode() and m.audio_pts == (0, 8)
    big = parse_sip(UdpPacket(1.0, "127.0.0.1", 5001, "127.0.0.1", 5060,
                              raw + b"a=x\r\n" * 5000))
    assert big is not None and len(big.text) == MESSAGE_TEXT_MAX
