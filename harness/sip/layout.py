"""Where the harness's agents live: which worker process hosts each beta line, and the
UDP ports of every agent, from one free block (pure: no sockets, no pjsua2).

The block, from `base`:

    lines      AGENT_PORTS_PER_LINE RTP ports per beta line, in plan order
    PSTN       PSTN_AGENTS blocks: the gateway's receiving range, then each subscriber
    receivers  RECEIVER_PORTS per line worker: its account that answers calls
    trunks     RECEIVER_PORTS per trunk group with a gateway worker of its own
    SIP        one port per line worker, last, so that no kernel-chosen port can land
               among the RTP ports (a fault rule on those would cut signalling too)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

AGENT_PORTS_PER_LINE = 10
# the simulated PSTN's RTP ports in AGENT_PORTS_PER_LINE blocks: the gateway answers
# up to 4 calls at once from RECEIVER_PORTS (with 10 its ports ran out of slack: pjsua
# logged "RTP socket bind() ... Address already in use" and moved on, several times a
# run), then one block per PSTN subscriber who calls in
PSTN_AGENTS = 7
RECEIVER_PORTS = 40  # RTP ports of each worker's account that answers incoming calls


@dataclass(frozen=True, slots=True)
class AgentLayout:
    lines: int  # beta lines in the plan
    lines_per_worker: int
    base: int = 0  # first port of the block (0: not placed yet)
    trunks: int = 0  # the simulated PSTN's trunk groups with a gateway worker of their own

    @property
    def workers(self) -> int:
        """Line workers: `lines_per_worker` lines each (the last may hold fewer)."""
        per = max(1, self.lines_per_worker)
        return max(1, (self.lines + per - 1) // per)

    @property
    def size(self) -> int:
        """Ports in the block: RTP of lines, PSTN and receivers, then the SIP ports."""
        return AGENT_PORTS_PER_LINE * (self.lines + PSTN_AGENTS) + \
            (RECEIVER_PORTS + 1) * self.workers + RECEIVER_PORTS * self.trunks

    def at(self, base: int) -> AgentLayout:
        return AgentLayout(self.lines, self.lines_per_worker, base, self.trunks)

    def line_rtp(self, index: int) -> int:
        """First RTP port of the plan's `index`-th line's dialling account."""
        return self.base + AGENT_PORTS_PER_LINE * index

    @property
    def pstn_rtp(self) -> int:
        """First RTP port of the simulated PSTN (its gateway's receiving range)."""
        return self.base + AGENT_PORTS_PER_LINE * self.lines

    def receiver_base(self, worker: int) -> int:
        return self.base + AGENT_PORTS_PER_LINE * (self.lines + PSTN_AGENTS) + \
            RECEIVER_PORTS * worker

    def trunk_rtp(self, index: int) -> int:
        """First RTP port of the `index`-th trunk group gateway's receiving range."""
        return self.receiver_base(self.workers + index)

    @property
    def rtp_span(self) -> tuple[int, int]:
        """Every RTP port of the agents (lines, PSTN, receivers), first and last."""
        return self.base, self.base + self.size - self.workers - 1

    def worker_sip_port(self, worker: int) -> int:
        return self.rtp_span[1] + 1 + worker


def deal_lines(names: Sequence[str], workers: int,
               apart: Sequence[tuple[str, str]] = ()) -> list[list[int]]:
    """The lines (indices into `names`) dealt round-robin over `workers`, then each
    pair in `apart` (a forwarding line and its target) moved into different workers by
    swapping the target with the last line of the next worker: one pjsua2 Endpoint
    answers a forwarded INVITE it also sent 482 (a merged request)."""
    groups: list[list[int]] = [[] for _ in range(workers)]
    home: dict[int, int] = {}
    for idx in range(len(names)):
        home[idx] = idx % workers
        groups[idx % workers].append(idx)
    index = {name: i for i, name in enumerate(names)}
    for src_name, dst_name in apart if workers > 1 else ():
        src, dst = index.get(src_name), index.get(dst_name)
        if src is None or dst is None or home[src] != home[dst]:
            continue
        here, there = home[dst], (home[dst] + 1) % workers
        other = groups[there][-1]
        groups[here][groups[here].index(dst)], groups[there][-1] = other, dst
        home[dst], home[other] = there, here
    return groups


def deal_apart(names: Sequence[str], per: int,
               apart: Sequence[tuple[str, str]] = ()) -> list[list[int]]:
    """The lines (indices into `names`) in workers of at most `per` lines, no two lines
    of a pair in `apart` in one worker (one pjsua2 Endpoint answers 482 to the second
    branch of a request that reaches it twice: a forwarded call, a hunt group's next
    line). Greedy: each line to the least-filled worker it may join, a new worker when
    none may. For a host whose lines are one site's, where round-robin over the
    machine's many workers does not spread them."""
    index = {name: i for i, name in enumerate(names)}
    avoid: dict[int, set[int]] = {i: set() for i in range(len(names))}
    for a, b in apart:
        if a in index and b in index:
            avoid[index[a]].add(index[b])
            avoid[index[b]].add(index[a])
    groups: list[list[int]] = [[] for _ in range(max(1, -(-len(names) // max(1, per))))]
    for i in range(len(names)):
        fits = [g for g in groups if len(g) < per and not avoid[i] & set(g)]
        if not fits:
            groups.append([])
            fits = groups[-1:]
        min(fits, key=len).append(i)
    return [g for g in groups if g]
