"""Call waiting, the first call's part (harness/verdict/call_types.py
waiting_first_call): held by the called line to take the second call, resumed, and up
until its caller hung up."""

from __future__ import annotations

from harness.model import SipEvent
from harness.sip.scenario import CallOutcome, LegOutcome
from harness.verdict.call_types import waiting_first_call


def _leg(party: str, *kinds: tuple[str, float]) -> LegOutcome:
    events = tuple(SipEvent(party, k, t, 1e9 + t, 200 if k == "CONFIRMED" else None)
                   for k, t in kinds)
    return LegOutcome(party, "site7/07" if party == "b" else "site4/08", "cid", events,
                      200, None, None, 0.0, 0.0)


CALLER = _leg("a", ("INVITE_SENT", 0.0), ("CONFIRMED", 1.0), ("BYE_SENT", 36.0),
              ("DISCONNECTED", 36.1))


def test_held_resumed_and_up_to_its_end_passes() -> None:
    b = _leg("b", ("CONFIRMED", 1.0), ("HOLD", 17.0), ("RESUME", 31.0), ("DISCONNECTED", 36.1))
    assert waiting_first_call(CallOutcome(CALLER, b, 0.0, 36.2)) == []


def test_never_held_never_resumed_and_dropped_are_each_named() -> None:
    never = _leg("b", ("CONFIRMED", 1.0), ("DISCONNECTED", 36.1))
    assert waiting_first_call(CallOutcome(CALLER, never, 0.0, 36.2)) == [
        "call waiting: the called line never held the first call (it was never presented "
        "the second call while on the first)"]
    held = _leg("b", ("CONFIRMED", 1.0), ("HOLD", 17.0), ("DISCONNECTED", 36.1))
    assert waiting_first_call(CallOutcome(CALLER, held, 0.0, 36.2)) == [
        "call waiting: the first call was never resumed after the second"]
    dropped_a = _leg("a", ("INVITE_SENT", 0.0), ("CONFIRMED", 1.0), ("DISCONNECTED", 17.5))
    b = _leg("b", ("CONFIRMED", 1.0), ("HOLD", 17.0), ("RESUME", 31.0), ("DISCONNECTED", 17.5))
    assert waiting_first_call(CallOutcome(dropped_a, b, 0.0, 36.2)) == [
        "call waiting: the first call was dropped 17.5 s after it was placed, before its "
        "caller hung up"]
