"""Network impairment profiles for the media path between the switch and the lines.

Every profile acts on UDP toward the lines' RTP ports (OUTPUT), RTP and RTCP alike:
on the access links' host-side veths when the row's lines sit behind them
(harness/network/access.py, harness/network/netns.py: `-o bh<K>x<j>h`, the links of this row and
nothing else), else toward 127.0.0.1 (`-o lo`). Only the direction toward the lines
is impaired, so each direction of speech crosses the impairment once.

* every profile but `clean`: an NFQUEUE rule (mangle OUTPUT, `--queue-bypass`) hands
  the packets to the harness's own stage, a helper process (harness.network.netdelay). This
  kernel has no netem.
* loss (`loss1`, `loss3`, `loss5`: Bernoulli; `burst3`: Gilbert–Elliott): the stage
  drops the RTP packets a fixed, seeded pattern names (harness.network.netloss), by their
  position in their flow, so the same call loses the same packets every run; RTCP
  passes. `applied` yields what it dropped as a `LossReport`.
* delay and jitter (`delay150`, `jitter50`): the stage holds each packet in the kernel
  until its release time.
  The stage measures its own timing; `applied` yields it as a `DelayReport`.

Every rule carries a unique comment and is removed on every exit path. See
docs/impairments.md.
"""

from __future__ import annotations

import json
import os
import random
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace

from harness.errors import ConfigError, HarnessError
from harness.network import netdelay
from harness.network.faults import iptables
from harness.network.netdelay import DelayReport
from harness.network.netloss import LossModel, LossReport

__all__ = ["PROFILES", "Applied", "DelayReport", "DelayStage", "LossReport", "Profile",
           "applied", "profile"]


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    loss: LossModel | None = None  # a seeded pattern per flow (harness.network.netloss)
    delay_ms: float = 0.0
    jitter_ms: float = 0.0  # uniform in ±jitter_ms around delay_ms, no reordering

    @property
    def loss_pct(self) -> float:
        """The loss model's long-run rate, %."""
        return 100 * self.loss.mean_loss if self.loss else 0.0

    @property
    def staged(self) -> bool:
        """Whether the profile needs the NFQUEUE stage."""
        return self.loss is not None or self.delay_ms > 0 or self.jitter_ms > 0


PROFILES = {p.name: p for p in (
    Profile("clean"),
    Profile("loss1", loss=LossModel("bernoulli", 0.01)),
    Profile("loss3", loss=LossModel("bernoulli", 0.03)),
    Profile("loss5", loss=LossModel("bernoulli", 0.05)),
    # 3 % in bursts: a lossless good state, a bad state losing every packet that lasts
    # 1/r = 4 packets (80 ms at 20 ms) on average; p = r * 0.03 / 0.97
    Profile("burst3", loss=LossModel("gilbert_elliott", 0.0077, 0.25, 0.0, 1.0)),
    Profile("jitter50", delay_ms=50.0, jitter_ms=20.0),
    Profile("delay150", delay_ms=150.0),
)}


def profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ConfigError("<plan>", "profile", name, f"unknown impairment profile (known: "
                                                     f"{', '.join(PROFILES)})")
    return PROFILES[name]


@dataclass(slots=True)
class Applied:
    """What `applied` yields, filled when the block ends for a profile that uses the
    stage: `delay`, the stage's own measured timing; `loss`, for a loss profile, what
    it dropped flow by flow (None otherwise)."""

    profile: Profile
    delay: DelayReport | None = None
    loss: LossReport | None = None


@contextmanager
def applied(p: Profile, first_port: int, last_port: int,
            stall_threshold_ms: float = 100.0,
            interfaces: tuple[str, ...] = (), lanes: tuple[str, ...] = ()) -> Iterator[Applied]:
    """Apply `p` to UDP toward ports first_port..last_port while the block runs: sent
    out of `interfaces` (access links' host-side veths), or to 127.0.0.1 if none.
    `lanes` names each interface's direction (its loss patterns' seed); default: the
    interface's own name."""
    if not (1024 <= first_port <= last_port <= 65535):
        raise HarnessError(f"impairment {p.name}: bad port range {first_port}..{last_port}")
    result = Applied(p)
    dport = ["-p", "udp", "--dport", f"{first_port}:{last_port}"]
    matches = [["-o", iface, *dport] for iface in interfaces] or \
        [["-o", "lo", "-d", "127.0.0.1", *dport]]
    tag = f"beta-harness-{p.name}-{uuid.uuid4().hex[:8]}"
    if not p.staged:
        yield result
        return
    names = dict(zip(interfaces, lanes, strict=False))
    stage = DelayStage(p.delay_ms, p.jitter_ms, stall_threshold_ms, loss=p.loss,
                       loss_profile=p.name,
                       lanes={i: names.get(i, i) for i in interfaces or ("lo",)})
    queue = stage.start()
    try:
        with ExitStack() as queued:
            for match in matches:
                queued.enter_context(_rule("mangle", [
                    *match, "-m", "comment", "--comment", tag, "-j", "NFQUEUE",
                    "--queue-num", str(queue), "--queue-bypass"]))
            yield result
    finally:  # the rule is gone: nothing new reaches the queue
        result.delay = stage.stop()
        result.loss = stage.loss_report


@contextmanager
def _rule(table: str, rule: list[str]) -> Iterator[None]:
    iptables(["-t", table, "-I", "OUTPUT", *rule])
    try:
        yield
    finally:
        iptables(["-t", table, "-D", "OUTPUT", *rule])


class DelayStage:
    """The helper process running harness.network.netdelay: started before its rule exists,
    told to stop (stdin closed) after the rule is removed; it then releases what it
    still holds and prints its `DelayReport` (and, under a loss profile, before it,
    its `LossReport`: `loss_report` after `stop()`).

    A separate process, not a thread of the harness: the harness runs the pjsua2 event
    pump and the stall guard in Python, and a thread waking 100+ times a second would
    contend for their GIL (up to the 5 ms switch interval per release, both ways). The
    helper imports nothing but the standard library, runs at SCHED_FIFO 1 when root,
    and exits on its own if the harness dies (stdin EOF). A dead helper lets traffic
    through undelayed (`--queue-bypass`) and its report says so (`valid` False)."""

    READY_TIMEOUT_S = 30.0  # Python start-up on a starved host takes seconds

    def __init__(self, delay_ms: float, jitter_ms: float, stall_threshold_ms: float = 100.0,
                 seed: int | None = None, *, loss: LossModel | None = None,
                 loss_profile: str = "", lanes: dict[str, str] | None = None) -> None:
        self.delay_ms, self.jitter_ms = delay_ms, jitter_ms
        self.loss, self.loss_profile, self.lanes = loss, loss_profile, lanes or {}
        self.loss_report: LossReport | None = None  # set by stop(), for a loss profile
        self.stall_threshold_ms = stall_threshold_ms
        self.seed = seed if seed is not None else random.SystemRandom().randrange(1 << 31)
        self.proc: subprocess.Popen[bytes] | None = None
        self.queue = -1

    def start(self) -> int:
        """Start the helper; the queue number it bound."""
        cmd = [sys.executable, "-I", "-S", netdelay.__file__,
               "--queue", str(random.SystemRandom().randrange(10000, 60000)),
               "--delay-ms", f"{self.delay_ms:g}", "--jitter-ms", f"{self.jitter_ms:g}",
               "--seed", str(self.seed), "--stall-threshold-ms", f"{self.stall_threshold_ms:g}"]
        if self.loss:
            cmd += ["--loss", self.loss.arg(), "--loss-profile", self.loss_profile]
            cmd += [f"--lane={i}={n}" for i, n in self.lanes.items()]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, bufsize=0)
        line = _read_line(self.proc, self.READY_TIMEOUT_S)
        try:
            self.queue = int(json.loads(line)["queue"])
        except (ValueError, KeyError, TypeError):
            err = self._kill()
            raise HarnessError(f"the delay stage did not start (ready line {line!r}): "
                               f"{err}") from None
        return self.queue

    def stop(self) -> DelayReport:
        """Stop the helper (after the rule is removed) and read its own timing."""
        proc = self.proc
        if proc is None:
            return DelayReport.missing(self.delay_ms, self.jitter_ms, "never started")
        died = proc.poll()
        timeout = (self.delay_ms + self.jitter_ms) / 1000 + 30.0
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            return DelayReport.missing(self.delay_ms, self.jitter_ms,
                                       f"the delay stage did not stop within {timeout:.0f} s "
                                       f"(killed): {self._kill()}")
        self.proc = None
        if died is not None:
            return DelayReport.missing(
                self.delay_ms, self.jitter_ms,
                f"the delay stage died during the call (exit {died}): the packets it held "
                f"were dropped, later ones passed undelayed (queue bypass): {_tail(err)}")
        lines = out.decode(errors="replace").strip().splitlines()
        self.loss_report = _loss_report(lines)
        try:
            report = DelayReport.parse(json.loads(lines[-1]))
        except (IndexError, ValueError, TypeError):
            return DelayReport.missing(self.delay_ms, self.jitter_ms,
                                       f"the delay stage gave no report (exit "
                                       f"{proc.returncode}): {_tail(err)}")
        if proc.returncode != 0:
            report = replace(report, valid=False, problems=(
                *report.problems, f"exit {proc.returncode}: {_tail(err)}"))
        return report

    def _kill(self) -> str:
        """Kill the helper (by its own pid); its stderr tail."""
        proc = self.proc
        if proc is None:
            return ""
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate()
        self.proc = None
        return _tail(err)


def _loss_report(lines: list[str]) -> LossReport | None:
    """The helper's `{"loss": ...}` line, if it printed one."""
    for line in lines:
        if line.startswith('{"loss"'):
            try:
                return LossReport.parse(json.loads(line)["loss"])
            except (ValueError, KeyError, TypeError):
                return None
    return None


def _read_line(proc: subprocess.Popen[bytes], timeout_s: float) -> str:
    """The helper's first stdout line, waiting at most `timeout_s`."""
    assert proc.stdout is not None
    fd, buf = proc.stdout.fileno(), b""
    deadline = time.monotonic() + timeout_s
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace").strip()


def _tail(err: bytes | None) -> str:
    text = (err or b"").decode(errors="replace").strip().splitlines()
    return text[-1] if text else "no stderr"
