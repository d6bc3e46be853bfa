"""Beta plan §3 — directory assistance, operator services, N11 and emergency 911.

911 is dialled only because the route ends at the simulated PSAP (the dial guard
refuses it otherwise); the PSAP must receive the calling number and the location.
"""

from harness.model import CallSpec, Expect

SERVICE = dict(talk_s=3.0)

PLAN = [
    CallSpec("3.1", "directory assistance 411", caller="site1/04", dial="411", **SERVICE,
             expect=Expect(rings="pstn:operator", call_class="directory")),
    CallSpec("3.2", "directory assistance 1-NPA-555-1212", caller="site1/08",
             dial="12125551212", **SERVICE,
             expect=Expect(rings="pstn:operator", call_class="directory")),
    CallSpec("3.3", "operator 0", caller="site2/06", dial="0", **SERVICE,
             expect=Expect(rings="pstn:operator", call_class="operator")),
    CallSpec("3.4", "operator assisted 0+", caller="site2/10", dial="04135550190", **SERVICE,
             expect=Expect(rings="pstn:operator", call_class="operator")),
    CallSpec("3.5", "long-distance operator 00", caller="site2/11", dial="00", **SERVICE,
             expect=Expect(rings="pstn:operator", call_class="operator")),
    CallSpec("3.6", "N11 311", caller="site5/01", dial="311", **SERVICE,
             expect=Expect(rings="pstn:n11", call_class="n11")),
    CallSpec("3.7", "N11 511", caller="site5/05", dial="511", **SERVICE,
             expect=Expect(rings="pstn:n11", call_class="n11")),
    CallSpec("3.8", "N11 611", caller="site5/06", dial="611", **SERVICE,
             expect=Expect(rings="pstn:n11", call_class="n11")),
    CallSpec("3.9", "N11 711", caller="site5/12", dial="711", **SERVICE,
             expect=Expect(rings="pstn:n11", call_class="n11")),
    CallSpec("3.10", "emergency 911", caller="site3/02", dial="911",
             expect=Expect(mos_lqo_min=4.2, rings="pstn:psap", call_class="emergency",
                           caller_id="4135550125", location=True),
             description="to the simulated PSAP: calling number, location, PESQ both ways"),
]
