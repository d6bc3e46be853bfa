"""Beta plan §4 — incoming calls from the PSTN (DID) to the beta lines."""

from harness.model import CallSpec, Expect

PLAN = [
    CallSpec("4.1", "incoming DID from PSTN", caller="pstn:2125550188", dial="site2/03",
             expect=Expect(mos_lqo_min=4.2, rings="site2/03", call_class="incoming",
                           caller_id="2125550188"),
             description="a PSTN subscriber dials a beta line; calling number delivered"),
    CallSpec("4.2", "incoming to a busy line", caller="pstn:9785550177", dial="site2/04",
             callee_behaviour="busy",
             expect=Expect(final_code=486, mos_lqo_min=None, rings="site2/04")),
    CallSpec("4.3", "incoming to an unassigned DID", caller="pstn:2125550188",
             dial="4135550189", expect=Expect(final_code=404, mos_lqo_min=None, rings="none")),
    CallSpec("4.4", "incoming to a number ported in (LNP)", caller="pstn:9785550177",
             dial="ported_in:site4/05",
             expect=Expect(rings="site4/05", call_class="incoming", caller_id="9785550177"),
             description="a PSTN subscriber dials the number ported in to site4/05: the "
                         "switch's LNP table delivers it to that line"),
    CallSpec("4.5", "incoming international", caller="pstn:+442079460958", dial="site4/06",
             expect=Expect(rings="site4/06", call_class="incoming",
                           caller_id="+442079460958"),
             description="a caller abroad dials a beta line: the calling number is "
                         "delivered whole, country code included (in E.164 or 011 form, "
                         "not cut to 10 digits), and the CDR records it so; PESQ both ways"),
    CallSpec("4.6", "incoming toll-free to a site's main number", caller="pstn:2125550188",
             dial="tollfree_in:1",
             expect=Expect(rings="site3/08", call_class="tollfree_in", caller_id="2125550188"),
             description="a PSTN caller dials site 3's toll-free number "
                         "(numbers.toll_free_in): the switch translates it to the site's "
                         "main number, the hunt group's pilot, whose first line answers "
                         "(PESQ both ways); the CDR keeps the toll-free number dialled and "
                         "bills the call to the site (call class tollfree_in)"),
]
