"""A real harness session (Kamailio + rtpengine + dumpcap + pjsua2) shared by a module.

`retries_on_stall=0`: these tests look at each attempt as it was measured."""

from collections.abc import Iterator
from dataclasses import replace

import pytest

from harness.config import load_config
from harness.run.session import HarnessSession


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HarnessSession]:
    cfg = load_config()
    cfg = replace(cfg, guard=replace(cfg.guard, retries_on_stall=0))
    session = HarnessSession(cfg, tmp_path_factory.mktemp("reports"))
    session.start()
    try:
        yield session
    finally:
        session.close()
