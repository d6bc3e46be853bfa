"""Voice quality on the mid-call feature rows: DTMF (the digits after the speech) and
hold/resume (the speech before the hold and after the resume, each scored)."""

from __future__ import annotations

import threading

import pytest

from harness.model import CallResult, CallSpec, Expect, Status
from harness.network.faults import drop_udp
from harness.run.session import HarnessSession

pytestmark = pytest.mark.integration

HOLD = CallSpec("7.2", "hold and resume", caller="site6/03", dial="site6/04",
                hold_at_s=11.5, resume_at_s=14.5, expect=Expect(rings="site6/04"))
DTMF = CallSpec("7.1", "DTMF RFC 4733 both ways", caller="site6/01", dial="site6/02",
                talk_s=16.0, dtmf_a="1234567890*#", dtmf_b="9876#", dtmf_at_s=11.5,
                expect=Expect(rings="site6/02"))


def _valid_scores(r: CallResult, directions: tuple[str, ...]) -> None:
    """Every direction scored from both sources; a stalled attempt is flagged, and a
    test with no valid attempt fails rather than passes."""
    for d in directions:
        for source in ("agent", "wire"):
            q = r.score(d, source)
            assert q is not None, (d, source)
            if not q.valid:
                pytest.fail(f"{d}/{source} invalid (host stalled): no valid attempt")
            assert q.mos_lqo is not None and q.mos_lqo >= 4.2, (d, source, q)


def test_dtmf_row_is_scored_and_its_digits_heard(live: HarnessSession) -> None:
    r = live.run_call(DTMF)
    assert r.final_code == 200
    _valid_scores(r, ("a_to_b", "b_to_a"))
    assert r.verdict.status is Status.PASS, r.verdict.reasons


def test_hold_row_scores_before_the_hold_and_after_the_resume(live: HarnessSession) -> None:
    r = live.run_call(HOLD)
    assert r.final_code == 200
    _valid_scores(r, ("a_to_b", "b_to_a", "a_to_b.resumed", "b_to_a.resumed"))
    assert r.verdict.status is Status.PASS, r.verdict.reasons


@pytest.mark.fault
def test_audio_lost_after_the_resume_is_caught_by_the_resumed_score(
        live: HarnessSession) -> None:
    """The held party's media never comes back toward the called line after the
    resume: the switch sends it nothing from the middle of the hold on (its RTP toward
    the line dropped before it reaches the wire). The hold check looks at the holder's
    side only, so the resumed score is what names it, from both sources."""
    first, last = live.receiver_rtp_ports("site6/04")
    done, armed = threading.Event(), threading.Event()
    # the hold runs 11.5-14.5 s after the answer and the speech before it ends at ~8 s:
    # a cut 13 s after the dial lands inside the hold for any ringing time of 0-4 s
    cut_after_s = 13.0

    def cut_later() -> None:
        if done.wait(cut_after_s):
            return
        with drop_udp(first, last, "OUTPUT"):
            armed.set()
            done.wait(60.0)

    cutter = threading.Thread(target=cut_later, daemon=True)
    cutter.start()
    try:
        r = live.run_call(HOLD)
    finally:
        done.set()
        cutter.join(10.0)
    assert armed.is_set(), "the fault was never applied"
    assert r.final_code == 200
    before = r.score("a_to_b", "agent")
    assert before is not None
    if not before.valid:
        pytest.fail("host stalled: no valid attempt")
    assert before.mos_lqo is not None and before.mos_lqo >= 4.2  # before the hold: fine
    for source in ("agent", "wire"):
        after = r.score("a_to_b.resumed", source)
        assert after is not None and after.valid, (source, after)
        assert after.mos_lqo is None or after.mos_lqo < 4.2, (source, after)
        assert after.reasons, (source, after)  # silence / no RTP / a short recording
    assert r.verdict.status is Status.FAIL
    assert any(x.startswith("quality.a_to_b.resumed.agent") for x in r.verdict.reasons), \
        r.verdict.reasons
    assert any(x.startswith("quality.a_to_b.resumed.wire") for x in r.verdict.reasons), \
        r.verdict.reasons
