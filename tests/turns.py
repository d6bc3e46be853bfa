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


def lock_base(workerinput: dict[str, object] | None) -> Path | None:
    """Where this run's lock files live, or None outside an xdist worker."""
    uid = (workerinput or {}).get("testrunuid")
    if not uid:
        return None
    return Path(tempfile.gettempdir()) / f"beta-selftest-{uid}"


@contextmanager
def turn(base: Path | None, alone: bool) -> Iterator[None]:
    """Hold this test's turn: shared, or exclusive when `alone`."""
    if base is None:
        yield
        return
    with open(f"{base}.gate", "a") as gate, open(f"{base}.lock", "a") as lock:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
