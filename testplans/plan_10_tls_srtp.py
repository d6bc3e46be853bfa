"""Beta plan §10 — secure calls: SIP over TLS 1.2 with the switch's certificate
verified, SRTP media (RTP/SAVP, SDES keys) on both legs (docs/tls-srtp.md).

A TLS row needs a switch with a TLS listener (`sut.tls`, on for the embedded switch);
without one it is
skipped, saying so. Voice quality is scored from the agents' recordings: SRTP on the
wire cannot be decoded by the capture (noted, not a defect)."""

from harness.model import CallSpec, Expect

PLAN = [
    CallSpec("10.1", "TLS 1.2 + SRTP on-net call", caller="site1/03", dial="site2/03",
             transport="tls", srtp=True,
             expect=Expect(final_code=200, srd_s_max=3.0, mos_lqo_min=4.2,
                           rings="site2/03", call_class="onnet"),
             description="both phones on TLS (certificate verified, TLS 1.2), SRTP both "
                         "legs; PESQ both ways from the recordings"),
]
