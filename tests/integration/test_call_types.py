"""Call types through the embedded switch and the simulated PSTN, and the faults the
dial guard. The faults the call-type checks catch are in test_call_type_faults.py
(a switch of their own, rendered with the faults)."""


import json

import pytest

from harness.capture.pcap import read_udp
from harness.media import fax
from harness.media.t38 import decode_udptl
from harness.model import CallSpec, Expect, Status
from harness.run.session import HarnessSession
from testplans.plan_07_features import PLAN as FEATURES

pytestmark = pytest.mark.integration
QUICK = dict(talk_s=2.0)


@pytest.mark.parametrize(("dial", "trunk", "call_class"), [
    ("5550190", "pstn:local", "local"),
    ("19785550123", "pstn:ld", "ld_intralata"),
    ("011442079460123", "pstn:intl", "international"),
    ("411", "pstn:operator", "directory"),
    ("611", "pstn:n11", "n11"),
])
def test_offnet_classes_reach_their_trunk_and_are_recorded(live: HarnessSession, dial: str,
                                                           trunk: str, call_class: str) -> None:
    r = live.run_call(CallSpec("2.x", call_class, "site1/02", dial, **QUICK,
                               expect=Expect(mos_lqo_min=None, srd_s_max=8.0, rings=trunk,
                                             call_class=call_class, caller_id="4135550101")))
    assert r.verdict.status is Status.PASS, r.verdict.reasons
    assert r.cdr is not None and dict(r.cdr.record.raw)["call_class"] == call_class  # type: ignore[union-attr]


def test_dial_around_reaches_the_chosen_carrier_and_is_billed_to_it(
        live: HarnessSession) -> None:
    """101 + CIC 0555 (numbers.dial_around_cic) before an LD and an international number:
    the second carrier's trunk group rings, the CDR names that carrier; the same LD
    number dialled plainly goes to the line's own carrier (a switch sending every LD
    call to ld2 fails here)."""
    for dial, call_class in (("101055512125550123", "ld_interlata"),
                             ("1010555011442079460123", "international")):
        r = live.run_call(CallSpec("2.11", "dial-around", "site1/09", dial, **QUICK,
                                   expect=Expect(mos_lqo_min=None, srd_s_max=8.0,
                                                 rings="pstn:ld2", call_class=call_class,
                                                 carrier="0555")))
        assert r.verdict.status is Status.PASS, r.verdict.reasons
        assert r.cdr is not None and r.cdr.record is not None
        assert r.cdr.record.carrier == "0555"
    plain = live.run_call(CallSpec("2.4", "long distance interLATA", "site1/09",
                                   "12125550123", **QUICK,
                                   expect=Expect(mos_lqo_min=None, srd_s_max=8.0,
                                                 rings="pstn:ld", call_class="ld_interlata")))
    assert plain.verdict.status is Status.PASS, plain.verdict.reasons
    assert plain.cdr is not None and plain.cdr.record is not None
    assert plain.cdr.record.carrier == ""


def test_ported_numbers_are_routed_by_the_switchs_lnp_table(live: HarnessSession) -> None:
    """A number ported out of the on-net block reaches the PSTN; a number ported in to
    site4/05 rings that line, dialled on-net and from the PSTN, and the CDR bills the
    number dialled."""
    out = live.run_call(CallSpec("2.12", "ported out", "site3/03", "ported_out:1", **QUICK,
                                 expect=Expect(mos_lqo_min=None, rings="pstn:local",
                                               call_class="local")))
    assert out.verdict.status is Status.PASS, out.verdict.reasons
    for spec in (CallSpec("1.6", "ported in", "site3/05", "ported_in:site4/05", **QUICK,
                          expect=Expect(mos_lqo_min=None, rings="site4/05",
                                        call_class="onnet")),
                 CallSpec("4.4", "ported in, from the PSTN", "pstn:9785550177",
                          "ported_in:site4/05", **QUICK,
                          expect=Expect(mos_lqo_min=None, rings="site4/05",
                                        call_class="incoming", caller_id="9785550177"))):
        r = live.run_call(spec)
        assert r.verdict.status is Status.PASS, (spec.plan_id, r.verdict.reasons)
        assert r.cdr is not None and r.cdr.record is not None
        assert r.cdr.record.callee.endswith("4135550195"), r.cdr.record


def test_911_delivers_number_and_location_to_the_psap(live: HarnessSession) -> None:
    r = live.run_call(CallSpec("3.10", "emergency 911", "site3/02", "911", **QUICK,
                               expect=Expect(mos_lqo_min=None, rings="pstn:psap",
                                             call_class="emergency", caller_id="4135550125",
                                             location=True)))
    assert r.verdict.status is Status.PASS, r.verdict.reasons


def test_incoming_did_busy_and_cancel(live: HarnessSession) -> None:
    did = live.run_call(CallSpec("4.1", "incoming DID", "pstn:2125550188", "site2/03", **QUICK,
                                 expect=Expect(mos_lqo_min=None, rings="site2/03",
                                               call_class="incoming", caller_id="2125550188")))
    busy = live.run_call(CallSpec("5.1", "busy", "site1/05", "site2/07", callee_behaviour="busy",
                                  expect=Expect(final_code=486, mos_lqo_min=None)))
    cancel = live.run_call(CallSpec("5.3", "cancel", "site1/05", "site2/09",
                                    callee_behaviour="no_answer", cancel_after_s=1.5,
                                    expect=Expect(final_code=487, mos_lqo_min=None)))
    for r in (did, busy, cancel):
        assert r.verdict.status is Status.PASS, (r.spec.plan_id, r.verdict.reasons)
    assert cancel.cdr is not None and cancel.cdr.record is not None
    assert cancel.cdr.record.disposition == "cancelled"


def test_anonymous_call_rejection_refuses_the_withheld_and_takes_the_identified(
        live: HarnessSession) -> None:
    """site2/12 is provisioned with anonymous call rejection (the default config): *67
    to it is refused 433 by the switch, recorded, and never rings; the same caller
    showing its number gets through (a line refusing everything would fail here)."""
    refused = live.run_call(CallSpec("6.5", "anonymous call rejected (433)", "site4/12",
                                     "*67site2/12", expect=Expect(
                                         final_code=433, mos_lqo_min=None, rings="none",
                                         call_class="onnet")))
    assert refused.verdict.status is Status.PASS, refused.verdict.reasons
    assert refused.final_code == 433 and refused.cdr is not None and refused.cdr.matched
    taken = live.run_call(CallSpec("6.6", "identified caller to a rejecting line",
                                   "site4/12", "site2/12", **QUICK, expect=Expect(
                                       mos_lqo_min=None, rings="site2/12",
                                       caller_id="4135550147")))
    assert taken.verdict.status is Status.PASS, taken.verdict.reasons


def test_toll_restriction_bars_premium_rate_and_nothing_else(live: HarnessSession) -> None:
    """site7/08's class of service bars premium rate (the default config): 1-900 and a
    976 number are refused 403 at once, recorded, and no trunk rings; the same line's
    ordinary long-distance call goes through (a line barred from everything fails)."""
    for plan_id, dial, call_class in (("2.8", "19005550100", "ld_interlata"),
                                      ("2.9", "9765555", "local")):
        barred = live.run_call(CallSpec(plan_id, "premium from a toll-restricted line",
                                        "site7/08", dial, expect=Expect(
                                            final_code=403, mos_lqo_min=None, rings="none",
                                            call_class=call_class)))
        assert barred.verdict.status is Status.PASS, barred.verdict.reasons
        assert barred.final_code == 403 and not barred.far_ends
        assert barred.cdr is not None and barred.cdr.matched
    ld = live.run_call(CallSpec("2.10", "LD from the toll-restricted line", "site7/08",
                                "12125550123", **QUICK, expect=Expect(
                                    mos_lqo_min=None, rings="pstn:ld",
                                    call_class="ld_interlata")))
    assert ld.verdict.status is Status.PASS, ld.verdict.reasons


def test_dial_guard_refuses_before_any_sip(live: HarnessSession) -> None:
    r = live.run_call(CallSpec("9.9", "off-plan", "site1/01", "12025550000"))
    assert r.verdict.status is Status.ERROR and r.call_id == ""
    assert any("refused to dial '12025550000'" in x for x in r.verdict.reasons)
    assert live.capture is not None
    packets, _ = read_udp(live.capture.path)
    assert not any(b"2025550000" in p.payload for p in packets)




@pytest.mark.parametrize(("dial", "behaviour", "rings", "forwarded_from"), [
    ("site6/06", "answer", "site6/07", None),  # unconditional: the switch rewrites
    ("site6/08", "busy", "site6/09", "site6/08"),  # the line answers 486, then forward
    ("site6/10", "no_answer", "site6/11", "site6/10"),  # rings 4 s unanswered, forward
])
def test_call_forwarding(live: HarnessSession, dial: str, behaviour: str, rings: str,
                         forwarded_from: str | None) -> None:
    r = live.run_call(CallSpec("7.x", "call forwarding", "site6/01", dial, talk_s=2.0,
                               callee_behaviour=behaviour,
                               expect=Expect(mos_lqo_min=None, rings=rings,
                                             forwarded_from=forwarded_from)))
    assert r.verdict.status is Status.PASS, r.verdict.reasons
    assert r.cdr is not None and r.cdr.record is not None
    assert r.cdr.record.callee == live.plan.line(rings).number  # billed to the forward leg


def test_a_hunt_group_skips_its_busy_line_for_the_next_free_one(live: HarnessSession) -> None:
    """The pilot (numbers.hunt_groups) rings site3/08 first, busy; the switch hunts on
    to site3/09, which answers: billed for the pilot dialled, answered by site3/09."""
    r = live.run_call(CallSpec("7.9", "hunt group", "site1/10", "hunt:1", talk_s=2.0,
                               callee_behaviour="busy",
                               expect=Expect(mos_lqo_min=None, rings="site3/09",
                                             call_class="onnet", forwarded_from="site3/08")))
    assert r.verdict.status is Status.PASS, r.verdict.reasons
    assert [leg.seat for leg in r.far_ends] == ["site3/08", "site3/09"], r.far_ends
    assert r.cdr is not None and r.cdr.record is not None
    assert r.cdr.record.callee == live.plan.line("site3/09").number
    assert dict(r.cdr.record.raw)["dialed"] == live.plan.hunt_groups[0].pilot


CALL_RETURN = CallSpec("6.7", "call return (*69)", "site4/07", "*69",
                      calls_before=("site7/05", "pstn:9785550177"), talk_s=2.0,
                      expect=Expect(mos_lqo_min=None, rings="pstn:ld",
                                    call_class="ld_intralata", caller_id="4135550142"))


def test_call_return_calls_back_the_last_caller_billed_as_dialled(live: HarnessSession) -> None:
    """*69 (numbers.call_return): site7/05, then a PSTN subscriber, ring site4/07, which
    does not answer; its *69 reaches the PSTN subscriber (the last) on the LD trunk,
    billed as if dialled (class ld_intralata), the CDR keeping the code dialled."""
    r = live.run_call(CALL_RETURN)
    assert r.verdict.status is Status.PASS, r.verdict.reasons
    assert {c.criterion for c in r.verdict.checks} >= {"call return.before1",
                                                       "call return.before2"}
    assert r.cdr is not None and r.cdr.record is not None
    assert r.cdr.record.callee == "9785550177"
    assert dict(r.cdr.record.raw)["dialed"] == "*69"
    # each call before is a call of its own, with its evidence
    befores = sorted(p.name for p in (live.run_dir / "calls").glob("6.7.before*"))
    assert len(befores) >= 2 and {n.split("-")[0] for n in befores} == {"6.7.before1",
                                                                       "6.7.before2"}


CALL_RETURN_WITHHELD = CallSpec("6.8", "call return to a withheld caller (*69)", "site4/09",
                                "*69", calls_before=("site7/08",), withheld_before=True,
                                expect=Expect(final_code=403, mos_lqo_min=None, rings="none"))


def test_call_return_to_a_withheld_caller_is_refused_and_recorded_uncharged(
        live: HarnessSession) -> None:
    """site7/08 rings site4/09 withholding its number; site4/09's *69 is refused 403:
    nobody rings, and the switch's record of the attempt keeps the code dialled,
    failed, not charged."""
    r = live.run_call(CALL_RETURN_WITHHELD)
    assert r.verdict.status is Status.PASS, r.verdict.reasons
    before = next(c for c in r.verdict.checks if c.criterion == "call return.before1")
    assert before.passed, before  # the call before showed "anonymous" at site4/09
    assert r.final_code == 403 and not r.far_ends
    assert r.cdr is not None and r.cdr.record is not None and r.cdr.matched
    assert r.cdr.record.callee == "*69" and r.cdr.record.disposition == "failed"
    assert r.cdr.record.sip_code == 403 and r.cdr.record.duration_s == 0.0


CALL_WAITING = CallSpec("7.11", "call waiting", "site4/08", "site7/07",
                       waiting_caller="pstn:2125550188", waiting_at_s=3.0, talk_s=22.0,
                       expect=Expect(mos_lqo_min=None, rings="site7/07", call_class="onnet"))


def test_call_waiting_presents_the_second_call_holds_the_first_and_bills_both(
        live: HarnessSession) -> None:
    """A PSTN subscriber calls site7/07 while it is on a call: the second call is
    presented and answered (its own verdict and CDR), the first held and resumed, and
    still up until its caller hangs up."""
    r = live.run_call(CALL_WAITING)
    assert r.verdict.status is Status.PASS, r.verdict.reasons
    assert {c.criterion for c in r.verdict.checks} >= {"call waiting",
                                                       "call waiting.second call"}
    b = next(leg for leg in r.events if leg.kind == "HOLD")
    assert b.party == "b"  # the called line held the first call
    second = sorted((live.run_dir / "calls").glob("7.11.waiting-*"))
    assert second and json.loads((second[-1] / "streams.json").read_text())


def test_blind_transfer_reaches_the_target_and_both_calls_are_billed(
        live: HarnessSession) -> None:
    spec = CallSpec("7.6", "blind transfer (REFER)", "site5/04", "site5/05",
                    transfer_to="site5/06", talk_s=3.0, hangup_by="callee",
                    expect=Expect(mos_lqo_min=None, rings="site5/05", call_class="onnet",
                                  transferred_to="site5/06"))
    r = live.run_call(spec)
    assert r.verdict.status is Status.PASS, r.verdict.reasons
    transferred = [ledger for ledger in live.ledgers
                   if ledger.caller == live.plan.line("site5/04").number]
    callees = {ledger.callee for ledger in transferred}
    assert {live.plan.line("site5/05").number, live.plan.line("site5/06").number} <= callees


def test_attended_transfer_replaces_the_consultation_call_and_bills_three_calls(
        live: HarnessSession) -> None:
    spec = CallSpec("7.7", "attended transfer (REFER with Replaces)", "site5/07", "site5/08",
                    transfer_to="site5/09", transfer_kind="attended", transfer_at_s=1.5,
                    talk_s=4.0, hangup_by="callee",
                    expect=Expect(mos_lqo_min=None, rings="site5/08", call_class="onnet",
                                  transferred_to="site5/09"))
    r = live.run_call(spec)
    assert r.verdict.status is Status.PASS, r.verdict.reasons
    kinds = {(e.party, e.kind) for e in r.events}
    assert {("b2", "INVITE_SENT"), ("c", "REPLACED"), ("a2", "CONFIRMED"),
            ("b", "XFER_NOTIFY")} <= kinds  # every leg's events are in the call's ladder
    a, b, c = (live.plan.line(x).number for x in ("site5/07", "site5/08", "site5/09"))
    billed = {(ledger.caller, ledger.callee) for ledger in live.ledgers}
    assert {(a, b), (b, c), (a, c)} <= billed


def test_three_way_call_every_party_hears_every_other(live: HarnessSession) -> None:
    spec = CallSpec("7.8", "3-way call", "site5/10", "site5/11", conference_with="site7/03",
                    expect=Expect(mos_lqo_min=None, rings="site5/11", call_class="onnet",
                                  conferenced="site7/03"))
    r = live.run_call(spec)
    assert r.verdict.status is Status.PASS, r.verdict.reasons
    # this call's own figures (the session is shared: other modules place 7.8 too)
    figures = json.loads((live.run_dir / dict(r.artifacts)["conference"]).read_text())
    paths = [k for k in figures if "->" in k]
    assert len(paths) == 6 and all(figures[p]["score"] >= figures["heard_min"] for p in paths)
    a, b, c = (live.plan.line(x).number for x in ("site5/10", "site5/11", "site7/03"))
    assert {(a, b), (a, c)} <= {(ledger.caller, ledger.callee) for ledger in live.ledgers}


PICKUP = CallSpec("7.12", "call pickup (group)", "site2/05", "site3/06",
                  callee_behaviour="no_answer", picked_up_by="site3/07", talk_s=3.0,
                  expect=Expect(rings="site3/06", call_class="onnet"))


def test_call_pickup_connects_the_caller_to_the_picking_line_scored_and_billed_once(
        live: HarnessSession) -> None:
    """site3/06 rings; site3/07 of its pickup group dials *8 and talks with the caller.
    The embedded switch hands site3/07's call to the caller with Replaces naming the
    caller's ringing call (RFC 3891 early-only); the caller's phone takes it and cancels
    the ringing call. Scored both ways between the caller and site3/07; one CDR, the
    caller's call answered by site3/07 (the cancelled ringing call attached to it)."""
    r = live.run_call(PICKUP)
    assert r.verdict.status is Status.PASS, r.verdict.reasons
    assert "pickup" in {c.criterion for c in r.verdict.checks}
    assert {(e.party, e.kind) for e in r.events} >= {("a", "REPLACES_RX"), ("a", "REPLACED"),
                                                     ("b", "INVITE_SENT")}
    scored = {(q.direction, q.source) for q in r.quality if q.mos_lqo is not None and q.valid}
    assert scored == {(d, s) for d in ("a_to_b", "b_to_a") for s in ("agent", "wire")}
    assert r.cdr is not None and r.cdr.record is not None, r.cdr
    plan = live.plan
    assert (r.cdr.record.caller[-10:], r.cdr.record.callee[-10:]) == (
        plan.line("site2/05").number, plan.line("site3/07").number)
    assert r.cdr.record.call_id == r.call_id  # the dialog that talked, not the ringing one


VOICEMAIL = CallSpec("7.14", "voicemail: deposit, message waiting, retrieval", "site1/07",
                     "site5/05", callee_behaviour="no_answer", voicemail=True,
                     expect=Expect(rings="pstn:vm", call_class="onnet",
                                   forwarded_from="site5/05"))


def test_a_message_left_on_no_answer_is_announced_heard_and_cleared(
        live: HarnessSession) -> None:
    """site5/05 rings unanswered; the switch forwards the call to the voicemail platform
    with a Diversion naming site5/05; site1/07's speech is the message (scored both ways
    on the deposit); site5/05 gets NOTIFY message-summary 'yes', calls the pilot, sends
    1 and hears the message (scored against site1/07's speech, both sources), then gets
    'no'. The deposit's CDR: site1/07 answered by the pilot."""
    r = live.run_call(VOICEMAIL)
    assert r.verdict.status is Status.PASS, r.verdict.reasons
    steps = json.loads((live.run_dir / dict(r.artifacts)["voicemail"]).read_text())
    assert (steps["deposit"]["mailbox"], steps["deposit"]["found_by"]) == \
        ("site5/05", "Diversion"), steps
    assert steps["mwi_yes"]["switch_answered"] == 200
    assert any("Messages-Waiting: yes" in n["summary"] for n in steps["mwi_yes"]["line_got"])
    assert any("Messages-Waiting: no" in n["summary"] for n in steps["mwi_no"]["line_got"])
    scored = {(q.direction, q.source) for q in r.quality if q.mos_lqo is not None and q.valid}
    assert scored == {(d, s) for d in ("a_to_b", "b_to_a", "retrieval.b_to_a")
                      for s in ("agent", "wire")}, r.verdict.reasons
    print("\n" + "; ".join(f"{q.direction}/{q.source} {q.mos_lqo:.2f}" for q in r.quality
                           if q.mos_lqo is not None))
    assert r.cdr is not None and r.cdr.record is not None, r.cdr
    assert (r.cdr.record.caller[-10:], r.cdr.record.callee[-10:]) == (
        live.plan.line("site1/07").number, live.plan.voicemail_pilot)


T38_ROW = next(spec for spec in FEATURES if spec.plan_id == "7.15")


def test_a_fax_to_a_t38_line_crosses_the_switchs_t38_gateway_intact(
        live: HarnessSession) -> None:
    """Row 7.15: site5/12's G.711 fax machine (the agent's libspandsp terminal) sends the
    test page to site7/09, a T.38 line: the switch offers the line T.38 (m=image udptl
    t38), its T.38 gateway (rtpengine's) converts; the harness's T.38 terminal on the line
    (its own SIP user agent and UDPTL) receives the page, bit for bit. Billed on-net."""
    r = live.run_call(T38_ROW)
    assert r.verdict.status is Status.PASS, r.verdict.reasons
    art = dict(r.artifacts)
    t38 = json.loads((live.run_dir / art["t38"]).read_text())
    assert len(t38["offer"]) == 1 and t38["offer"][0].endswith(" udptl t38"), t38
    assert t38["udptl_received"] > 100 and t38["udptl_sent"] > 10, t38
    rows = fax.read_page_rows(live.run_dir / art["fax-received"])
    assert fax.compare_pages(fax.test_page_rows(), rows).rows_differing == 0
    assert len(rows) == fax.ROWS
    assert "fax" in {c.criterion for c in r.verdict.checks if c.passed}
    # on the wire (the run's captures): UDPTL from the gateway to the line's terminal,
    # every packet of it counted by the terminal and decodable
    line_port = int(t38["answer"].split()[1])
    udptl = [p for f in sorted(live.run_dir.glob("capture*.pcap"))
             for p in read_udp(f)[0] if p.dport == line_port and p.src_addr == t38["peer"]]
    assert len(udptl) == t38["udptl_received"], (len(udptl), t38)
    assert all(decode_udptl(p.payload).primary for p in udptl)
    assert r.cdr is not None and r.cdr.record is not None and r.cdr.matched, r.cdr
