"""The report's "clean vs each profile" table (harness/report/profiles.py)."""

from typing import Any

import pytest

from harness.report.profiles import profile_rows


def _call(profile: str, mos: float, loss: float, *, valid: bool = True,
          final_code: int = 200) -> dict[str, Any]:
    src = {"mos_lqo": mos, "valid": valid}
    return {
        "profile": profile, "final_code": final_code,
        "quality": {d: {"sources": {"agent": src, "wire": dict(src, mos_lqo=mos - 0.01)}}
                    for d in ("a_to_b", "b_to_a")},
        "streams": {"wire_a_to_b": {"loss_pct": loss, "jitter_ms": 0.5, "r_factor": 90 - loss},
                    "wire_b_to_a": {"loss_pct": 2 * loss, "jitter_ms": 0.6,
                                    "r_factor": 89 - loss},
                    "agent_b_to_a": {"rtt_mean_ms": 0.4}},
    }


def test_rows_follow_the_profile_order_with_medians_per_direction() -> None:
    calls = (_call("loss3", 3.2, 3.0), _call("", 4.3, 0.0), _call("clean", 4.34, 0.0),
             _call("loss3", 3.0, 3.4), _call("loss3", 3.4, 2.6),
             _call("loss3", 1.0, 9.0, valid=False), _call("loss5", 2.9, 5.0, final_code=486))
    rows = profile_rows(calls)
    assert [r.profile for r in rows] == ["clean", "loss3"]  # no profile, unanswered: out
    loss3 = rows[1]
    assert loss3.calls == 4
    assert loss3.mos_agent["a_to_b"] == 3.2  # the invalid score is not a score
    assert loss3.mos_wire["b_to_a"] == pytest.approx(3.19)
    assert loss3.loss_pct == {"a_to_b": 3.2, "b_to_a": 6.4}  # the wire counts every call
    assert loss3.rtt_ms == 0.4


def test_no_profile_no_rows() -> None:
    assert profile_rows((_call("", 4.3, 0.0),)) == []


def test_a_loss_profile_row_carries_the_stages_pattern_per_direction() -> None:
    def flow(lane: str, pct: float, n: int) -> dict[str, Any]:
        return {"lane": lane, "loss_pct": pct, "bursts": n, "burst_mean": 3.5,
                "burst_max": 8}
    calls = []
    for _ in range(3):
        c = _call("burst3", 3.0, 3.3)
        c["loss_stage"] = {"profile": "burst3", "flows": [flow("a_to_b", 3.28, 6),
                                                          flow("b_to_a", 3.1, 5)]}
        calls.append(c)
    row = profile_rows((*calls, _call("clean", 4.3, 0.0)))[1]
    assert row.profile == "burst3"
    a, b = row.pattern["a_to_b"], row.pattern["b_to_a"]
    assert a is not None and (a.loss_pct, a.bursts, a.burst_mean, a.burst_max) == \
        (3.28, 6, 3.5, 8)
    assert b is not None and b.loss_pct == 3.1
    assert profile_rows((_call("clean", 4.3, 0.0),))[0].pattern == \
        {"a_to_b": None, "b_to_a": None}  # no loss stage: no pattern
