from typing import Any

import pytest

from harness.capture.rtp import StreamStats
from harness.model import (
    CallTiming,
    CdrCheck,
    Expect,
    Mismatch,
    QualityScore,
    SipEvent,
    StallReport,
    Status,
    Verdict,
)
from harness.verdict.checks import Outcome
from harness.verdict.metrics import call_timing, decide, setup_window
from harness.verdict.thresholds import ThresholdTable

CLEAN = StallReport(14.0, 0.004, 0, 0.1, 1400)
STALLED = StallReport(14.0, 0.9, 1, 0.1, 1300)


def _ev(kind: str, t: float, code: int | None = None) -> SipEvent:
    return SipEvent("a", kind, 100.0 + t, 1e9 + t, code)


CALLER = (_ev("INVITE_SENT", 0.0), _ev("EARLY", 0.004, 180), _ev("CONNECTING", 1.005, 200),
          _ev("CONFIRMED", 1.006, 200), _ev("BYE_SENT", 14.0), _ev("DISCONNECTED", 14.001, 200))


def test_rfc6076_figures_from_the_caller_timeline() -> None:
    t = call_timing(CALLER, CLEAN)
    assert t.srd_s == pytest.approx(0.004)
    assert t.setup_s == pytest.approx(1.005)
    assert t.sdt_s == pytest.approx(12.995)
    assert t.sdd_s is None  # an agent cannot see its BYE's response: wire only
    assert t.valid


def test_srd_of_a_failed_call_is_the_final_response() -> None:
    t = call_timing((_ev("INVITE_SENT", 0.0), _ev("DISCONNECTED", 0.2, 486)), CLEAN)
    assert t.srd_s == pytest.approx(0.2) and t.setup_s is None


def test_setup_window_spans_invite_to_answer() -> None:
    assert setup_window(CALLER) == (pytest.approx(100.0), pytest.approx(101.005))


def test_timing_during_a_stall_is_invalid_with_the_evidence() -> None:
    t = call_timing(CALLER, STALLED)
    assert not t.valid and "900 ms" in t.invalid_reason
    assert t.invalid_reason.startswith("invalid_measurement")


def _q(direction: str, source: str, mos: float | None, valid: bool = True,
       reasons: tuple[str, ...] = ()) -> QualityScore:
    return QualityScore(direction, source, mos, "nb", valid, reasons)


def judge(expect: Expect, *args: Any, call_class: str = "onnet", codec: str = "PCMU",
          table: ThresholdTable | None = None, **kwargs: Any) -> Verdict:
    """judge() with the row's limits compiled from the table, as the runner does."""
    limits = (table or ThresholdTable.build()).compile(expect, call_class, codec, row="t")
    return decide(expect, limits, *args, **kwargs)


GOOD_Q = tuple(_q(d, s, 4.3) for d in ("a_to_b", "b_to_a") for s in ("agent", "wire"))
OK_CDR = CdrCheck(True, (), None, 1)


def test_all_good_passes() -> None:
    v = judge(Expect(), 200, call_timing(CALLER, CLEAN), GOOD_Q, OK_CDR)
    assert v.status is Status.PASS and v.reasons == ()


def test_each_check_fails_with_its_figure() -> None:
    slow = CallTiming(3.5, 4.0, 10.0, 0.01)
    v = judge(Expect(), 200, slow, GOOD_Q, OK_CDR)
    assert v.status is Status.FAIL and "timing.srd_s: 3.500 s > 3.000 s" in v.reasons
    low = (_q("a_to_b", "wire", 3.1),) + GOOD_Q[1:]
    v = judge(Expect(), 200, call_timing(CALLER, CLEAN), low, OK_CDR)
    assert "quality.a_to_b.wire: mos_lqo 3.10 < 4.20" in v.reasons
    one_way = (_q("a_to_b", "agent", None, True, ("silence: received level -90 dBov",)),)
    v = judge(Expect(), 200, call_timing(CALLER, CLEAN), one_way + GOOD_Q[1:], OK_CDR)
    assert v.status is Status.FAIL and any("silence" in r for r in v.reasons)
    v = judge(Expect(), 200, call_timing(CALLER, CLEAN), GOOD_Q, CdrCheck(False, (), None, 0))
    assert "cdr: no record for this call" in v.reasons
    bad = CdrCheck(True, (Mismatch("end_time", "10.000", "15.000"),), None, 1)
    v = judge(Expect(), 200, call_timing(CALLER, CLEAN), GOOD_Q, bad)
    assert "cdr: end_time: expected 10.000, got 15.000" in v.reasons
    v = judge(Expect(), 486, call_timing(CALLER, CLEAN), (), OK_CDR)
    assert "final_code: expected 200, got 486" in v.reasons


def test_a_stalled_measurement_is_never_a_pass_nor_a_switch_failure() -> None:
    invalid_q = tuple(_q(d, s, 2.1, False, ("invalid_measurement: host stalled 900 ms",))
                      for d in ("a_to_b", "b_to_a") for s in ("agent", "wire"))
    v = judge(Expect(), 200, call_timing(CALLER, STALLED), invalid_q, OK_CDR)
    assert v.status is Status.ERROR and v.invalid_measurement
    assert all("invalid_measurement" in r for r in v.reasons)


def test_a_hard_defect_fails_even_on_a_stalled_host() -> None:
    q = (_q("a_to_b", "wire", None, False,
            ("no RTP toward the receiver on the wire (one-way audio)",
             "invalid_measurement: host stalled 900 ms")),)
    v = judge(Expect(), 200, call_timing(CALLER, STALLED), q, OK_CDR)
    assert v.status is Status.FAIL
    assert any("one-way audio" in r for r in v.reasons)


def test_cdr_time_mismatch_during_a_stall_is_invalid_but_a_missing_row_still_fails() -> None:
    shifted = CdrCheck(True, (Mismatch("end_time", "10.000", "11.500"),), None, 1)
    # stall mid-call: set-up timing valid, but the agent's end-time reading was delayed
    v = judge(Expect(), 200, call_timing(CALLER, CLEAN), GOOD_Q, shifted, STALLED)
    assert v.status is Status.ERROR and v.invalid_measurement
    v = judge(Expect(), 200, call_timing(CALLER, CLEAN), GOOD_Q, shifted, CLEAN)
    assert v.status is Status.FAIL
    wrong_number = CdrCheck(True, (Mismatch("callee", "4135550112", "4135550113"),), None, 1)
    v = judge(Expect(), 200, call_timing(CALLER, STALLED), GOOD_Q, wrong_number)
    assert v.status is Status.FAIL
    v = judge(Expect(), 200, call_timing(CALLER, STALLED), GOOD_Q, CdrCheck(False))
    assert v.status is Status.FAIL and "cdr: no record for this call" in v.reasons


def test_a_score_with_a_floor_of_its_own_is_judged_by_it_and_named() -> None:
    """A 3-way path whose talker's material scores 3.38 through the codec alone is
    judged against 3.28, not the row's 4.2; below it, the reason names both."""
    from dataclasses import replace

    own = replace(_q("c_to_b", "wire", 3.35), floor_mos_lqo=3.28, floor_why="C's voice")
    v = judge(Expect(), 200, call_timing(CALLER, CLEAN), (*GOOD_Q, own), OK_CDR)
    assert v.status is Status.PASS, v.reasons
    low = replace(own, mos_lqo=3.1)
    v = judge(Expect(), 200, call_timing(CALLER, CLEAN), (*GOOD_Q, low), OK_CDR)
    assert v.status is Status.FAIL
    assert "quality.c_to_b.wire: mos_lqo 3.10 < 3.28 (C's voice)" in v.reasons
    # the row's floor still holds where it is the lower one
    assert replace(own, floor_mos_lqo=4.5).floor_for(4.2) == 4.2


@pytest.mark.parametrize("field", ["end_time", "billed_s", "charge",
                                   "false_answer_supervision"])
def test_a_cdr_figure_judged_on_the_agents_clocks_is_invalid_when_they_stalled(
        field: str) -> None:
    """The billed seconds, the charge and false answer supervision are judged on the
    talk the agents' clocks read, as the CDR's times are: a mismatch while those
    readings stalled is the host's (invalid); with clean readings, the switch's fail."""
    bad = CdrCheck(True, (Mismatch(field, "10..12 s", "15 s"),), None, 1)
    stalled = judge(Expect(), 200, call_timing(CALLER, CLEAN), GOOD_Q, bad,
                    cdr_stall=STALLED)
    assert stalled.status is Status.ERROR and stalled.invalid_measurement, stalled.reasons
    assert any(r.startswith(f"cdr: {field}: expected 10..12 s, got 15 s (invalid_measurement")
               for r in stalled.reasons), stalled.reasons
    clean = judge(Expect(), 200, call_timing(CALLER, CLEAN), GOOD_Q, bad, cdr_stall=CLEAN)
    assert clean.status is Status.FAIL and f"cdr: {field}: expected 10..12 s, got 15 s" in \
        clean.reasons
    rounding = CdrCheck(True, (Mismatch("rounding", "12 s", "11 s"),), None, 1)  # the CDR's
    assert judge(Expect(), 200, call_timing(CALLER, CLEAN), GOOD_Q, rounding,  # own sum
                 cdr_stall=STALLED).status is Status.FAIL


def _jittery(jitter_ms: float) -> StreamStats:
    return StreamStats("a", "b", 1, "PCMU", 500, 500, 0, 0.0, 0, 0, jitter_ms, jitter_ms, 10.0)


@pytest.mark.parametrize(("sent_ms", "outcome"), [(34.0, Outcome.INVALID),
                                                  (2.0, Outcome.FAIL), (None, Outcome.FAIL)])
def test_jitter_the_harness_s_talking_agent_sent_is_not_the_path_s(
        sent_ms: float | None, outcome: Outcome) -> None:
    """35 ms of RFC 3550 jitter on the wire, over the codec's 30 ms limit: the harness's
    own when the stream already had it as it left the talking agent (a selftest run
    three at a time: an unscored call's row failed on it against the switch); the
    path's when the agent sent it evenly, or when its sending was not captured."""
    wire = {"wire_a_to_b": _jittery(35.0), "wire_b_to_a": _jittery(3.0)}
    sent = {"wire_a_to_b": _jittery(sent_ms) if sent_ms is not None else None,
            "wire_b_to_a": _jittery(2.0)}
    v = judge(Expect(), 200, call_timing(CALLER, CLEAN), GOOD_Q, OK_CDR, CLEAN,
              streams=wire, sent=sent)
    check = next(c for c in v.checks if c.criterion == "stream.jitter_ms")
    assert check.outcome is outcome, check
    if outcome is Outcome.INVALID:
        assert "wire_a_to_b: 35.0 ms of jitter, 34.0 ms already as the harness's talking " \
               "agent sent it" in check.message and v.invalid_measurement
