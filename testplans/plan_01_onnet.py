"""Beta plan §1 — on-net calls between beta sites (the walking skeleton's first row).

Line names ('site2/01') resolve through the configured number plan, so the table
holds no switch-specific numbers and runs unchanged against any system under test.
"""

from harness.model import CallSpec, Expect

PLAN = [
    CallSpec("1.1", "on-net cross-site", caller="site1/01", dial="site2/01",
             answer_after_s=1.0, talk_s=8.0, hangup_by="caller", codec="PCMU",
             expect=Expect(final_code=200, srd_s_max=3.0, mos_lqo_min=4.2, cdr=True),
             description="site 1 line 1 calls site 2 line 1; rings 1 s, 8 s speech each "
                         "way, caller hangs up"),
]
