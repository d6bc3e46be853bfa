"""A run's close: every teardown step runs and the verdict is written, even when a step
fails (the failure named in the run's errors, so the run is INCOMPLETE, never a
results.json without a verdict). Closing a session twice (pytest closes it at the
session's end and again when it unconfigures) writes the run once and raises nothing: a
run whose billing named a harness error once crashed on the second close, writing to a
closed results store."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from harness.config import load_config
from harness.report.results import ResultStore
from harness.run import session as session_mod
from harness.run.billing import Closeout
from harness.run.session import HarnessSession
from harness.softswitch.fake import FakeSoftswitch
from harness.verdict.run import RowOutcome, RowStatus


@dataclass
class StopFails(FakeSoftswitch):
    def stop(self) -> None:
        raise OSError("the switch's process would not die")


def _closed(tmp_path: Path, switch: FakeSoftswitch) -> dict:
    cfg = load_config()
    cfg = replace(cfg, guard=replace(cfg.guard, rt_wait_limit_pct=0.0))  # no cgroup here
    session = HarnessSession(cfg, tmp_path, run_id="close-test", switch=switch)
    session.store = ResultStore(session.run_dir, session.run_id, {})
    rows = [RowOutcome("1.1", "on-net cross-site", RowStatus.PASS)]
    session.close(rows=rows, plan_digest="x")
    return json.loads((session.run_dir / "results.json").read_text())


def test_a_teardown_step_that_fails_is_a_run_error_and_the_verdict_is_still_written(
        tmp_path: Path) -> None:
    doc = _closed(tmp_path, StopFails())
    assert doc["verdict"] is not None
    assert doc["verdict"]["word"] == "INCOMPLETE", doc["verdict"]
    assert any("the switch's stop failed: OSError: the switch's process would not die" in e
               for e in doc["errors"]), doc["errors"]
    assert doc["finished"]


def test_a_clean_close_judges_the_run_from_its_rows(tmp_path: Path) -> None:
    doc = _closed(tmp_path, FakeSoftswitch())
    assert doc["verdict"]["word"] == "ACCEPTED", (doc["verdict"], doc["errors"])


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
