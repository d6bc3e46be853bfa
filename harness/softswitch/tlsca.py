"""A test certificate authority the harness makes per run, with the openssl command.

Python's `ssl` module can use certificates but not make them, so the `openssl` CLI
(Debian package `openssl`) signs them. Per run, under `<run>/sut/tls/`:

* `ca.pem` / `ca.key`: the test CA (ECDSA P-256, SHA-256, valid 2 days). The agents
  verify the switch against it; the switch verifies the agents against it.
* `server.pem` / `server.key`: the switch's certificate, subjectAltName
  `IP:127.0.0.1` and `DNS:<the SIP domain>` (RFC 5922 §7.1: a SIP client matches the
  host it connected to against the subjectAltName).
* `agent.pem` / `agent.key`: the test phones' certificate, presented when the switch
  connects to a phone's TLS listener (a call *to* a TLS line).

Private keys are mode 0600. `make_cert` also serves the harness's own negative tests:
a certificate from another CA, or one that names another host.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import EnvironmentMissing, SoftswitchError

DAYS = 2


@dataclass(frozen=True, slots=True)
class CertFiles:
    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class TestCa:
    ca: CertFiles
    server: CertFiles  # what the switch presents
    agent: CertFiles  # what the test phones present on their TLS listeners


def openssl() -> str:
    path = shutil.which("openssl") or shutil.which("openssl", path="/usr/bin:/bin")
    if path is None:
        raise EnvironmentMissing("openssl", "openssl")
    return path


def _run(argv: list[str], what: str) -> None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SoftswitchError(f"openssl: {what}: {exc}") from exc
    if out.returncode != 0:
        tail = " | ".join(ln.strip() for ln in out.stderr.splitlines()[-4:] if ln.strip())
        raise SoftswitchError(f"openssl: {what} failed (exit {out.returncode}): {tail}")


def _new_key(path: Path) -> None:
    path.unlink(missing_ok=True)
    # ECDSA P-256 (RFC 8422): as strong as RSA 3072 and made in milliseconds, where a
    # 2048-bit RSA key took ~0.2 s each, three per session
    _run([openssl(), "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
          "-out", str(path)], f"key {path}")
    os.chmod(path, 0o600)


def make_ca(directory: Path, name: str) -> CertFiles:
    """A self-signed CA `name` (CN) as `<name>.pem` / `<name>.key` in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    files = CertFiles(directory / f"{name}.pem", directory / f"{name}.key")
    _new_key(files.key)
    _run([openssl(), "req", "-x509", "-new", "-key", str(files.key), "-sha256",
          "-days", str(DAYS), "-subj", f"/O=beta-harness/CN={name}", "-out", str(files.cert),
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"], f"CA {files.cert}")
    return files


def make_cert(directory: Path, name: str, ca: CertFiles, sans: tuple[str, ...]) -> CertFiles:
    """A leaf certificate `name` signed by `ca`, subjectAltName `sans`
    (e.g. ("IP:127.0.0.1", "DNS:beta.test")), for TLS server and client use."""
    files = CertFiles(directory / f"{name}.pem", directory / f"{name}.key")
    _new_key(files.key)
    csr = directory / f"{name}.csr"
    ext = directory / f"{name}.ext"
    ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                   "extendedKeyUsage=serverAuth,clientAuth\n"
                   f"subjectAltName={','.join(sans)}\n", encoding="utf-8")
    cn = sans[0].split(":", 1)[1]
    _run([openssl(), "req", "-new", "-key", str(files.key), "-subj",
          f"/O=beta-harness/CN={cn}", "-out", str(csr)], f"request {csr}")
    _run([openssl(), "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey",
          str(ca.key), "-CAcreateserial", "-sha256", "-days", str(DAYS), "-extfile", str(ext),
          "-out", str(files.cert)], f"certificate {files.cert}")
    csr.unlink(missing_ok=True)
    ext.unlink(missing_ok=True)
    return files


def make_test_ca(directory: Path, domain: str, faults: frozenset[str] = frozenset(),
                 more_ips: tuple[str, ...] = ()) -> TestCa:
    """The run's test CA, the switch's and the agents' certificates.

    `faults` (the harness's own tests): `tls_foreign_ca` signs the switch's certificate
    with another CA than the one the agents trust; `tls_wrong_name` gives it a name
    that is neither 127.0.0.1 nor the SIP domain. `more_ips`: addresses the switch
    and the agents also answer at (the access links' and the lab's agent hosts')."""
    ca = make_ca(directory, "ca")
    more = tuple(f"IP:{ip}" for ip in more_ips)
    server_sans: tuple[str, ...] = ("IP:127.0.0.1", f"DNS:{domain}", *more)
    signer = ca
    if "tls_foreign_ca" in faults:
        signer = make_ca(directory, "foreign-ca")
    if "tls_wrong_name" in faults:
        server_sans = ("DNS:wrong-host.invalid",)
    server = make_cert(directory, "server", signer, server_sans)
    agent = make_cert(directory, "agent", ca, ("IP:127.0.0.1", *more))
    return TestCa(ca, server, agent)
