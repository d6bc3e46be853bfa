"""The busy hour with real calls: every call of it up at the same moment, scored and
reconciled, the row's figures in results.json; and a busy hour in which one called
party's media is cut fails, naming the call."""

from collections.abc import Iterator
from dataclasses import replace

import pytest

from harness.config import load_config
from harness.model import LoadSpec, Status
from harness.network.faults import drop_udp
from harness.run.busyhour import busy_hour_calls
from harness.run.session import HarnessSession

pytestmark = [pytest.mark.integration, pytest.mark.alone]  # many calls at once (tests/turns.py)
SMALL = LoadSpec("8.x", "busy hour (6 calls)", calls=6)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HarnessSession]:
    cfg = load_config()
    session = HarnessSession(replace(cfg, guard=replace(cfg.guard, retries_on_stall=0)),
                             tmp_path_factory.mktemp("busy"))
    session.start()
    yield session
    session.close()


def test_every_call_is_up_at_once_scored_and_reconciled(live: HarnessSession) -> None:
    report = live.run_load(SMALL)
    assert report.calls == 6 and report.concurrent_peak == 6
    if report.status is Status.ERROR:  # only a host stall may make it one
        assert report.reasons[0].startswith("invalid_measurement")
        return
    assert report.status is Status.PASS, report.reasons
    assert report.rfc6076["overall"]["ser_pct"] == 100.0
    assert report.mos_lqo["agent"]["n"] == 12 and report.mos_lqo["agent"]["median"] >= 4.2
    assert report.mos_lqo["wire"]["median"] >= 4.2
    assert report.cpu_s["agents"] > 0 and report.rss_mb["agents"] > 0
    assert live.store is not None and live.store.busy_hours[-1]["plan_id"] == "8.x"


@pytest.mark.fault
def test_a_called_party_that_hears_nothing_fails_the_busy_hour(live: HarnessSession) -> None:
    first = busy_hour_calls(live.plan, SMALL)[0]
    lo, hi = live.receiver_rtp_ports(first.dial)
    with drop_udp(lo, hi, "INPUT"):  # first call's callee hears nothing
        report = live.run_load(SMALL)
    print("\n".join(report.lines()))
    if report.status is Status.ERROR:  # only a host stall may make it one
        assert report.reasons[0].startswith("invalid_measurement") and \
            report.stall_max_s > live.cfg.guard.stall_threshold_s, report.reasons
        return
    assert report.status is Status.FAIL
    assert any(f"{first.plan_id} " in r and "silence" in r for r in report.reasons), \
        report.reasons
