"""Shared helpers for the harness's own tests: fixtures, and the turns the selftest's
parallel workers take (tests/turns.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.turns import Turns, lock_base

pytest_plugins = ["pytester"]


_TURNS: dict[str, Turns] = {}


def _alone(item: pytest.Item | None) -> bool:
    return item is not None and item.get_closest_marker("alone") is not None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Each test in its turn: an `alone` test (its module's fixtures included: they are
    set up and torn down inside its first and last test) with no other beside it; the
    turn kept from one `alone` test to the next."""
    turns = _TURNS.setdefault("worker", Turns(lock_base(getattr(item.config, "workerinput",
                                                                  None))))
    turns.begin(_alone(item))
    try:
        yield
    finally:
        turns.finish(_alone(nextitem))
