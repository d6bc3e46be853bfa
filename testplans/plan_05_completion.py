"""Beta plan §5 — calls that do not complete: each with its SIP code and CDR."""

from harness.model import CallSpec, Expect

PLAN = [
    CallSpec("5.1", "busy (486)", caller="site1/05", dial="site2/07", callee_behaviour="busy",
             expect=Expect(final_code=486, mos_lqo_min=None, rings="site2/07",
                           call_class="onnet")),
    CallSpec("5.2", "no answer (ring timeout)", caller="site1/05", dial="site2/08",
             callee_behaviour="no_answer",
             expect=Expect(final_code=408, mos_lqo_min=None, rings="site2/08",
                           call_class="onnet"),
             description="the switch gives up ringing (sut.no_answer_timeout_s)"),
    CallSpec("5.3", "caller cancels (487)", caller="site1/05", dial="site2/09",
             callee_behaviour="no_answer", cancel_after_s=2.0,
             expect=Expect(final_code=487, mos_lqo_min=None, rings="site2/09",
                           call_class="onnet")),
    CallSpec("5.4", "unassigned on-net number (404)", caller="site1/06", dial="4135550189",
             expect=Expect(final_code=404, mos_lqo_min=None, rings="none", call_class="onnet")),
    CallSpec("5.5", "unassigned PSTN number (SIT intercept, 404)", caller="site1/06",
             dial="5550193",
             expect=Expect(final_code=404, mos_lqo_min=None, rings="pstn:local",
                           call_class="local", early_media="sit"),
             description="the PSTN intercepts: 183 with SIT + announcement, then 404"),
    CallSpec("5.6", "incomplete number (484)", caller="site1/06", dial="55501",
             expect=Expect(final_code=484, mos_lqo_min=None, rings="none",
                           call_class="incomplete")),
    CallSpec("5.7", "PSTN busy (486)", caller="site1/07", dial="5550191",
             expect=Expect(final_code=486, mos_lqo_min=None, rings="pstn:local",
                           call_class="local")),
]
