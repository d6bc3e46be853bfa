"""bootstrap.sh's steps: one line each on the terminal, their output in a log file,
and a failing step stops the set-up showing where and why."""

from __future__ import annotations

import subprocess
from pathlib import Path

STEPS = Path(__file__).resolve().parents[2] / "scripts" / "steps.sh"


def _run(script: str, log: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", f"set -euo pipefail; BOOTSTRAP_LOG={log}; "
                                         f"source {STEPS}; {script}"],
                          capture_output=True, text=True, timeout=30, check=False)


def test_a_step_prints_one_line_and_logs_its_output(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "bootstrap.log"
    r = _run('step "packages" sh -c "echo lots of apt output; echo more >&2"', log)
    assert r.returncode == 0
    assert r.stdout == "bootstrap: packages ... ok (0 s)\n"
    text = log.read_text()
    assert "lots of apt output" in text and "more" in text and "== packages" in text


def test_a_failing_step_stops_with_its_status_and_the_logs_tail(tmp_path: Path) -> None:
    log = tmp_path / "bootstrap.log"
    r = _run('step "pip" sh -c "echo no matching distribution; exit 3"; echo after', log)
    assert r.returncode == 3
    assert r.stdout == "bootstrap: pip ... FAILED (exit 3)\n"  # nothing after it ran
    assert f"bootstrap: pip failed; the last lines of {log}:" in r.stderr
    assert "no matching distribution" in r.stderr
