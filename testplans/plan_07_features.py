"""Beta plan §7 — mid-call features: DTMF (RFC 4733) both ways, hold and resume;
and §9 a 60 s call for billing."""

from harness.model import CallSpec, Expect

PLAN = [
    CallSpec("7.1", "DTMF RFC 4733 both ways", caller="site6/01", dial="site6/02",
             talk_s=6.0, dtmf_a="1234567890*#", dtmf_b="9876#",
             expect=Expect(mos_lqo_min=None, rings="site6/02"),
             description="digits verified at the far end, both directions"),
    CallSpec("7.2", "hold and resume", caller="site6/03", dial="site6/04", talk_s=9.0,
             hold_at_s=2.0, resume_at_s=5.0,
             expect=Expect(mos_lqo_min=None, rings="site6/04"),
             description="the held party's audio stops during hold and returns after"),
    CallSpec("9.1", "61 s call for billing", caller="site6/05", dial="5550190", talk_s=61.0,
             expect=Expect(mos_lqo_min=None, rings="pstn:local", call_class="local"),
             description="just over a minute: 60/60 billing must round up to 2 minutes, "
                         "the CDR duration match within 1 s"),
]

# call forwarding, provisioned on the switch (numbers.forwarding). Forwarding on busy
# and on no answer works in the embedded switch (the forwarded INVITE is on the wire),
# but the far end cannot complete it while every line lives in one pjsua2 endpoint:
# the second INVITE of the call (same Call-ID, From tag, CSeq) is a merged request to
# that endpoint and is answered 482 (RFC 3261 §8.2.2.2). It needs the forwarded-to
# line in another process (the multi-process agent farm of the load issue).
PLAN += [
    CallSpec("7.3", "call forwarding unconditional", caller="site6/01", dial="site6/06",
             talk_s=3.0, expect=Expect(mos_lqo_min=None, rings="site6/07"),
             description="site6/06 forwards every call to site6/07"),
]
