"""The plain-data half of the agent farm: how a far end behaves, and how a call is put
together from the legs different worker processes report."""

from harness.model import SipEvent
from harness.pstn.directory import PstnNumber
from harness.sip.scenario import FarEndPolicy, LegOutcome, assemble

POLICY = FarEndPolicy("site2/01", "busy", 1.5, (PstnNumber("4135550190", "local"),
                                                PstnNumber("4135550191", "local", "busy"),
                                                PstnNumber("4135550193", "local", "unassigned"),
                                                PstnNumber("2125550123", "ld", early="ringback")))


def test_the_dialled_line_behaves_as_the_row_says_a_forward_target_answers() -> None:
    assert POLICY.decide("site2/01", "4135550112").kind == "busy"
    assert POLICY.decide("site2/01", "4135550112").answer_after_s == 1.5
    assert POLICY.decide("site6/07", "4135550166").kind == "answer"


def test_a_rows_further_busy_lines_answer_busy_the_others_answer() -> None:
    """A hunt group's overflow row: the dialled first line busy by the row, its other
    lines busy by `busy_lines`; the overflow line answers."""
    from dataclasses import replace

    import pytest

    from harness.model import CallSpec, PlanRowError

    policy = replace(POLICY, busy_lines=("site3/09", "site3/12"))
    assert [policy.decide(n, "x").kind for n in ("site2/01", "site3/09", "site3/12",
                                                  "site7/04")] == ["busy"] * 3 + ["answer"]
    with pytest.raises(PlanRowError, match=r"busy_lines\[1\] = 'pstn:local': must be a beta"):
        CallSpec("7.10", "x", "site1/11", "hunt:1", busy_lines=("site3/09", "pstn:local"))


def test_pstn_numbers_behave_as_the_directory_says() -> None:
    assert POLICY.decide("pstn:local", "4135550190").kind == "answer"
    assert POLICY.decide("pstn:local", "4135550191").kind == "busy"
    vacant = POLICY.decide("pstn:local", "4135550193")
    assert (vacant.kind, vacant.code, vacant.early) == ("reject", 404, "intercept")
    assert POLICY.decide("pstn:ld", "2125550123").early == "ringback"
    assert POLICY.decide("pstn:local", "4135550190").early == ""
    assert POLICY.decide("pstn:intl", "0000").code == 404  # not in the directory


def _leg(name: str, t: float, answered: bool) -> LegOutcome:
    events = [SipEvent("b", "INCOMING", t, t)]
    if answered:
        events.append(SipEvent("b", "CONFIRMED", t + 1, t + 1, 200))
    events.append(SipEvent("b", "DISCONNECTED", t + 5, t + 5))
    return LegOutcome("b", name, "cid", tuple(events), 200 if answered else 486, None, None,
                      0.0, 0.0)


A = LegOutcome("a", "site6/01", "cid", (SipEvent("a", "INVITE_SENT", 0.0, 0.0),), 200, None,
               None, 0.0, 0.0)


def test_a_forwarded_call_is_answered_by_the_last_line_and_remembers_the_first() -> None:
    out = assemble(A, [_leg("site6/07", 4.0, True), _leg("site6/08", 0.1, False)], 0.0, 6.0, "")
    assert out.b is not None and out.b.agent_name == "site6/07"
    assert out.forwarded_from == ("site6/08",) and out.also_rang == ()
    assert out.t_end_mono == 9.0  # the far end's last event


def test_an_invite_after_the_answer_is_reported_as_also_rang() -> None:
    out = assemble(A, [_leg("site2/01", 0.1, True), _leg("site3/01", 2.0, False)], 0.0, 6.0, "")
    assert out.b is not None and out.b.agent_name == "site2/01"
    assert out.also_rang == ("site3/01",)


def test_no_far_end() -> None:
    out = assemble(A, [], 0.0, 1.0, "404")
    assert out.b is None and out.error == "404"


def test_a_pstn_number_behaves_the_same_in_any_form_the_switch_delivers_it() -> None:
    for form in ("+14135550191", "14135550191", "tel:+1-413-555-0191"):
        assert POLICY.decide("pstn:?", form).kind == "busy", form


def _far(name: str, call_id: str, t: float) -> LegOutcome:
    events = (SipEvent("b", "INCOMING", t, t), SipEvent("b", "CONFIRMED", t + 0.5, t + 0.5, 200))
    return LegOutcome("b", name, call_id, events, 200, None, None, 0.0, 0.0)


def _caller(party: str, call_id: str, t: float) -> LegOutcome:
    return LegOutcome(party, "site5/07", call_id, (SipEvent(party, "INVITE_SENT", t, t),), 200,
                      None, None, 0.0, 0.0)


def test_a_b2bua_gives_every_far_leg_its_own_call_id_the_legs_still_pair_by_seat_and_time(
) -> None:
    """Attended transfer through a B2BUA: no far leg shares a Call-ID with its caller
    leg. The consultation call (B -> C) and the caller's call after the REFER (A -> C)
    both ring C; each is paired with the first leg at C after its own INVITE left."""
    a = _caller("a", "a-leg", 0.0)
    b = _far("site5/08", "b-leg-x", 0.1)
    consult = LegOutcome("b2", "site5/08", "b2-leg", (SipEvent("b2", "INVITE_SENT", 2.0, 2.0),),
                         200, None, None, 0.0, 0.0)
    at_c_consulted = _far("site5/09", "c-leg-y", 2.1)
    a2 = _caller("a2", "a2-leg", 5.0)
    at_c_replaced = _far("site5/09", "c-leg-z", 5.1)
    policy = FarEndPolicy("site5/08", transfer_seat="site5/09")
    out = assemble(a, [at_c_replaced, b, consult, at_c_consulted], 0.0, 9.0, "", (a2,), policy)
    assert out.b is not None and out.b.call_id == "b-leg-x"
    assert out.consult_far is not None and out.consult_far.call_id == "c-leg-y"
    assert out.transfer_far is not None and out.transfer_far.call_id == "c-leg-z"
    assert out.also_rang == () and out.forwarded_from == ()


def test_a_further_call_with_no_leg_at_its_target_has_no_far_end() -> None:
    a3 = _caller("a3", "a3-leg", 3.0)
    early = _far("site7/03", "x", 2.0)  # rang before the second call's INVITE left
    out = assemble(_caller("a", "a-leg", 0.0), [_far("site5/11", "y", 0.1), early], 0.0, 9.0,
                   "", (a3,), FarEndPolicy("site5/11", conference_seat="site7/03"))
    assert out.conference_far is None
    assert out.also_rang == ("site7/03",)  # and it is reported, not lost
