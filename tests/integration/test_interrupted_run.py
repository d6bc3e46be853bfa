"""The main command killed halfway: every finished call is on disk, the run is
INCOMPLETE, the report re-renders from the store, and no process survives it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration]  # a plan subset: beside one other test (tests/turns.py)
ROOT = Path(__file__).resolve().parents[2]


def test_a_plan_run_killed_halfway(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    sut = tmp_path / "sut.yaml"  # one call at a time: the kill lands between calls
    sut.write_text("agents:\n  concurrent_calls: 1\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", str(ROOT / "testplans"), "-p", "no:cacheprovider",
         "-q", "--reports", str(reports), "--sut", str(sut),
         "-k", "N11 or operator or directory"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    results = None
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            found = list(reports.glob("*/results.json"))
            if found:
                doc = json.loads(found[0].read_text())
                if len(doc["calls"]) >= 2:
                    results = found[0]
                    break
            time.sleep(0.5)
        assert results is not None, "the plan never finished two calls"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # pytest and everything it started
        proc.wait(timeout=30)
    time.sleep(1.0)
    doc = json.loads(results.read_text())
    assert doc["status"] == "INCOMPLETE" and len(doc["calls"]) >= 2
    assert all(c["verdict"] in ("pass", "fail", "error") for c in doc["calls"])
    run_id = doc["run_id"]
    out = subprocess.run([sys.executable, "-m", "harness.report", "render", "--db",
                          str(reports / "results.db"), "--run", run_id, "--out",
                          str(tmp_path / "rerendered")], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr
    html = (tmp_path / "rerendered" / "index.html").read_text()
    assert "INCOMPLETE" in html
    for call in doc["calls"]:
        assert call["plan_id"] in html
    left = subprocess.run(["pgrep", "-af", str(results.parent)], capture_output=True,
                          text=True, check=False).stdout.strip()
    assert left == "", f"processes left behind: {left}"
