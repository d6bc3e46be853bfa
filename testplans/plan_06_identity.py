"""Beta plan §6 — calling-number delivery, *67 privacy at the far end, anonymous call
rejection (RFC 5079) on a line provisioned with it (numbers.anonymous_rejection), and
call return (*69, numbers.call_return), refused to a caller that withheld its number."""

from harness.model import CallSpec, Expect

PLAN = [
    CallSpec("6.1", "calling number on-net", caller="site4/03", dial="site5/03", talk_s=3.0,
             expect=Expect(rings="site5/03", caller_id="4135550138")),
    CallSpec("6.2", "calling number to PSTN", caller="site4/03", dial="12125550123",
             talk_s=3.0, expect=Expect(srd_s_max=5.0, rings="pstn:ld",
                                       caller_id="4135550138")),
    CallSpec("6.3", "*67 privacy on-net", caller="site4/04", dial="*67site5/04", talk_s=3.0,
             expect=Expect(rings="site5/04", caller_id="anonymous")),
    CallSpec("6.4", "*67 privacy to PSTN", caller="site4/04", dial="*675550190", talk_s=3.0,
             expect=Expect(rings="pstn:local", call_class="local",
                           caller_id="anonymous")),
    CallSpec("6.5", "anonymous call rejected (433)", caller="site4/12", dial="*67site2/12",
             expect=Expect(final_code=433, mos_lqo_min=None, rings="none", call_class="onnet"),
             description="*67 to a line with anonymous call rejection: the switch refuses "
                         "it 433 Anonymity Disallowed (RFC 5079), the line never rings"),
    CallSpec("6.6", "identified caller to a rejecting line", caller="site4/12",
             dial="site2/12", talk_s=3.0,
             expect=Expect(rings="site2/12", caller_id="4135550147"),
             description="the same line takes a call that shows its number"),
    CallSpec("6.7", "call return (*69)", caller="site4/07", dial="*69",
             calls_before=("site7/05", "pstn:9785550177"), talk_s=3.0,
             expect=Expect(rings="pstn:ld", call_class="ld_intralata",
                           caller_id="4135550142"),
             description="site7/05 rings site4/07, then a PSTN subscriber (978-555-0177) "
                         "does, each unanswered; site4/07 dials *69 and the switch calls "
                         "back the last of them, on the long-distance trunk (PESQ both "
                         "ways), billed as if dialled (class ld_intralata, *69 dialled)"),
    CallSpec("6.8", "call return to a withheld caller (*69)", caller="site4/09", dial="*69",
             calls_before=("site7/08",), withheld_before=True,
             expect=Expect(final_code=403, mos_lqo_min=None, rings="none"),
             description="site7/08 rings site4/09 withholding its number (*67), "
                         "unanswered; site4/09 dials *69 and the switch refuses it (403): "
                         "the withheld caller is neither called nor disclosed; the refused "
                         "attempt is recorded, not charged"),
]
