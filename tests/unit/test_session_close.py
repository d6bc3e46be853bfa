"""Closing a session twice (pytest closes it at the session's end and again when it
unconfigures) writes the run once and raises nothing: a run whose billing named a
harness error once crashed on the second close, writing to a closed results store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.config import load_config
from harness.report.results import ResultStore
from harness.run import session as session_mod
from harness.run.billing import Closeout
from harness.run.session import HarnessSession


def test_a_second_close_does_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    billed: list[int] = []

    def closeout(*_args: object, **_kw: object) -> Closeout:
        billed.append(1)
        return Closeout(None, "billing: a harness error the run names")

    monkeypatch.setattr(session_mod, "close_billing", closeout)
    session = HarnessSession(load_config(), tmp_path)
    session.store = ResultStore(session.run_dir, session.run_id, {"status": "starting"})
    session.close(finished=True, rows=[])
    session.close(finished=True, rows=[])  # raised sqlite3.ProgrammingError before
    doc = json.loads((session.run_dir / "results.json").read_text())
    assert billed == [1]
    assert doc["errors"] == ["billing: a harness error the run names"]
