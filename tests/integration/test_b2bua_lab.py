"""The B2BUA lab on the wire (docs/b2bua-lab.md): the embedded Kamailio started with each
`sut.behaviours` and with `sut.pstn_b2bua = sippy`, and raw SIP over UDP on 127.0.0.1
showing what the far end really receives. Each call is answered 486 by the far end:
the INVITE it received is the evidence; no media is needed.

A control switch (no option) shows that the same checks tell the difference."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.config import NumbersConfig, SutConfig
from harness.numberplan import NumberPlan
from harness.sip.register import Registrar, _params, digest_response
from harness.softswitch.kamailio import EmbeddedKamailio
from harness.softswitch.process import free_udp_range, udp_port_free

pytestmark = pytest.mark.integration
PLAN = NumberPlan.from_config(NumbersConfig(line_password="pw", sites=1, lines_per_site=3))
DOMAIN = "beta.test"
COMPACT = {"i": "call-id", "f": "from", "t": "to", "v": "via", "m": "contact",
           "l": "content-length", "c": "content-type"}
SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


@dataclass
class Msg:
    first: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""

    @classmethod
    def parse(cls, data: bytes) -> Msg:
        head, _, body = data.decode("utf-8", "replace").partition("\r\n\r\n")
        lines = head.split("\r\n")
        msg = cls(lines[0], body=body)
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            msg.headers.append((COMPACT.get(name, name), value.strip()))
        return msg

    def get(self, name: str) -> str:
        return next((v for n, v in self.headers if n == name.lower()), "")

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n == name.lower()]

    @property
    def code(self) -> int:
        parts = self.first.split()
        return int(parts[1]) if self.first.startswith("SIP/2.0") else 0


class Phone:
    """One UDP socket on 127.0.0.1 speaking just enough SIP for these tests."""

    def __init__(self, port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.port: int = self.sock.getsockname()[1]
        self.seen: set[str] = set()  # Call-IDs of INVITEs taken (retransmissions skipped)

    def send(self, text: str, to: tuple[str, int]) -> None:
        self.sock.sendto(text.encode(), to)

    def recv(self, want: str, call_id: str = "",
             timeout_s: float = 10.0) -> tuple[Msg, tuple[str, int]]:
        """The next message whose first line contains `want` ('INVITE', '486', ...), of
        `call_id` if given; an INVITE of a dialog seen before is skipped."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                pytest.fail(f"no {want} at 127.0.0.1:{self.port} within {timeout_s:.0f} s")
            msg = Msg.parse(data)
            cid = msg.get("call-id")
            if want not in msg.first or (call_id and cid != call_id):
                continue
            if msg.first.startswith("INVITE "):
                if cid in self.seen:
                    continue
                self.seen.add(cid)
            return msg, addr

    def close(self) -> None:
        self.sock.close()


def _invite(phone: Phone, caller: str, ruri: str, call_id: str, cseq: int,
            extra: str = "") -> tuple[str, str]:
    branch = "z9hG4bK" + uuid.uuid4().hex[:12]
    tag = call_id[:8]
    body = SDP.format(port=phone.port + 2)
    return (f"INVITE {ruri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{phone.port};branch={branch};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:{caller}@{DOMAIN}>;tag={tag}\r\n"
            f"To: <{ruri}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n"
            f"Contact: <sip:{caller}@127.0.0.1:{phone.port}>\r\n{extra}"
            f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n{body}"), branch


def _ack(invite: str, response: Msg) -> str:
    """ACK for a non-2xx final response (RFC 3261 §17.1.1.3): same branch, response's To."""
    head = invite.split("\r\n\r\n", 1)[0].split("\r\n")
    ruri = head[0].split()[1]
    keep = [ln for ln in head[1:] if ln.split(":", 1)[0] in ("Via", "From", "Call-ID")]
    cseq = response.get("cseq").split()[0]
    return (f"ACK {ruri} SIP/2.0\r\n" + "\r\n".join(keep) +
            f"\r\nTo: {response.get('to')}\r\nCSeq: {cseq} ACK\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n")


def _answer_busy(phone: Phone, invite: Msg, to: tuple[str, int]) -> None:
    vias = "".join(f"Via: {v}\r\n" for v in invite.all("via"))
    phone.send(f"SIP/2.0 486 Busy Here\r\n{vias}From: {invite.get('from')}\r\n"
               f"To: {invite.get('to')};tag=busy{uuid.uuid4().hex[:6]}\r\n"
               f"Call-ID: {invite.get('call-id')}\r\nCSeq: {invite.get('cseq')}\r\n"
               "Content-Length: 0\r\n\r\n", to)


def call(switch: tuple[str, int], caller: Phone, caller_number: str, dial: str,
         far_end: Phone, extra: str = "", password: str = "pw") -> tuple[str, Msg, Msg, float]:
    """A line's call through the switch (digest answered); the far end answers 486.
    -> (Call-ID sent, INVITE the far end received, final response the caller got,
    seconds from the authenticated INVITE to its arrival at the far end)."""
    call_id = f"{uuid.uuid4().hex}@lab-caller"
    ruri = f"sip:{dial}@{DOMAIN}"
    first, _ = _invite(caller, caller_number, ruri, call_id, 1, extra)
    caller.send(first, switch)
    challenge, _ = caller.recv("407", call_id)
    caller.send(_ack(first, challenge), switch)
    ch = _params(challenge.get("proxy-authenticate"))
    resp = digest_response(caller_number, password, ch["realm"], ch["nonce"], "INVITE", ruri)
    auth = (f'Proxy-Authorization: Digest username="{caller_number}", realm="{ch["realm"]}", '
            f'nonce="{ch["nonce"]}", uri="{ruri}", response="{resp}", algorithm=MD5\r\n')
    second, _ = _invite(caller, caller_number, ruri, call_id, 2, extra + auth)
    t0 = time.monotonic()
    caller.send(second, switch)
    received, src = far_end.recv("INVITE")
    arrival_s = time.monotonic() - t0
    _answer_busy(far_end, received, src)
    final, _ = caller.recv("486", call_id)
    caller.send(_ack(second, final), switch)
    return call_id, received, final, arrival_s


def incoming(entry: tuple[str, int], gateway: Phone, from_number: str, line: str,
             callee: Phone) -> tuple[str, Msg, Msg]:
    """An incoming DID call the gateway sends to `entry`; the line answers 486."""
    call_id = f"{uuid.uuid4().hex}@lab-gateway"
    text, _ = _invite(gateway, from_number, f"sip:{line}@{DOMAIN}", call_id, 1)
    text = text.replace(f"@{DOMAIN}>;tag", "@pstn.invalid>;tag")
    gateway.send(text, entry)
    received, src = callee.recv("INVITE")
    _answer_busy(callee, received, src)
    final, _ = gateway.recv("486", call_id)
    gateway.send(_ack(text, final), entry)
    return call_id, received, final


@dataclass
class Lab:
    switch: EmbeddedKamailio
    gateway: Phone  # the simulated PSTN gateway's socket, on the port the switch routes to
    caller: Phone
    callee: Phone

    @property
    def addr(self) -> tuple[str, int]:
        return (self.switch.sip_host, self.switch.sip_port)

    def numbers(self) -> tuple[str, str]:
        return PLAN.lines[0].number, PLAN.lines[1].number


def _lab(tmp_path: Path, sut: SutConfig) -> Iterator[Lab]:
    gateway = Phone(free_udp_range(1, 30400, 32700))
    switch = EmbeddedKamailio(sut, tmp_path)
    switch.start(PLAN, gateway.port)
    caller, callee = Phone(), Phone()
    reg = Registrar(switch.sip_host, switch.sip_port, switch.domain)
    try:
        number = PLAN.lines[1].number
        assert reg.register(number, "pw", f"sip:{number}@127.0.0.1:{callee.port}").code == 200
        yield Lab(switch, gateway, caller, callee)
    finally:
        reg.close()
        switch.stop()
        for phone in (gateway, caller, callee):
            phone.close()


# the delay header slows the switch only under its test fault (delay_header)
MODES = {"control": SutConfig(tls=False, test_faults="delay_header"),
         "topology_hiding": SutConfig(tls=False, behaviours="topology_hiding"),
         "strip_private_headers": SutConfig(tls=False, behaviours="strip_private_headers",
                                            test_faults="delay_header"),
         "e164_caller_id": SutConfig(tls=False, behaviours="e164_caller_id")}


@pytest.fixture(scope="module", params=list(MODES))
def lab(request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    mode: str = request.param
    yield from _lab(tmp_path_factory.mktemp(mode), MODES[mode])


def _mode(lab: Lab) -> str:
    return lab.switch.cfg.behaviours or "control"


def test_onnet_call_as_the_far_end_sees_it(lab: Lab) -> None:
    a, b = lab.numbers()
    extra = "X-Harness-Call: lab-1\r\nX-Custom: kept?\r\n"
    call_id, got, final, _ = call(lab.addr, lab.caller, a, b, lab.callee, extra)
    mode = _mode(lab)
    # the caller always gets its own dialog back, whatever the far end saw
    assert final.get("call-id") == call_id
    if mode == "topology_hiding":
        assert got.get("call-id") != call_id
        assert all(f"127.0.0.1:{lab.caller.port}" not in v for v in got.all("via"))
    else:
        assert got.get("call-id") == call_id
    private = [n for n, _ in got.headers if n.startswith("x-")]
    assert private == ([] if mode == "strip_private_headers" else ["x-harness-call", "x-custom"])
    if mode == "e164_caller_id":
        assert got.get("from").startswith(f"<sip:+1{a}@")
        assert got.get("p-asserted-identity") == f"<sip:+1{a}@{DOMAIN};user=phone>"
    else:
        assert got.get("from").startswith(f"<sip:{a}@")
        assert got.get("p-asserted-identity") == f"<sip:{a}@{DOMAIN};user=phone>"


def test_offnet_call_and_privacy(lab: Lab) -> None:
    a, _ = lab.numbers()
    call_id, got, final, _ = call(lab.addr, lab.caller, a, "*674135557777", lab.gateway)
    assert final.code == 486 and final.get("call-id") == call_id
    assert ";tgrp=local" in got.first  # the embedded switch names the trunk group
    assert "anonymous@anonymous.invalid" in got.get("from")  # *67: anonymous stays so
    assert got.get("privacy") == "id"
    pai = got.get("p-asserted-identity")
    assert pai == (f"<sip:+1{a}@{DOMAIN};user=phone>" if _mode(lab) == "e164_caller_id"
                   else f"<sip:{a}@{DOMAIN};user=phone>")


def test_the_delay_header_still_delays(lab: Lab) -> None:
    """X-Harness-Delay-Ms is acted on before X- headers are stripped."""
    if _mode(lab) not in ("control", "strip_private_headers"):
        pytest.skip("delay header: shown on the control and the stripping switch")
    a, b = lab.numbers()
    _, got, _, arrival_s = call(lab.addr, lab.caller, a, b, lab.callee,
                                "X-Harness-Delay-Ms: 700\r\n")
    assert arrival_s >= 0.7
    assert bool(got.get("x-harness-delay-ms")) == (_mode(lab) == "control")


# -- a real third-party B2BUA in the PSTN interconnect ------------------------------------
@pytest.fixture(scope="module")
def sippy_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    pytest.importorskip("sippy")
    yield from _lab(tmp_path_factory.mktemp("sippy"), SutConfig(tls=False, pstn_b2bua="sippy"))


def test_offnet_call_reaches_the_gateway_through_sippy(sippy_lab: Lab) -> None:
    lab = sippy_lab
    assert lab.switch.b2bua_out is not None
    a, _ = lab.numbers()
    call_id, got, final, _ = call(lab.addr, lab.caller, a, "4135557777", lab.gateway,
                                  "X-Harness-Call: lab-2\r\n")
    assert final.code == 486 and final.get("call-id") == call_id
    assert got.get("call-id").endswith("-b2b_1") and call_id.split("@")[0] not in \
        got.get("call-id")  # -H: a new Call-ID per leg
    assert got.first == f"INVITE sip:4135557777@127.0.0.1:{lab.gateway.port} SIP/2.0"  # no tgrp
    vias = got.all("via")
    assert len(vias) == 1 and f"127.0.0.1:{lab.switch.b2bua_out.port}" in vias[0]
    for name in ("p-asserted-identity", "x-harness-call"):
        assert not got.get(name)
    assert got.get("from").startswith(f"<sip:{a}@")  # the calling number is kept
    assert "m=audio" in got.body


def test_incoming_call_comes_through_sippy_and_only_sippy_is_trusted(sippy_lab: Lab) -> None:
    lab = sippy_lab
    assert lab.switch.b2bua_in is not None
    _, b = lab.numbers()
    call_id, got, final = incoming(lab.switch.pstn_entry, lab.gateway, "6175550123", b,
                                   lab.callee)
    assert lab.switch.pstn_entry == ("127.0.0.1", lab.switch.b2bua_in.port)
    assert final.code == 486 and final.get("call-id") == call_id
    assert got.get("call-id") != call_id
    assert got.get("from").startswith("<sip:6175550123@")
    # the gateway's own address is no longer trusted: challenged like any stranger
    direct_id = f"{uuid.uuid4().hex}@lab-gateway"
    direct, _ = _invite(lab.gateway, "6175550123", f"sip:{b}@{DOMAIN}", direct_id, 1)
    lab.gateway.send(direct, lab.addr)
    challenge, _ = lab.gateway.recv("407", direct_id)
    lab.gateway.send(_ack(direct, challenge), lab.addr)


def test_sippy_stops_with_the_switch(tmp_path: Path) -> None:
    pytest.importorskip("sippy")
    gen = _lab(tmp_path, SutConfig(tls=False, pstn_b2bua="sippy"))
    lab = next(gen)
    legs = [b for b in (lab.switch.b2bua_out, lab.switch.b2bua_in) if b is not None]
    pids = [b.child.pid for b in legs]
    assert len(legs) == 2 and all(b.running() for b in legs)
    assert "Total: 0" in legs[0].calls()
    gen.close()  # stops the switch
    for pid, leg in zip(pids, legs, strict=True):
        assert pid is not None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert udp_port_free(leg.port)


def test_topology_hiding_rewrites_replaces_both_ways(lab: Lab) -> None:
    """Attended transfer survives Call-ID masking: a Replaces header naming the dialog by
    the Call-ID its sender knows reaches the far end as the one the far end knows
    (topoh masks a plain Call-ID and unmasks a masked one, RFC 3891 §3)."""
    if _mode(lab) not in ("control", "topology_hiding"):
        pytest.skip("Replaces: shown on the control and the topology-hiding switch")
    a, b = lab.numbers()
    first_id, first, _, _ = call(lab.addr, lab.caller, a, b, lab.callee)
    seen_by_callee = first.get("call-id")
    for named, expected in ((first_id, seen_by_callee), (seen_by_callee, first_id)):
        _, got, _, _ = call(lab.addr, lab.caller, a, b, lab.callee,
                            f"Replaces: {named};to-tag=t1;from-tag=f1\r\n")
        assert got.get("replaces") == f"{expected};to-tag=t1;from-tag=f1"
