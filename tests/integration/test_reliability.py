"""A failing switch: Kamailio (and separately rtpengine) killed with a call up. Every
call still gets a verdict, the run ends promptly, the circuit breaker stops dialling,
the report says INCOMPLETE, every call finished before the kill is intact, and no
process is left behind."""

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from harness.config import load_config
from harness.model import CallSpec, Expect, Status
from harness.run.session import HarnessSession
from harness.softswitch.kamailio import EmbeddedKamailio

pytestmark = [pytest.mark.integration, pytest.mark.fault]
SHORT = CallSpec("1.2", "on-net same-site", "site3/04", "site3/07", talk_s=2.0,
                 expect=Expect(mos_lqo_min=None))
# up when the switch is killed 4 s after the dial (1 s of ringing): 12 s of talk is
# ample; the call ends when its BYE finds no switch, however long it was to talk
LONG = CallSpec("1.1", "on-net cross-site", "site1/01", "site2/01", talk_s=12.0,
                expect=Expect(mos_lqo_min=None))


def _left_behind(run_dir: Path) -> str:
    out = subprocess.run(["pgrep", "-af", str(run_dir)], capture_output=True, text=True,
                         check=False)
    return out.stdout.strip()


@pytest.mark.parametrize("victim", ["kamailio", "rtpengine"])
def test_switch_killed_with_a_call_up(tmp_path: Path, victim: str) -> None:
    cfg = load_config()
    cfg = replace(cfg, guard=replace(cfg.guard, retries_on_stall=0))
    session = HarnessSession(cfg, tmp_path)
    session.start()
    switch = session.switch
    assert isinstance(switch, EmbeddedKamailio)
    before = session.run_call(SHORT)  # finished before the kill: must stay intact
    child = switch.kamailio if victim == "kamailio" else switch.rtpengine
    assert child is not None and child.pid is not None
    killed_at: list[float] = []

    def kill() -> None:
        killed_at.append(time.monotonic())
        os.killpg(child.pid, signal.SIGKILL)  # type: ignore[arg-type]

    timer = threading.Timer(4.0, kill)
    timer.start()
    during = session.run_call(LONG)  # 12 s of talk: the kill comes 4 s in
    ended = time.monotonic()
    after = [session.run_call(SHORT) for _ in range(4)]
    session.close()
    timer.cancel()
    assert killed_at, "the kill did not happen"
    assert ended - killed_at[0] < 60.0  # the call ended within a minute of the kill
    assert during.verdict.status is Status.ERROR
    assert any(f"{victim} exited" in r for r in during.verdict.reasons), during.verdict.reasons
    reasons = [" ".join(r.verdict.reasons) for r in after]
    assert all(r.verdict.status is Status.ERROR for r in after)
    assert any("circuit breaker open" in r for r in reasons)  # stops dialling
    doc = json.loads((session.run_dir / "results.json").read_text())
    assert doc["status"] == "INCOMPLETE"
    assert any(f"{victim} exited" in e for e in doc["errors"])
    assert len(doc["calls"]) == 6 and doc["calls"][0]["call_id"] == before.call_id
    assert doc["calls"][0]["verdict"] == before.verdict.status.value
    assert "INCOMPLETE" in (session.run_dir / "index.html").read_text()
    assert _left_behind(session.run_dir) == ""
    print(f"\n{victim} killed 4.0 s into a call; the call's verdict came "
          f"{ended - killed_at[0]:.1f} s after the kill; verdicts after it: "
          f"{[r.verdict.status.value for r in after]}")


def test_a_lost_agent_worker_fails_its_calls_at_once_and_is_reported(tmp_path: Path) -> None:
    cfg = load_config()
    cfg = replace(cfg, guard=replace(cfg.guard, retries_on_stall=0))
    session = HarnessSession(cfg, tmp_path)
    session.start()
    farm = session.farm
    assert farm is not None
    try:
        victim = farm.worker_of(SHORT.caller)
        os.kill(farm.pid(victim), signal.SIGKILL)
        time.sleep(1.0)
        t0 = time.monotonic()
        r = session.run_call(SHORT)  # its caller lived on the killed worker
        took = time.monotonic() - t0
        other = session.run_call(replace(SHORT, caller="site1/01", dial="site2/01"))
    finally:
        session.close()
    assert r.verdict.status is Status.ERROR and took < 10.0
    assert any(f"agent worker {victim}" in x for x in r.verdict.reasons), r.verdict.reasons
    if farm.worker_of("site1/01") != victim and farm.worker_of("site2/01") != victim:
        assert other.verdict.status is Status.PASS, other.verdict.reasons
    doc = json.loads((session.run_dir / "results.json").read_text())
    assert [e for e in doc["errors"] if "agent worker" in e] == \
        [f"agent worker {victim} exited (exit code -9)"]


def test_a_call_its_worker_cannot_dial_fails_with_the_reason(live: HarnessSession) -> None:
    """The dial fails inside the worker (here: the farm's map names a worker that does
    not host the line): the call is an error naming why, at once, and the next call
    from that line is placed as usual."""
    farm = live.farm
    assert farm is not None
    home = farm.worker_of("site1/07")
    wrong = next(w for w in farm.alive() if w not in (home, "pstn") and w.startswith("w"))
    spec = replace(SHORT, caller="site1/07", dial="site2/07")
    farm.seat_worker["site1/07"] = wrong
    try:
        t0 = time.monotonic()
        r = live.run_call(spec)
        took = time.monotonic() - t0
    finally:
        farm.seat_worker["site1/07"] = home
    assert r.verdict.status is Status.ERROR and took < 15.0, r.verdict.reasons
    assert any(f"agent worker {wrong} does not host 'site1/07'" in x
               for x in r.verdict.reasons), r.verdict.reasons
    again = live.run_call(spec)
    assert again.verdict.status is Status.PASS, again.verdict.reasons


def test_a_clean_run_reports_no_error(tmp_path: Path) -> None:
    session = HarnessSession(load_config(), tmp_path)
    session.start()
    session.close()
    doc = json.loads((session.run_dir / "results.json").read_text())
    assert doc["errors"] == [] and doc["status"] == "complete"
