"""RFC 6076 aggregates over hand-built attempt sets, with the arithmetic in comments."""

import dataclasses
import math

import pytest

from harness.verdict.aggregate import Attempt, DelayStats, aggregate, summarise
from harness.verdict.thresholds import Threshold, ThresholdTable


def _a(code: int | None, srd: float | None = None, setup: float | None = None,
       sdd: float | None = None, completed: bool = False, cls: str = "local",
       retrans: int | None = None) -> Attempt:
    return Attempt(code, srd, setup, sdd, completed, cls, retrans)


# ten attempts; the comments number them
MIXED = [
    _a(200, 0.5, 2.0, 0.01, True),  # 1 answered, completed
    _a(200, 0.7, 3.0, 0.02, True),  # 2 answered, completed
    _a(486, 0.3),  # 3 busy: effective (SEER)
    _a(302, 0.1),  # 4 redirect: out of SER/SEER denominators
    _a(503, 0.2),  # 5 ineffective (ISA)
    _a(None),  # 6 no final response: counts as 408, ineffective
    _a(603, 0.4),  # 7 decline: effective
    _a(404, 0.6),  # 8 not found: neither effective nor ineffective
    _a(200, 1.0, 4.0, None, False),  # 9 answered, not completed (no BYE 2xx)
    _a(408, 5.0),  # 10 timeout from a proxy: ineffective
]


def test_ratios_by_hand() -> None:
    m = aggregate(MIXED)
    assert (m.attempts, m.answered, m.redirected, m.effective, m.ineffective,
            m.no_response, m.completed) == (10, 3, 1, 5, 3, 1, 2)
    assert m.ser_pct == pytest.approx(100 * 3 / 9)  # 200s / (10 - one 3xx)
    assert m.seer_pct == pytest.approx(100 * 5 / 9)  # 200, 486, 603 / (10 - 1)
    assert m.isa_pct == pytest.approx(30.0)  # 503, none, 408 / 10 (no 3xx exclusion)
    assert m.scr_pct == pytest.approx(20.0)  # 2 completed / 10
    assert m.call_class == "all"


def test_delay_percentiles_by_hand() -> None:
    m = aggregate(MIXED)
    # §4.3.1, final 2xx: 0.5 0.7 1.0 -> p50 rank ceil(1.5)=2, p95 rank ceil(2.85)=3
    assert m.srd == DelayStats(3, 0.7, 1.0, 1.0)
    # §4.3.2, final >= 400 (and none): 0.2 0.3 0.4 0.6 5.0 -> ranks 3 and 5
    assert m.srd_failed == DelayStats(5, 0.4, 5.0, 5.0)
    assert m.setup == DelayStats(3, 3.0, 4.0, 4.0)
    assert m.sdd == DelayStats(2, 0.01, 0.02, 0.02)  # ranks ceil(1)=1, ceil(1.9)=2


def test_redirects_leave_ser_and_seer_denominators_but_not_isa() -> None:
    m = aggregate([_a(200), _a(200), _a(302), _a(486)])
    assert m.ser_pct == pytest.approx(200 / 3)
    assert m.seer_pct == pytest.approx(100.0)
    assert m.isa_pct == 0.0
    only_redirects = aggregate([_a(301), _a(302)])
    assert only_redirects.ser_pct is None and only_redirects.seer_pct is None
    assert only_redirects.isa_pct == 0.0 and only_redirects.scr_pct == 0.0


def test_other_2xx_is_not_counted_as_200() -> None:
    m = aggregate([_a(200, 0.1), _a(202, 0.2)])
    assert m.ser_pct == pytest.approx(50.0)
    assert m.srd.n == 2  # both are successful set-ups for SRD (§4.3.1)


def test_no_attempts_gives_undefined_ratios() -> None:
    m = aggregate([])
    assert m.attempts == 0
    assert (m.ser_pct, m.seer_pct, m.isa_pct, m.scr_pct) == (None, None, None, None)
    assert m.srd == DelayStats(0, None, None, None)
    assert m.retransmissions is None and m.retransmissions_reported == 0


def test_retransmissions_are_summed_when_reported() -> None:
    m = aggregate([_a(200, retrans=2), _a(200), _a(486, retrans=0), _a(None, retrans=6)])
    assert m.retransmissions == 8 and m.retransmissions_reported == 3


def test_grouped_by_call_class_and_overall_with_rrd() -> None:
    attempts = [*MIXED,
                _a(200, 2.5, 6.0, 0.03, True, cls="international"),
                _a(503, 7.0, cls="international")]
    s = summarise(attempts, rrd_s=[0.05, 0.02, 0.2, 0.03])
    assert [m.call_class for m in s.by_class] == ["international", "local"]
    assert s.for_class("local") == dataclasses.replace(aggregate(MIXED), call_class="local")
    intl = s.for_class("international")
    assert (intl.ser_pct, intl.isa_pct, intl.scr_pct) == (50.0, 50.0, 50.0)
    assert s.overall.attempts == 12
    assert s.overall.ser_pct == pytest.approx(100 * 4 / 11)
    # 0.02 0.03 0.05 0.2: p50 rank 2, p95 rank ceil(3.8)=4
    assert s.rrd == DelayStats(4, 0.03, 0.2, 0.2)
    with pytest.raises(KeyError, match="classes: international, local"):
        s.for_class("onnet")


def test_aggregates_feed_thresholds() -> None:
    s = summarise(MIXED)
    local = s.for_class("local")
    checks = {str(c): c for c in ThresholdTable.build().for_key("local")}
    ser_min = Threshold.parse("ser_pct >= 99")  # e.g. a busy hour's (LoadSpec.ser_pct_min)
    ser = ser_min.evaluate(local.ser_pct)
    assert not ser.passed and ser.text == "ser_pct worst 33.3333, limit >= 99 (n=1)"
    assert not checks["srd_s <= 3"].evaluate([a.srd_s for a in MIXED
                                              if a.srd_s is not None]).passed
    assert ser_min.evaluate(aggregate([]).ser_pct).measured is None


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"code": 180}, "final_code 180"),
    ({"code": 700}, "final_code 700"),
    ({"code": 200, "srd": -0.1}, "srd_s -0.1"),
    ({"code": 200, "setup": math.nan}, "setup_s nan"),
    ({"code": 200, "sdd": math.inf}, "sdd_s inf"),
    ({"code": None, "completed": True}, "no final response"),
    ({"code": 200, "retrans": -1}, "retransmissions -1"),
])
def test_inconsistent_attempt_is_refused(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match="Attempt") as err:
        _a(**kwargs)  # type: ignore[arg-type]
    assert problem in str(err.value)


def test_bad_rrd_is_refused() -> None:
    with pytest.raises(ValueError, match="delay -1"):
        summarise([], rrd_s=[0.1, -1.0])
