"""Sippy B2BUA (PyPI `sippy`) as a child process: a real third-party back-to-back user
agent in the embedded switch's path to the simulated PSTN (sut.pstn_b2bua, docs/b2bua-lab.md).

Each instance is the full `sippy.b2bua` with a static route (`-s`): every INVITE it
receives becomes a new outgoing call to one next hop (RFC 3261 §6 "back-to-back user
agent": a UAS and a UAC, two dialogs). What reaches the next hop is Sippy's own:

- a new Call-ID per leg (`-H`: an MD5 of the incoming one, then `-b2b_1`);
- new From/To tags, Via, Contact; the R-URI is `sip:<user>@<next hop>`, so URI
  parameters such as RFC 4904 `;tgrp=` are not carried;
- no header beyond those Sippy builds (no `X-`, P-Asserted-Identity, Privacy,
  Geolocation: `-h` would pass some, none is passed here);
- the SDP body unchanged (no rtpproxy is configured, `-r` absent: media is not relayed).

RADIUS authorisation and accounting are off (`-u`, `-A 0`), so nothing outside the
harness is contacted. Sippy binds UDP on 127.0.0.1 only (`-l`), accepts calls from
127.0.0.1 only (`-a`), and takes its control commands on a TCP port on 127.0.0.1
(`-c tcp:`; its default is a Unix socket under /var/run, which needs root).
Sippy answers OPTIONS with 501 (only INVITE starts a dialog): any final answer is
its readiness.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import EnvironmentMissing, SoftswitchError
from harness.softswitch.process import (
    LAB_SWITCH_NICENESS,
    ChildProcess,
    free_tcp_port,
    free_udp_port,
    sip_options_ping,
)


@dataclass(frozen=True, slots=True)
class SippyLeg:
    """One Sippy instance: listens on 127.0.0.1:`port`, relays to 127.0.0.1:`next_hop_port`."""

    name: str  # "pstn-out" (switch -> gateway) or "pstn-in" (gateway -> switch)
    port: int
    next_hop_port: int
    control_port: int


def sippy_argv(leg: SippyLeg, python: str = sys.executable) -> list[str]:
    """The command line of one instance (module docstring: what each option does)."""
    return [python, "-m", "sippy.b2bua", "-f", "-l", "127.0.0.1", "-p", str(leg.port),
            "-s", f"127.0.0.1:{leg.next_hop_port}", "-a", "127.0.0.1", "-u", "-A", "0", "-H",
            "-c", f"tcp:127.0.0.1:{leg.control_port}"]


def sippy_version() -> str:
    try:
        return f"Sippy B2BUA {importlib.metadata.version('sippy')}"
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


class SippyB2bua:
    """One running instance, owned by the embedded switch (started and stopped with it)."""

    def __init__(self, name: str, next_hop_port: int, run_dir: Path) -> None:
        self.leg = SippyLeg(name, free_udp_port(), next_hop_port, free_tcp_port())
        self.child = ChildProcess(f"sippy-{name}", sippy_argv(self.leg),
                                  run_dir / f"sippy-{name}.log",
                                  niceness=LAB_SWITCH_NICENESS)

    @property
    def port(self) -> int:
        return self.leg.port

    def start(self, timeout_s: float = 30.0) -> None:
        """Start and wait until it answers SIP OPTIONS (with 501: it is up)."""
        if importlib.util.find_spec("sippy") is None:
            raise EnvironmentMissing("sippy (Python package, Sippy B2BUA)", "sippy==2.5.0 (pip)")
        self.child.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.child.running():
                raise SoftswitchError(f"{self.child.name} exited at start-up: "
                                      f"{self.child.log_tail()}")
            if sip_options_ping("127.0.0.1", self.leg.port, 0.5) is not None:
                return
            time.sleep(0.1)
        raise SoftswitchError(f"{self.child.name} did not answer SIP OPTIONS on "
                              f"127.0.0.1:{self.leg.port} within {timeout_s:.0f} s: "
                              f"{self.child.log_tail()}")

    def stop(self) -> None:
        self.child.stop()

    def running(self) -> bool:
        return self.child.running()

    def calls(self, timeout_s: float = 2.0) -> str:
        """Sippy's own list of the calls it holds (control command `l`), for evidence."""
        with socket.create_connection(("127.0.0.1", self.leg.control_port), timeout_s) as s:
            s.sendall(b"l\n")
            data = b""
            while b"Total:" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data.decode(errors="replace")
