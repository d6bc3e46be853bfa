"""Access links: network namespaces joined to the switch by veth pairs, for the lines a
row under an impairment profile uses (docs/impairments.md).

A carrier's beta line reaches the switch over an access link; a profile impairs that
link and nothing else. The harness builds the links itself, as root, all inside this
host and unrouted beyond it (RFC 2544's benchmarking range 198.18.0.0/15):

    host (switch side)                               namespace beta-<pid>-<K>-<j>
    lo: 198.18.K.1/32  (the switch's access address)
    bh<K>x<j>h  <-------------- veth -------------->  bh<K>x<j>n: 198.18.K.(2+j)/32
    route 198.18.K.(2+j)/32 dev bh<K>x<j>h src 198.18.K.1     route 198.18.K.1/32 dev bh<K>x<j>n

Kamailio and rtpengine listen on the access address as well as on 127.0.0.1; an
access worker (an agent worker process that entered the namespace before opening a
socket) hosts a row's lines for the row. Every packet between the switch and those
lines crosses its veth, where the impairment rules sit (`-o bh<K>x<j>h`). No address
of the namespace side is reachable from anywhere but this host: ip_forward is not
touched, no default route leaves the host.

Every namespace name and address label carries the harness's pid (and K: a process may
run more than one session); `AccessNet.create` first removes what a dead harness left
behind (its namespaces, veths go with them, and its access address).
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import EnvironmentMissing, HarnessError
from harness.hostlock import alive, host_lock

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
PREFIX = "198.18"  # RFC 2544 benchmarking range: never routed off this host
LINKS_MAX = 32  # links of one session: 198.18.K.2 .. 198.18.K.33
_NS_NAME = re.compile(r"^beta-(\d+)-(\d+)-(\d+)$")  # beta-<pid>-<K>-<j>
_LABEL = re.compile(r"\blo:b(\d+)\b")


@dataclass(frozen=True, slots=True)
class AccessLink:
    """One access link: a namespace, its veth pair, the line side's address."""

    netns: str  # /run/netns/<netns>
    host_if: str  # the veth end on the switch's side: impairment rules match it
    ns_if: str
    address: str  # the lines' address inside the namespace
    core: str  # the switch's access address (on the host's lo)


@dataclass(frozen=True, slots=True)
class AccessNet:
    """The access links of one harness session, and how to take them down."""

    core: str
    links: tuple[AccessLink, ...]
    label: str

    @classmethod
    def create(cls, count: int = 2) -> AccessNet:
        """`count` links behind one access address 198.18.K.1 (K free on this host)."""
        if os.geteuid() != 0:
            raise HarnessError("access links need root (network namespaces, veth pairs)")
        if not 1 <= count <= LINKS_MAX:
            raise HarnessError(f"access links: count {count} (1..{LINKS_MAX})")
        # chosen and assigned under the host's lock: another harness process on this
        # host choosing at the same moment sees the address and takes the next K
        with host_lock("access"):
            clean_stale()
            k = _free_block()
            pid, core = os.getpid(), f"{PREFIX}.{k}.1"
            net = cls(core, tuple(AccessLink(f"beta-{pid}-{k}-{j}", f"bh{k}x{j}h",
                                             f"bh{k}x{j}n", f"{PREFIX}.{k}.{2 + j}", core)
                                  for j in range(count)), f"lo:b{pid}")
            _ip("addr", "add", f"{core}/32", "dev", "lo", "label", net.label)
        try:
            for link in net.links:
                net._build(link)
        except HarnessError:
            net.destroy()
            raise
        return net

    @staticmethod
    def _build(link: AccessLink) -> None:
        _ip("netns", "add", link.netns)
        _ip("link", "add", link.host_if, "type", "veth", "peer", "name", link.ns_if)
        _ip("link", "set", link.ns_if, "netns", link.netns)
        _ip("link", "set", link.host_if, "up")
        _ip("route", "add", f"{link.address}/32", "dev", link.host_if, "src", link.core)
        inside = ("-n", link.netns)
        _ip(*inside, "link", "set", "lo", "up")
        _ip(*inside, "link", "set", link.ns_if, "up")
        _ip(*inside, "addr", "add", f"{link.address}/32", "dev", link.ns_if)
        _ip(*inside, "route", "add", f"{link.core}/32", "dev", link.ns_if)

    def destroy(self) -> None:
        """Remove the namespaces (their veth pairs go with them) and the access address;
        what is already gone is no error."""
        for link in self.links:
            _ip("netns", "del", link.netns, check=False)
            _ip("link", "del", link.host_if, check=False)
        _ip("addr", "del", f"{self.core}/32", "dev", "lo", check=False)


def enter(netns: str) -> None:
    """Move the calling process into namespace `netns` (setns(2), CLONE_NEWNET): the
    sockets it opens from here on live there. Python 3.11 has no os.setns."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(NETNS_DIR / netns, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise HarnessError(f"setns into network namespace {netns}: {os.strerror(err)}")
    finally:
        os.close(fd)


def clean_stale() -> list[str]:
    """Remove namespaces and access addresses left by harness processes that are gone;
    what was removed."""
    removed = []
    for entry in sorted(NETNS_DIR.iterdir()) if NETNS_DIR.is_dir() else ():
        m = _NS_NAME.match(entry.name)
        if m and not alive(int(m.group(1))):
            _ip("netns", "del", entry.name, check=False)
            removed.append(entry.name)
    for line in _ip("-o", "-4", "addr", "show", "dev", "lo").splitlines():
        m = _LABEL.search(line.strip())
        addr = re.search(r"inet (\S+)", line)
        if m and addr and not alive(int(m.group(1))):
            _ip("addr", "del", addr.group(1), "dev", "lo", check=False)
            removed.append(addr.group(1))
    return removed


def _free_block() -> int:
    """A K with no 198.18.K.x address and no bh<K>x... interface on this host."""
    text = _ip("-o", "addr", "show") + _ip("-o", "link", "show")
    for k in range(1, 255):
        if f" {PREFIX}.{k}." not in text and f" bh{k}x" not in text:
            return k
    raise HarnessError(f"access links: every {PREFIX}.K block is taken on this host")


def _ip(*args: str, check: bool = True) -> str:
    exe = shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin")
    if exe is None:
        raise EnvironmentMissing("ip", "iproute2")
    out = subprocess.run([exe, *args], capture_output=True, text=True, timeout=30, check=False)
    if check and out.returncode != 0:
        raise HarnessError(f"ip {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout
