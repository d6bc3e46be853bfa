"""The agents' port block and the dealing of lines over worker processes
(harness/sip/layout.py): pure, so checked here without a socket."""

from __future__ import annotations

from harness.sip.layout import (
    AGENT_PORTS_PER_LINE,
    PSTN_AGENTS,
    RECEIVER_PORTS,
    AgentLayout,
    deal_lines,
)


def test_the_block_holds_lines_pstn_receivers_then_sip_ports_without_overlap() -> None:
    layout = AgentLayout(lines=84, lines_per_worker=8).at(10000)
    assert layout.workers == 11  # 84 lines, 8 a worker
    lo, hi = layout.rtp_span
    assert lo == 10000 and layout.line_rtp(83) + AGENT_PORTS_PER_LINE - 1 < layout.pstn_rtp
    assert layout.pstn_rtp + AGENT_PORTS_PER_LINE * PSTN_AGENTS == layout.receiver_base(0)
    last_receiver = layout.receiver_base(layout.workers - 1) + RECEIVER_PORTS - 1
    assert last_receiver == hi  # the RTP span ends with the last receiver
    sip = [layout.worker_sip_port(i) for i in range(layout.workers)]
    assert sip == list(range(hi + 1, hi + 1 + layout.workers))
    assert sip[-1] == lo + layout.size - 1  # the block is exactly the size asked for


def test_lines_are_dealt_round_robin_and_a_forwarding_pair_kept_apart() -> None:
    names = [f"site1/{i:02d}" for i in range(1, 9)]
    groups = deal_lines(names, 4)
    assert groups == [[0, 4], [1, 5], [2, 6], [3, 7]]
    # site1/01 (index 0) forwards to site1/05 (index 4): same worker, so they part
    apart = deal_lines(names, 4, [("site1/01", "site1/05")])
    home = {i: w for w, g in enumerate(apart) for i in g}
    assert home[0] != home[4]
    assert sorted(i for g in apart for i in g) == list(range(8))  # nobody lost or doubled
    assert deal_lines(names, 1, [("site1/01", "site1/05")]) == [list(range(8))]
    assert deal_lines(names, 4, [("site1/01", "nowhere")]) == groups  # unknown: untouched


def test_trunk_gateways_take_receiving_ranges_after_the_line_workers() -> None:
    plain = AgentLayout(lines=84, lines_per_worker=4).at(10000)
    layout = AgentLayout(lines=84, lines_per_worker=4, trunks=7).at(10000)
    assert layout.size == plain.size + 7 * RECEIVER_PORTS
    assert layout.trunk_rtp(0) == layout.receiver_base(layout.workers - 1) + RECEIVER_PORTS
    lo, hi = layout.rtp_span
    assert layout.trunk_rtp(6) + RECEIVER_PORTS - 1 == hi  # inside the RTP span, last
    assert layout.worker_sip_port(0) == hi + 1
    assert layout.at(20000).trunks == 7
