"""The switch releases the called party when the caller hangs up (its BYE delivered):
a called party left up, that hangs up by itself later, is a hung call."""

from __future__ import annotations

from harness.model import CallSpec, SipEvent
from harness.sip.scenario import CallOutcome, LegOutcome
from harness.verdict.call_types import release_checks

SPEC = CallSpec("1.1", "on-net", "site1/01", "site2/01")


def _leg(party: str, agent: str, *events: tuple[str, float]) -> LegOutcome:
    return LegOutcome(party, agent, "cid", tuple(SipEvent(party, kind, t, 1000.0 + t)
                                                 for kind, t in events),
                      200, None, None, 0.0, 0.0)


def _call(*b_events: tuple[str, float]) -> CallOutcome:
    a = _leg("a", "site1/01", ("CONFIRMED", 1.0), ("BYE_SENT", 12.0), ("DISCONNECTED", 12.0))
    return CallOutcome(a, _leg("b", "site2/01", ("CONFIRMED", 1.0), *b_events), 0.0, 13.0)


def test_a_called_party_released_by_the_callers_bye_passes() -> None:
    assert release_checks(SPEC, _call(("DISCONNECTED", 12.01))) == []


def test_a_called_party_left_up_until_it_hangs_up_itself_is_a_hung_call() -> None:
    assert release_checks(SPEC, _call(("BYE_SENT", 22.1), ("DISCONNECTED", 22.1))) == [
        "release: the caller hung up, and the switch did not release the called party "
        "(site2/01): it hung up by itself 10.1 s later (no BYE reached it)"]
    late = release_checks(SPEC, _call(("DISCONNECTED", 15.0)))
    assert late and "it was released 3.0 s later" in late[0]


def test_rows_where_the_caller_does_not_simply_hang_up_are_not_judged_here() -> None:
    hung = _call(("BYE_SENT", 22.1), ("DISCONNECTED", 22.1))
    for spec in (CallSpec("1.3", "x", "site7/01", "site1/12", hangup_by="callee"),
                 CallSpec("7.6", "x", "site5/01", "site5/02", transfer_to="site5/03"),
                 CallSpec("7.8", "x", "site5/01", "site5/02", conference_with="site5/03")):
        assert release_checks(spec, hung) is None
