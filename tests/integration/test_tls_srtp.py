"""TLS + SRTP through the embedded switch (docs/tls-srtp.md): a secure on-net call is
placed with certificate verification on, TLS 1.2 is shown negotiated (agent, switch
and the capture's ServerHello), the media is shown encrypted on the wire, PESQ is
scored both ways from the recordings; a switch presenting a certificate from another
CA, or for another name, is refused by the agent before any INVITE reaches it."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from harness.capture.pcap import read_udp
from harness.capture.rtp import RtpPacket, decode_stream, parse_rtp
from harness.config import HarnessConfig, load_config
from harness.media.reference import read_wav
from harness.media.score import pesq_score
from harness.model import CallResult, CallSpec, Expect, Status
from harness.run.session import HarnessSession
from harness.verdict.secure import WIRE_NOTE, payload_entropy_bits

pytestmark = pytest.mark.integration

PLAN_ROW = CallSpec("10.1", "TLS 1.2 + SRTP on-net call", caller="site1/03", dial="site2/03",
                    transport="tls", srtp=True,
                    expect=Expect(final_code=200, srd_s_max=3.0, mos_lqo_min=4.2,
                                  rings="site2/03", call_class="onnet"))


def _tls_config(faults: str = "", small: bool = False) -> HarnessConfig:
    cfg = load_config()
    cfg = replace(cfg, guard=replace(cfg.guard, retries_on_stall=0),
                  sut=replace(cfg.sut, tls=True, test_faults=faults))
    if small:  # the negative tests need two lines, not 84
        cfg = replace(cfg, numbers=replace(cfg.numbers, sites=1, lines_per_site=2))
    return cfg


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HarnessSession]:
    session = HarnessSession(_tls_config(), tmp_path_factory.mktemp("reports"))
    session.start()
    try:
        yield session
    finally:
        session.close()


def _wire_rtp(session: HarnessSession, r: CallResult) -> dict[str, list[RtpPacket]]:
    """RTP on the wire toward each receiver, from the call's pcap slice."""
    pcap = session.run_dir / dict(r.artifacts)["call"]
    streams = json.loads((pcap.parent / "streams.json").read_text())
    packets, _ = read_udp(pcap)
    out: dict[str, list[RtpPacket]] = {}
    for direction in ("a_to_b", "b_to_a"):
        dst = streams[f"wire_{direction}"]["dst"]
        out[direction] = [p for p in (parse_rtp(u) for u in packets if u.dst_addr == dst)
                          if p is not None]
    return out


def _server_hello_versions(pcap: Path, port: int) -> list[tuple[str, str]]:
    """(legacy version, supported_versions extension) of each ServerHello the switch
    sent, read by tshark from the run capture."""
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark not installed")
    out = subprocess.run([tshark, "-r", str(pcap), "-d", f"tcp.port=={port},tls", "-Y",
                          f"tls.handshake.type == 2 && tcp.srcport == {port}", "-T", "fields",
                          "-e", "tls.handshake.version",
                          "-e", "tls.handshake.extensions.supported_version"],
                         capture_output=True, text=True, timeout=300, check=True)
    return [tuple(line.split("\t")) for line in out.stdout.splitlines() if line.strip()]  # type: ignore[misc]


@pytest.mark.fault
@pytest.mark.parametrize("fault", ["tls_foreign_ca", "tls_wrong_name"])
def test_agent_refuses_a_switch_certificate_it_cannot_verify(
        tmp_path: Path, fault: str) -> None:
    """Its own switch, rendered with the fault."""
    session = HarnessSession(_tls_config(fault, small=True), tmp_path)
    session.start()
    try:
        spec = CallSpec("10.1", "TLS 1.2 + SRTP on-net call", caller="site1/01",
                        dial="site1/02", transport="tls", srtp=True,
                        expect=Expect(mos_lqo_min=None, cdr=False))
        r = session.run_call(spec)
        tls = session.switch.tls_listener()
        assert tls is not None
        seen = [t for t in session.tls_sessions if t.remote == f"127.0.0.1:{tls.port}"]
        log = (session.run_dir / "sut" / "kamailio.log").read_text(errors="replace")
    finally:
        session.close()
    print(fault, r.final_code, r.verdict.reasons, seen)
    assert r.final_code != 200 and r.verdict.status is Status.FAIL
    assert not any(ev.kind == "INCOMING" for ev in r.events)  # nobody rang
    assert seen and not seen[-1].verified
    assert "TLS: INVITE" not in log  # the INVITE never reached the switch
    want = "untrusted" if fault == "tls_foreign_ca" else "identity does not match"
    assert any(want in m.lower() for t in seen for m in t.verify_msgs), seen


def test_tls_srtp_call_is_verified_encrypted_and_scored(secure: HarnessSession) -> None:
    r = secure.run_call(PLAN_ROW)
    assert r.final_code == 200, r.verdict.reasons
    assert r.verdict.status is Status.PASS or r.verdict.invalid_measurement, r.verdict.reasons
    # PESQ from the agents' recordings, both directions; the wire is a note
    for direction in ("a_to_b", "b_to_a"):
        agent, wire = r.score(direction, "agent"), r.score(direction, "wire")
        assert agent is not None and wire is not None
        assert agent.mos_lqo is not None, agent
        if agent.valid:
            assert agent.mos_lqo >= 4.2, agent
        assert wire.mos_lqo is None and wire.note == WIRE_NOTE
        print(f"PESQ {direction} agent: {agent.mos_lqo:.2f} (ceiling {agent.ceiling_mos_lqo}, "
              f"valid {agent.valid})")
    # TLS 1.2 with the switch, the switch's certificate verified (the agent's view)
    tls = secure.switch.tls_listener()
    assert tls is not None
    to_switch = [t for t in secure.tls_sessions if t.remote == f"127.0.0.1:{tls.port}"]
    assert to_switch and to_switch[-1].state == "connected"
    assert to_switch[-1].protocol == "TLSv1.2" and to_switch[-1].verified, to_switch[-1]
    # ... the switch's view: Kamailio logged the INVITE's TLS version
    log = (secure.run_dir / "sut" / "kamailio.log").read_text(errors="replace")
    assert "TLS: INVITE from 127.0.0.1" in log and "over TLSv1.2" in log
    # ... and the wire: every ServerHello of the switch says TLS 1.2 (0x0303, no
    # supported_versions extension, which TLS 1.3 would carry: RFC 8446 §4.2.1)
    hellos = _server_hello_versions(secure.run_dir / "capture.pcap", tls.port)
    print("ServerHello (version, supported_versions):", hellos)
    assert hellos and all(h[0] == "0x0303" and not h[1:2] == ("0x0304",) for h in hellos)
    # SRTP on the wire: each packet carries an auth tag (never a bare 160-byte G.711
    # frame), its bytes look random, and decoding it as PCMU does not give speech
    ref, rate = read_wav(secure.refs["a"].path)
    wire = _wire_rtp(secure, r)
    for direction, rtp in wire.items():
        assert len(rtp) > 200, direction
        sizes = {len(p.payload) for p in rtp}
        assert 160 not in sizes and min(sizes) > 160, (direction, sizes)
        entropy = payload_entropy_bits(rtp)
        print(f"wire {direction}: {len(rtp)} packets, payload sizes {sorted(sizes)}, "
              f"entropy {entropy:.3f} bits/byte")
        assert entropy > 7.9
    pcm, _codec, wrate = decode_stream(wire["a_to_b"])
    garbage = pesq_score(ref, pcm if wrate == rate else np.zeros(0, np.int16), rate, "nb")
    print(f"wire a_to_b decoded as PCMU anyway: PESQ {garbage.mos_lqo}, {garbage.problem}")
    assert garbage.mos_lqo is None or garbage.mos_lqo < 2.0


@pytest.mark.parametrize(("name", "dial"), [("tls-to-udp", "5550190"),
                                             ("udp-to-tls", "site1/05")])
def test_switch_bridges_tls_srtp_and_udp_rtp(secure: HarnessSession, name: str,
                                             dial: str) -> None:
    """A secure phone calling the (UDP, plain RTP) PSTN trunk, and a PSTN subscriber
    calling a secure phone: the switch relays TLS<->UDP and rtpengine SRTP<->RTP."""
    if name == "tls-to-udp":
        spec = CallSpec("10.x", name, caller="site1/04", dial=dial, transport="tls", srtp=True,
                        expect=Expect(mos_lqo_min=4.2, rings="pstn:local"))
    else:
        spec = CallSpec("10.y", name, caller="pstn:2125550188", dial="4135550104",
                        transport="tls", srtp=True,
                        expect=Expect(mos_lqo_min=4.2, rings="site1/05"))
    r = secure.run_call(spec)
    assert r.final_code == 200, r.verdict.reasons
    assert r.verdict.status is Status.PASS or r.verdict.invalid_measurement, r.verdict.reasons
    for q in r.quality:
        print(name, q.direction, q.source, q.mos_lqo, q.note or "", q.valid)
