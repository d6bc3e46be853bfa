"""The busy hour's pure parts: pairing every line once, the concurrency sweep, the
distribution and the verdict (a stalled host is an error, never a pass)."""

import pytest

from harness.config import load_config
from harness.model import (
    CallResult,
    CallSpec,
    CallTiming,
    LoadSpec,
    QualityScore,
    SipEvent,
    Status,
    Verdict,
)
from harness.numberplan import NumberPlan
from harness.run.busyhour import busy_hour_calls, concurrent_peak, judge, mos_distribution

PLAN = NumberPlan.from_config(load_config().numbers)


def test_42_calls_use_every_one_of_the_84_lines_once() -> None:
    rows = busy_hour_calls(PLAN, LoadSpec("8.1", "busy hour"))
    assert len(rows) == 42
    names = [r.caller for r in rows] + [r.dial for r in rows]
    assert sorted(names) == sorted(ln.name for ln in PLAN.lines)
    assert {r.codec for r in rows} == {"PCMU", "PCMA"}
    kinds = {r.call_type.split(": ")[1].rsplit(" ", 1)[0] for r in rows}
    assert {"on-net cross-site", "on-net branch office"} <= kinds
    assert len({r.plan_id for r in rows}) == 42


def _call(pid: str, up: float, down: float, mos: tuple[float, ...] = (), code: int = 200,
          valid: bool = True, status: Status = Status.PASS) -> CallResult:
    events = (SipEvent("a", "INVITE_SENT", up - 1.0, up - 1.0),
              SipEvent("a", "CONFIRMED", up, up, code), SipEvent("a", "DISCONNECTED", down, down))
    quality = tuple(QualityScore("a_to_b", src, m, "nb", valid)
                    for src, m in zip(("agent", "wire") * 2, mos, strict=False))
    return CallResult(CallSpec(pid, "busy hour", "site1/01", "site2/01"), pid, code,
                      CallTiming(0.004, 1.0, down - up, 0.001), quality, None, None,
                      Verdict(status, ()), events)


def test_concurrent_peak_sweeps_the_connected_intervals() -> None:
    calls = [_call("1", 10.0, 20.0), _call("2", 12.0, 15.0), _call("3", 14.0, 30.0),
             _call("4", 21.0, 22.0)]
    assert concurrent_peak(calls) == 3


def test_mos_distribution_keeps_invalid_scores_out() -> None:
    calls = [_call("1", 0, 1, (4.29, 4.28)), _call("2", 0, 1, (4.1, 4.0)),
             _call("3", 0, 1, (1.2, 1.1), valid=False)]
    dist, invalid = mos_distribution(calls)
    assert invalid == 2
    assert dist["agent"]["n"] == 2 and dist["agent"]["min"] == 4.1
    assert dist["wire"]["median"] == 4.0


def test_judge_passes_fails_and_flags_a_stall() -> None:
    spec = LoadSpec("8.1", "busy hour")
    calls = [_call("1", 0, 1, (4.29, 4.28))]
    dist, invalid = mos_distribution(calls)
    good = {"overall": {"ser_pct": 100.0, "srd": {"p95_s": 0.01}}}
    assert judge(spec, good, dist, invalid, calls) == (Status.PASS, ())
    bad = {"overall": {"ser_pct": 97.6, "srd": {"p95_s": 3.5}}}
    status, reasons = judge(spec, bad, dist, invalid, calls)
    assert status is Status.FAIL and any("SER 97.6" in r for r in reasons) and \
        any("SRD p95" in r for r in reasons)
    low, _ = mos_distribution([_call("1", 0, 1, (4.0, 4.1))])
    assert "MOS-LQO median (agent) 4.0 < 4.2" in judge(spec, good, low, 0, calls)[1]
    status, reasons = judge(spec, good, dist, 3, calls)
    assert status is Status.ERROR and reasons[0].startswith("invalid_measurement")


def test_a_valid_score_without_mos_is_a_defect_not_an_invalid_measurement() -> None:
    silence = _call("1", 0, 1, (None, 4.2))  # type: ignore[arg-type]  # the agent heard nothing
    dist, invalid = mos_distribution([silence])
    assert invalid == 0 and dist["agent"]["n"] == 0 and dist["wire"]["median"] == 4.2


def test_a_runs_cost_is_the_cpu_since_its_start_per_call() -> None:
    from harness.run.busyhour import run_cost, rusage_now

    before = rusage_now()
    sum(i * i for i in range(300_000))  # some CPU of this process's own
    cost = run_cost((before[0] - 1.0, before[1] - 2.0), 10)  # 1 s and 2 s before
    assert cost["controller_cpu_s"] >= 1.0 and cost["children_cpu_s"] >= 2.0
    assert cost["cpu_per_call_s"] == pytest.approx(
        (cost["controller_cpu_s"] + cost["children_cpu_s"]) / 10, abs=0.02)
    assert run_cost(rusage_now(), 0)["cpu_per_call_s"] >= 0.0  # no call: no division by 0
