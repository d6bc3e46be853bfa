"""A real harness session (Kamailio + rtpengine + dumpcap + pjsua2) shared by every
module that asks for `live` with the default config (a module that needs another
config defines its own `live` or a fixture of its own).

One session, not one per module: a session's start and close (the switch, 21 agent
workers, their registrations, the capture, the PESQ pool) cost seconds each, and
the modules' calls do not depend on each other: each test finds its own calls by
Call-ID or its own files, and a test that changes the session (test hooks, a worker
map, an iptables rule, a stopped process) puts it back before it ends. The modules
that use it run first, one after the other, and the session is closed as soon as
the next test does not use it, so it is never left idle beside another module's
session. When the selftest runs tests in parallel (pytest-xdist, bin/selftest), each
worker process has a shared session of its own, on ports and namespaces of its own.

`retries_on_stall=0`: these tests look at each attempt as it was measured."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.config import load_config
from harness.run.session import HarnessSession
from tests.reruns import runs_again


class _Shared:
    """The shared session, open between its first user and its last in a row."""

    session: HarnessSession | None = None

    @classmethod
    def close(cls) -> None:
        session, cls.session = cls.session, None
        if session is not None:
            session.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> HarnessSession:
    if _Shared.session is None:
        cfg = load_config()
        cfg = replace(cfg, guard=replace(cfg.guard, retries_on_stall=0))
        session = HarnessSession(cfg, tmp_path_factory.mktemp("reports"))
        session.start()
        _Shared.session = session
    return _Shared.session  # closed by pytest_runtest_teardown below


def _uses_shared(item: pytest.Item) -> bool:
    """Does `item` get the shared `live` (not a module's own fixture of that name)?"""
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.get("live") if info is not None else None
    return bool(defs) and getattr(defs[-1].func, "__module__", None) == __name__


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules that use the shared session first, and in each module its tests that
    use it before those that do not (a stable sort: each module's tests stay together,
    otherwise in their order), so that it is open once, for them: the session is closed
    when the next test does not use it, and a module's `live` is set up once (a user
    after a non-user would be given the closed session)."""
    shared_modules = {item.module for item in items if _uses_shared(item)}  # type: ignore[attr-defined]
    first = {}
    for i, item in enumerate(items):
        first.setdefault(getattr(item, "module", None), i)
    items.sort(key=lambda item: (getattr(item, "module", None) not in shared_modules,
                                 first[getattr(item, "module", None)],
                                 not _uses_shared(item)))


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Closed after the last of its users in a row (a later user opens another: under
    xdist a worker's next file is not known before it arrives), not under a test that
    runs again after a stall (tests/reruns.py): its second run's teardown closes it."""
    if runs_again(item):  # its second run uses the session again
        return
    if _Shared.session is not None and (nextitem is None or not _uses_shared(nextitem)):
        _Shared.close()


def pytest_sessionfinish() -> None:
    _Shared.close()  # an interrupted run
