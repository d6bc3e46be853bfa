"""The call scorer's pure parts (harness/run/scoring.py): who hears whom on a call,
how long it was held, and what a resumed call's score says when the talker never
talked again or the media never came back to the receiver."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.media.reference import Reference
from harness.model import CallSpec, Expect, SipEvent, StallReport
from harness.run.scoring import CallScorer, held_s, media_since, replay_at_s
from harness.sip.scenario import CallOutcome, LegOutcome


def _ref(name: str) -> Reference:
    return Reference(name, Path(f"/nonexistent/{name}.wav"), 8000, 8.0, 0.6)


REFS = {"a": _ref("kal-a"), "b": _ref("rms-b")}
SCORER = CallScorer(lambda codec: REFS, Path("/nonexistent"), keep_wire=False)


def _leg(party: str, *events: tuple[str, float]) -> LegOutcome:
    return LegOutcome(party, f"line-{party}", f"cid-{party}",
                      tuple(SipEvent(party, kind, t, 1000.0 + t) for kind, t in events),
                      200, None, None, 0.0, 0.0)


def test_a_plain_call_is_heard_both_ways_from_the_invite_on() -> None:
    a, b = _leg("a", ("INVITE_SENT", 1.0), ("CONFIRMED", 2.0)), _leg("b", ("INCOMING", 1.1))
    out = CallOutcome(a, b, 0.0, 10.0)
    heard = SCORER.talking(CallSpec("1.1", "on-net", "site1/01", "site2/01"), out)
    assert {d: (leg.party, ref.name) for d, (leg, ref, _since) in heard.items()} == \
        {"a_to_b": ("b", "kal-a"), "b_to_a": ("a", "rms-b")}
    assert all(since == media_since(out) == 1000.0 + 1.0 - 0.05
               for _leg_, _ref_, since in heard.values())


def test_after_a_blind_transfer_the_caller_and_the_target_are_scored() -> None:
    a, b = _leg("a", ("INVITE_SENT", 1.0)), _leg("b")
    a2, c = _leg("a2", ("INVITE_SENT", 9.0)), _leg("c", ("CONFIRMED", 9.5))
    out = CallOutcome(a, b, 0.0, 20.0, transfer=a2, transfer_far=c)
    spec = CallSpec("7.6", "blind transfer", "site6/01", "site6/02", transfer_to="site6/03",
                    expect=Expect(transferred_to="site6/03"))
    heard = SCORER.talking(spec, out)
    assert {d: leg.party for d, (leg, _ref, _s) in heard.items()} == \
        {"a_to_c": "c", "c_to_a": "a2"}
    assert heard["a_to_c"][2] == 1000.0 + 9.0 - 0.05  # from the new call's INVITE


def test_hold_time_runs_from_hold_to_resume_at_the_holder() -> None:
    a = _leg("a", ("INVITE_SENT", 0.0), ("HOLD", 11.5), ("RESUME", 14.6))
    assert abs(held_s(CallOutcome(a, _leg("b"), 0.0, 25.0)) - 3.1) < 1e-9
    assert held_s(CallOutcome(_leg("a"), _leg("b"), 0.0, 25.0)) == 0.0


def test_a_resumed_score_without_the_talkers_replay_says_so_for_both_sources() -> None:
    a, b = _leg("a", ("INVITE_SENT", 0.0)), _leg("b")
    spec = CallSpec("7.2", "hold and resume", "site6/03", "site6/04", hold_at_s=11.5,
                    resume_at_s=14.5)
    assert replay_at_s(spec) == 15.0
    scores = SCORER.resumed("a_to_b", b, REFS["a"], spec, CallOutcome(a, b, 0.0, 25.0), [],
                            Path("/nonexistent"), StallReport(25.0, 0.0, 0, 1.0, 100))
    assert [(q.direction, q.source, q.mos_lqo, q.reasons) for q in scores] == [
        ("a_to_b.resumed", src, None, ("the talker did not talk again after the resume",))
        for src in ("agent", "wire")]


def test_a_resumed_agent_score_below_a_clean_wire_is_the_harnesss_own_loss(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """After the resume as before the hold: the receiving agent scored 4.14 where the
    clean wire toward it scored 4.34 (no loss, 2 ms jitter): invalid, re-placed, not
    a hold/resume failure of the switch (seen in a plan run: 7.2 NOT ACCEPTED)."""
    from harness.run import scoring
    from tests.unit.test_lost_in_agent import CLEAN_STREAM, _q

    monkeypatch.setattr(scoring, "assess", lambda d, stall, call_stall=None: (
        _q("a_to_b.resumed", "agent", 4.14), _q("a_to_b.resumed", "wire", 4.34),
        CLEAN_STREAM))
    a = _leg("a", ("INVITE_SENT", 0.0), ("REPLAY", 15.0))
    b = replace(_leg("b"), resumed_wav=Path("/nonexistent/resumed.wav"))
    spec = CallSpec("7.2", "hold and resume", "site6/03", "site6/04", hold_at_s=11.5,
                    resume_at_s=14.5, expect=Expect(mos_lqo_min=4.2))
    agent, wire = SCORER.resumed("a_to_b", b, REFS["a"], spec,
                                 CallOutcome(a, b, 0.0, 25.0), [], Path("/nonexistent"),
                                 StallReport(25.0, 0.0, 0, 1.0, 100))
    assert wire.valid and not agent.valid
    assert any(r.startswith("invalid_measurement: the receiving agent scored 4.14")
               for r in agent.reasons), agent.reasons
