"""What the calling agent is told to do (`harness.run.runner.script_for`): pure, so the
talk time each kind of row needs is checked without a switch."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.media.reference import Reference
from harness.model import CallSpec, Expect
from harness.run.runner import script_for
from harness.sip.scenario import TALKER_PAD_S, TURN_GAP_S

REFS = {"a": Reference("a", Path("/r/a.wav"), 8000, 9.5, 0.6),
        "b": Reference("b", Path("/r/b.wav"), 8000, 10.25, 0.6)}
THIRD = Reference("c", Path("/r/c.wav"), 8000, 11.0, 0.6)
PAD = 1.5


def _row(**kw: object) -> CallSpec:
    return CallSpec("7.1", "x", "site1/01", "site2/01", **kw)  # type: ignore[arg-type]


def test_a_scored_row_talks_until_the_longer_reference_is_heard_whole() -> None:
    script = script_for(_row(talk_s=3.0), REFS, None, Path("/c"), PAD)
    assert script.talk_s == pytest.approx(10.25 + PAD)
    assert script.a_play == REFS["a"].path
    assert script.a_record == Path("/c/recorded_b_to_a.wav")
    long = script_for(_row(talk_s=61.0), REFS, None, Path("/c"), PAD)
    assert long.talk_s == 61.0  # a row's own longer talk time stands (billing)


def test_an_unscored_or_refused_row_keeps_its_own_talk_time() -> None:
    assert script_for(_row(talk_s=3.0, expect=Expect(mos_lqo_min=None)), REFS, None,
                      Path("/c"), PAD).talk_s == 3.0
    refused = script_for(_row(talk_s=3.0, expect=Expect(final_code=486)), REFS, None,
                         Path("/c"), PAD)
    assert refused.talk_s == 3.0 and refused.replay_at_s is None


def test_a_held_row_talks_again_after_the_resume_and_is_heard_whole() -> None:
    script = script_for(_row(hold_at_s=12.0, resume_at_s=16.0), REFS, None, Path("/c"), PAD)
    assert script.replay_at_s == pytest.approx(16.5)
    assert script.talk_s == pytest.approx(16.5 + 10.25 + PAD)
    quiet = script_for(_row(hold_at_s=2.0, resume_at_s=4.0, expect=Expect(mos_lqo_min=None)),
                       REFS, None, Path("/c"), PAD)
    assert quiet.replay_at_s is None and quiet.hold_at_s == 2.0


def test_a_3way_row_gives_each_talker_a_turn_for_its_whole_reference() -> None:
    script = script_for(_row(conference_with="site3/01"), REFS, THIRD, Path("/c"), PAD,
                        three_way_uri="sip:4135550130@sut")
    assert script.talker_window_s == pytest.approx(11.0 + TALKER_PAD_S)
    assert script.talk_s >= script.three_way_at_s + 3 * (script.talker_window_s + TURN_GAP_S)
    assert script.three_way_uri == "sip:4135550130@sut"


def test_the_hooks_faults_and_the_rows_signalling_reach_the_script() -> None:
    script = script_for(_row(dtmf_a="123#", headers=(("X-Test", "1"),), transfer_to="site4/01",
                             transfer_kind="attended"), REFS, None, Path("/c"), PAD,
                        transfer_uri="sip:4135550140@sut", agent_faults={"b", "a"})
    assert script.dtmf_a == "123#" and script.headers == (("X-Test", "1"),)
    assert (script.transfer_to_uri, script.transfer_kind) == ("sip:4135550140@sut",
                                                             "attended")
    assert script.agent_faults == ("a", "b")
