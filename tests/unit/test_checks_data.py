"""A verdict as data (harness/verdict/checks.py): each judge returns checks, passed ones
included, with the figure, the limit and where the limit came from; the status and
the reasons follow from them, and the report reads criteria from them, never from a
reason's text."""

from __future__ import annotations

from dataclasses import replace

from harness.capture.rtp import StreamStats
from harness.model import CdrCheck, Mismatch, Status, Verdict
from harness.report.figures import _other_reasons, _state
from harness.verdict.checks import Check, Outcome, judged, passed, reasons
from harness.verdict.metrics import call_timing
from harness.verdict.thresholds import ThresholdTable
from tests.unit.test_metrics import CALLER, CLEAN, GOOD_Q, OK_CDR, STALLED, Expect, _q, judge


def test_a_clean_call_carries_a_passed_check_per_criterion_with_its_figure() -> None:
    v = judge(Expect(srd_s_max=3.0), 200, call_timing(CALLER, CLEAN), GOOD_Q, OK_CDR)
    assert v.status is Status.PASS and v.reasons == ()
    by = {c.criterion: c for c in v.checks}
    assert set(by) == {"final_code", "timing.srd_s", "quality.a_to_b.agent",
                       "quality.a_to_b.wire", "quality.b_to_a.agent", "quality.b_to_a.wire",
                       "cdr"}
    srd = by["timing.srd_s"]
    assert srd.passed and srd.measured == 0.004 and srd.unit == "s"
    assert srd.limit == "<= 3.000" and srd.limit_from == "plan row t"
    assert by["quality.a_to_b.agent"].measured == 4.3
    assert by["quality.a_to_b.agent"].limit == ">= 4.20"


def test_status_and_reasons_follow_from_the_checks() -> None:
    fail = Check("routing", Outcome.FAIL, "routing: site2/02 rang, expected site2/01")
    invalid = Check("timing.srd_s", Outcome.INVALID, "timing.srd_s 0.9 s: stalled")
    error = Check("harness", Outcome.ERROR, "switch did not answer OPTIONS after the call")
    assert Verdict.of([passed("final_code"), invalid]).status is Status.ERROR
    assert Verdict.of([passed("final_code"), invalid]).invalid_measurement
    v = Verdict.of([invalid, fail])
    assert v.status is Status.FAIL and v.reasons == (fail.message, invalid.message)
    v = Verdict.of([invalid, fail, error])
    assert v.status is Status.ERROR
    assert v.reasons == (error.message, fail.message, invalid.message)  # its cause first
    assert Verdict.of([passed("cdr")]).status is Status.PASS


def test_a_stalled_figure_is_an_invalid_check_not_a_failure() -> None:
    v = judge(Expect(srd_s_max=3.0), 200, call_timing(CALLER, STALLED), GOOD_Q, OK_CDR)
    srd = next(c for c in v.checks if c.criterion == "timing.srd_s")
    assert srd.outcome is Outcome.INVALID and v.status is Status.ERROR


def test_a_cdr_mismatch_names_the_field_and_both_values() -> None:
    cdr = CdrCheck(True, (Mismatch("billsec", "61", "59"),), None, 1)
    v = judge(Expect(), 200, call_timing(CALLER, CLEAN), GOOD_Q, cdr)
    bad = [c for c in v.checks if not c.passed]
    assert [(c.criterion, c.measured, c.limit) for c in bad] == [("cdr.billsec", "59", "= 61")]
    assert v.reasons == ("cdr: billsec: expected 61, got 59",)


def test_each_figure_is_judged_once_by_one_limit_that_says_where_it_came_from() -> None:
    """The row's Expect and the class/codec tables are one system: a too-slow call
    fails once, against the limit the compiled table holds."""
    table = ThresholdTable.build({"onnet": ["srd_s < 0.001"]}, source="beta.yaml")
    v = judge(Expect(), 200, call_timing(CALLER, CLEAN), GOOD_Q, OK_CDR, table=table)
    srd = [c for c in v.checks if c.criterion.endswith("srd_s")]
    assert len(srd) == 1 and srd[0].outcome is Outcome.FAIL
    assert srd[0].limit_from == "beta.yaml: thresholds.onnet"  # the user's
    assert srd[0].limit == "< 0.001" and v.reasons == ("timing.srd_s: 0.004 s >= 0.001 s",)
    mos = [c for c in v.checks if c.criterion.startswith("quality.")]
    assert mos and all(c.passed and c.limit == ">= 4.20" for c in mos)
    assert {c.limit_from for c in mos} == {"harness/verdict/thresholds.py: G711"}  # PCMU
    # the row's own limit replaces the table's for this row only
    v = judge(Expect(srd_s_max=3.0), 200, call_timing(CALLER, CLEAN), GOOD_Q, OK_CDR,
              table=table)
    srd = [c for c in v.checks if c.criterion.endswith("srd_s")]
    assert [(c.outcome, c.limit_from) for c in srd] == [(Outcome.PASS, "plan row t")]


def test_judged_gives_one_pass_or_the_failures() -> None:
    assert [c.outcome for c in judged("dtmf", [])] == [Outcome.PASS]
    assert reasons(judged("dtmf", ["dtmf: a", "dtmf: b"])) == ("dtmf: a", "dtmf: b")


def test_the_report_reads_criteria_from_checks_not_from_reason_text() -> None:
    """A message that happens to start like another criterion does not move it."""
    misleading = Check("routing", Outcome.FAIL, "cdr-like text: routing went wrong")
    call = {"verdict": "fail", "reasons": [misleading.message],
            "checks": [passed("cdr").as_json(), misleading.as_json()]}
    assert _state([call], "cdr", True) == "pass"
    assert _other_reasons([call], "fail") == [misleading.message]
    old = {"verdict": "fail", "reasons": ["cdr: no record for this call"]}  # no checks
    assert _state([old], "cdr", True) == "fail"


def test_decide_fails_each_criterion_with_its_own_check() -> None:
    v = judge(Expect(srd_s_max=0.001), 486, call_timing(CALLER, CLEAN), (_q("a_to_b", "wire",
                                                                             3.0),), OK_CDR)
    failed = {c.criterion for c in v.checks if c.outcome is Outcome.FAIL}
    assert failed == {"final_code", "timing.srd_s", "quality.a_to_b.wire"}


def test_the_wires_stream_figures_are_judged_by_the_codecs_limits() -> None:
    """Loss on the wire beyond the codec's limit fails the call, naming the figure."""
    lossy = StreamStats("a", "b", 1, "PCMU", 495, 500, 5, 1.0, 0, 0, 2.5, 4.0, 10.0)
    clean = replace(lossy, lost=0, loss_pct=0.0, packets=500)
    v = judge(Expect(), 200, call_timing(CALLER, CLEAN), GOOD_Q, OK_CDR,
              streams={"wire_a_to_b": lossy, "wire_b_to_a": clean})
    bad = [c for c in v.checks if not c.passed]
    assert [(c.criterion, c.measured, c.unit, c.limit) for c in bad] == [
        ("stream.loss_pct", 1.0, "%", "loss_pct < 1")]
    assert bad[0].limit_from == "harness/verdict/thresholds.py: G711"
    assert v.status is Status.FAIL
    ok = judge(Expect(), 200, call_timing(CALLER, CLEAN), GOOD_Q, OK_CDR,
               streams={"wire_a_to_b": clean})
    assert [c.criterion for c in ok.checks if c.criterion.startswith("stream.")] == [
        "stream.loss_pct", "stream.jitter_ms"] and ok.status is Status.PASS
