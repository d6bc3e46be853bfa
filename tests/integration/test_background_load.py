"""Probe calls measured under background SIPp load through the embedded switch.

The load's figures are SIPp's own (statistics file, sink's answered count); the
probe calls' are the harness's. A load that fails is reported as a load failure in
the load section, never as a verdict on the probe calls (docs/load.md)."""

import json
import os
import socket
import time

import pytest

from harness.load import LoadError
from harness.load.sipp import BackgroundLoad
from harness.model import CallSpec, Expect, Status
from harness.run.session import HarnessSession
from harness.softswitch.kamailio import EmbeddedKamailio
from harness.softswitch.process import udp_port_free

pytestmark = [pytest.mark.integration, pytest.mark.alone]  # many calls at once (tests/turns.py)

PROBE = CallSpec("1.1", "on-net cross-site", "site1/01", "site2/01", talk_s=8.0)
# where only the probes' verdicts are judged (not their voice): short, not scored
QUICK_PROBE = CallSpec("1.1", "on-net cross-site", "site1/01", "site2/01", talk_s=2.0,
                       expect=Expect(mos_lqo_min=None))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _results(live: HarnessSession) -> dict:
    return json.loads((live.run_dir / "results.json").read_text(encoding="utf-8"))


def test_probe_calls_measured_beside_the_load_level(live: HarnessSession) -> None:
    with BackgroundLoad.for_session(live, rate_cps=10, max_calls=20, hold_s=1.5) as load:
        pids = load.pids()
        probes = [live.run_call(PROBE) for _ in range(2)]
    stats = load.stats
    assert stats is not None
    # SIPp's own figures: it offered 10 cps and achieved it, every call completed
    assert stats.offered_cps == 10
    assert stats.achieved_cps >= 9.0, stats
    assert stats.created >= 9 * stats.generating_s * 0.9
    assert stats.failed == 0 and stats.successful == stats.created, stats.failed_by_reason
    assert 10 <= stats.concurrent_max <= 20
    assert stats.setup_n == stats.successful and stats.setup_p95_ms is not None
    assert load.doc["sink"]["answered"] == stats.successful  # the far end answered them
    assert not any(_alive(pid) for pid in pids)  # no SIPp left behind
    # every probe is tagged with the level; the level carries the probes' figures
    doc = _results(live)
    level = next(lv for lv in doc["load"]["levels"] if lv["id"] == load.load_id)
    tagged = [c for c in doc["calls"] if (c["load"] or {}).get("id") == load.load_id]
    assert [c["call_id"] for c in tagged] == [p.call_id for p in probes]
    assert tagged[0]["load"]["rate_cps"] == 10
    assert level["probes"]["calls"] == 2
    assert level["status"] == "ok", level["reasons"]  # a stall alone is noted, not a failure
    valid = [p for p in probes if not p.verdict.invalid_measurement]
    assert valid, "every probe was invalid (host stalls): nothing was measured"
    assert level["probes"]["srd_n"] == sum(1 for p in valid if p.timing.valid)
    assert level["probes"]["srd_p50_s"] is not None


def test_sink_that_stops_answering_is_a_load_failure_not_the_probes(
        live: HarnessSession) -> None:
    with BackgroundLoad.for_session(live, rate_cps=5, max_calls=20, hold_s=1.0,
                                    timeout_s=4.0) as load:
        first = live.run_call(QUICK_PROBE)
        load.kill_sink()  # the load's far end is gone; the probes' path is not
        t0 = time.monotonic()
        second = live.run_call(QUICK_PROBE)
        # calls toward the dead sink time out (SIPp -recv_timeout, load.timeout_s)
        time.sleep(max(0.0, load.timeout_s + 2.0 - (time.monotonic() - t0)))
    stats = load.stats
    assert stats is not None and stats.failed > 0, stats
    assert stats.failed_by_reason.get("TimeoutOnRecv", 0) > 0, stats.failed_by_reason
    level = next(lv for lv in _results(live)["load"]["levels"] if lv["id"] == load.load_id)
    assert level["status"] in ("load-failed", "invalid"), level
    assert any("load calls failed" in r for r in level["reasons"])
    # the probe calls are judged on their own: a load failure is not in their verdicts
    for probe in (first, second):
        assert not any("load" in r.lower() for r in probe.verdict.reasons)
        assert probe.verdict.status is Status.PASS or probe.verdict.invalid_measurement, \
            probe.verdict.reasons


def test_a_sink_port_taken_by_another_process_stops_the_load_at_start(
        live: HarnessSession) -> None:
    """Kamailio sends every load call to the sink's port from its start on; SIPp binds
    it only when a load begins. Whoever holds it then answers the load calls (a SIP
    agent: a 404 to each, as seen once in CI). The switch holds the port until the
    sink starts; if it is taken anyway the load must not start against a stranger."""
    assert isinstance(live.switch, EmbeddedKamailio)
    hold = live.switch.sink_hold
    assert hold is not None and hold.held and hold.port == live.switch.load_sink_port
    assert not udp_port_free(hold.port)  # no other chooser is given it
    hold.release()  # a stranger gets in anyway (another host process, a bug)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
            stranger.bind(("127.0.0.1", hold.port))
            load = BackgroundLoad.for_session(live, rate_cps=1, max_calls=1, hold_s=0.5)
            with pytest.raises(LoadError, match=f"127.0.0.1:{hold.port} is held by another"):
                load.start()
    finally:
        assert hold.hold()  # the port is the switch's again, for the next load
