"""What harness processes on one host hand out to themselves: blocks of UDP ports
and access addresses, between choosing one and binding or assigning it.

A port block is chosen free at a session's start and bound seconds later (Kamailio,
rtpengine, the agents' workers); an access address is chosen free and assigned at
once. Two harness runs starting together on one host (two CI jobs, the selftest's
parallel workers, a user's run beside a nightly one) must not choose the same one in
between. The book of port blocks is a JSON file beside a lock file in the host's
temporary directory; an entry names the process that took it and is dropped when that
process is gone, so a killed run leaves nothing taken for good.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.errors import HarnessError


def book_dir() -> Path:
    return Path(os.environ.get("BETA_HOSTLOCK_DIR") or tempfile.gettempdir())


@contextmanager
def host_lock(name: str) -> Iterator[None]:
    """Hold the host-wide lock `name` (flock: released if the process dies)."""
    path = book_dir() / f"beta-harness-{name}.lock"
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@dataclass(frozen=True, slots=True)
class Taken:
    """A block of UDP ports [start, start + count) on `host`, taken by process `pid`."""

    pid: int
    host: str
    start: int
    count: int

    def overlaps(self, host: str, start: int, count: int) -> bool:
        return host == self.host and start < self.start + self.count and \
            self.start < start + count


def alive(pid: int) -> bool:
    """Is process `pid` alive (one of another user's counts as alive)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PortBook:
    """The host's book of UDP port blocks taken by harness processes."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or book_dir()

    @property
    def path(self) -> Path:
        return self.directory / "beta-harness-ports.json"

    @contextmanager
    def _open(self) -> Iterator[list[Taken]]:
        with open(self.directory / "beta-harness-ports.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                entries = [t for t in self._read() if alive(t.pid)]
                yield entries
                tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps([asdict(t) for t in entries]), encoding="utf-8")
                tmp.replace(self.path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> list[Taken]:
        """The book; one that cannot be read is started anew (it holds only hints
        between live processes, each of which also probes the ports it chooses)."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return [Taken(int(e["pid"]), str(e["host"]), int(e["start"]), int(e["count"]))
                    for e in raw]
        except (OSError, ValueError, KeyError, TypeError):
            return []

    def take(self, candidates: list[int], count: int, host: str,
             free: Callable[[int], bool]) -> int:
        """The first start among `candidates` whose block no live process has taken
        and `free(start)` accepts, entered in the book for this process."""
        with self._open() as entries:
            for start in candidates:
                if any(t.overlaps(host, start, count) for t in entries):
                    continue
                if free(start):
                    entries.append(Taken(os.getpid(), host, start, count))
                    return start
        raise HarnessError(f"no block of {count} free UDP ports on {host} "
                           f"(book: {self.path})")

    def release(self, start: int, host: str = "127.0.0.1") -> None:
        """This process's block at `start` is given back (none there: nothing)."""
        with self._open() as entries:
            entries[:] = [t for t in entries
                          if not (t.pid == os.getpid() and t.host == host and t.start == start)]

    def taken(self) -> list[Taken]:
        with self._open() as entries:
            return list(entries)
