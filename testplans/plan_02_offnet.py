"""Beta plan §2 — outgoing calls to the PSTN, one row per call class.

The simulated PSTN answers on the trunk group the switch routes each class to; the
row checks the trunk (routing), the class the switch recorded, the calling number
delivered, and audio both ways. Rows 2.8-2.10: a line whose class of service bars
premium rate (toll restriction) is refused 1-900 and 976 and still reaches LD.
Row 2.11: a call dialled around the line's own long-distance carrier (101XXXX) is
carried by the chosen carrier's trunk group and billed to it. Row 2.12: a number
ported out of the carrier's block goes to the PSTN (number portability).
"""

from harness.model import CallSpec, Expect

PLAN = [
    CallSpec("2.1", "local off-net 7-digit", caller="site1/02", dial="5550190",
             expect=Expect(mos_lqo_min=4.2, rings="pstn:local", call_class="local",
                           caller_id="4135550101"),
             description="7-digit local call to a PSTN subscriber, PESQ both ways"),
    CallSpec("2.2", "local off-net 10-digit", caller="site1/03", dial="4135550190", talk_s=3.0,
             expect=Expect(rings="pstn:local", call_class="local")),
    CallSpec("2.3", "long distance intraLATA", caller="site2/04", dial="19785550123",
             talk_s=3.0, expect=Expect(srd_s_max=5.0, rings="pstn:ld",
                                       call_class="ld_intralata", caller_id="4135550115",
                                       early_media="ringback")),
    CallSpec("2.4", "long distance interLATA", caller="site2/05", dial="12125550123",
             talk_s=3.0, expect=Expect(srd_s_max=5.0, rings="pstn:ld",
                                       call_class="ld_interlata")),
    CallSpec("2.5", "international", caller="site3/01", dial="011442079460123",
             expect=Expect(mos_lqo_min=4.2, srd_s_max=8.0, rings="pstn:intl",
                           call_class="international", caller_id="4135550124",
                           early_media="ringback"),
             description="011 + country code, PESQ both ways"),
    CallSpec("2.6", "toll-free", caller="site3/02", dial="18005550199", talk_s=3.0,
             expect=Expect(rings="pstn:tollfree", call_class="tollfree")),
    CallSpec("2.7", "E.164 dialling", caller="site4/01", dial="+12125550123", talk_s=3.0,
             expect=Expect(srd_s_max=5.0, rings="pstn:ld",
                           call_class="ld_interlata")),
    # toll restriction: site7/08's class of service bars premium rate (numbers.toll_restricted)
    CallSpec("2.8", "premium 1-900 from a toll-restricted line", caller="site7/08",
             dial="19005550100",
             expect=Expect(final_code=403, mos_lqo_min=None, rings="none",
                           call_class="ld_interlata"),
             description="barred by the line's class of service: refused at once, no trunk "
                         "seized, nothing billed"),
    CallSpec("2.9", "local premium 976 from a toll-restricted line", caller="site7/08",
             dial="9765555",
             expect=Expect(final_code=403, mos_lqo_min=None, rings="none", call_class="local"),
             description="a 976 number in the home NPA is premium rate too"),
    CallSpec("2.10", "long distance from the toll-restricted line", caller="site7/08",
             dial="12125550123", talk_s=3.0,
             expect=Expect(srd_s_max=5.0, rings="pstn:ld", call_class="ld_interlata"),
             description="the restriction bars premium rate only: an ordinary LD call "
                         "from the same line goes through"),
    # carrier selection: the second LD carrier's access code (numbers.dial_around_cic)
    CallSpec("2.11", "dial-around 1010XXX long distance", caller="site1/09",
             dial="cac:12125550123",
             expect=Expect(mos_lqo_min=4.2, srd_s_max=5.0, rings="pstn:ld2",
                           call_class="ld_interlata", carrier="dialled"),
             description="101 + the second carrier's CIC + 1 + NPA-NXX-XXXX: carried by that "
                         "carrier's trunk group, billed to it in the CDR, PESQ both ways"),
    # number portability: the switch's LNP table (numbers.ported_out)
    CallSpec("2.12", "local call to a number ported out (LNP)", caller="site3/03",
             dial="ported_out:1",
             expect=Expect(rings="pstn:local", call_class="local"),
             description="a number of the carrier's own block, ported to another carrier: "
                         "routed to the PSTN, not looked up on-net"),
]
