"""Beta plan §8 — integrated performance: the busy hour.

Every beta line in a call at the same moment (84 lines: 42 calls of mixed types,
speech both ways, recorded and scored), judged on RFC 6076 SER and SRD and the
median MOS-LQO of each source. See harness/run/busyhour.py.
"""

from harness.model import LoadSpec

PLAN = [
    LoadSpec("8.1", "busy hour: every line in a call", calls=42, ser_pct_min=100.0,
             srd_s_p95_max=3.0, mos_lqo_median_min=4.2,
             description="42 simultaneous on-net calls (cross-site, branch office, µ-law "
                         "and A-law) with PESQ both ways, CDRs and the harness's own cost"),
]
