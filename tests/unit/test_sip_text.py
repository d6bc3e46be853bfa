"""The one SIP text parser (harness.sip.text), and each of its callers reading a
compact header form it used to miss."""

import contextlib
import socket
import threading
import time
from pathlib import Path

import pytest

from harness.capture.pcap import UdpPacket
from harness.capture.sip import parse_sip
from harness.errors import SipError
from harness.security.client import parse_response
from harness.security.rows import _busy
from harness.security.torture import load_manifest, readdress
from harness.sip.message import parse_request
from harness.sip.register import Registrar
from harness.sip.text import (
    COMPACT,
    SipTextError,
    field_spans,
    parse,
    parse_lenient,
    split_message,
    status_code,
)

INVITE = ("INVITE sip:4135550112@beta.test SIP/2.0\r\n"
          "v: SIP/2.0/UDP 127.0.0.1:5001;branch=z9hG4bKa, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKb\r\n"
          "Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKc\r\n"
          "f: <sip:a@beta.test>;tag=1\r\nt: <sip:b@beta.test>\r\ni: c1@x\r\n"
          "CSeq: 7 INVITE\r\nm: \"Doe, John\" <sip:a@127.0.0.1:5001>\r\n"
          "k: replaces, 100rel\r\nc: application/sdp\r\nl: 31\r\n\r\n"
          "v=0\r\n\r\nm=audio 4000 RTP/AVP 0\r\n")


def test_every_registered_compact_form_is_known() -> None:
    assert dict(COMPACT) == {
        "i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length",
        "c": "content-type", "f": "from", "s": "subject", "k": "supported", "t": "to",
        "v": "via", "o": "event", "r": "refer-to", "b": "referred-by", "u": "allow-events",
        "x": "session-expires", "a": "accept-contact", "j": "reject-contact",
        "d": "request-disposition", "y": "identity", "n": "identity-info"}
    letters = "".join(f"{k.upper()}: {k}-value\r\n" for k in COMPACT)
    msg = parse(f"OPTIONS sip:x SIP/2.0\r\n{letters}\r\n")
    assert all(msg.field(full) == f"{k}-value" for k, full in COMPACT.items())


def test_start_line_headers_and_body() -> None:
    msg = parse(INVITE)
    assert msg.is_request and not msg.is_response
    assert (msg.method, msg.uri, msg.version, msg.status) == ("INVITE", "sip:4135550112@beta.test",
                                                             "SIP/2.0", None)
    assert msg.call_id == "c1@x" and msg.cseq == (7, "INVITE")
    assert msg.header("FROM") == msg.header("f") == "<sip:a@beta.test>;tag=1"
    assert msg.headers("via") == ("SIP/2.0/UDP 127.0.0.1:5001;branch=z9hG4bKa",
                                  "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKb",
                                  "SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKc")
    assert msg.headers("contact") == ('"Doe, John" <sip:a@127.0.0.1:5001>',)
    assert msg.headers("supported") == ("replaces", "100rel")
    assert msg.field("via").endswith("branch=z9hG4bKb")  # the first field, unsplit
    assert msg.header("x-absent") == "" and msg.headers("x-absent") == ()
    assert msg.body == "v=0\r\n\r\nm=audio 4000 RTP/AVP 0\r\n" and msg.terminated


def test_a_response() -> None:
    msg = parse(b"SIP/2.0 486 Busy Here\r\nCSeq: 2 INVITE\r\n\r\n")
    assert msg.is_response and (msg.status, msg.reason, msg.cseq) == (486, "Busy Here",
                                                                        (2, "INVITE"))
    assert parse("SIP/2.0 100\r\n\r\n").reason == ""
    assert status_code("SIP/2.0 200 OK\r\nVia: x") == 200
    assert status_code("request: INVITE sip:x SIP/2.0") is None
    assert status_code("SIP/2.0 2000 Too big") is None


def test_folding_joins_continuation_lines() -> None:
    msg = parse("OPTIONS sip:x SIP/2.0\r\nSubject: one\r\n  two\r\n\tthree\r\nTo: <sip:y>\r\n\r\n")
    assert msg.header("subject") == "one two three" and msg.header("to") == "<sip:y>"


def test_repeated_headers_keep_their_order() -> None:
    msg = parse("SIP/2.0 200 OK\r\nRecord-Route: <sip:p1;lr>,<sip:p2;lr>\r\n"
                "Warning: 399 a \"x\"\r\nRecord-Route: <sip:p3;lr>\r\n"
                "WWW-Authenticate: Digest realm=\"a\", nonce=\"1\"\r\n"
                "WWW-Authenticate: Digest realm=\"b\", nonce=\"2\"\r\n\r\n")
    assert msg.headers("record-route") == ("<sip:p1;lr>", "<sip:p2;lr>", "<sip:p3;lr>")
    assert msg.headers("www-authenticate") == ('Digest realm="a", nonce="1"',
                                               'Digest realm="b", nonce="2"')


def test_bare_lf_is_a_line_break() -> None:
    msg = parse(INVITE.replace("\r\n", "\n"))
    assert msg.call_id == "c1@x" and msg.body == "v=0\n\nm=audio 4000 RTP/AVP 0\n"
    assert len(msg.headers("via")) == 3


def test_no_empty_line_is_a_truncated_message() -> None:
    msg = parse("OPTIONS sip:x SIP/2.0\r\nCall-ID: a\r\n")
    assert not msg.terminated and msg.body == "" and msg.call_id == "a"
    assert split_message("a\r\n\r\nb\r\n\r\nc") == ("a", "b\r\n\r\nc")


@pytest.mark.parametrize(("text", "names"), [
    ("", "no start line"),
    ("INVITE  sip:x  SIP/2.0\r\n\r\n", "neither a Request-Line"),
    ("SIP/2.0 4294967301 big\r\n\r\n", "neither a Request-Line"),
    ("hello world\r\n\r\n", "'hello world'"),
    ("OPTIONS sip:x SIP/2.0\r\nno colon here\r\n\r\n", "'no colon here' has no 'name:'"),
    ("OPTIONS sip:x SIP/2.0\r\n folded: first\r\n\r\n", "continues no header field"),
])
def test_malformed_text_is_named(text: str, names: str) -> None:
    with pytest.raises(SipTextError, match=names):
        parse(text)


def test_lenient_parsing_takes_what_it_can() -> None:
    msg = parse_lenient("INVITE  sip:x  SIP/2.0\r\nno colon\r\ni: abc\r\n\r\n")
    assert not msg.is_request and not msg.is_response and msg.version == ""
    assert msg.start_line == "INVITE  sip:x  SIP/2.0" and msg.fields == (("call-id", "abc"),)


def test_field_spans_cover_folded_lines_and_name_compact_forms() -> None:
    head = "INVITE sip:x SIP/2.0\r\nv: SIP/2.0/UDP h\r\n ;branch=z\r\nRoute: <sip:r>"
    spans = field_spans(head)
    assert [(s.name, head[s.start:s.stop]) for s in spans] == [
        ("via", "v: SIP/2.0/UDP h\r\n ;branch=z"), ("route", "Route: <sip:r>")]


# -- each caller now reads a compact form it missed -----------------------------------
def test_agents_request_dict_expands_every_compact_form() -> None:
    req = parse_request(INVITE)  # before: only f, t, i, m; "via" was the 2nd Via field
    assert req["request-line"] == "INVITE sip:4135550112@beta.test SIP/2.0"
    assert req["supported"] == "replaces, 100rel" and req["content-type"] == "application/sdp"
    assert req["via"].startswith("SIP/2.0/UDP 127.0.0.1:5001") and "k" not in req


def test_capture_takes_the_branch_of_the_topmost_via_value() -> None:
    # before: the whole first Via field was read, so the branch was the second value's
    m = parse_sip(UdpPacket(1.0, "127.0.0.1", 5001, "127.0.0.1", 5060, INVITE.encode()))
    assert m is not None and m.branch == "z9hG4bKa" and m.call_id == "c1@x"
    assert m.audio_pts == (0,)


def test_security_probe_response_expands_every_compact_form() -> None:
    r = parse_response(b"SIP/2.0 200 OK\r\ni: abc\r\nk: timer\r\nc: application/sdp\r\n"
                       b"Record-Route: <sip:p1;lr>\r\nRecord-Route: <sip:p2;lr>\r\n\r\n")
    assert r is not None and r.headers["supported"] == "timer"  # before: under "k"
    assert r.headers["content-type"] == "application/sdp"
    assert r.headers["record-route"] == "<sip:p1;lr>, <sip:p2;lr>"


def test_registrar_recognises_its_answer_by_a_compact_call_id() -> None:
    # before: 'i:' was not read as Call-ID, so the answer was ignored until timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as switch:
        switch.bind(("127.0.0.1", 0))
        reg = Registrar("127.0.0.1", switch.getsockname()[1], "beta.test", timeout_s=1.0)
        try:
            switch.sendto(b"SIP/2.0 200 OK\r\ni: reg-1\r\nCSeq: 1 REGISTER\r\n\r\n",
                          ("127.0.0.1", reg.port))
            code, reason, headers = reg._exchange(b"REGISTER sip:x SIP/2.0\r\n\r\n", "reg-1")
        finally:
            reg.close()
    assert (code, reason, headers["call-id"]) == (200, "OK", "reg-1")


def test_hijack_busy_answer_keeps_compact_and_folded_fields_whole() -> None:
    invite = ("INVITE sip:b@x SIP/2.0\r\nv: SIP/2.0/UDP h\r\n ;branch=z9hG4bKq\r\n"
              "f: <sip:a@x>;tag=1\r\nt: <sip:b@x>\r\ni: c9\r\nCSeq: 1 INVITE\r\n\r\n")
    busy = _busy(invite).decode()
    assert busy == ("SIP/2.0 486 Busy Here\r\nv: SIP/2.0/UDP h\r\n ;branch=z9hG4bKq\r\n"
                    "f: <sip:a@x>;tag=1\r\ni: c9\r\nCSeq: 1 INVITE\r\n"
                    "t: <sip:b@x>;tag=hijack\r\nContent-Length: 0\r\n\r\n")
    assert parse(busy).header("via").endswith("branch=z9hG4bKq")


def test_torture_readdress_still_finds_a_compact_via() -> None:
    corpus = Path(__file__).parent.parent / "data" / "rfc4475"
    wsinv = next(m for m in load_manifest(corpus) if m.name == "wsinv")
    out = readdress(wsinv.raw, ("127.0.0.1", 5999), ("127.0.0.1", 40001))
    assert "top Via sent-by 192.0.2.2 -> 127.0.0.1:40001" in out.substitutions


def test_capture_passes_over_rtp_and_other_non_sip_packets() -> None:
    """Most of a capture is RTP: no SIP-Version at its start, so it is not SIP (and is
    not decoded as text to find that out)."""
    rtp = bytes([0x80, 0x00, 0x12, 0x34]) + bytes(8) + b"\xff" * 160
    assert parse_sip(UdpPacket(1.0, "127.0.0.1", 20000, "127.0.0.1", 20002, rtp)) is None
    assert parse_sip(UdpPacket(1.0, "127.0.0.1", 5001, "127.0.0.1", 5060,
                               b"OPTIONS sip:x HTTP/1.1\r\n\r\n")) is None
    lf_only = INVITE.replace("\r\n", "\n").encode()
    m = parse_sip(UdpPacket(1.0, "127.0.0.1", 5001, "127.0.0.1", 5060, lf_only))
    assert m is not None and m.method == "INVITE"


def test_registrar_sends_a_register_again_until_the_switch_answers() -> None:
    """A switch whose one UDP worker waits on its media proxy (Kamailio's rtpengine
    module: 1 s per try) reads a REGISTER late, or drops it when its queue is full: the
    client sends it again on RFC 3261's timer E (0.5, 1, 2 s ...) and takes the answer
    to any copy. Before: one send, 3 s, "no answer" (a selftest failure, 2026-12-06)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as switch:
        switch.bind(("127.0.0.1", 0))
        switch.settimeout(5.0)
        reg = Registrar("127.0.0.1", switch.getsockname()[1], "beta.test", timeout_s=4.0)
        got: list[float] = []

        def answer_the_third() -> None:
            while len(got) < 3:
                _data, peer = switch.recvfrom(65535)
                got.append(time.monotonic())
            switch.sendto(b"SIP/2.0 200 OK\r\nCall-ID: reg-2\r\nCSeq: 1 REGISTER\r\n\r\n", peer)

        t = threading.Thread(target=answer_the_third)
        t.start()
        try:
            code, _reason, _headers = reg._exchange(b"REGISTER sip:x SIP/2.0\r\n\r\n", "reg-2")
        finally:
            t.join(5.0)
            reg.close()
    assert code == 200
    gaps = [b - a for a, b in zip(got, got[1:], strict=False)]
    # timer E: T1, then doubled (a busy host only sends later, never sooner)
    assert len(gaps) == 2 and gaps[0] >= 0.45 and gaps[1] >= 0.95, gaps


def test_registrar_names_the_switch_that_never_answered() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as switch:
        switch.bind(("127.0.0.1", 0))
        port = switch.getsockname()[1]
        reg = Registrar("127.0.0.1", port, "beta.test", timeout_s=1.2)
        try:
            with pytest.raises(SipError) as err:
                reg._exchange(b"REGISTER sip:x SIP/2.0\r\n\r\n", "reg-3")
        finally:
            reg.close()
        copies = 0
        switch.settimeout(0.1)
        with contextlib.suppress(TimeoutError):
            while True:
                switch.recv(65535)
                copies += 1
    assert f"no answer from 127.0.0.1:{port} within 1 s" in str(err.value)
    assert copies == 2  # at 0 and 0.5 s; the next (1.5 s) falls after the deadline
