"""The E-model rating of a call's streams (harness/run/scoring.py emodel_ratings): the
delay in it is the receiving agent's jitter buffer's, which the path's jitter must
explain; one the agent's own lateness grew (host starvation) is flagged, not a figure
of the path, and left out of the report's per-profile median."""

from __future__ import annotations

from harness.capture.rtp import StreamStats
from harness.model import SipEvent
from harness.report.profiles import profile_rows
from harness.run.scoring import emodel_ratings
from harness.sip.scenario import CallOutcome, LegOutcome, StreamSnapshot


def _leg(party: str, jb_ms: float) -> LegOutcome:
    stats = StreamSnapshot("PCMU", "127.0.0.1:4000", "127.0.0.1:5000", 500, 0, 0, 0.3, 1.0,
                           500, 0.4, jb_ms, 0, 0, 0)
    return LegOutcome(party, "site1/01", "cid", (SipEvent(party, "CONFIRMED", 0.0, 0.0, 200),),
                      200, stats, None, 0.0, 0.0)


def _wire(jitter_ms: float, loss_pct: float = 0.0) -> StreamStats:
    return StreamStats("a", "b", 1, "PCMU", 500, 500, 0, loss_pct, 0, 0, jitter_ms,
                       jitter_ms * 2, 10.0)


def test_a_jitter_buffer_the_path_explains_gives_a_valid_rating() -> None:
    out = CallOutcome(_leg("a", 60), _leg("b", 75), 0.0, 10.0)
    ratings = emodel_ratings(out, {"wire_a_to_b": _wire(13.5), "wire_b_to_a": _wire(0.3)}, 60)
    assert set(ratings) == {"wire_a_to_b", "wire_b_to_a"}
    assert not any("r_invalid" in r for r in ratings.values())
    assert ratings["wire_b_to_a"]["r_factor"] > 90  # clean G.711: ~93


def test_a_jitter_buffer_grown_by_the_agent_itself_is_flagged_with_why() -> None:
    """Measured in a selftest run two tests at a time: 424 ms held on a 0.3 ms path gave
    a clean call R 58.7, below a 5 % loss call's 76.3."""
    out = CallOutcome(_leg("a", 60), _leg("b", 424), 0.0, 10.0)
    ratings = emodel_ratings(out, {"wire_a_to_b": _wire(0.3), "wire_b_to_a": _wire(0.3)}, 60)
    bad = ratings["wire_a_to_b"]  # toward b, whose buffer grew
    assert float(bad["r_factor"]) < 65
    assert bad["r_invalid"] == ("the receiving agent's jitter buffer held 424 ms against "
                                "0.3 ms of jitter on the wire (at most 122 ms explained): it "
                                "grew for the agent's own lateness, the host's")
    assert "r_invalid" not in ratings["wire_b_to_a"]


def test_the_profile_median_leaves_an_invalid_rating_out() -> None:
    def call(r: float, invalid: bool) -> dict[str, object]:
        wire = {"r_factor": r, **({"r_invalid": "host"} if invalid else {})}
        return {"profile": "clean", "final_code": 200,
                "streams": {"wire_a_to_b": wire, "wire_b_to_a": wire}}
    rows = profile_rows((call(93.0, False), call(58.7, True), call(92.0, False)))
    assert rows[0].r_factor == {"a_to_b": 92.5, "b_to_a": 92.5}
