"""The faults the call-type checks exist to catch, rendered into an embedded switch of
their own: long distance routed to the local trunk, *67 privacy ignored, call
transfer (REFER) refused, forwarding on busy not done, anonymous call rejection not
done, toll restriction not done, a dial-around call sent to the line's own carrier
and billed to none, no number-portability table, a BYE never relayed, a hunt group that
stops at its busy first line or does not overflow when every line is busy, a call to a
site's toll-free number billed as an ordinary incoming call, an international calling
number cut to 10 digits, call return (*69) that calls back the line's first caller
instead of its last, and G.711 A-law removed from the offer (the called phone
refuses it: the reason says who and why)."""

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest

from harness.config import load_config
from harness.model import CallResult, CallSpec, Expect, Status
from harness.numberplan import NumberPlan
from harness.run.session import HarnessSession
from testplans.plan_07_features import PLAN as FEATURES

pytestmark = [pytest.mark.integration, pytest.mark.fault]
QUICK = dict(talk_s=2.0)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HarnessSession]:
    cfg = load_config()
    # ... and forwarding on busy left unprovisioned (only the unconditional rule)
    cfg = replace(cfg, numbers=replace(cfg.numbers, forwarding="site6/06>site6/07:unconditional"))
    cfg = replace(cfg, guard=replace(cfg.guard, retries_on_stall=0),
                  sut=replace(cfg.sut,
                                      test_faults="misroute_ld_to_local,ignore_privacy,refuse_refer,"
                                                  "strip_pcma,ignore_anonymous_rejection,"
                                                  "ignore_toll_restriction,ignore_dial_around,"
                                                  "bill_dial_around_to_own_carrier,ignore_lnp,"
                                                  "swallow_bye,hunt_stops_at_busy,"
                                                  "bill_toll_free_as_incoming,"
                                                  "truncate_intl_caller_id,"
                                                  "call_return_first_caller"))
    session = HarnessSession(cfg, tmp_path_factory.mktemp("faulty"))
    session.start()
    yield session
    session.close()


def test_misrouted_class_is_caught(faulty: HarnessSession) -> None:
    r = faulty.run_call(CallSpec("2.4", "long distance interLATA", "site2/05", "12125550123",
                                 **QUICK, expect=Expect(mos_lqo_min=None, rings="pstn:ld",
                                                        call_class="ld_interlata")))
    assert r.verdict.status is Status.FAIL
    assert "routing: pstn:local rang, expected pstn:ld" in r.verdict.reasons


@pytest.mark.parametrize(("dial", "far_end"), [("*67site5/04", "site5/04"),
                                               ("*675550190", "pstn:local")])
def test_privacy_leak_is_caught(faulty: HarnessSession, dial: str, far_end: str) -> None:
    r = faulty.run_call(CallSpec("6.3", "*67 privacy", "site4/04", dial, **QUICK,
                                 expect=Expect(mos_lqo_min=None, rings=far_end,
                                               caller_id="anonymous")))
    assert r.verdict.status is Status.FAIL
    assert "caller_id: far end shown '4135550139', expected 'anonymous' (privacy leak)" \
        in r.verdict.reasons


def test_anonymous_call_rejection_not_done_is_caught(faulty: HarnessSession) -> None:
    """The line is provisioned with anonymous call rejection; the switch lets a *67 call
    ring it: the row names both the answer it should not have had and who rang."""
    r = faulty.run_call(CallSpec("6.5", "anonymous call rejected (433)", "site4/12",
                                 "*67site2/12", **QUICK,
                                 expect=Expect(final_code=433, mos_lqo_min=None, rings="none",
                                               call_class="onnet")))
    assert r.verdict.status is Status.FAIL
    assert "final_code: expected 433, got 200" in r.verdict.reasons
    assert any(x.startswith("routing: site2/12 rang") for x in r.verdict.reasons), \
        r.verdict.reasons


def test_toll_restriction_not_done_is_caught(faulty: HarnessSession) -> None:
    """site7/08 is barred from premium rate; the switch lets its 1-900 call reach a
    trunk (this switch also misroutes LD to the local trunk): the row names the answer
    it should not have had and the trunk that rang."""
    r = faulty.run_call(CallSpec("2.8", "premium 1-900 from a toll-restricted line",
                                 "site7/08", "19005550100", **QUICK,
                                 expect=Expect(final_code=403, mos_lqo_min=None, rings="none",
                                               call_class="ld_interlata")))
    assert r.verdict.status is Status.FAIL
    assert "final_code: expected 403, got 200" in r.verdict.reasons, r.verdict.reasons
    assert any(x.startswith("routing: pstn:local rang, expected none")
               for x in r.verdict.reasons), \
        r.verdict.reasons


def test_dial_around_ignored_and_unbilled_is_caught(faulty: HarnessSession) -> None:
    """101 + 0555 + an LD number: this switch ignores the carrier access code (the call
    takes the line's own LD route, which it also misroutes to the local trunk) and
    writes no carrier in the CDR: the row names the trunk that rang and the carrier."""
    r = faulty.run_call(CallSpec("2.11", "dial-around 1010XXX long distance", "site1/09",
                                 "101055512125550123", **QUICK,
                                 expect=Expect(mos_lqo_min=None, rings="pstn:ld2",
                                               call_class="ld_interlata", carrier="0555")))
    assert r.verdict.status is Status.FAIL
    assert "routing: pstn:local rang, expected pstn:ld2" in r.verdict.reasons, r.verdict.reasons
    assert "cdr: carrier: expected 0555, got none (the line's own carrier)" \
        in r.verdict.reasons, r.verdict.reasons


def test_a_switch_without_its_lnp_table_is_caught(faulty: HarnessSession) -> None:
    """This switch routes by number blocks only: the number ported out of its block is
    looked up on-net (no such line: 404) and the one ported in to site4/05 goes to the
    PSTN; each row names the code and who rang instead."""
    out = faulty.run_call(CallSpec("2.12", "local call to a number ported out (LNP)",
                                   "site3/03", "ported_out:1", **QUICK,
                                   expect=Expect(mos_lqo_min=None, rings="pstn:local",
                                                 call_class="local")))
    assert out.verdict.status is Status.FAIL
    assert "final_code: expected 200, got 404" in out.verdict.reasons, out.verdict.reasons
    assert "routing: none rang, expected pstn:local" in out.verdict.reasons, \
        out.verdict.reasons
    into = faulty.run_call(CallSpec("1.6", "on-net call to a number ported in (LNP)",
                                    "site3/05", "ported_in:site4/05", **QUICK,
                                    expect=Expect(mos_lqo_min=None, rings="site4/05",
                                                  call_class="onnet")))
    assert into.verdict.status is Status.FAIL
    assert any(x.startswith("routing: ") and x.endswith("expected site4/05")
               for x in into.verdict.reasons), into.verdict.reasons


def test_a_switch_that_never_releases_the_called_party_is_caught(
        faulty: HarnessSession) -> None:
    """This switch answers the caller's BYE itself and never relays it (in the call
    whose INVITE asks for it): the called line stays up until it gives up by itself;
    the row names the hung call and who was left up."""
    r = faulty.run_call(CallSpec("1.2", "on-net same-site", "site3/06", "site3/08", **QUICK,
                                 headers=(("X-Harness-Hung", "1"),),
                                 expect=Expect(mos_lqo_min=None, rings="site3/08")))
    assert r.verdict.status is Status.FAIL, r.verdict.reasons
    assert any(x.startswith("release: the caller hung up, and the switch did not release "
                            "the called party (site3/08): ") for x in r.verdict.reasons), \
        r.verdict.reasons


def test_a_switch_that_refuses_transfer_is_caught(faulty: HarnessSession) -> None:
    r = faulty.run_call(CallSpec("7.6", "blind transfer (REFER)", "site5/01", "site5/02",
                                 transfer_to="site5/03", talk_s=4.0, hangup_by="callee",
                                 expect=Expect(mos_lqo_min=None, rings="site5/02",
                                               transferred_to="site5/03")))
    assert r.verdict.status is Status.FAIL
    assert "transfer: the caller never received a REFER" in r.verdict.reasons


def test_a_switch_that_does_not_forward_on_busy_is_caught(faulty: HarnessSession) -> None:
    r = faulty.run_call(CallSpec("7.4", "call forwarding on busy", "site6/02", "site6/08",
                                 callee_behaviour="busy", talk_s=2.0,
                                 expect=Expect(mos_lqo_min=None, rings="site6/09",
                                               forwarded_from="site6/08")))
    assert r.verdict.status is Status.FAIL
    assert "final_code: expected 200, got 486" in r.verdict.reasons
    assert "routing: site6/08 rang, expected site6/09" in r.verdict.reasons


def test_a_hunt_group_that_stops_at_a_busy_line_is_caught(faulty: HarnessSession) -> None:
    """This switch rings the pilot's first line and no other: the busy line's 486
    reaches the caller while the group's next line is free."""
    r = faulty.run_call(CallSpec("7.9", "hunt group: the first free line", "site1/10",
                                 "hunt:1", callee_behaviour="busy", talk_s=2.0,
                                 expect=Expect(mos_lqo_min=None, rings="site3/09",
                                               forwarded_from="site3/08")))
    assert r.verdict.status is Status.FAIL
    assert "final_code: expected 200, got 486" in r.verdict.reasons, r.verdict.reasons
    assert "routing: site3/08 rang, expected site3/09" in r.verdict.reasons, \
        r.verdict.reasons


def test_a_toll_free_call_not_billed_to_the_site_is_caught(faulty: HarnessSession) -> None:
    """This switch reaches the site's main number from its toll-free number but records
    the call as an ordinary incoming one: the site is charged nothing for it."""
    r = faulty.run_call(CallSpec("4.6", "incoming toll-free to a site's main number",
                                 "pstn:2125550188", "tollfree_in:1", talk_s=2.0,
                                 expect=Expect(mos_lqo_min=None, rings="site3/08",
                                               call_class="tollfree_in")))
    assert r.verdict.status is Status.FAIL, r.verdict.reasons
    assert "cdr: call_class: expected tollfree_in, got incoming" in r.verdict.reasons, \
        r.verdict.reasons
    assert any(x.startswith("cdr: charge: expected 0.0045 (tollfree_in at 0.0450/min)")
               for x in r.verdict.reasons), r.verdict.reasons


def test_an_international_calling_number_cut_to_10_digits_is_caught(
        faulty: HarnessSession) -> None:
    """This switch delivers +44 20 7946 0958 as 2079460958: a number of NPA 207 (Maine)
    to the called phone, not the caller abroad."""
    r = faulty.run_call(CallSpec("4.5", "incoming international", "pstn:+442079460958",
                                 "site4/06", talk_s=2.0,
                                 expect=Expect(mos_lqo_min=None, rings="site4/06",
                                               call_class="incoming",
                                               caller_id="+442079460958")))
    assert r.verdict.status is Status.FAIL, r.verdict.reasons
    assert "caller_id: far end shown '2079460958', expected '+442079460958'" \
        in r.verdict.reasons, r.verdict.reasons


def on_a_switch_of_its_own(tmp_path_factory: pytest.TempPathFactory, fault: str,
                           spec: CallSpec) -> CallResult:
    """`spec` placed once on an embedded switch rendered with `fault` alone, in a
    session of its own closed at once: a fault another of the faulty switch's would
    hide (one that does not hunt at all cannot show one that does not overflow)."""
    cfg = load_config()
    cfg = replace(cfg, guard=replace(cfg.guard, retries_on_stall=0),
                  sut=replace(cfg.sut, test_faults=fault))
    with HarnessSession(cfg, tmp_path_factory.mktemp(fault)) as session:
        return session.run_call(spec)


OVERFLOW = CallSpec("7.10", "hunt group overflow: every line busy", "site1/11", "hunt:1",
                    callee_behaviour="busy", busy_lines=("site3/09", "site3/12"), talk_s=2.0,
                    expect=Expect(mos_lqo_min=None, rings="site7/04", call_class="onnet",
                                  forwarded_from="site3/08"))


def test_a_hunt_group_that_does_not_overflow_is_caught(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """A switch that hunts over all three busy lines and then gives the caller the last
    one's busy instead of ringing the overflow line (the other faulty switch does not
    hunt at all: it could not show this one). Its own session, closed at once."""
    r = on_a_switch_of_its_own(tmp_path_factory, "hunt_no_overflow", OVERFLOW)
    assert r.verdict.status is Status.FAIL, r.verdict.reasons
    assert "final_code: expected 200, got 486" in r.verdict.reasons, r.verdict.reasons
    assert any(x.startswith("routing: ") and x.endswith("expected site7/04")
               for x in r.verdict.reasons), r.verdict.reasons


ATTENDED = CallSpec("7.7", "attended transfer (REFER with Replaces)", "site5/07", "site5/08",
                    transfer_to="site5/09", transfer_kind="attended", transfer_at_s=1.5,
                    talk_s=4.0, hangup_by="callee",
                    expect=Expect(mos_lqo_min=None, rings="site5/08",
                                  transferred_to="site5/09"))
THREE_WAY = CallSpec("7.8", "3-way call", "site5/10", "site5/11", conference_with="site7/03",
                     expect=Expect(mos_lqo_min=None, rings="site5/11", conferenced="site7/03"))


def test_a_switch_that_refuses_attended_transfer_is_caught(faulty: HarnessSession) -> None:
    r = faulty.run_call(ATTENDED)
    assert r.verdict.status is Status.FAIL
    assert "transfer: the caller never received a REFER" in r.verdict.reasons
    assert "attended transfer: the transferor was told 403 (REFER response, NOTIFY " \
        "sipfrag), expected a NOTIFY of 200" in r.verdict.reasons


@pytest.fixture
def agent_fault(live: HarnessSession, request: pytest.FixtureRequest) -> Iterator[HarnessSession]:
    """The shared live session with one of the agents' test faults on (Script.agent_faults)."""
    with live.hooked(agent_faults=frozenset({request.param})):
        yield live


@pytest.mark.parametrize("agent_fault", ["refuse_replaces"], indirect=True)
def test_a_target_that_refuses_replaces_is_caught(agent_fault: HarnessSession) -> None:
    r = agent_fault.run_call(ATTENDED)
    assert r.verdict.status is Status.FAIL
    assert "attended transfer: site5/09 refused the INVITE with Replaces (481)" \
        in r.verdict.reasons
    assert "transfer: the transferred call to site5/09 ended 481" in r.verdict.reasons


def test_a_far_end_refusing_what_the_switch_sent_is_named_with_why(
        faulty: HarnessSession) -> None:
    """The switch removes PCMA from an A-law-only offer: the called line refuses the
    INVITE it got. The reason names the line, its response and the codec the switch
    removed — one finding, not "final_code" plus "none rang"."""
    r = faulty.run_call(CallSpec("1.4", "on-net G.711 A-law", "site4/01", "site4/02",
                                 codec="PCMA", **QUICK,
                                 expect=Expect(mos_lqo_min=None, rings="site4/02")))
    assert r.verdict.status is Status.FAIL
    refused = [x for x in r.verdict.reasons if x.startswith("final_code: expected 200, got ")]
    assert len(refused) == 1, r.verdict.reasons
    assert ": site4/02 answered " in refused[0]
    assert "not PCMA (PT 8) as the caller offered: the switch removed PCMA" in refused[0]
    assert not any(x.startswith("routing:") for x in r.verdict.reasons), r.verdict.reasons


def test_call_return_to_the_wrong_caller_is_caught(faulty: HarnessSession) -> None:
    """A switch that keeps the first caller a line ever had: *69 calls site7/05 back
    (the first of the row's calls before) instead of the PSTN subscriber who called
    last. The far end it reached is named."""
    from tests.integration.test_call_types import CALL_RETURN

    r = faulty.run_call(CALL_RETURN)
    assert r.verdict.status is Status.FAIL, r.verdict.reasons
    assert "routing: site7/05 rang, expected pstn:ld" in r.verdict.reasons, r.verdict.reasons


def test_call_return_that_calls_back_a_withheld_caller_is_caught(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """A switch that keeps a withheld caller's number for call return: *69 calls it
    back (and so discloses it) instead of refusing 403. Its own session."""
    from tests.integration.test_call_types import CALL_RETURN_WITHHELD

    r = on_a_switch_of_its_own(tmp_path_factory, "call_return_discloses_withheld",
                               CALL_RETURN_WITHHELD)
    assert r.verdict.status is Status.FAIL, r.verdict.reasons
    assert "final_code: expected 403, got 200" in r.verdict.reasons, r.verdict.reasons
    assert "routing: site7/08 rang, expected none" in r.verdict.reasons, r.verdict.reasons


def test_a_line_on_a_call_that_is_busy_to_a_second_caller_is_caught(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """A switch without call waiting: the second call gets 486 while the line is on the
    first; the first call stands, never held. Its own session, closed at once."""
    from tests.integration.test_call_types import CALL_WAITING

    # the second call is refused ~3 s in: the first needs not talk the row's 22 s
    r = on_a_switch_of_its_own(tmp_path_factory, "no_call_waiting",
                               replace(CALL_WAITING, talk_s=10.0))
    assert r.verdict.status is Status.FAIL, r.verdict.reasons
    assert "call waiting: the second call from pstn:2125550188: final_code: expected 200, " \
        "got 486" in r.verdict.reasons, r.verdict.reasons
    assert "call waiting: the called line never held the first call (it was never " \
        "presented the second call while on the first)" in r.verdict.reasons


PICKUP = CallSpec("7.12", "call pickup (group)", "site2/05", "site3/06",
                  callee_behaviour="no_answer", picked_up_by="site3/07", talk_s=2.0,
                  expect=Expect(mos_lqo_min=None, rings="site3/06", call_class="onnet"))


def test_a_picked_up_call_billed_to_the_picking_line_is_caught(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """A switch that records a picked-up call as the picking line's own (the caller,
    who pays for it, goes unbilled): the pickup itself works, the CDR check names the
    caller."""
    r = on_a_switch_of_its_own(tmp_path_factory, "pickup_billed_to_picker", PICKUP)
    assert r.verdict.status is Status.FAIL, r.verdict.reasons
    assert not [x for x in r.verdict.reasons if x.startswith("pickup:")], r.verdict.reasons
    caller, picker = (load_config_plan().line(n).number for n in ("site2/05", "site3/07"))
    assert any(x.startswith(f"cdr: caller: expected {caller}, got {picker}")
               for x in r.verdict.reasons), r.verdict.reasons


def load_config_plan() -> NumberPlan:
    return NumberPlan.from_config(load_config().numbers)


VOICEMAIL_QUICK = CallSpec("7.14", "voicemail", "site1/07", "site5/05",
                           callee_behaviour="no_answer", voicemail=True, talk_s=2.0,
                           expect=Expect(mos_lqo_min=None, rings="pstn:vm", call_class="onnet",
                                         forwarded_from="site5/05"))


def test_a_message_waiting_indicator_never_sent_is_caught(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """A switch that takes the voicemail platform's NOTIFY message-summary (200) and
    never passes it on: the line is never told a message waits, nor that none does any
    more; the message itself is left and heard (the retrieval passes)."""
    r = on_a_switch_of_its_own(tmp_path_factory, "mwi_never_sent", VOICEMAIL_QUICK)
    assert r.verdict.status is Status.FAIL, r.verdict.reasons
    told = [x for x in r.verdict.reasons if x.startswith("voicemail: site5/05 was never told")]
    assert len(told) == 2, r.verdict.reasons
    assert "Messages-Waiting: yes (the switch answered the platform's NOTIFY 200; the line " \
           "got nothing" in told[0]
    assert not [x for x in r.verdict.reasons if "hearing its message" in x], r.verdict.reasons


def test_a_call_forwarded_to_voicemail_naming_no_mailbox_is_caught(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """A switch that forwards to the voicemail platform with neither Diversion nor a
    target: the platform cannot tell whose message it is, and says what it got."""
    r = on_a_switch_of_its_own(tmp_path_factory, "forward_to_voicemail_anonymously",
                               VOICEMAIL_QUICK)
    assert r.verdict.status is Status.FAIL, r.verdict.reasons
    assert any(x.startswith("voicemail: the INVITE named no mailbox (INVITE sip:4135550188@")
               for x in r.verdict.reasons), r.verdict.reasons


def test_a_t38_line_offered_audio_only_is_caught(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """A switch that offers site7/09, a T.38 fax line, audio as to any line: the line's
    T.38 terminal refuses it, and the row fails saying what the switch offered."""
    row = next(spec for spec in FEATURES if spec.plan_id == "7.15")
    r = on_a_switch_of_its_own(tmp_path_factory, "no_t38_to_t38_lines", row)
    assert r.verdict.status is Status.FAIL, r.verdict.reasons
    said = re.compile(r"final_code: expected 200, got 488: site7/09 answered 488 Not "
                      r"Acceptable Here \(Warning: .*\) — site7/09 is a T\.38 fax line "
                      r"\(numbers\.t38_lines\) and the switch offered it no T\.38 stream "
                      r"\(audio \d+ RTP/AVP 0 \d+\)")
    assert any(said.fullmatch(x) for x in r.verdict.reasons), r.verdict.reasons
