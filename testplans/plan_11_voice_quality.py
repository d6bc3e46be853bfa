"""Beta plan §11 — voice quality under network impairment.

The same calls over a clean access link and over each impairment profile
(docs/impairments.md): the row's lines run in network namespaces joined to the switch
by veth links, and the profile acts on those links only. Two rows run at once, each on
a pair of links of its own (so alternate rows use another pair of lines), beside the
rows of the other sections.

A loss profile is a fixed, seeded pattern (harness/network/netloss.py): the same row loses
the same RTP packets every run, so its PESQ is a figure, not a draw. Each loss row's
floor is measured, not chosen (docs/impairments.md, "Floors"): over 11 calls of the
row on a fault-free switch, the lowest of (median − margin) over its four scores
(A→B, B→A; agent, wire), rounded down to 0.05; margin 0.35 for the agent's score
(its worst drop below its median in those calls was 0.31), 0.10 for the wire's
(worst 0.044). Clean: as any on-net call. PESQ aligns each utterance, so delay and jitter that
the jitter buffer absorbs must not cost score (their cost shows in the E-model rating
R, G.107, stored beside it).
"""

from harness.model import CallSpec, Expect

PLAN = [
    CallSpec("11.1", "on-net over a clean access link", caller="site3/11", dial="site4/11",
             profile="clean", expect=Expect(mos_lqo_min=4.2, rings="site4/11",
                                            call_class="onnet"),
             description="both lines behind access links, nothing impaired: the baseline "
                         "for the rows below"),
    CallSpec("11.2", "on-net, 1 % packet loss", caller="site3/10", dial="site4/10",
             profile="loss1", expect=Expect(mos_lqo_min=3.45, rings="site4/10",
                                            call_class="onnet"),
             description="1 % loss toward each line, a fixed Bernoulli pattern (RTP; "
                         "RTCP passes); A→B agent median 3.835"),
    CallSpec("11.3", "on-net, 3 % packet loss", caller="site3/11", dial="site4/11",
             profile="loss3", expect=Expect(mos_lqo_min=3.15, rings="site4/11",
                                            call_class="onnet"),
             description="3 % loss toward each line, a fixed Bernoulli pattern; "
                         "B→A agent median 3.523"),
    CallSpec("11.4", "on-net, 5 % packet loss", caller="site3/10", dial="site4/10",
             profile="loss5", expect=Expect(mos_lqo_min=2.75, rings="site4/10",
                                            call_class="onnet"),
             description="5 % loss toward each line, a fixed Bernoulli pattern; "
                         "A→B wire median 2.888"),
    CallSpec("11.5", "on-net, 50 ms ± 20 ms jitter", caller="site3/11", dial="site4/11",
             profile="jitter50", expect=Expect(mos_lqo_min=4.0, rings="site4/11",
                                               call_class="onnet"),
             description="every packet toward each line held 30-70 ms (order kept): "
                         "the jitter buffer absorbs it"),
    CallSpec("11.6", "on-net, 150 ms delay", caller="site3/10", dial="site4/10",
             profile="delay150", expect=Expect(mos_lqo_min=4.0, rings="site4/10",
                                               call_class="onnet"),
             description="150 ms one way, 300 ms RTCP round trip: R falls (G.107 Id), "
                         "PESQ does not"),
    CallSpec("11.7", "local off-net, 1 % packet loss", caller="site3/11", dial="5550190",
             profile="loss1", expect=Expect(mos_lqo_min=3.85, rings="pstn:local",
                                            call_class="local"),
             description="a PSTN call from a line behind an impaired access link: only "
                         "the line's direction crosses the link; B→A agent median 4.220"),
    CallSpec("11.8", "on-net, 3 % loss in bursts", caller="site3/10", dial="site4/10",
             profile="burst3", expect=Expect(mos_lqo_min=1.9, rings="site4/10",
                                             call_class="onnet"),
             description="3 % loss toward each line in bursts of 4 packets on average "
                         "(Gilbert–Elliott p 0.0077, r 0.25, h 0, k 1); A→B agent "
                         "median 2.293"),
]
