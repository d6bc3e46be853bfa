"""Voice quality under each impairment profile: PESQ per direction (agent and wire),
G.107 R, loss and jitter from the wire, pjsua's RTCP round trip, the delay stage's
own timing error, and the host's stall figure beside each call. Then, per profile,
the spread of PESQ over the calls (min/median/max per direction and source: what
plan 11's floors are derived from, docs/impairments.md) and whether every call lost
the same packets (the seeded loss patterns, harness/network/netloss.py).

The calls are plan 11's (testplans/plan_11_voice_quality.py): its lines, its
expectations, the profile swapped in.

    .venv/bin/python bench/impairments.py [calls-per-profile] [profile ...]
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import harness.run.runner
from harness.config import load_config
from harness.network.impair import PROFILES, Applied
from harness.run.session import HarnessSession
from harness.sip.farm import AgentFarm
from harness.sip.scenario import CallOrder, CallOutcome
from testplans.plan_11_voice_quality import PLAN

NAN = float("nan")


class Tap:
    """The last call's applied impairment (with the delay stage's report) and the agents'
    outcome (pjsua's RTCP figures): read beside the runner, which does not keep them."""

    def __init__(self) -> None:
        self.applied: Applied | None = None
        self.outcome: CallOutcome | None = None
        real_applied: Callable[..., Any] = harness.run.runner.applied
        real_place: Callable[..., CallOutcome] = AgentFarm.place

        @contextmanager
        def applied(*args: Any, **kw: Any) -> Iterator[Applied]:
            with real_applied(*args, **kw) as a:
                self.applied = a
                yield a

        def place(farm: AgentFarm, order: CallOrder) -> CallOutcome:
            self.outcome = real_place(farm, order)
            return self.outcome

        harness.run.runner.applied = applied  # type: ignore[assignment]
        AgentFarm.place = place  # type: ignore[method-assign]


ROW = PLAN[0]  # 11.1: on-net over the access links, the row every profile row copies


def one_call(s: HarnessSession, tap: Tap, prof: str) -> dict[str, Any]:
    r = s.run_call(replace(ROW, plan_id="b.x", profile=prof,
                           expect=replace(ROW.expect, mos_lqo_min=1.0)))
    st = json.loads((s.run_dir / dict(r.artifacts)["streams"]).read_text())
    row: dict[str, Any] = {"stall_ms": 1000 * (r.stall.max_stall_s if r.stall else 0)}
    loss = tap.applied.loss if tap.applied else None
    for d in ("a_to_b", "b_to_a"):
        f = loss.lane(d) if loss else None
        row[f"pat_{d}"] = (f"{f.loss_pct:.2f} % {f.bursts} bursts max {f.burst_max}"
                           if f else "")
        row[f"drops_{d}"] = f.dropped_offsets if f else ()
    rep = tap.applied.delay if tap.applied else None
    row["err_mean"] = rep.error_mean_ms if rep else NAN
    row["err_p95"] = rep.error_p95_ms if rep else NAN
    row["late"] = rep.late_releases if rep else 0
    row["stage_stall"] = rep.reader_max_stall_ms if rep else 0
    row["held"] = rep.held_mean_ms if rep else 0.0
    out = tap.outcome
    for d, leg in (("a_to_b", out.b if out else None), ("b_to_a", out.a if out else None)):
        w = st.get(f"wire_{d}") or {}
        row[f"loss_{d}"] = w.get("loss_pct", NAN)
        row[f"jit_{d}"] = w.get("jitter_ms", NAN)
        row[f"r_{d}"] = w.get("r_factor", NAN)
        row[f"rtt_{d}"] = leg.stats.rtt_mean_ms if leg and leg.stats else NAN
        row[f"jbempty_{d}"] = leg.stats.jb_empty if leg and leg.stats else NAN
        for src in ("agent", "wire"):
            q = r.score(d, src)
            ok = q is not None and q.valid and q.mos_lqo is not None
            row[f"{src}_{d}"] = q.mos_lqo if ok and q and q.mos_lqo is not None else NAN
    return row


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    profiles = sys.argv[2:] or list(PROFILES)
    cfg = load_config()
    cfg = replace(cfg, guard=replace(cfg.guard, retries_on_stall=1))
    rows: dict[str, list[dict[str, Any]]] = {p: [] for p in profiles}
    tap = Tap()
    with HarnessSession(cfg, Path("reports")) as s:
        for _ in range(n):
            for prof in profiles:
                rows[prof].append(one_call(s, tap, prof))
        print(f"run: {s.run_dir}")
    med = statistics.median
    print(f"{'profile':8} {'calls':>5} {'loss% ab/ba':>13} {'jit ms ab/ba':>13} "
          f"{'RTT ms':>6} {'hold ms':>7} {'R ab/ba':>11} {'PESQ ab agent/wire':>19} "
          f"{'PESQ ba agent/wire':>19} {'JB empty':>9} {'stage err mean/p95':>18} "
          f"{'late':>4} {'stall ms host/stage':>19}")
    for prof, rs in rows.items():
        def m(key: str, rs: list[dict[str, Any]] = rs) -> float:
            vals = [r[key] for r in rs if r[key] == r[key]]  # NaN: invalid, left out
            return med(vals) if vals else NAN
        print(f"{prof:8} {len(rs):>5} {m('loss_a_to_b'):6.2f}/{m('loss_b_to_a'):<6.2f} "
              f"{m('jit_a_to_b'):6.2f}/{m('jit_b_to_a'):<6.2f} "
              f"{m('rtt_b_to_a'):6.1f} {m('held'):7.1f} "
              f"{m('r_a_to_b'):5.1f}/{m('r_b_to_a'):<5.1f} "
              f"{m('agent_a_to_b'):9.3f}/{m('wire_a_to_b'):<9.3f} "
              f"{m('agent_b_to_a'):9.3f}/{m('wire_b_to_a'):<9.3f} "
              f"{m('jbempty_a_to_b'):4.0f}/{m('jbempty_b_to_a'):<4.0f} "
              f"{m('err_mean'):8.2f}/{m('err_p95'):<9.2f} {sum(r['late'] for r in rs):4.0f} "
              f"{max(r['stall_ms'] for r in rs):9.0f}/{max(r['stage_stall'] for r in rs):<9.0f}")
    print("(medians over the calls; PESQ of a stall-flagged call is left out; RTT is "
          "pjsua's RTCP at the caller; hold = the delay stage's mean actual hold)")
    spread(rows)


def spread(rows: dict[str, list[dict[str, Any]]]) -> None:
    """PESQ min/median/max per profile, direction and source; the loss pattern each
    direction got and whether every call got the same one."""
    print(f"\n{'profile':8} {'dir':6} {'agent min/med/max (n)':>24} "
          f"{'wire min/med/max (n)':>24}  pattern; drop sets")
    for prof, rs in rows.items():
        for d in ("a_to_b", "b_to_a"):
            cells = []
            for src in ("agent", "wire"):
                v = sorted(r[f"{src}_{d}"] for r in rs if r[f"{src}_{d}"] == r[f"{src}_{d}"])
                cells.append(f"{v[0]:.3f}/{statistics.median(v):.3f}/{v[-1]:.3f} ({len(v)})"
                             if v else "—")
            # calls of different lengths: compare the drop sets over the shortest span
            sets = [r[f"drops_{d}"] for r in rs]
            same = len({tuple(o for o in x if o < 500) for x in sets}) == 1
            print(f"{prof:8} {d:6} {cells[0]:>24} {cells[1]:>24}  {rs[-1][f'pat_{d}']}; "
                  + ("identical" if same else "DIFFER") + " over offsets 0..499")
            print(f"{'':15} agent {[round(r[f'agent_{d}'], 3) for r in rs]} "
                  f"wire {[round(r[f'wire_{d}'], 3) for r in rs]}")


if __name__ == "__main__":
    main()
