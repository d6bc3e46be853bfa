"""The test CA (openssl), the site-transport budget under TLS, the SRTP wire checks,
and a decided quality score's note (docs/tls-srtp.md)."""

from __future__ import annotations

import os
import ssl
import subprocess
from pathlib import Path

import pytest

from harness.capture.rtp import RtpPacket
from harness.errors import EnvironmentMissing
from harness.model import CallTiming, Expect, QualityScore, Status
from harness.softswitch import tlsca
from harness.verdict.secure import payload_entropy_bits, wire_note
from tests.unit.test_metrics import judge


def _sans(cert: Path) -> str:
    return subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-ext",
                           "subjectAltName"], capture_output=True, text=True,
                          check=True).stdout


def test_test_ca_signs_the_switch_for_its_address_and_domain(tmp_path: Path) -> None:
    ca = tlsca.make_test_ca(tmp_path, "beta.test")
    assert "IP Address:127.0.0.1" in _sans(ca.server.cert)
    assert "DNS:beta.test" in _sans(ca.server.cert)
    for key in (ca.ca.key, ca.server.key, ca.agent.key):
        assert os.stat(key).st_mode & 0o777 == 0o600
    # Python's own TLS stack accepts the chain for both names
    ctx = ssl.create_default_context(cafile=str(ca.ca.cert))
    ctx.load_cert_chain(str(ca.server.cert), str(ca.server.key))
    out = subprocess.run(["openssl", "verify", "-CAfile", str(ca.ca.cert), str(ca.server.cert)],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("fault", ["tls_foreign_ca", "tls_wrong_name"])
def test_faulty_switch_certificates_do_not_verify(tmp_path: Path, fault: str) -> None:
    ca = tlsca.make_test_ca(tmp_path, "beta.test", frozenset({fault}))
    out = subprocess.run(["openssl", "verify", "-CAfile", str(ca.ca.cert), "-verify_ip",
                          "127.0.0.1", str(ca.server.cert)],
                         capture_output=True, text=True, check=False)
    assert out.returncode != 0


def test_missing_openssl_names_the_package(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.setattr(tlsca.shutil, "which", lambda *a, **k: None)
    with pytest.raises(EnvironmentMissing, match="openssl"):
        tlsca.make_test_ca(tmp_path, "beta.test")


def _rtp(payloads: list[bytes]) -> list[RtpPacket]:
    return [RtpPacket(0.0, "a", "b", 1, i, 160 * i, 0, False, p)
            for i, p in enumerate(payloads)]


def test_entropy_tells_ciphertext_from_g711() -> None:
    assert payload_entropy_bits(_rtp([os.urandom(170) for _ in range(100)])) > 7.9
    assert payload_entropy_bits(_rtp([bytes([0xFF, 0x7F, 0xFE] * 53) for _ in range(100)])) < 2


def test_a_wire_note_is_not_judged() -> None:
    agent = QualityScore("a_to_b", "agent", 4.3, "nb", True)
    v = judge(Expect(), 200, CallTiming(1.0, 1.0, 8.0, 0.01), (agent, wire_note(
        "a_to_b", "nb", 9.0, 4.3)), None)
    assert v.status is Status.PASS
    unscored = QualityScore("a_to_b", "wire", None, "nb", True)
    assert judge(Expect(), 200, CallTiming(1.0, 1.0, 8.0, 0.01), (agent, unscored),
                  None).status is Status.FAIL
