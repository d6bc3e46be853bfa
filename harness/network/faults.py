"""Faults the harness can inject into its own loopback test bed, to prove that each
detection path catches what it claims to.

* `drop_udp`: an iptables DROP rule for UDP to a port range on 127.0.0.1, tagged
  with a unique comment and always removed on exit. In the INPUT chain the packets
  still show in a loopback capture (the tap sits before INPUT filtering) but never
  reach the receiver: a one-way audio path that only the receiver's ear notices.
  In OUTPUT the sender's send() fails and the wire shows nothing.
* `stall_process`: SIGSTOP a process for a known time, then SIGCONT: reproduces a
  host pause for the stall guard.

The rules touch only 127.0.0.1 traffic to ports the harness chose itself.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from harness.errors import EnvironmentMissing, HarnessError


def iptables(args: list[str]) -> None:
    """Run iptables (loopback rules of the harness's own); a failure is a HarnessError."""
    exe = shutil.which("iptables") or shutil.which("iptables", path="/usr/sbin:/sbin")
    if exe is None:
        raise EnvironmentMissing("iptables", "iptables")
    out = subprocess.run([exe, *args], capture_output=True, text=True, timeout=30, check=False)
    if out.returncode != 0:
        raise HarnessError(f"iptables {' '.join(args)}: {out.stderr.strip()}")


@contextmanager
def drop_udp(first_port: int, last_port: int, chain: str = "INPUT") -> Iterator[str]:
    """Drop UDP to 127.0.0.1:first_port..last_port while the block runs."""
    if chain not in ("INPUT", "OUTPUT"):
        raise HarnessError(f"drop_udp: chain must be INPUT or OUTPUT, not {chain!r}")
    if not (1024 <= first_port <= last_port <= 65535):
        raise HarnessError(f"drop_udp: bad port range {first_port}..{last_port}")
    tag = f"beta-harness-fault-{uuid.uuid4().hex[:8]}"
    rule = ["-p", "udp", "-d", "127.0.0.1", "--dport", f"{first_port}:{last_port}",
            "-m", "comment", "--comment", tag, "-j", "DROP"]
    iface = ["-i", "lo"] if chain == "INPUT" else ["-o", "lo"]
    iptables(["-I", chain, *iface, *rule])
    try:
        yield tag
    finally:
        iptables(["-D", chain, *iface, *rule])


def stall_process(pid: int | Sequence[int], after_s: float,
                  for_s: float) -> subprocess.Popen[bytes]:
    """Stop `pid` (or every pid of a sequence, together) after `after_s` seconds for
    `for_s` seconds (runs in the background).

    A separate process does it, so the target (often the harness itself) can be
    stopped whole, every thread included, as a paused VM stops it; several at once
    as a paused VM stops every process.
    """
    pids = [pid] if isinstance(pid, int) else list(pid)
    script = (f"import os,signal,time; time.sleep({after_s}); "
              f"[os.kill(p, signal.SIGSTOP) for p in {pids}]; time.sleep({for_s}); "
              f"[os.kill(p, signal.SIGCONT) for p in {pids}]")
    return subprocess.Popen([sys.executable, "-c", script])


def ensure_running(pid: int) -> None:
    """SIGCONT, in case a stall helper died between its STOP and CONT."""
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass
