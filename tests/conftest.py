"""Shared helpers for the harness's own tests: fixtures, and the turns the selftest's
parallel workers take (tests/turns.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.turns import lock_base, turn

pytest_plugins = ["pytester"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Each test in its turn: an `alone` test (its module's fixtures included: they are
    set up and torn down inside its first and last test) with no other beside it."""
    base = lock_base(getattr(item.config, "workerinput", None))
    with turn(base, item.get_closest_marker("alone") is not None):
        yield
