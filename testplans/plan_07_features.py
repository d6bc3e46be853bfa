"""Beta plan §7 — mid-call features: DTMF (RFC 4733) both ways, hold and resume;
and §9 a 60 s call for billing."""

from harness.model import CallSpec, Expect

PLAN = [
    CallSpec("7.1", "DTMF RFC 4733 both ways", caller="site6/01", dial="site6/02",
             talk_s=16.0, dtmf_a="1234567890*#", dtmf_b="9876#", dtmf_at_s=11.5,
             expect=Expect(rings="site6/02"),
             description="both parties talk (PESQ both ways), then the digits: verified "
                         "at the far end, both directions"),
    CallSpec("7.2", "hold and resume", caller="site6/03", dial="site6/04",
             hold_at_s=11.5, resume_at_s=14.5,
             expect=Expect(rings="site6/04"),
             description="both talk (scored), the caller holds: the held party's audio "
                         "stops; after the resume both talk again, scored on its own"),
    CallSpec("9.1", "61 s call for billing", caller="site6/05", dial="5550190", talk_s=61.0,
             expect=Expect(rings="pstn:local", call_class="local"),
             description="just over a minute: 60/60 billing must round up to 2 minutes, "
                         "the CDR duration match within 1 s"),
]

# call forwarding, provisioned on the switch (numbers.forwarding). The forwarding line
# and its target live in different agent workers (harness/run/session.py deals them so):
# one pjsua2 Endpoint would take the forwarded INVITE for a merged request (482).
PLAN += [
    CallSpec("7.3", "call forwarding unconditional", caller="site6/01", dial="site6/06",
             talk_s=3.0, expect=Expect(rings="site6/07"),
             description="site6/06 forwards every call to site6/07"),
    CallSpec("7.4", "call forwarding on busy", caller="site6/02", dial="site6/08",
             callee_behaviour="busy", talk_s=3.0,
             expect=Expect(rings="site6/09", forwarded_from="site6/08"),
             description="site6/08 is busy (486); the switch forwards the call to site6/09"),
    CallSpec("7.5", "call forwarding on no answer", caller="site6/03", dial="site6/10",
             callee_behaviour="no_answer", talk_s=3.0,
             expect=Expect(srd_s_max=3.0, rings="site6/11",
                           forwarded_from="site6/10"),
             description="site6/10 rings 4 s unanswered; the switch forwards to site6/11"),
]

# blind transfer: the called line transfers the caller to a third line (REFER, RFC 3515)
PLAN += [
    CallSpec("7.6", "blind transfer (REFER)", caller="site5/01", dial="site5/02",
             transfer_to="site5/03", transfer_at_s=2.0, talk_s=4.0, hangup_by="callee",
             expect=Expect(rings="site5/02", call_class="onnet", transferred_to="site5/03"),
             description="site5/02 answers, then REFERs the caller to site5/03; the caller "
                         "calls site5/03 and they talk (PESQ both ways on that call); both "
                         "calls have their CDR"),
]

# attended transfer: the called line consults the target first, then transfers the
# caller to it with Replaces (RFC 5589 §7, RFC 3891); and a 3-way call bridged by the
# caller. The line that dials the third party and that party live in different agent
# workers (harness/run/runner.py check_apart): one Endpoint answers its own INVITE 482.
PLAN += [
    CallSpec("7.7", "attended transfer (REFER with Replaces)", caller="site5/07",
             dial="site5/08", transfer_to="site5/09", transfer_kind="attended",
             transfer_at_s=1.5, talk_s=4.0, hangup_by="callee",
             expect=Expect(rings="site5/08", call_class="onnet", transferred_to="site5/09"),
             description="site5/08 answers, holds the caller, calls site5/09 and talks, "
                         "then REFERs the caller with Replaces; site5/09's call is taken "
                         "over by the caller's; audio both ways, three CDRs"),
    CallSpec("7.8", "3-way call", caller="site5/10", dial="site5/11",
             conference_with="site7/03",
             expect=Expect(rings="site5/11", call_class="onnet", conferenced="site7/03"),
             description="site5/10 holds site5/11, calls site7/03 and bridges both calls; "
                         "each party talks alone in turn and is heard by the other two "
                         "(six paths); two CDRs"),
]

# a hunt group, provisioned on the switch (numbers.hunt_groups): calls to its pilot
# number ring its lines in order, skipping one that is busy or does not answer. Its
# lines live in different agent workers from each other's next (site3/08, site3/09):
# one pjsua2 Endpoint would take the hunted INVITE for a merged request (482).
PLAN += [
    CallSpec("7.9", "hunt group: the first free line", caller="site1/10", dial="hunt:1",
             callee_behaviour="busy", talk_s=3.0,
             expect=Expect(rings="site3/09", call_class="onnet", forwarded_from="site3/08"),
             description="site 3's pilot number rings its first line, site3/08, which is "
                         "busy (486); the switch hunts on to site3/09, which answers (PESQ "
                         "both ways); the CDR bills the pilot dialled, answered by site3/09"),
    CallSpec("7.10", "hunt group overflow: every line busy", caller="site1/11", dial="hunt:1",
             callee_behaviour="busy", busy_lines=("site3/09", "site3/12"), talk_s=3.0,
             expect=Expect(rings="site7/04", call_class="onnet", forwarded_from="site3/08"),
             description="every line of site 3's hunt group is busy (486 from site3/08, "
                         "site3/09, site3/12): the switch overflows the call to the "
                         "group's overflow line, the branch office's site7/04, which "
                         "answers (PESQ both ways); the CDR names site7/04"),
]

# call waiting: a second call to a line that is on a call is presented, and taken by
# holding the first (the called line's phone does that; the switch must deliver it)
PLAN += [
    CallSpec("7.11", "call waiting", caller="site4/08", dial="site7/07",
             waiting_caller="pstn:2125550188", waiting_at_s=14.0, talk_s=36.0,
             expect=Expect(rings="site7/07", call_class="onnet"),
             description="site4/08 and site7/07 talk (PESQ both ways); 14 s after the "
                         "answer a PSTN subscriber calls site7/07, which is presented the "
                         "second call (180), holds the first, answers, talks (PESQ both "
                         "ways), and resumes the first when the second is down; both calls "
                         "billed"),
]

# call pickup: a line of the called line's pickup group (numbers.pickup_groups) answers
# the call while it rings there, by dialling the switch's pickup code (numbers.call_pickup).
# The caller and the picking line live in different agent workers: the switch may hand
# the picking line's INVITE to the caller (Replaces), and one Endpoint answers its own
# INVITE 482 (harness/run/runner.py check_apart).
PLAN += [
    CallSpec("7.12", "call pickup (group)", caller="site2/05", dial="site3/06",
             callee_behaviour="no_answer", picked_up_by="site3/07", pickup_at_s=3.0,
             talk_s=3.0, expect=Expect(rings="site3/06", call_class="onnet"),
             description="site3/06 rings unanswered; site3/07, in its pickup group, dials "
                         "the pickup code 3 s later and talks with the caller (PESQ both "
                         "ways); site3/06 stops ringing; one CDR: the caller's call, "
                         "answered by site3/07"),
]

# fax: G3 fax machines on two beta lines (ITU-T T.30 over G.711 pass-through, no ECM,
# harness/media/fax.py): a page sent is received intact only if the path neither drops,
# suppresses nor alters what the modems send
PLAN += [
    CallSpec("7.13", "fax G3 over G.711 (T.30)", caller="site6/12", dial="site7/06",
             fax=True, expect=Expect(mos_lqo_min=None, rings="site7/06", call_class="onnet"),
             description="site6/12's fax machine sends the harness's test page (1728 "
                         "pixels x 400 rows, T.4) to site7/06's; both T.30 sessions end "
                         "normally and the page received is the page sent, bit for bit"),
    # a fax machine behind a T.38 device (numbers.t38_lines): the switch offers the line
    # T.38 and converts the caller's G.711 fax tones with its T.38 gateway
    CallSpec("7.15", "fax G3 to a T.38 line (T.38 gateway)", caller="site5/12",
             dial="site7/09", fax=True,
             # toward the line the media is UDPTL, not RTP: the fax check judges it
             expect=Expect(mos_lqo_min=None, rings="site7/09", call_class="onnet",
                           audio=False),
             description="site5/12's G.711 fax machine sends the test page to site7/09, "
                         "a T.38 fax line: the switch must offer it T.38 (m=image udptl "
                         "t38) and gateway the call; both T.30 sessions end normally and "
                         "the page received over UDPTL is the page sent, bit for bit"),
]

# voicemail: a line with a mailbox (numbers.voicemail_boxes) that does not answer is
# forwarded to the voicemail platform (numbers.voicemail_pilot); the caller leaves a
# message; the platform tells the line (SIP NOTIFY message-summary, RFC 3842); the line
# calls the pilot, sends its digits (numbers.voicemail_retrieve) and hears the message
PLAN += [
    CallSpec("7.14", "voicemail: deposit, message waiting, retrieval", caller="site1/07",
             dial="site5/05", callee_behaviour="no_answer", voicemail=True,
             expect=Expect(rings="pstn:vm", call_class="onnet", forwarded_from="site5/05"),
             description="site5/05 rings 4 s unanswered; the switch forwards the call to "
                         "the voicemail platform, naming the mailbox; site1/07 leaves its "
                         "speech (PESQ both ways: the greeting, the message as recorded); "
                         "site5/05 is told a message waits (NOTIFY), calls the pilot, "
                         "sends 1 and hears the message (PESQ against site1/07's speech); "
                         "then is told none waits"),
]
