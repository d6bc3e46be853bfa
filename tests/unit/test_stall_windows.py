"""Each real-time figure is judged on the host stalls of its own window (#18): a 61 s
billing call is not re-placed for a pause in the silence after its scored speech, and
a stall where a figure is taken still makes that figure invalid."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from harness.capture.rtp import StreamStats
from harness.model import CallSpec, CdrCheck, Expect, Mismatch, StallReport, Status, Verdict
from harness.run.guard import StallGuard
from harness.run.runner import CDR_READING_MARGIN_S, clock_readings_stall
from harness.run.scoring import SPEECH_MARGIN_S, CallScorer
from harness.run.session import invalid_because
from harness.sip.scenario import CallOutcome, LegOutcome
from harness.verdict.metrics import call_timing
from tests.unit.test_call_scorer import REFS, _leg
from tests.unit.test_metrics import CALLER, CLEAN, GOOD_Q, OK_CDR, STALLED, _q, judge

SCORER = CallScorer(lambda codec: REFS, Path("/nonexistent"), keep_wire=False)
TAIL_PAD_S = 1.5
BILLING = CallSpec("9.1", "61 s call for billing", "site6/05", "5550190", talk_s=61.0,
                   expect=Expect(mos_lqo_min=4.2))


def _answered(leg: LegOutcome) -> LegOutcome:
    """The caller's 2xx carries its code, as pjsua reports it."""
    return replace(leg, events=tuple(replace(e, code=200) if e.kind == "CONNECTING" else e
                                     for e in leg.events))


def _billing_call(*a_events: tuple[str, float]) -> CallOutcome:
    a = _answered(_leg("a", ("INVITE_SENT", 1.0), ("CONNECTING", 2.0), *a_events,
                       ("BYE_SENT", 63.0), ("DISCONNECTED", 63.01)))
    b = _leg("b", ("INCOMING", 1.1), ("CONFIRMED", 2.0), ("DISCONNECTED", 63.02))
    return CallOutcome(a, b, 0.5, 63.5)


def test_a_long_calls_speech_window_ends_with_its_speech_not_with_the_call() -> None:
    window = SCORER.speech_window(BILLING, _billing_call(), TAIL_PAD_S)
    speech_s = max(r.duration_s for r in REFS.values()) + TAIL_PAD_S
    assert window == (1.0, 2.0 + speech_s + SPEECH_MARGIN_S)
    assert window[1] < 63.0  # the 49 s of silence before the BYE are not in it


def test_the_speech_after_a_resume_extends_the_window_to_its_end() -> None:
    spec = replace(BILLING, hold_at_s=11.5, resume_at_s=14.5)
    speech_s = max(r.duration_s for r in REFS.values()) + TAIL_PAD_S
    window = SCORER.speech_window(spec, _billing_call(("REPLAY", 17.0)), TAIL_PAD_S)
    assert window == (1.0, 17.0 + speech_s + SPEECH_MARGIN_S)
    # no REPLAY seen: the speech after the resume cannot be bounded, the whole call is
    assert SCORER.speech_window(spec, _billing_call(), TAIL_PAD_S) == (1.0, 63.5)


def test_calls_whose_speech_is_not_one_plain_exchange_keep_the_whole_call() -> None:
    out = _billing_call()
    for spec in (replace(BILLING, transfer_to="site6/03"),
                 replace(BILLING, conference_with="site6/03"),
                 replace(BILLING, expect=Expect(mos_lqo_min=None))):
        assert SCORER.speech_window(spec, out, TAIL_PAD_S) is None, spec
    unanswered = CallOutcome(out.a, None, 0.5, 63.5)
    assert SCORER.speech_window(BILLING, unanswered, TAIL_PAD_S) is None


def test_a_stall_in_the_silence_leaves_the_speech_window_clean_one_in_it_does_not() -> None:
    guard = StallGuard(threshold_s=0.1)  # fed by hand
    window = SCORER.speech_window(BILLING, _billing_call(), TAIL_PAD_S)
    assert window is not None
    guard.record(40.0, 0.113)  # the 113 ms pause that re-placed 9.1 in a plan run
    assert guard.report(*window).clean
    assert not guard.report(0.5, 63.5).clean  # the call's own window still shows it
    guard.record(window[1] - 0.2, 0.105)  # the receiver's last speech frames
    assert not guard.report(*window).clean


def _stalls(*stalls: tuple[float, float]) -> StallGuard:
    guard = StallGuard(threshold_s=0.1)
    for end, late in stalls:
        guard.record(end, late)
    return guard


def test_the_cdr_times_are_judged_on_stalls_around_the_answer_and_the_release() -> None:
    out = _billing_call()
    whole = StallReport(63.0, 0.113, 1, 0.1, 6300)
    assert clock_readings_stall(_stalls((40.0, 0.113)), out, whole).clean  # mid-talk
    m = CDR_READING_MARGIN_S
    for at in (1.5, 2.0 + m - 0.05, 63.0 - m + 0.15, 63.0 + 0.3):
        report = clock_readings_stall(_stalls((at, 0.113)), out, whole)
        assert not report.clean and report.max_stall_s == 0.113, at
    # no answer to read around: the whole call's report
    unanswered = CallOutcome(_leg("a", ("INVITE_SENT", 1.0), ("DISCONNECTED", 5.0)), None,
                             0.5, 5.5)
    assert clock_readings_stall(_stalls(), unanswered, whole) is whole
    # a call its real-time processes waited through for a CPU: no window places that
    starved = StallReport(63.0, 0.02, 0, 0.1, 6300, rt_wait_pct=90.0, rt_wait_limit_pct=80.0)
    assert clock_readings_stall(_stalls(), out, starved) is starved and not starved.clean
    assert clock_readings_stall(_stalls(), out, whole).clean  # the same call, fed


def test_a_cdr_time_mismatch_is_a_fail_when_no_stall_touched_its_readings() -> None:
    shifted = CdrCheck(True, (Mismatch("end_time", "10.000", "11.500"),), None, 1)
    timing = call_timing(CALLER, CLEAN)
    # the call stalled mid-talk, not where the clocks were read: the switch's error
    v = judge(Expect(), 200, timing, GOOD_Q, shifted, STALLED, cdr_stall=CLEAN)
    assert v.status is Status.FAIL and "cdr: end_time" in " ".join(v.reasons)
    v = judge(Expect(), 200, timing, GOOD_Q, shifted, CLEAN, cdr_stall=STALLED)
    assert v.status is Status.ERROR and v.invalid_measurement


def _stream(jitter_ms: float, lost: int = 0) -> StreamStats:
    return StreamStats("127.0.0.1:1", "127.0.0.1:2", 1, "PCMU", 540, 540 - lost, lost,
                       100.0 * lost / 540, 0, 0, jitter_ms, jitter_ms, 10.8)


def test_a_stream_figure_that_fails_during_a_stall_is_invalid_one_that_passes_stands() -> None:
    timing = call_timing(CALLER, CLEAN)
    bad = {"wire_a_to_b": _stream(45.0), "wire_b_to_a": _stream(2.0)}
    v = judge(Expect(), 200, timing, GOOD_Q, OK_CDR, CLEAN, streams=bad)
    assert v.status is Status.FAIL and any(r.startswith("stream.jitter_ms") for r in v.reasons)
    v = judge(Expect(), 200, timing, GOOD_Q, OK_CDR, STALLED, streams=bad)
    assert v.status is Status.ERROR and v.invalid_measurement
    assert any(r.startswith("stream.jitter_ms") and "host stalled 900 ms" in r
               for r in v.reasons), v.reasons
    good = {"wire_a_to_b": _stream(2.0), "wire_b_to_a": _stream(2.0)}
    v = judge(Expect(), 200, timing, GOOD_Q, OK_CDR, STALLED, streams=good,
              cdr_stall=CLEAN)
    assert v.status is Status.PASS


def test_a_re_placing_names_each_cause_of_its_invalid_figures_once() -> None:
    """Each producer of an invalid check sets its cause (the check's `cause`, not its
    message's text): both directions' scores and the set-up timing stalled by the same
    pause, the CDR store's refusal, a stream figure failing in a stall."""
    from harness.model import CallResult, CallTiming
    from harness.verdict.checks import invalid_reason

    stalled = STALLED.describe()
    scores = tuple(_q(d, s, 4.34, False, (invalid_reason(stalled),))
                   for d in ("a_to_b", "b_to_a") for s in ("agent", "wire"))
    refused = "the embedded switch's CDR store refused it"
    lost = CdrCheck(False, (), None, 0, store_error=refused)
    bunched = {"wire_a_to_b": _stream(80.0)}
    v = judge(Expect(), 200, call_timing(CALLER, STALLED), scores, lost, STALLED,
              streams=bunched)
    by = {c.criterion: c.cause for c in v.checks if c.cause}
    assert by == {"timing.srd_s": stalled, "cdr": refused,
                  "stream.jitter_ms": stalled,
                  **{f"quality.{d}.{s}": stalled for d in ("a_to_b", "b_to_a")
                     for s in ("agent", "wire")}}, by
    whole = StallReport(62.0, 0.2, 2, 0.1, 6200)
    result = CallResult(BILLING, "cid", 200, CallTiming(None, None, None, None), (), None,
                        whole, v)
    assert invalid_because(result) == f"{stalled}; {refused}"
    # nothing invalid to name: the stalls of its whole window
    assert invalid_because(replace(result, verdict=Verdict.of(()))) == whole.describe()

