"""Shared helpers for the harness's own tests: fixtures, the turns the selftest's
parallel workers take (tests/turns.py), and one more run, alone, for a test that
failed while the host stalled (tests/reruns.py)."""

from __future__ import annotations

import pytest

from tests.reruns import Reruns, stall_watch
from tests.turns import Turns, lock_base

pytest_plugins = ["pytester"]


_TURNS: dict[str, Turns] = {}
_WATCH = stall_watch()
_RERUNS = Reruns(_WATCH)


def _alone(item: pytest.Item | None) -> bool:
    return item is not None and item.get_closest_marker("alone") is not None


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_RERUNS, "beta-selftest-reruns")
    _WATCH.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    _WATCH.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool:
    """Each test in its turn: an `alone` test (its module's fixtures included: they are
    set up and torn down inside its first and last test) with no other beside it; the
    turn kept from one `alone` test to the next. A test run again after a stall takes
    an exclusive turn for it."""
    turns = _TURNS.setdefault("worker", Turns(lock_base(getattr(item.config, "workerinput",
                                                                  None))))
    turns.begin(_alone(item))
    try:
        _RERUNS.run(item, nextitem, go_alone=lambda: turns.begin_alone())
    finally:
        turns.finish(_alone(nextitem))
    return True
