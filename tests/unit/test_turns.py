"""The selftest's turns between parallel workers (tests/turns.py): ordinary tests run
side by side, an `alone` test waits for them and keeps the next ones out."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tests.turns import lock_base, turn


def test_outside_xdist_there_is_no_turn_to_wait_for() -> None:
    assert lock_base(None) is None and lock_base({}) is None
    with turn(None, alone=True):
        pass
    assert lock_base({"testrunuid": "abc"}) is not None


def test_ordinary_tests_share_and_an_alone_test_waits_then_goes_first(tmp_path: Path) -> None:
    base = tmp_path / "run"
    log: list[str] = []
    first, second = threading.Event(), threading.Event()

    def ordinary(name: str, started: threading.Event, hold_s: float) -> None:
        with turn(base, alone=False):
            started.set()
            log.append(f"{name} in")
            time.sleep(hold_s)
            log.append(f"{name} out")

    def alone() -> None:
        with turn(base, alone=True):
            log.append("alone in")
            time.sleep(0.1)
            log.append("alone out")

    a = threading.Thread(target=ordinary, args=("a", first, 0.6))
    b = threading.Thread(target=ordinary, args=("b", second, 0.3))
    a.start()
    b.start()
    assert first.wait(2) and second.wait(2)  # both ordinary tests hold their turn at once
    c = threading.Thread(target=alone)
    c.start()
    time.sleep(0.05)
    late = threading.Thread(target=ordinary, args=("late", threading.Event(), 0.0))
    late.start()  # comes after the alone test asked: waits behind it
    for t in (a, b, c, late):
        t.join(5)
    assert log.index("alone in") > max(log.index("a out"), log.index("b out")), log
    assert log.index("late in") > log.index("alone out"), log


def test_a_run_of_alone_tests_keeps_its_turn_from_one_to_the_next(tmp_path: Path) -> None:
    """Worker 1 runs two `alone` tests in a row; worker 2's ordinary test, asking in
    between, runs after both, not between them."""
    from tests.turns import Turns

    base = tmp_path / "run"
    log: list[str] = []
    worker1, asked = Turns(base), threading.Event()

    def other() -> None:
        asked.set()
        with turn(base, alone=False):
            log.append("other")

    worker1.begin(True)
    log.append("alone 1")
    t = threading.Thread(target=other)
    t.start()
    assert asked.wait(2)
    time.sleep(0.1)
    worker1.finish(next_alone=True)  # kept: the next test is alone too
    worker1.begin(True)
    log.append("alone 2")
    worker1.finish(next_alone=False)  # given back
    t.join(5)
    assert log == ["alone 1", "alone 2", "other"], log
    worker1.begin(False)  # an ordinary test after it shares as before
    worker1.finish(next_alone=False)
