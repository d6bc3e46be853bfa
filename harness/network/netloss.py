"""Seeded packet-loss patterns for the harness's NFQUEUE stage (harness.network.netdelay).

A loss profile does not draw at random while the call runs: it names a loss model and
the stage drops exactly the packets a fixed pattern says, so the same call under the
same profile loses the same packets every run.

* **Which packet.** An RTP packet's position in its flow: its sequence number minus
  the flow's first one seen (mod 2^16, RFC 3550 §5.1), so the pattern does not depend
  on the random initial sequence number or on when the packet arrived. A flow is one
  destination port on one lane (the access link toward one line).
* **Which pattern.** `Pattern(model, seed)`: a Python `random.Random` seeded with the
  string `<profile>/<lane>/<n>#<k>` (n = the flow's order on its lane, 0 first) —
  string seeds are hashed with SHA-512, the same on every run and machine — drawn
  packet by packet in offset order. The two directions of a call have different
  lanes, hence different (but fixed) patterns. k is the first draw number (0, 1, ...)
  whose pattern loses the model's mean rate ±10 % (relative) over the first
  `WINDOW` packets, a plan call's length: a short call under a random pattern could
  otherwise realise 3.4 % under `loss5` or 1.4 % under `burst3`, and the profile's
  name would not say what the row tested (`choose_seed`).
* **Models** (RFC 3611 §4.7.2 / ITU-T G.1050 terms): Bernoulli, every packet lost
  with probability p; Gilbert–Elliott, a two-state Markov chain, good → bad with
  probability p and bad → good with r per packet, a packet delivered with
  probability k in the good state and h in the bad one (so lost with 1 − k, 1 − h).
  Mean loss = (1 − k)·r/(p + r) + (1 − h)·p/(p + r).
* **RTCP is left alone** (payload types 200–204, RFC 5761 §4): only media is
  impaired, so the RTCP round trip and reports stay measurable; they carry what the
  receiver saw. Anything not RTP version 2 passes too.

The stage reports per flow what it did (`FlowLoss`): packets seen, dropped, realised
loss, and loss bursts with RFC 3611 §4.7.2's burst definition at Gmin = 1 (a burst is
a run of lost packets with none received between them): their number, mean and
maximum length.

Standard library only: the helper process imports it (python -I -S).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

WINDOW = 520  # packets: 10.4 s at 20 ms, within every plan 11 call (about 540 packets)
TOLERANCE = 0.10  # relative: the window's realised loss within mean ±10 %
SEQ_MOD = 1 << 16  # RTP sequence numbers wrap here; a pattern repeats after it
BLOCK = 1024  # pattern drawn in blocks of this many offsets, as the flow needs them
RTCP_TYPES = range(200, 205)  # SR, RR, SDES, BYE, APP (RFC 3550 §12.1)


@dataclass(frozen=True, slots=True)
class LossModel:
    """Bernoulli (`p`) or Gilbert–Elliott (`p`, `r`, `h`, `k`; RFC 3611 §4.7.2)."""

    kind: Literal["bernoulli", "gilbert_elliott"]
    p: float  # Bernoulli: loss probability; G-E: P(good -> bad) per packet
    r: float = 0.0  # G-E: P(bad -> good) per packet
    h: float = 0.0  # G-E: P(delivered | bad)
    k: float = 1.0  # G-E: P(delivered | good)

    def __post_init__(self) -> None:
        for name in ("p", "r", "h", "k"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"loss model {self.kind}: {name} = {v!r} outside 0..1")
        if self.kind == "gilbert_elliott" and self.p + self.r == 0:
            raise ValueError("loss model gilbert_elliott: p + r must be > 0")

    @property
    def mean_loss(self) -> float:
        """The long-run loss fraction."""
        if self.kind == "bernoulli":
            return self.p
        bad = self.p / (self.p + self.r)
        return (1 - self.k) * (1 - bad) + (1 - self.h) * bad

    def arg(self) -> str:
        """Its command-line form, `bernoulli:p` or `gilbert_elliott:p,r,h,k`."""
        if self.kind == "bernoulli":
            return f"bernoulli:{self.p!r}"
        return f"gilbert_elliott:{self.p!r},{self.r!r},{self.h!r},{self.k!r}"

    @classmethod
    def parse(cls, text: str) -> LossModel:
        kind, _, params = text.partition(":")
        try:
            values = [float(x) for x in params.split(",")]
        except ValueError:
            raise ValueError(f"loss model {text!r}: parameters must be numbers") from None
        if kind == "bernoulli" and len(values) == 1:
            return cls("bernoulli", values[0])
        if kind == "gilbert_elliott" and len(values) == 4:
            return cls("gilbert_elliott", *values)
        raise ValueError(f"loss model {text!r}: expected bernoulli:p or "
                         "gilbert_elliott:p,r,h,k")


class Pattern:
    """One flow's fixed drop pattern, drawn in offset order as far as it is needed."""

    def __init__(self, model: LossModel, seed: str) -> None:
        self.model, self.seed = model, seed
        self.rng = random.Random(seed)
        self.bad = False  # Gilbert–Elliott: starts in the good state
        self.bits = bytearray()

    def _draw(self, n: int) -> None:
        m, rnd, out = self.model, self.rng.random, self.bits
        for _ in range(n):
            if m.kind == "bernoulli":
                out.append(rnd() < m.p)
                continue
            out.append(rnd() >= (m.h if self.bad else m.k))
            self.bad = rnd() >= m.r if self.bad else rnd() < m.p

    def dropped(self, offset: int) -> bool:
        """Whether the packet at `offset` (0 = the flow's first) is dropped."""
        offset %= SEQ_MOD
        while len(self.bits) <= offset:
            self._draw(BLOCK)
        return bool(self.bits[offset])

    def offsets(self, n: int) -> list[int]:
        """The dropped offsets among the first `n`."""
        return [i for i in range(n) if self.dropped(i)]


def choose_seed(model: LossModel, base: str, window: int = WINDOW,
                tolerance: float = TOLERANCE, tries: int = 10000) -> str:
    """`base#k` for the first k whose pattern realises the model's mean loss within
    ±`tolerance` (relative) over the first `window` packets; deterministic."""
    want = model.mean_loss * window
    for k in range(tries):
        seed = f"{base}#{k}"
        if abs(len(Pattern(model, seed).offsets(window)) - want) <= tolerance * want:
            return seed
    raise ValueError(f"no seed {base}#0..{tries - 1} realises {100 * model.mean_loss:g} % "
                     f"±{100 * tolerance:g} % over {window} packets")


def flow_seed(profile: str, lane: str, index: int, model: LossModel) -> str:
    """The seed of the `index`th flow on `lane` under `profile`."""
    return choose_seed(model, f"{profile}/{lane}/{index}")


def bursts(lost: Sequence[bool]) -> list[int]:
    """Lengths of the loss bursts, RFC 3611 §4.7.2 with Gmin = 1: runs of lost
    packets with no packet received between them."""
    runs, run = [], 0
    for x in lost:
        if x:
            run += 1
        elif run:
            runs.append(run)
            run = 0
    if run:
        runs.append(run)
    return runs


@dataclass(frozen=True, slots=True)
class FlowLoss:
    """What the stage did to one RTP flow."""

    lane: str  # a direction ("a_to_b": toward the called line) or "lo"
    dport: int
    seed: str
    first_seq: int
    last_offset: int  # the highest offset seen (-1: none)
    packets: int  # RTP packets seen
    dropped: int
    loss_pct: float
    bursts: int
    burst_mean: float  # packets
    burst_max: int
    dropped_offsets: tuple[int, ...]

    @classmethod
    def parse(cls, doc: dict[str, object]) -> FlowLoss:
        offsets = doc.get("dropped_offsets", [])
        return cls(**{**doc, "dropped_offsets": tuple(  # type: ignore[arg-type]
            int(x) for x in offsets) if isinstance(offsets, list) else ()})


@dataclass(frozen=True, slots=True)
class LossReport:
    """The loss the stage applied over one block (one call), flow by flow."""

    profile: str
    model: str  # LossModel.arg()
    mean_loss_pct: float  # the model's long-run figure
    flows: tuple[FlowLoss, ...]
    rtcp_passed: int
    other_passed: int  # not RTP version 2: passed untouched

    def lane(self, name: str) -> FlowLoss | None:
        """The first RTP flow on a lane (a call's one stream in that direction)."""
        return next((f for f in self.flows if f.lane == name), None)

    def describe(self) -> str:
        per = "; ".join(f"{f.lane}:{f.dport} {f.dropped}/{f.packets} ({f.loss_pct:.2f} %, "
                        f"{f.bursts} bursts, mean {f.burst_mean:.1f} max {f.burst_max})"
                        for f in self.flows)
        return f"loss {self.profile} ({self.model}): {per or 'no RTP seen'}"

    @classmethod
    def parse(cls, doc: dict[str, object]) -> LossReport:
        flows = doc.get("flows", [])
        return cls(**{**doc, "flows": tuple(  # type: ignore[arg-type]
            FlowLoss.parse(f) for f in flows) if isinstance(flows, list) else ()})


@dataclass(slots=True)
class _Flow:
    lane: str
    dport: int
    pattern: Pattern
    first_seq: int
    seen: set[int] = field(default_factory=set)
    dropped: set[int] = field(default_factory=set)


class LossStage:
    """The drop decision, packet by packet: RTP toward a flow is dropped when its
    offset in the flow is in the flow's pattern; RTCP and anything else passes."""

    def __init__(self, profile: str, model: LossModel, lanes: dict[int, str]) -> None:
        self.profile, self.model = profile, model
        self.lanes = lanes  # outgoing interface index -> lane name
        self.flows: dict[tuple[str, int], _Flow] = {}
        self.rtcp = self.other = 0

    def lane_of(self, outdev: int) -> str:
        return self.lanes.get(outdev, f"if{outdev}")

    def decide(self, outdev: int, dport: int, udp_payload: bytes) -> bool:
        """True: drop this packet."""
        if len(udp_payload) < 12 or udp_payload[0] >> 6 != 2:
            self.other += 1
            return False
        if udp_payload[1] in RTCP_TYPES:
            self.rtcp += 1
            return False
        seq = int.from_bytes(udp_payload[2:4], "big")
        lane = self.lane_of(outdev)
        flow = self.flows.get((lane, dport))
        if flow is None:
            index = sum(1 for f in self.flows.values() if f.lane == lane)
            seed = flow_seed(self.profile, lane, index, self.model)
            flow = _Flow(lane, dport, Pattern(self.model, seed), seq)
            self.flows[(lane, dport)] = flow
        offset = (seq - flow.first_seq) % SEQ_MOD
        flow.seen.add(offset)
        if flow.pattern.dropped(offset):
            flow.dropped.add(offset)
            return True
        return False

    def report(self) -> LossReport:
        return LossReport(self.profile, self.model.arg(), round(100 * self.model.mean_loss, 3),
                          tuple(_summary(f) for f in self.flows.values()), self.rtcp,
                          self.other)


def _summary(f: _Flow) -> FlowLoss:
    """Over the packets the stage saw, in offset order (a packet it never saw is not
    counted: the stage reports its own drops only)."""
    n = len(f.seen)
    runs = bursts([o in f.dropped for o in sorted(f.seen)])
    return FlowLoss(f.lane, f.dport, f.pattern.seed, f.first_seq, max(f.seen, default=-1), n,
                    len(f.dropped),
                    round(100 * len(f.dropped) / n, 3) if n else 0.0, len(runs),
                    round(sum(runs) / len(runs), 3) if runs else 0.0, max(runs, default=0),
                    tuple(sorted(f.dropped)))
