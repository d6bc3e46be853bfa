"""T.38 fax terminals (harness/media/t38.py: UDPTL coded here, libspandsp's real
t38_terminal through ctypes), the T.38 line's user agent (harness/sip/t38line.py, over
loopback sockets), and how a fax row to a T.38 line is judged (harness/run/t38call.py).

No switch here: two terminals joined by a function (a path that can lose packets), and
the user agent driven by raw SIP from a socket, as a switch would send it."""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

import pytest

from harness.config import ConfigError, load_config
from harness.media import fax
from harness.media.t38 import (
    REDUNDANCY,
    T38Terminal,
    UdptlError,
    UdptlPacket,
    UdptlReceiver,
    decode_udptl,
    encode_udptl,
)
from harness.numberplan import NumberPlan
from harness.run.t38call import t38_fax_checks
from harness.sip.t38line import T38Line
from harness.sip.text import parse_lenient
from harness.verdict.checks import Outcome

# -- UDPTL -------------------------------------------------------------------------------


def test_udptl_round_trips_with_redundancy_and_long_fields() -> None:
    long = bytes(range(256)) * 2  # 512 octets: a two-octet length determinant
    packet = UdptlPacket(513, long, (b"\x01\x02", b""))
    data = encode_udptl(packet)
    assert data[:2] == b"\x02\x01" and data[2:4] == bytes([0x82, 0x00])
    assert decode_udptl(data) == packet
    assert encode_udptl(UdptlPacket(0, b"\x06", ())) == b"\x00\x00\x01\x06\x00\x00"


def test_an_fec_packet_gives_its_primary_and_garbage_is_refused() -> None:
    fec = b"\x00\x07\x02\xab\xcd\x80\x01\x02\x01\x01\x00"
    assert decode_udptl(fec) == UdptlPacket(7, b"\xab\xcd", (), True)
    for bad, why in ((b"\x00\x01", "too short"), (b"\x00\x01\x05\xaa\xbb", "runs past"),
                     (b"\x00\x01\xc1\x00\x00", "fragmented"), (b"\x00\x01\x01\xaa", "no error")):
        with pytest.raises(UdptlError, match=why):
            decode_udptl(bad)


def test_the_receiver_fills_a_gap_from_redundancy_and_counts_what_it_cannot() -> None:
    rx = UdptlReceiver()
    assert rx.feed(UdptlPacket(10, b"a")) == [(10, b"a")]
    # 11 and 12 lost: 13 carries them (newest first)
    assert rx.feed(UdptlPacket(13, b"d", (b"c", b"b", b"a"))) == [(11, b"b"), (12, b"c"),
                                                                  (13, b"d")]
    assert rx.feed(UdptlPacket(12, b"c")) == []  # late repeat: dropped
    # five lost, three recoverable: two counted lost
    assert [seq for seq, _ in rx.feed(UdptlPacket(19, b"j", (b"i", b"h", b"g")))] == \
        [16, 17, 18, 19]
    assert (rx.recovered, rx.lost, rx.received) == (5, 2, 4)
    # the sequence number wraps
    wrap = UdptlReceiver()
    wrap.feed(UdptlPacket(65535, b"x"))
    assert wrap.feed(UdptlPacket(1, b"z", (b"y",))) == [(0, b"y"), (1, b"z")]


# -- two real terminals -------------------------------------------------------------------


def _fax_over(tmp_path: Path, loss: float, seed: int = 7) -> tuple[T38Terminal, T38Terminal,
                                                                  Path]:
    """The test page from one T.38 terminal to another over a path losing `loss` of
    the datagrams at random, 20 ms at a time (at most 120 s of the terminals' clock)."""
    rng = random.Random(seed)
    page = fax.write_test_page(tmp_path / "page.tif")
    received = tmp_path / "received.tif"
    to_b: list[bytes] = []
    to_a: list[bytes] = []
    a = T38Terminal("send", page, True, to_b.append)
    b = T38Terminal("receive", received, False, to_a.append)
    for _ in range(6000):
        if a.done and b.done:
            break
        a.tick()
        b.tick()
        for queue, dest in ((to_b, b), (to_a, a)):
            for datagram in queue:
                if rng.random() >= loss:
                    dest.receive(datagram)
            queue.clear()
    return a, b, received


def test_a_page_crosses_between_two_t38_terminals_intact(tmp_path: Path) -> None:
    a, b, received = _fax_over(tmp_path, 0.0)
    try:
        assert a.ok and b.ok, (a.result(), b.result())
        assert b.result().pages_rx == 1 and a.result().pages_tx == 1
        page = fax.compare_pages(fax.test_page_rows(), fax.read_page_rows(received))
        assert page.rows_received == fax.ROWS and page.rows_differing == 0
        assert b.rx.lost == 0 and b.rx.recovered == 0
    finally:
        a.close()
        b.close()


def test_redundancy_carries_a_page_over_5_percent_loss_and_30_percent_breaks_it(
        tmp_path: Path) -> None:
    a, b, received = _fax_over(tmp_path / "5", 0.05)
    try:
        assert a.ok and b.ok and b.rx.recovered > 0, (b.rx.recovered, b.result())
        page = fax.compare_pages(fax.test_page_rows(), fax.read_page_rows(received))
        assert page.rows_differing == 0
    finally:
        a.close()
        b.close()
    a, b, received = _fax_over(tmp_path / "30", 0.30)
    try:
        assert b.rx.lost > 0  # beyond REDUNDANCY packets in a row
        damaged = not (a.ok and b.ok) or fax.compare_pages(
            fax.test_page_rows(), fax.read_page_rows(received)).rows_differing > 0
        assert damaged, (a.result(), b.result(), REDUNDANCY)
    finally:
        a.close()
        b.close()


# -- the T.38 line's user agent -----------------------------------------------------------

T38_OFFER = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
             "m=image {port} udptl t38\r\na=T38FaxVersion:0\r\n")
AUDIO_OFFER = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               "m=audio 30000 RTP/AVP 0\r\n")


def _request(method: str, ua: T38Line, me: socket.socket, cseq: int, body: str = "",
             to_tag: str = "", call_id: str = "fax-1") -> bytes:
    port = me.getsockname()[1]
    to = f"<sip:{ua.number}@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    return (f"{method} {ua.contact} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{method}{cseq}\r\n"
            "Record-Route: <sip:127.0.0.1:5060;lr>\r\n"
            f"From: <sip:4135550160@beta.test>;tag=sw\r\nTo: {to}\r\nCall-ID: {call_id}\r\n"
            f"CSeq: {cseq} {method}\r\nContact: <sip:switch@127.0.0.1:{port}>\r\n"
            + ("Content-Type: application/sdp\r\n" if body else "")
            + f"Content-Length: {len(body)}\r\n\r\n{body}").encode()


def _replies(me: socket.socket, until_s: float) -> list[str]:
    out, end = [], time.monotonic() + until_s
    while time.monotonic() < end:
        me.settimeout(max(end - time.monotonic(), 0.01))
        try:
            out.append(me.recv(65535).decode())
        except TimeoutError:
            break
    return out


def test_the_t38_line_answers_t38_refuses_audio_and_ends_on_bye(tmp_path: Path) -> None:
    me = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    me.bind(("127.0.0.1", 0))
    udptl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udptl.bind(("127.0.0.1", 0))
    ua = T38Line("site7/09", "4135550177")
    try:
        ua.expect(tmp_path / "rx.tif")
        offer = T38_OFFER.format(port=udptl.getsockname()[1])
        me.sendto(_request("INVITE", ua, me, 1, offer), ("127.0.0.1", ua.port))
        replies = _replies(me, 1.2)  # 100, 200, then the 200 again (no ACK yet: timer G)
        codes = [parse_lenient(r).status for r in replies]
        assert codes[:2] == [100, 200] and codes.count(200) >= 2, codes
        ok = parse_lenient(replies[1])
        assert f"m=image {ua.udptl_port} udptl t38" in ok.body
        assert ok.header("record-route") == "<sip:127.0.0.1:5060;lr>"
        assert ok.header("contact") == f"<{ua.contact}>"
        tag = ok.header("to").split("tag=")[1]
        me.sendto(_request("ACK", ua, me, 1, to_tag=tag), ("127.0.0.1", ua.port))
        assert not [r for r in _replies(me, 1.2) if " 200 " in r.split("\r\n")[0]]
        # the terminal sends its UDPTL to the offer's address (the called side's CED)
        udptl.settimeout(3.0)
        assert decode_udptl(udptl.recv(4096)).seq == 0
        me.sendto(_request("BYE", ua, me, 2, to_tag=tag), ("127.0.0.1", ua.port))
        assert parse_lenient(_replies(me, 0.5)[0]).status == 200
        leg = ua.leg(wait_s=1.0)
        assert leg is not None and leg.final_code == 200 and leg.call_id == "fax-1"
        assert leg.attributed_by == "number+seat" and leg.agent_name == "site7/09"
        assert [e.kind for e in leg.events] == ["INCOMING", "ANSWER_SENT", "CONFIRMED",
                                                "DISCONNECTED"]
        assert leg.fax is not None and leg.fax.completion is None  # no page in 3 s
        assert ua.figures()["udptl_sent"] > 0
        # a second line's call offering audio only: refused 488, saying why
        ua.expect(tmp_path / "rx2.tif")
        me.sendto(_request("INVITE", ua, me, 1, AUDIO_OFFER, call_id="fax-2"),
                  ("127.0.0.1", ua.port))
        refused = [parse_lenient(r) for r in _replies(me, 0.5)]
        assert [r.status for r in refused] == [100, 488]
        assert "no T.38 stream offered (audio 30000 RTP/AVP 0)" in refused[1].header("warning")
        leg = ua.leg(wait_s=0.1)
        assert leg is not None and leg.final_code == 488
        assert "ANSWER_SENT" not in [e.kind for e in leg.events]  # not an ordered answer
    finally:
        ua.close()
        me.close()
        udptl.close()


# -- judging ------------------------------------------------------------------------------

FIGURES = {"udptl_received": 464, "ifp_recovered": 3, "ifp_lost": 9, "undecodable": 0}


def test_a_damaged_t38_page_names_the_udptl_and_a_late_caller_is_the_harness() -> None:
    assert [c.outcome for c in t38_fax_checks([], FIGURES, 4.0)] == [Outcome.PASS]
    fail = t38_fax_checks(["fax: the page received has 400 rows, 3 of them differing"],
                          FIGURES, 4.0)
    assert [c.outcome for c in fail] == [Outcome.FAIL]
    assert fail[0].message == (
        "fax: the page received has 400 rows, 3 of them differing (the path: UDPTL toward "
        "the T.38 terminal: 464 packets received, 3 IFP packets recovered from redundancy, "
        "9 lost, 0 not UDPTL)")
    late = t38_fax_checks(["fax: no page was received"], FIGURES, 240.0)
    assert [c.outcome for c in late] == [Outcome.INVALID]
    assert "sent its tones up to 240 ms behind its media clock" in late[0].message


def test_t38_lines_config_default_none_and_a_bad_line(tmp_path: Path) -> None:
    assert [ln.name for ln in NumberPlan.from_config(load_config().numbers).t38_lines] == \
        ["site7/09"]
    path = tmp_path / "none.yaml"
    path.write_text("numbers:\n  t38_lines: ''\n")
    assert NumberPlan.from_config(load_config(path).numbers).t38_lines == ()
    path.write_text("numbers:\n  t38_lines: 'site9/01'\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "numbers.t38_lines" in str(err.value) and str(path) in str(err.value)
