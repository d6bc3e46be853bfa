"""The run's one verdict, end to end (real switch, real calls): the same word on the
terminal's last lines, in results.json, in JUnit and the exit code.

* a busy-hour row that fails while each of its calls passes (its median floor above
  what a clean call scores): NOT ACCEPTED, JUnit failures=1, exit 1 (a busy hour of
  two calls: it runs beside other tests);
* a subset of the plan that passes: PARTIAL (n of N rows run), JUnit skipped, exit 0.
"""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration]

PLAN = """
from harness.model import CallSpec, Expect, LoadSpec
PLAN = [
    CallSpec("1.1", "on-net cross-site", caller="site1/01", dial="site2/01", talk_s=2.0,
             expect=Expect(mos_lqo_min=None, rings="site2/01")),
    CallSpec("1.2", "on-net same-site", caller="site1/02", dial="site1/04", talk_s=2.0,
             expect=Expect(mos_lqo_min=None, rings="site1/04")),
    LoadSpec("8.1", "busy hour", calls=2, talk_s=8.0, mos_lqo_call_min=4.0,
             mos_lqo_median_min=4.9),
]
"""


def _run(tmp_path: Path, *args: str) -> tuple[int, str, dict, ET.Element]:
    plans = tmp_path / "testplans"
    plans.mkdir(exist_ok=True)
    (plans / "plan_01_small.py").write_text(PLAN)
    reports = tmp_path / "reports"
    done = subprocess.run([sys.executable, "-m", "pytest", str(plans), "-p",
                           "no:cacheprovider", "--reports", str(reports), *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          check=False)
    run_dir = reports / "latest"
    doc = json.loads((run_dir / "results.json").read_text())
    assert doc["verdict"] is not None, (  # the inner run's own words, when it was not judged
        f"exit {done.returncode}; results.json errors {doc['errors']}\n"
        f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.returncode, done.stdout, doc, ET.parse(run_dir / "junit.xml").getroot()


def test_a_failing_busy_hour_row_is_not_accepted_everywhere(tmp_path: Path) -> None:
    code, out, doc, junit = _run(tmp_path)
    # a row not judged says why (a host stall's invalid figures: run again, tests/reruns.py)
    assert doc["verdict"]["word"] == "NOT ACCEPTED", (
        doc["verdict"], {c["plan_id"]: c["reasons"] for c in doc["calls"] if c["reasons"]})
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


def test_a_subset_that_passes_is_partial_not_accepted(tmp_path: Path) -> None:
    code, out, doc, junit = _run(tmp_path, "-k", "cross")
    verdict = doc["verdict"]
    assert verdict["word"] == "PARTIAL"
    assert verdict["text"].startswith("PARTIAL (1 of 3 rows run)")
    assert verdict["coverage"]["plan_rows"] == 3 and verdict["coverage"]["run"] == 1
    assert {r["plan_id"] for r in verdict["coverage"]["not_run"]} == {"1.2", "8.1"}
    assert (junit.get("tests"), junit.get("failures"), junit.get("skipped")) == ("3", "0", "2")
    assert any(line.startswith("PARTIAL (1 of 3 rows run)") for line in out.splitlines())
    assert code == 0
