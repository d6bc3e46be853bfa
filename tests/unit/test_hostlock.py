"""The host's book of port blocks and its access-address lock (harness/hostlock.py):
two harness processes starting together on one host never choose the same block."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.hostlock import PortBook, Taken

CANDIDATES = list(range(10000, 13000, 100))  # 30 blocks of 100, the same order for all

TAKER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from harness.hostlock import PortBook
    book = PortBook(Path(sys.argv[1]))
    starts = [book.take(list(range(10000, 13000, 100)), 100, "127.0.0.1",
                        lambda s: True) for _ in range(6)]
    print(" ".join(map(str, starts)), flush=True)
    sys.stdin.read()  # hold them until told
""")


def _takers(tmp_path: Path, n: int) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    return [subprocess.Popen([sys.executable, "-c", TAKER, str(tmp_path)], env=env, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(n)]


def test_processes_taking_blocks_together_never_get_the_same_one(tmp_path: Path) -> None:
    """Four processes each take six blocks from the same candidates, in the same order,
    at the same moment: 24 different blocks, each in the book under its taker."""
    procs = _takers(tmp_path, 4)
    try:
        got = {p.pid: [int(s) for s in p.stdout.readline().split()]  # type: ignore[union-attr]
               for p in procs}
        starts = [s for v in got.values() for s in v]
        assert len(starts) == 24 and len(set(starts)) == 24, got
        book = {(t.pid, t.start) for t in PortBook(tmp_path).taken()}
        assert book == {(pid, s) for pid, v in got.items() for s in v}
        # a taker that dies leaves nothing taken: its blocks are chosen again
        procs[0].kill()
        procs[0].communicate()
        left = {t.pid for t in PortBook(tmp_path).taken()}
        assert procs[0].pid not in left and len(left) == 3
        again = PortBook(tmp_path).take(CANDIDATES, 100, "127.0.0.1", lambda s: True)
        assert again in got[procs[0].pid]
    finally:
        for p in procs:
            p.kill()
            p.communicate()  # reaped, its pipes closed


def test_a_block_overlapping_a_taken_one_is_skipped_and_release_gives_it_back(
        tmp_path: Path) -> None:
    book = PortBook(tmp_path)
    first = book.take([10000], 100, "127.0.0.1", lambda s: True)
    # 10050 overlaps [10000, 10100); 10100 does not; another host's block is no conflict
    assert book.take([10050, 10100], 100, "127.0.0.1", lambda s: True) == 10100
    assert book.take([10000], 100, "198.18.1.1", lambda s: True) == 10000
    with pytest.raises(HarnessError, match="no block of 100 free UDP ports on 127.0.0.1"):
        book.take([10000, 10099], 100, "127.0.0.1", lambda s: True)
    book.release(first)
    assert book.take([10000], 100, "127.0.0.1", lambda s: True) == 10000


def test_a_block_the_probe_finds_taken_is_not_entered(tmp_path: Path) -> None:
    book = PortBook(tmp_path)
    assert book.take([10000, 10200], 100, "127.0.0.1", lambda s: s != 10000) == 10200
    assert [t.start for t in book.taken()] == [10200]


def test_a_book_that_cannot_be_read_is_started_anew(tmp_path: Path) -> None:
    book = PortBook(tmp_path)
    book.path.write_text("{not json", encoding="utf-8")
    assert book.take([10000], 10, "127.0.0.1", lambda s: True) == 10000
    assert json.loads(book.path.read_text(encoding="utf-8")) == [
        {"pid": os.getpid(), "host": "127.0.0.1", "start": 10000, "count": 10}]
    assert Taken(1, "127.0.0.1", 10000, 10).overlaps("127.0.0.1", 10009, 1)
    assert not Taken(1, "127.0.0.1", 10000, 10).overlaps("127.0.0.1", 10010, 1)


def test_a_large_block_fits_between_other_processes_small_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The agents' 2091-port block in 10000-20000 beside four small blocks another
    live process took where a block-sized stride would have put it (10000, 12091,
    14182, 16273): found in the one gap left, and entered in the book."""
    from harness.softswitch.process import free_udp_range, release_udp_range

    monkeypatch.setenv("BETA_HOSTLOCK_DIR", str(tmp_path))
    # the book's logic alone: the host's real ports (another selftest worker's session
    # may hold some of the gap) are not this test's
    monkeypatch.setattr("harness.softswitch.process.udp_port_free", lambda *_: True)
    other = os.getppid()  # alive: its blocks stand
    book = PortBook(tmp_path)
    with book._open() as entries:
        entries += [Taken(other, "127.0.0.1", s, 40) for s in (10000, 12080, 14170, 16260)]
    start = free_udp_range(2091, 10000, 20000)
    assert 16300 <= start and start + 2091 <= 20000, start
    assert (os.getpid(), start) in {(t.pid, t.start) for t in book.taken()}
    release_udp_range(start)
    assert {t.pid for t in book.taken()} == {other}


def test_the_agents_block_goes_above_the_ephemeral_range_when_below_is_taken(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every place for the agents' block in 10000-20000 is another live process's (four
    selftest sessions at once): the session's block lies in the second window."""
    from harness.config import load_config
    from harness.run.session import AGENT_PORT_WINDOWS, HarnessSession
    from harness.softswitch.process import release_udp_range

    monkeypatch.setenv("BETA_HOSTLOCK_DIR", str(tmp_path))
    monkeypatch.setattr("harness.softswitch.process.udp_port_free", lambda *_: True)
    with PortBook(tmp_path)._open() as entries:
        entries.append(Taken(os.getppid(), "127.0.0.1", 10000, 10000))
    session = HarnessSession(load_config(), tmp_path / "reports")
    base = session._free_agent_ports()
    release_udp_range(base)
    low, high = AGENT_PORT_WINDOWS[1]
    assert low <= base and base + session.layout.size <= high, base
