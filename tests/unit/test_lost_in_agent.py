"""An agent's score below the floor while the wire toward it passed on a clean stream
is the harness's own loss (invalid, re-placed), never the switch's failure; a path
with loss or jitter, silence, or both sources low stay against the path."""

from __future__ import annotations

from dataclasses import replace

from harness.capture.rtp import StreamStats
from harness.media.assess import held_in_agent, lost_in_agent
from harness.model import QualityScore, Status
from harness.verdict.checks import Outcome
from harness.verdict.metrics import call_timing
from tests.unit.test_metrics import CALLER, CLEAN, OK_CDR, Expect, _q, judge

CLEAN_STREAM = StreamStats("127.0.0.1:1", "127.0.0.1:2", 1, "PCMU", 540, 540, 0, 0.0, 0, 0,
                           0.3, 2.1, 10.8)


def _pair(agent: float | None, wire: float | None) -> tuple[QualityScore, QualityScore]:
    return _q("c_to_a", "agent", agent), _q("c_to_a", "wire", wire)


def test_a_clean_wire_above_a_low_agent_is_the_harnesss_own_loss() -> None:
    agent, wire = _pair(4.17, 4.37)
    why = lost_in_agent(agent, wire, CLEAN_STREAM, 4.2)
    assert why.startswith("invalid_measurement: the receiving agent scored 4.17, the wire "
                          "toward it 4.37")
    # decided as the runner marks it: invalid, so the call is an error re-placed, not a fail
    marked = replace(agent, valid=False, reasons=(why,))
    v = judge(Expect(), 200, call_timing(CALLER, CLEAN),
               (marked, wire, _q("a_to_c", "agent", 4.3), _q("a_to_c", "wire", 4.3)), OK_CDR)
    assert v.status is Status.ERROR and v.invalid_measurement
    assert [c.outcome for c in v.checks if c.criterion == "quality.c_to_a.agent"] == \
        [Outcome.INVALID]


def test_the_path_keeps_what_is_the_paths() -> None:
    agent, wire = _pair(4.17, 4.37)
    jittery = replace(CLEAN_STREAM, max_jitter_ms=45.0)
    reordered = replace(CLEAN_STREAM, out_of_order=1)
    duplicated = replace(CLEAN_STREAM, duplicates=1)
    for stats in (jittery, reordered, duplicated, None):
        assert lost_in_agent(agent, wire, stats, 4.2) == "", stats
    assert lost_in_agent(*_pair(4.10, 4.15), CLEAN_STREAM, 4.2) == ""  # both low: the path
    assert lost_in_agent(*_pair(4.12, 4.18), CLEAN_STREAM, 4.1) == ""  # agent passes
    assert lost_in_agent(*_pair(None, 4.37), CLEAN_STREAM, 4.2) == ""  # silence: the path
    assert lost_in_agent(*_pair(4.15, 4.22), CLEAN_STREAM, 4.2) == ""  # within 0.1: noise


def test_jitter_the_harnesss_own_talker_sent_is_the_harnesss() -> None:
    """A busy host makes the talking agent send unevenly: the jitter is on its stream
    into the switch already, the switch added none. Jitter the switch added stays the
    path's."""
    agent, wire = _pair(3.40, 4.37)
    jittery = replace(CLEAN_STREAM, max_jitter_ms=23.9)
    sent_uneven = replace(CLEAN_STREAM, max_jitter_ms=22.0)
    sent_even = replace(CLEAN_STREAM, max_jitter_ms=0.9)
    why = lost_in_agent(agent, wire, jittery, 4.2, sent_uneven)
    assert "22.0 ms already as the harness's talking agent sent it" in why
    assert lost_in_agent(agent, wire, jittery, 4.2, sent_even) == ""  # the switch's jitter
    assert lost_in_agent(agent, wire, jittery, 4.2, None) == ""  # not known: the path's


def test_loss_on_the_wire_is_in_both_sources_and_excuses_nothing() -> None:
    """The packet the wire lacks, the agent lacks too (and conceals): a wire that scored
    4.37 with one packet lost leaves the agent's 3.76 unexplained by the path."""
    lossy = replace(CLEAN_STREAM, lost=1, loss_pct=0.08)
    why = lost_in_agent(*_pair(3.76, 4.37), lossy, 4.2)
    assert why.startswith("invalid_measurement: the receiving agent scored 3.76")


def test_an_agent_whose_jitter_buffer_held_more_than_the_path_explains_is_the_harnesss_own(
        ) -> None:
    """The false alarm a busy host gave (a clean clone's selftest, 27cb964): the
    receiving agent scored 3.62 with its playout 200 ms later than usual, no stall seen.
    Its jitter buffer holding far beyond what the wire's jitter explains says the agent
    ran late; the score is the harness's own (invalid, re-placed), whatever the wire
    scored."""
    agent, wire = _pair(3.62, 3.9)  # the wire below the floor too: lost_in_agent is silent
    assert lost_in_agent(agent, wire, CLEAN_STREAM, 4.2) == ""
    why = held_in_agent(agent, 4.2, jb_ms=257.0, wire_jitter_ms=0.3, jb_init_ms=60)
    assert why.startswith("invalid_measurement: the receiving agent scored 3.62 with its "
                          "jitter buffer holding 257 ms against 0.3 ms of jitter"), why
    assert "at most 122 ms explained" in why


def test_a_jitter_buffer_the_path_grew_leaves_the_score_against_the_path() -> None:
    agent = _q("c_to_a", "agent", 3.62)
    # 20 ms of RFC 3550 jitter on the wire explains 60 + 8 x 20 + 60 = 280 ms held
    assert held_in_agent(agent, 4.2, jb_ms=257.0, wire_jitter_ms=20.0, jb_init_ms=60) == ""
    assert held_in_agent(agent, 4.2, jb_ms=61.0, wire_jitter_ms=0.3, jb_init_ms=60) == ""
    # a score at the floor, or one already invalid, or nothing known: nothing to excuse
    assert held_in_agent(_q("c_to_a", "agent", 4.25), 4.2, 257.0, 0.3, 60) == ""
    stalled = replace(agent, valid=False)
    assert held_in_agent(stalled, 4.2, 257.0, 0.3, 60) == ""
    assert held_in_agent(agent, 4.2, None, 0.3, 60) == ""
    assert held_in_agent(agent, 4.2, 257.0, None, 60) == ""
