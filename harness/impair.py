"""Network impairment profiles for the media path between the switch and the lines.

This kernel has no netem ("Specified qdisc kind is unknown"), so random packet loss
is made with iptables' `statistic` match on the sending side (OUTPUT, toward the
agents' RTP ports on 127.0.0.1): the loss then shows identically in the capture, in
pjsua's counters and in rtpengine's. Delay and jitter need a user-space RTP relay,
not built yet: profiles that would need one are refused by name.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from harness.errors import ConfigError
from harness.faults import iptables


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    loss_pct: float = 0.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0


PROFILES = {p.name: p for p in (
    Profile("clean"),
    Profile("loss1", loss_pct=1.0),
    Profile("loss3", loss_pct=3.0),
    Profile("loss5", loss_pct=5.0),
    Profile("jitter50", delay_ms=50.0, jitter_ms=20.0),
    Profile("delay150", delay_ms=150.0),
)}


def profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ConfigError("<plan>", "profile", name, f"unknown impairment profile (known: "
                                                     f"{', '.join(PROFILES)})")
    p = PROFILES[name]
    if p.delay_ms or p.jitter_ms:
        raise ConfigError("<plan>", "profile", name, "delay and jitter need the user-space "
                          "RTP relay, which this version does not have (no netem here)")
    return p


@contextmanager
def applied(p: Profile, first_port: int, last_port: int) -> Iterator[Profile]:
    """Apply `p` to UDP toward 127.0.0.1:first_port..last_port while the block runs."""
    if p.loss_pct <= 0:
        yield p
        return
    rule = ["-o", "lo", "-p", "udp", "-d", "127.0.0.1", "--dport", f"{first_port}:{last_port}",
            "-m", "statistic", "--mode", "random", "--probability", f"{p.loss_pct / 100:.4f}",
            "-m", "comment", "--comment", f"beta-harness-{p.name}-{uuid.uuid4().hex[:8]}",
            "-j", "DROP"]
    iptables(["-I", "OUTPUT", *rule])
    try:
        yield p
    finally:
        iptables(["-D", "OUTPUT", *rule])
