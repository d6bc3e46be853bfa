"""The torture replay's pure logic: corpus, re-addressing, verdicts, table; and one
replay against a fake UDP switch on loopback (no Kamailio)."""

import hashlib
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.security.torture import (
    DROPPED,
    Alive,
    TortureError,
    TortureMessage,
    judge,
    load_manifest,
    readdress,
    render_table,
    replay_one,
    require_loopback,
)

CORPUS = Path(__file__).parent.parent / "data" / "rfc4475"
SWITCH, LOCAL = ("127.0.0.1", 5999), ("127.0.0.1", 40001)
ALIVE = Alive(True, 200, "")


@pytest.fixture(scope="module")
def corpus() -> dict[str, TortureMessage]:
    return {m.name: m for m in load_manifest(CORPUS)}


def test_corpus_is_every_rfc4475_message_byte_exact(corpus: dict[str, TortureMessage]) -> None:
    assert len(corpus) == 49
    assert sum(m.validity == "invalid" for m in corpus.values()) == 22
    assert all(m.expect == ("any",) for m in corpus.values() if m.section.startswith("3.1.1.")
               and m.kind == "request")
    assert corpus["wsinv"].raw.count(b"\r\n") == 37 and b"\n " in corpus["wsinv"].raw
    assert b"\x00" in corpus["intmeth"].raw  # the quoted NUL of section 3.1.1.2
    assert corpus["noreason"].raw.startswith(b"SIP/2.0 100 \r\n")
    assert corpus["trws"].raw.startswith(b"OPTIONS sip:remote-target@example.com SIP/2.0  \r\n")


def test_a_corrupted_message_file_is_refused_by_name(tmp_path: Path) -> None:
    shutil.copytree(CORPUS, tmp_path / "c")
    (tmp_path / "c" / "3.1.2.2-clerr.sip").write_bytes(b"INVITE sip:x SIP/2.0\r\n\r\n")
    with pytest.raises(TortureError, match=r"3\.1\.2\.2-clerr.*sha256"):
        load_manifest(tmp_path / "c")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10"])
def test_loopback_targets_are_accepted(host: str) -> None:
    assert require_loopback(host) == host


@pytest.mark.parametrize("host", ["192.0.2.1", "10.0.0.1", "0.0.0.0", "::1", "localhost",
                                  "example.com", "255.255.255.255"])
def test_anything_but_a_127_literal_is_refused(host: str) -> None:
    with pytest.raises(TortureError, match="refused target"):
        require_loopback(host)


def test_readdress_changes_addresses_only_keeping_the_malformed_via(
        corpus: dict[str, TortureMessage]) -> None:
    raw = corpus["badinv01"].raw
    out = readdress(raw, SWITCH, LOCAL)
    assert out.data.startswith(b"INVITE sip:user@127.0.0.1:5999 SIP/2.0\r\n")
    assert b"Via: SIP/2.0/UDP 127.0.0.1:40001;;,;,,\r\n" in out.data
    assert b'Contact: "Joe" <sip:joe@example.org>;;;;\r\n' in out.data
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert out.data.endswith(b"\r\n\r\n" + body)  # the body (and its 192.0.2.15) untouched
    assert out.substitutions == ("Request-URI example.com -> 127.0.0.1:5999",
                                 "top Via sent-by 192.0.2.15 -> 127.0.0.1:40001")


def test_readdress_keeps_folding_and_binary_bytes(corpus: dict[str, TortureMessage]) -> None:
    wsinv = readdress(corpus["wsinv"].raw, SWITCH, LOCAL).data
    assert b"Via  : SIP  /   2.0\r\n /UDP\r\n    127.0.0.1:40001;branch=390skdjuw\r\n" in wsinv
    assert b"Route:\r\n <sip:127.0.0.1:40001;lr;unknownwith=value;unknown-no-value>" in wsinv
    # the second and third Via values (the compact 'v:' field) are left alone
    assert b"spindle.example.com" in wsinv and b"192.168.255.111" in wsinv
    intmeth = corpus["intmeth"].raw
    out = readdress(intmeth, SWITCH, LOCAL).data
    assert b"(doesn't-it)@127.0.0.1:5999 SIP/2.0\r\n" in out
    assert out.replace(b"127.0.0.1:5999", b"example.com").replace(
        b"127.0.0.1:40001", b"host1.example.com") == intmeth


@pytest.mark.parametrize(("name", "ruri"), [
    ("esc01", b"INVITE sip:sips%3Auser%40example.com@127.0.0.1:5999 SIP/2.0"),
    ("semiuri", b"OPTIONS sip:user;par=u%40example.net@127.0.0.1:5999 SIP/2.0"),
    ("escruri", b"INVITE sip:user@127.0.0.1:5999?Route=%3Csip:example.com%3E SIP/2.0"),
    ("ltgtruri", b"INVITE <sip:user@127.0.0.1:5999> SIP/2.0"),
    ("lwsruri", b"INVITE sip:user@127.0.0.1:5999; lr SIP/2.0"),
    ("lwsstart", b"INVITE  sip:user@127.0.0.1:5999  SIP/2.0"),
    ("trws", b"OPTIONS sip:remote-target@127.0.0.1:5999 SIP/2.0  "),
    ("unkscm", b"OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0"),
])
def test_request_uri_host_is_replaced_and_nothing_else(
        corpus: dict[str, TortureMessage], name: str, ruri: bytes) -> None:
    assert readdress(corpus[name].raw, SWITCH, LOCAL).data.split(b"\r\n", 1)[0] == ruri


def test_responses_are_sent_unchanged(corpus: dict[str, TortureMessage]) -> None:
    for name in ("noreason", "unreason", "scalarlg", "bigcode", "bcast"):
        assert readdress(corpus[name].raw, SWITCH, LOCAL).data == corpus[name].raw


@pytest.mark.parametrize(("responses", "expect", "verdict"), [
    ([], ("4xx", "drop"), "ok"),
    (["SIP/2.0 400 Bad Request"], ("4xx", "drop"), "ok"),
    (["SIP/2.0 100 Trying", "SIP/2.0 407 Proxy Auth"], ("4xx", "drop"), "ok"),
    (["SIP/2.0 500 Internal Server Error"], ("4xx", "drop"), "fail"),
    (["SIP/2.0 200 OK"], ("4xx", "drop"), "fail"),
    (["SIP/2.0 100 Trying"], ("4xx", "drop"), "fail"),  # accepted, not dropped
    (["SIP/2.0 505 Version Not Supported"], ("505", "4xx", "drop"), "ok"),
    (["SIP/2.0 400 Bad Request"], ("drop",), "fail"),
    (["SIP/2.0 500 Internal Server Error"], ("any",), "ok"),
    ([], ("any",), "ok"),
])
def test_verdict_rules(responses: list[str], expect: tuple[str, ...], verdict: str) -> None:
    assert judge(responses, expect, ALIVE)[0] == verdict


def test_a_dead_switch_fails_whatever_it_answered() -> None:
    verdict, reason = judge([], ("any",), Alive(False, None, "kamailio exited"))
    assert verdict == "fail" and "kamailio exited" in reason


@pytest.fixture
def fake_switch() -> Iterator[tuple[str, int]]:
    """A UDP 'switch' on loopback: 200 to OPTIONS, 400 to INVITE, silence otherwise;
    replies to the top Via's sent-by like a real one."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(65535)
            except TimeoutError:
                continue
            code = {b"OPTIONS": b"200 OK", b"INVITE": b"400 Bad Request"}.get(
                data.split(b" ", 1)[0])
            if code is not None:
                sock.sendto(b"SIP/2.0 " + code + b"\r\nContent-Length: 0\r\n\r\n", peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()
    stop.set()
    thread.join()
    sock.close()


def test_replay_one_against_a_fake_switch(corpus: dict[str, TortureMessage],
                                          fake_switch: tuple[str, int]) -> None:
    host, port = fake_switch
    clerr = replay_one(corpus["clerr"], host, port, window_s=0.5)
    assert clerr.response == "SIP/2.0 400 Bad Request" and clerr.final_code == 400
    assert clerr.alive.ok and clerr.verdict == "ok"
    bigcode = replay_one(corpus["bigcode"], host, port, window_s=0.2)
    assert bigcode.response == DROPPED and bigcode.verdict == "ok"
    assert bigcode.bytes_sent == len(corpus["bigcode"].raw)
    table = render_table([clerr, bigcode])
    assert "| 3.1.2.2-clerr | invalid | 4xx or drop | 500 | SIP/2.0 400 Bad Request | " \
           "yes (OPTIONS 200) | ok |" in table
    assert "| 3.1.2.19-bigcode | invalid | drop | 332 | no response (dropped) |" in table
    assert "2 messages, 2 ok, 0 failed" in table


def test_a_silent_switch_is_not_alive(corpus: dict[str, TortureMessage]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:  # bound, never answers
        hole.bind(("127.0.0.1", 0))
        r = replay_one(corpus["ncl"], *hole.getsockname(), window_s=0.1, alive_timeout_s=0.3)
    assert not r.alive.ok and r.verdict == "fail" and "OPTIONS unanswered" in r.reason
    assert "**NO**" in render_table([r])


def test_manifest_digests_are_the_files(corpus: dict[str, TortureMessage]) -> None:
    assert hashlib.sha256(corpus["mpart01"].raw).hexdigest().startswith("92147c8e")
