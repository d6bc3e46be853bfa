"""How long the harness's real-time processes waited for a CPU: Linux pressure stall
information (PSI) of a cgroup v2 group of their own.

The stall guard (harness/run/guard.py) sees a host that stops: a sampler that wakes
100 ms late. A host that only starves the harness's real-time processes of CPU slips
past it: with two CPU hogs at the agents' niceness beside a 22-row run, no sampler
woke 100 ms late, while talking agents fell seconds behind their media clock, the
embedded switch answered INVITEs 4.2 s late (to every row at once) and every agent
score fell to ~1.1. PSI measures exactly that wait, per group of processes: `some
total` in a group's `cpu.pressure` is the time (µs) during which at least one of its
tasks was runnable and not running, taken per CPU and averaged over the CPUs (three
spinning members on two CPUs: ~50 %, one CPU always has one waiting; five: ~100 %).

The group holds the processes whose timing is measured: the agent workers (the beta
lines' phones and the simulated PSTN's) and the embedded switch (Kamailio, rtpengine;
a third-party B2BUA), which each join it themselves when they start (`join_from_env`,
the group's path in BETA_REALTIME_CGROUP); not the controller, the capture or the
scoring. Without a writable cgroup v2 hierarchy (not root, or no cgroup2 mount) there
is no group, and the guard judges by its sampler alone, as before.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from harness.hostlock import alive

ENV = "BETA_REALTIME_CGROUP"  # the group's directory, for the processes that join it


def cgroup2_root() -> Path | None:
    """Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup on a pure v2 host,
    /sys/fs/cgroup/unified on a hybrid one), or None."""
    try:
        mounts = Path("/proc/self/mounts").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "cgroup2":
            return Path(parts[1])
    return None


class RealtimeGroup:
    """A cgroup v2 group for one session's real-time processes, and its CPU wait."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, name: str) -> RealtimeGroup | None:
        """The group `name` under the cgroup v2 root, made now; None where it cannot be
        (no cgroup2 mount, not writable, no PSI in this kernel)."""
        root = cgroup2_root()
        if root is None:
            return None
        prune(root)
        path = root / name
        try:
            path.mkdir(exist_ok=True)
        except OSError:
            return None
        group = cls(path)
        if group.waited_us() is None:
            group.remove()
            return None
        return group

    def waited_us(self) -> int | None:
        """PSI `some total` of the group: µs during which one of its tasks waited for a
        CPU, since the group was made; None if unreadable."""
        try:
            with open(self.path / "cpu.pressure", encoding="ascii") as fh:
                some = fh.readline().split()
            return int(some[-1].split("=")[1])
        except (OSError, ValueError, IndexError):
            return None

    def members(self) -> list[int]:
        try:
            text = (self.path / "cgroup.procs").read_text(encoding="ascii")
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def remove(self) -> None:
        """Move any process still in the group back to the root group, and remove it
        (a process just stopped leaves it once reaped: tried for up to a second)."""
        root = self.path.parent
        for _ in range(REMOVE_TRIES):
            for pid in self.members():
                with contextlib.suppress(OSError):
                    (root / "cgroup.procs").write_text(str(pid), encoding="ascii")
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.05)


REMOVE_TRIES = 20


def prune(root: Path) -> None:
    """Remove the groups of sessions that died without removing theirs: a run's group is
    named beta-<run id>, whose last part is the pid of the process that made it."""
    for group in root.glob("beta-*"):
        pid = group.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            group.rmdir()  # refused while a process is still in it


def join(path: str | os.PathLike[str], pid: int = 0) -> bool:
    """Move process `pid` (0: this one, with all its threads) into the group at `path`;
    False if it could not."""
    try:
        with open(Path(path) / "cgroup.procs", "w", encoding="ascii") as fh:
            fh.write(str(pid or os.getpid()))
        return True
    except OSError:
        return False


def join_from_env() -> bool:
    """Join the session's real-time group, if the session made one (ENV)."""
    path = os.environ.get(ENV)
    return bool(path) and join(path)  # type: ignore[arg-type]


@contextlib.contextmanager
def realtime_children(group: RealtimeGroup | None) -> Iterator[None]:
    """Processes started inside this block join `group` (ENV, read by the agent
    workers and by a switch process started below niceness 0); none without a group."""
    if group is None:
        yield
        return
    before = os.environ.get(ENV)
    os.environ[ENV] = str(group.path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before
