"""Voice quality on the mid-call feature rows: DTMF (the digits after the speech) and
hold/resume (the speech before the hold and after the resume, each scored)."""

from __future__ import annotations

import threading

import pytest

from harness.faults import drop_udp
from harness.model import CallResult, CallSpec, Expect, Status
from harness.session import HarnessSession

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
    resume (its inbound RTP dropped from 2 s after the resume): the hold check looks
    at the holder's side only, so the resumed score is what names it."""
    first, last = live.receiver_rtp_ports("site6/04")
    done, armed = threading.Event(), threading.Event()

    def cut_later() -> None:
        if done.wait(1.0 + 14.5 + 2.0):  # ringing + resume + 2 s
            return
        with drop_udp(first, last, "INPUT"):
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
    after = r.score("a_to_b.resumed", "agent")
    assert before is not None and after is not None
    if not (before.valid and after.valid):
        pytest.fail("host stalled: no valid attempt")
    assert before.mos_lqo is not None and before.mos_lqo >= 4.2  # before the hold: fine
    assert after.mos_lqo is None or after.mos_lqo < 4.2, after
    assert r.verdict.status is Status.FAIL
    assert any(x.startswith("quality.a_to_b.resumed.agent") for x in r.verdict.reasons), \
        r.verdict.reasons
