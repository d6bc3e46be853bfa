"""Authentication and toll fraud: what an attacker on the access side must not get."""

import socket
import uuid

import pytest

from harness.capture.pcap import read_udp
from harness.capture.sip import parse_sip
from harness.run.session import HarnessSession
from harness.sip.register import Registrar
from harness.softswitch.process import sip_options_ping

pytestmark = pytest.mark.integration


def _raw_invite(host: str, port: int, target: str, domain: str) -> tuple[int, str]:
    """An INVITE with no credentials, from an address that is no beta line."""
    call_id = uuid.uuid4().hex
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        lport = s.getsockname()[1]
        msg = (f"INVITE sip:{target}@{domain} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK{call_id[:12]};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:4135550100@{domain}>;tag={call_id[:8]}\r\n"
               f"To: <sip:{target}@{domain}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
               f"Contact: <sip:fraud@127.0.0.1:{lport}>\r\nContent-Length: 0\r\n\r\n")
        s.settimeout(3.0)
        s.sendto(msg.encode(), (host, port))
        while True:
            data = s.recv(65535).decode(errors="replace")
            code = int(data.split(" ", 2)[1])
            if code >= 200:
                return code, call_id


def test_unauthenticated_invite_to_an_offnet_number_is_refused(live: HarnessSession) -> None:
    code, call_id = _raw_invite(live.switch.sip_host, live.switch.sip_port, "12125550123",
                                live.switch.domain)
    assert code in (401, 407, 403)
    # the call never reached the PSTN gateway (read the capture once it has flushed)
    assert live.capture is not None
    marker = f"sync-{uuid.uuid4().hex}"
    sip_options_ping(live.switch.sip_host, live.switch.sip_port, 2.0, marker)
    assert live.capture.sync(lambda p: marker.encode() in p.payload, 5.0)
    packets, _ = read_udp(live.capture.path)
    to_pstn = [m for m in (parse_sip(p) for p in packets
                           if p.dport == live.pstn.port) if m and m.call_id == call_id]
    assert to_pstn == []


def test_a_wrong_password_never_registers(live: HarnessSession) -> None:
    reg = Registrar(live.switch.sip_host, live.switch.sip_port, live.switch.domain)
    try:
        line = live.plan.line("site5/12")
        codes = [reg.register(line.number, f"guess-{i}", f"sip:{line.number}@127.0.0.1:9")
                 .code for i in range(3)]  # bounded: a real switch may ban a flood
    finally:
        reg.close()
    assert all(c in (401, 403) for c in codes), codes
