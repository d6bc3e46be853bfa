"""The plain-data half of the agent farm: how a far end behaves, and how a call is put
together from the legs different worker processes report."""

from harness.model import SipEvent
from harness.sip.scenario import FarEndPolicy, LegOutcome, assemble

POLICY = FarEndPolicy("site2/01", "busy", 1.5, (("4135550190", "answer", 1.0),
                                                ("4135550191", "busy", 1.0),
                                                ("4135550193", "unassigned", 1.0)))


def test_the_dialled_line_behaves_as_the_row_says_a_forward_target_answers() -> None:
    assert POLICY.decide("site2/01", "4135550112").kind == "busy"
    assert POLICY.decide("site2/01", "4135550112").answer_after_s == 1.5
    assert POLICY.decide("site6/07", "4135550166").kind == "answer"


def test_pstn_numbers_behave_as_the_directory_says() -> None:
    assert POLICY.decide("pstn:local", "4135550190").kind == "answer"
    assert POLICY.decide("pstn:local", "4135550191").kind == "busy"
    assert (POLICY.decide("pstn:local", "4135550193").kind,
            POLICY.decide("pstn:local", "4135550193").code) == ("reject", 404)
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
