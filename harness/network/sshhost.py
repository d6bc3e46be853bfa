"""The lab's agent hosts: a network namespace per customer site (an access link of
harness/network/netns.py, its own address), each running Debian's OpenSSH server, so
that the controller reaches the site's lines the way it reaches a real agent host:
over SSH, with a key made for the run (docs/agent-hosts.md).

Per run, in a private directory (mode 0700, removed at the end): an ed25519 user key
(authorized for root on these hosts only, through the server's own
AuthorizedKeysFile), an ed25519 host key per host (pinned in the client's
known_hosts: StrictHostKeyChecking yes), an sshd_config per host (ListenAddress the
namespace's address only, keys only, no PAM) and the client's ssh_config. Nothing in
/etc/ssh or ~/.ssh is read or changed. sshd runs in the foreground (-D), as a child of
the harness, and is killed with it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import EnvironmentMissing, HarnessError
from harness.network.netns import AccessLink
from harness.softswitch.process import exit_with_parent

SSH_PORT = 22


@dataclass
class LabHost:
    """One namespaced SSH host: where it listens, and its sshd."""

    name: str
    link: AccessLink
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return self.link.address


class LabHosts:
    """The lab's SSH hosts of one run, and the client configuration that reaches them."""

    def __init__(self, names: list[str], links: list[AccessLink]) -> None:
        self.hosts = [LabHost(n, link) for n, link in zip(names, links, strict=True)]
        self.dir = Path(tempfile.mkdtemp(prefix="beta-ssh-"))
        self.ssh_config = self.dir / "ssh_config"

    def start(self, timeout_s: float = 10.0) -> None:
        sshd = shutil.which("sshd") or shutil.which("sshd", path="/usr/sbin:/sbin")
        keygen = shutil.which("ssh-keygen")
        if sshd is None or keygen is None or shutil.which("ssh") is None:
            raise EnvironmentMissing("sshd", "openssh-server openssh-client")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege separation dir
        user_key = self.dir / "id_ed25519"
        _keygen(keygen, user_key, "beta-controller")
        (self.dir / "authorized_keys").write_text(
            user_key.with_suffix(".pub").read_text(), encoding="ascii")
        known = []
        for host in self.hosts:
            key = self.dir / f"host-{host.name}"
            _keygen(keygen, key, f"beta-host-{host.name}")
            kind, blob = key.with_suffix(".pub").read_text().split()[:2]
            known.append(f"{host.address} {kind} {blob}")
            cfg = self.dir / f"sshd-{host.name}.conf"
            cfg.write_text("\n".join([
                f"ListenAddress {host.address}:{SSH_PORT}", f"HostKey {key}",
                f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
                "PermitRootLogin prohibit-password", "PasswordAuthentication no",
                "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
                f"PidFile {self.dir / f'sshd-{host.name}.pid'}", "PrintMotd no",
                "MaxSessions 64", "MaxStartups 64", "LogLevel ERROR", ""]),
                encoding="ascii")
            log = open(self.dir / f"sshd-{host.name}.log", "wb")  # noqa: SIM115
            host.proc = subprocess.Popen(  # noqa: S603 - our own argv
                ["ip", "netns", "exec", Path(host.link.netns).name, sshd, "-D", "-e",
                 "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=exit_with_parent)
            log.close()
        (self.dir / "known_hosts").write_text("\n".join(known) + "\n", encoding="ascii")
        self.ssh_config.write_text("\n".join([
            "Host *", "  User root", f"  IdentityFile {user_key}", "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {self.dir / 'known_hosts'}",
            "  StrictHostKeyChecking yes", "  BatchMode yes", "  ConnectTimeout 10",
            "  ServerAliveInterval 2", "  ServerAliveCountMax 3", ""]), encoding="ascii")
        self.ssh_config.chmod(0o600)
        deadline = time.monotonic() + timeout_s
        for host in self.hosts:
            while not _listening(host.address, SSH_PORT):
                if host.proc is not None and host.proc.poll() is not None:
                    raise HarnessError(f"lab agent host {host.name}: sshd exited "
                                       f"({host.proc.returncode}): "
                                       f"{self._log(host)}")
                if time.monotonic() > deadline:
                    raise HarnessError(f"lab agent host {host.name}: sshd not listening on "
                                       f"{host.address}:{SSH_PORT} within {timeout_s:.0f} s")
                time.sleep(0.05)

    def _log(self, host: LabHost) -> str:
        try:
            return (self.dir / f"sshd-{host.name}.log").read_text(errors="replace")[-500:]
        except OSError:
            return ""

    def kill(self, name: str) -> None:
        """Every process of host `name` killed at once (sshd, its sessions, the agent
        host's gateway and workers): a machine lost, as the harness's tests make one."""
        host = next(h for h in self.hosts if h.name == name)
        out = subprocess.run(["ip", "netns", "pids", Path(host.link.netns).name],  # noqa: S603
                             capture_output=True, text=True, timeout=10, check=False)
        for pid in out.stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)

    def stop(self) -> None:
        for host in self.hosts:
            self.kill(host.name)
            if host.proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    host.proc.wait(5.0)
        shutil.rmtree(self.dir, ignore_errors=True)


def _keygen(exe: str, path: Path, comment: str) -> None:
    out = subprocess.run([exe, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],  # noqa: S603
                         capture_output=True, text=True, timeout=30, check=False)
    if out.returncode != 0:
        raise HarnessError(f"ssh-keygen {path.name}: {out.stderr.strip()}")


def _listening(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def faketime(offset_s: float, python: str, rate: float = 1.0) -> str:
    """`python` run with its clocks `offset_s` off, and running `rate` times as fast
    (libfaketime, Debian's `faketime`): the harness's own tests' host with a wrong or a
    drifting clock."""
    libs = sorted(Path("/usr/lib").glob("*/faketime/libfaketimeMT.so.1"))
    if not libs:
        raise EnvironmentMissing("libfaketime", "faketime")
    speed = "" if rate == 1.0 else f" x{rate:g}"
    return f"env LD_PRELOAD={libs[0]} 'FAKETIME={offset_s:+g}s{speed}' {python}"
