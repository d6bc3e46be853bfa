"""Beta plan §6 — calling-number delivery and *67 privacy at the far end."""

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
]
