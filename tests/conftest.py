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


class _AloneFirst:
    """The modules of `alone` tests first, then one module of unit tests, then the rest
    in the order every other hook left them (the integration tests' shared session's,
    tests/integration/conftest.py): a stable sort, for the selftest's workers
    (`--dist loadfile --no-loadscope-reorder`, bin/selftest: a module is a unit of work,
    handed out in this order). Both workers take alone modules first and run them one
    after another, each waiting for the other's alone test (it would wait anyway); the
    waits for an ordinary test in progress that each alone module among the others
    cost (~90 s of a worker idle a run) are gone. The second worker's first ordinary
    unit is that module of unit tests, whose tests last milliseconds, not a call of
    ~25 s the first alone test would wait for. An alone test lives in a module of alone
    tests (a module holding both would be handed out as one unit, in the middle)."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        kinds: dict[str, set[bool]] = {}
        for item in items:
            kinds.setdefault(item.nodeid.split("::")[0], set()).add(_alone(item))
        mixed = sorted(path for path, seen in kinds.items() if len(seen) > 1)
        if mixed:
            raise pytest.UsageError(f"{', '.join(mixed)}: `alone` and other tests in one "
                                    "module; give the alone ones a module of their own "
                                    "(tests/conftest.py _AloneFirst)")
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
