"""The run's one verdict when a busy-hour row fails while each of its calls passes (its
median floor above what a clean call scores): NOT ACCEPTED on the terminal's last
lines, in results.json, in JUnit (failures=1) and the exit code (1). The plan and the
inner run as tests/integration/test_run_verdict.py has them.

A module of `alone` tests (a busy hour, tests/turns.py): the selftest runs the modules
of alone tests first, one after another (tests/conftest.py)."""

from pathlib import Path

import pytest

from tests.integration.test_run_verdict import _run

pytestmark = [pytest.mark.integration, pytest.mark.alone]


def test_a_failing_busy_hour_row_is_not_accepted_everywhere(tmp_path: Path) -> None:
    code, out, doc, junit = _run(tmp_path)
    assert doc["verdict"]["word"] == "NOT ACCEPTED", doc["verdict"]
    assert doc["verdict"]["failed"] == ["8.1"]
    assert [c["verdict"] for c in doc["calls"] if c["plan_id"].startswith("8.1.")] == \
        ["pass", "pass"]  # every busy-hour call passed its own floor
    assert any(line.startswith("NOT ACCEPTED: 1 of 3 rows failed (8.1)")
               for line in out.splitlines())
    assert (junit.get("tests"), junit.get("failures"), junit.get("skipped")) == ("3", "1", "0")
    assert code == 1
    assert doc["harness_commit"] and len(doc["plan_hash"]) == 16 and doc["finished_at"]
    # where the run's time went: a span per row (the busy hour one span), each measured
    # after its call ended, within the run's wall
    spans = {s["row"]: s for s in doc["timeline"]["spans"]}
    assert set(spans) == {"1.1", "1.2", "8.1"} and spans["8.1"]["kind"] == "busy hour"
    wall = doc["finished_at"] - doc["started_wall"]
    assert all(0 < s["start_s"] < s["talk_end_s"] <= s["end_s"] <= wall
               for s in spans.values())
    report = (tmp_path / "reports" / "latest" / "index.html").read_text()
    assert "Timeline of 3 plan rows" in report  # the chart, drawn from the same spans
