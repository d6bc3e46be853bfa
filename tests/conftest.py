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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Units of work for the selftest's workers (xdist `--dist loadgroup`, bin/selftest):
    a module's tests are one unit, as with loadfile; every `alone` test is in one unit
    of its own, `alone`, run first. One worker runs the `alone` tests one after another
    while the other waits once, at the start, instead of before each of them (it waited
    for the other worker's test in progress every time: ~90 s a run). Marked before
    xdist names the units (its own hook, after this one); the order is set last."""
    for item in items:
        group = "alone" if _alone(item) else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


class _AloneFirst:
    """The `alone` tests first, then one module of unit tests, then the rest in the
    order every other hook left them (the integration tests' shared session's,
    tests/integration/conftest.py): a stable sort. The other worker's first unit is
    then that module, whose tests last milliseconds: the `alone` tests start at once
    (an exclusive turn waits for the test in progress), not after a call of ~25 s."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        quick = next((getattr(item, "module", None) for item in items
                      if item.nodeid.startswith("tests/unit/")), None)
        items.sort(key=lambda item: 0 if _alone(item) else
                   1 if quick is not None and getattr(item, "module", None) is quick else 2)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_AloneFirst(), "beta-selftest-alone-first")
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
