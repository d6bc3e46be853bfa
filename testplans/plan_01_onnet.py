"""Beta plan §1 — on-net calls between the beta sites.

Lines are named ('site2/01') and resolve through the configured number plan, so the
table holds no switch-specific numbers and runs unchanged against any switch.
"""

from harness.model import CallSpec, Expect

PLAN = [
    CallSpec("1.1", "on-net cross-site", caller="site1/01", dial="site2/01",
             answer_after_s=1.0, talk_s=8.0, hangup_by="caller", codec="PCMU",
             expect=Expect(final_code=200, srd_s_max=3.0, mos_lqo_min=4.2, rings="site2/01",
                           call_class="onnet", caller_id="4135550100"),
             description="site 1 line 1 calls site 2 line 1; rings 1 s, speech each way, "
                         "caller hangs up"),
    CallSpec("1.2", "on-net same-site", caller="site3/04", dial="site3/07", talk_s=3.0,
             expect=Expect(rings="site3/07", call_class="onnet",
                           caller_id="4135550127"),
             description="two lines of one site; wire audio both ways checked"),
    CallSpec("1.3", "on-net branch office", caller="site7/01", dial="site1/12", talk_s=3.0,
             hangup_by="callee",
             expect=Expect(rings="site1/12", call_class="onnet"),
             description="the branch office calls a customer site; the callee hangs up"),
    CallSpec("1.4", "G.711 A-law", caller="site2/02", dial="site4/02", codec="PCMA",
             expect=Expect(mos_lqo_min=4.0, rings="site4/02", call_class="onnet"),
             description="A-law offered and scored (narrowband PESQ, P.862.1)"),
    # wideband talkers' G.722 ceilings (P.862.2) are 3.89 and 3.95: 3.8 judges the path
    CallSpec("1.5", "G.722 wideband", caller="site3/02", dial="site5/02", codec="G722",
             expect=Expect(mos_lqo_min=3.8, rings="site5/02", call_class="onnet"),
             description="G.722 offered and scored (wideband PESQ, P.862.2; 16 kHz "
                         "references, bridge at 16 kHz)"),
    # number portability: another carrier's number ported in to site4/05 (numbers.ported_in)
    CallSpec("1.6", "on-net call to a number ported in (LNP)", caller="site3/05",
             dial="ported_in:site4/05",
             expect=Expect(rings="site4/05", call_class="onnet"),
             description="the switch's LNP table routes the ported-in number to its line, "
                         "on-net, not to the PSTN"),
]
