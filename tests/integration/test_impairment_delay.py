"""Delay and jitter on the media path (the harness's NFQUEUE delay stage), each shown
in figures measured elsewhere: pjsua's RTCP round trip, the G.107 rating, the RTP on
the wire (RFC 3550 jitter, the per-packet transit through the switch) and PESQ.

The stage delays packets toward the agents' RTP ports, so both receive directions of
a call are delayed once each: the RTCP round trip grows by twice the delay."""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import harness.run.runner
from harness.capture.pcap import read_udp
from harness.capture.rtp import parse_rtp
from harness.model import CallResult, CallSpec, Expect
from harness.network.impair import Applied
from harness.run.session import HarnessSession
from harness.sip.farm import AgentFarm
from harness.sip.scenario import CallOrder, CallOutcome

pytestmark = [pytest.mark.integration, pytest.mark.fault]


@dataclass
class Seen:
    """What the runner did inside one call: the impairment it applied (with the delay
    stage's own timing) and the agents' outcome (pjsua's RTCP and jitter-buffer figures)."""

    applied: list[Applied] = field(default_factory=list)
    outcomes: list[CallOutcome] = field(default_factory=list)


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> Seen:
    s = Seen()
    real_applied: Callable[..., Any] = harness.run.runner.applied
    real_place: Callable[..., CallOutcome] = AgentFarm.place

    @contextmanager
    def applied(*args: Any, **kw: Any) -> Iterator[Applied]:
        with real_applied(*args, **kw) as a:
            s.applied.append(a)
            yield a

    def place(farm: AgentFarm, order: CallOrder) -> CallOutcome:
        out = real_place(farm, order)
        s.outcomes.append(out)
        return out

    monkeypatch.setattr(harness.run.runner, "applied", applied)
    monkeypatch.setattr(AgentFarm, "place", place)
    return s


@dataclass
class Call:
    result: CallResult
    streams: dict[str, Any]
    outcome: CallOutcome
    applied: Applied
    transit_ms: dict[str, list[float]]  # per direction: switch-in -> toward-receiver


def _transit_ms(pcap: Path, sender: str, receiver: str) -> list[float]:
    """Per RTP packet, capture time toward the receiver minus capture time leaving the
    sender (same SSRC and sequence number: the switch relays it unchanged)."""
    out_t: dict[tuple[int, int], float] = {}
    transit = []
    packets, _ = read_udp(pcap)
    for p in packets:
        r = parse_rtp(p)
        if r is None:
            continue
        if p.src_addr == sender:
            out_t.setdefault((r.ssrc, r.seq), p.ts)
        elif p.dst_addr == receiver and (r.ssrc, r.seq) in out_t:
            transit.append(1000 * (p.ts - out_t[(r.ssrc, r.seq)]))
    return transit


def _call(live: HarnessSession, seen: Seen, profile: str) -> Call:
    r = live.run_call(CallSpec("6.x", f"on-net under {profile}", "site1/03", "site2/05",
                               profile=profile, expect=Expect(mos_lqo_min=1.0, audio=False)))
    assert r.final_code == 200, r.error
    arts = dict(r.artifacts)
    streams = json.loads((live.run_dir / arts["streams"]).read_text())
    out = seen.outcomes[-1]
    assert out.b is not None and out.a.stats is not None and out.b.stats is not None
    pcap = live.run_dir / arts["call"]
    a, b = out.a.stats.local_rtp, out.b.stats.local_rtp
    transit = {"a_to_b": _transit_ms(pcap, a, b), "b_to_a": _transit_ms(pcap, b, a)}
    call = Call(r, streams, out, seen.applied[-1], transit)
    _print(profile, call)
    return call


def _print(profile: str, c: Call) -> None:
    legs = {"a_to_b": c.outcome.b, "b_to_a": c.outcome.a}
    for d, leg in legs.items():
        st, w = leg.stats if leg else None, c.streams.get(f"wire_{d}") or {}
        t = sorted(c.transit_ms[d]) or [float("nan")]
        q = c.result.score(d, "wire")
        print(f"\n{profile} {d}: wire jitter {w.get('jitter_ms')} ms loss {w.get('loss_pct')} "
              f"% R {w.get('r_factor')} emodel delay {w.get('emodel_delay_ms')} ms; transit "
              f"min/med/max {t[0]:.1f}/{t[len(t) // 2]:.1f}/{t[-1]:.1f} ms (n={len(t)}); "
              f"PESQ wire {q.mos_lqo if q else None} valid {q.valid if q else None}")
        if st:
            print(f"  pjsua rx: rtt {st.rtt_mean_ms:.1f} ms jitter {st.rx_jitter_mean_ms:.1f}/"
                  f"{st.rx_jitter_max_ms:.1f} ms, jb delay {st.jb_avg_delay_ms} lost "
                  f"{st.jb_lost} discard {st.jb_discard} empty {st.jb_empty} rx {st.rx_packets}")
    if c.applied.delay:
        print("  " + c.applied.delay.describe())
    print(f"  guard: {c.result.stall}")


def _stage_ok(c: Call, delay_ms: float) -> None:
    """The stage's own timing: held what was asked, unless the host stalled it (then
    the report must say so)."""
    rep = c.applied.delay
    assert rep is not None and rep.packets > 500  # 2 directions x 50 pps x 11+ s
    assert rep.flows >= 2
    if rep.valid:
        assert rep.held_mean_ms == pytest.approx(delay_ms, abs=5.0)
        assert rep.error_p95_ms < 10.0
    else:
        assert rep.reader_stalls > 0 or rep.bypassed > 0, rep.problems


def test_delay150_shows_in_rtt_transit_and_r(live: HarnessSession, seen: Seen) -> None:
    clean = _call(live, seen, "clean")
    slow = _call(live, seen, "delay150")
    assert clean.applied.delay is None
    _stage_ok(slow, 150.0)
    assert json.loads((live.run_dir / "results.json").read_text())["calls"][-1]["profile"] \
        == "delay150"
    for d, leg in (("a_to_b", "b"), ("b_to_a", "a")):
        # the capture tap on lo sees a packet when the stage releases it: the transit
        # through the switch on the wire is the delay
        t0, t1 = sorted(clean.transit_ms[d]), sorted(slow.transit_ms[d])
        assert len(t1) > 400
        assert t0[len(t0) // 2] < 20.0
        assert 145.0 <= t1[len(t1) // 2] <= 175.0
        # pjsua's RTCP round trip: both receive directions delayed once
        s0 = getattr(clean.outcome, leg).stats
        s1 = getattr(slow.outcome, leg).stats
        assert s1.rtt_mean_ms - s0.rtt_mean_ms == pytest.approx(300.0, abs=60.0)
        w0, w1 = clean.streams[f"wire_{d}"], slow.streams[f"wire_{d}"]
        assert w1["emodel_delay_ms"] - w0["emodel_delay_ms"] == pytest.approx(150.0, abs=30)
        assert w1["r_factor"] < w0["r_factor"] - 2.0  # G.107 Id beyond the 100 ms knee
        assert w1["loss_pct"] == 0.0 and w1["jitter_ms"] < 5.0


def test_jitter50_shows_on_the_wire_and_in_pjsua(live: HarnessSession, seen: Seen) -> None:
    clean = _call(live, seen, "clean")
    jit = _call(live, seen, "jitter50")
    _stage_ok(jit, 50.0)
    rep = jit.applied.delay
    assert rep is not None and 30.0 <= rep.intended_min_ms < 33.0
    assert 67.0 < rep.intended_max_ms <= 70.0
    for d, leg in (("a_to_b", "b"), ("b_to_a", "a")):
        t = sorted(jit.transit_ms[d])
        assert len(t) > 400
        assert 28.0 <= t[len(t) // 50] and t[-len(t) // 50] <= 80.0  # 2nd..98th pct
        assert t[-len(t) // 10] - t[len(t) // 10] > 20.0  # spread, not a constant delay
        # RFC 3550 jitter of uniform ±20 ms holds: about E|D| = 40/3 ms
        assert clean.streams[f"wire_{d}"]["jitter_ms"] < 3.0
        assert 6.0 <= jit.streams[f"wire_{d}"]["jitter_ms"] <= 25.0
        assert getattr(jit.outcome, leg).stats.rx_jitter_mean_ms >= 6.0
        q = jit.result.score(d, "wire")
        assert q is not None and (q.mos_lqo is not None or not q.valid)
