"""Turns between the selftest's parallel workers (pytest-xdist, `bin/selftest`).

Most of the harness's own tests place one real call at a time and wait for it (the
talk time is real time): two such tests side by side cost the two cores little, and
the selftest runs two at once. A test marked `alone` places many calls at once (a
busy hour, a plan run, a flood, a background load) and judges real-time figures of
them on this 2-core host: it runs with no other test beside it.

Between the workers' processes: a shared lock file held shared by an ordinary test
and exclusive by an `alone` test, and a gate before it, so that an `alone` test
waiting for its turn is not passed by the other worker's next tests (writer
preference). Without xdist (one worker) there is nothing to wait for.
"""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def lock_base(workerinput: dict[str, object] | None) -> Path | None:
    """Where this run's lock files live, or None outside an xdist worker."""
    uid = (workerinput or {}).get("testrunuid")
    if not uid:
        return None
    return Path(tempfile.gettempdir()) / f"beta-selftest-{uid}"


class Turns:
    """One worker's turn, from test to test. An `alone` test's exclusive turn is kept
    for the next test when that one is `alone` too (the rest of its module): the other
    worker's tests wait once per run of `alone` tests, not once per test (each wait
    lasts until the other worker's current test ends, a 3-way call's 40 s at worst)."""

    def __init__(self, base: Path | None) -> None:
        self.base = base
        self._lock: IO[str] | None = None
        self._alone = False

    def begin(self, alone: bool) -> None:
        if self.base is None or (self._lock is not None and self._alone and alone):
            return
        self.end()
        with open(f"{self.base}.gate", "a") as gate:
            fcntl.flock(gate, fcntl.LOCK_EX)
            lock = open(f"{self.base}.lock", "a")  # noqa: SIM115 - held across tests
            try:
                fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
            except BaseException:
                lock.close()
                raise
            finally:
                fcntl.flock(gate, fcntl.LOCK_UN)
        self._lock, self._alone = lock, alone

    def begin_alone(self) -> None:
        """Turn the turn held into an exclusive one (waits for the other worker's test
        to end)."""
        if not self._alone:
            self.end()
            self.begin(True)

    def finish(self, next_alone: bool) -> None:
        """After a test: keep an exclusive turn for a next `alone` test, else give the
        turn back."""
        if not (self._alone and next_alone):
            self.end()

    def end(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None


@contextmanager
def turn(base: Path | None, alone: bool) -> Iterator[None]:
    """Hold one test's turn: shared, or exclusive when `alone`."""
    turns = Turns(base)
    turns.begin(alone)
    try:
        yield
    finally:
        turns.end()
