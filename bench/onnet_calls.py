"""Place N on-net calls through the embedded switch; print per-call figures and the
agent-vs-wire timing difference (p50/p95/max), with host health beside each call, and
the median MOS-LQO per direction and source over the stall-free calls (with the
references' codec ceilings). A profile name as second argument runs every call under
it, over the access links ("clean": over the links, unimpaired).

    .venv/bin/python bench/onnet_calls.py [N] [profile]
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from harness.config import load_config
from harness.model import CallResult, CallSpec
from harness.run.session import HarnessSession


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    cfg = load_config()
    cfg = replace(cfg, guard=replace(cfg.guard, retries_on_stall=0))
    spec = CallSpec("1.1", "on-net cross-site", caller="site1/01", dial="site2/01",
                    profile=sys.argv[2] if len(sys.argv) > 2 else "")
    diffs: dict[str, list[float]] = {"srd_s": [], "setup_s": []}
    scores: dict[tuple[str, str], list[float]] = {}
    ceilings: dict[str, float] = {}
    print(f"{'call':>4} {'verdict':7} {'SRD ms':>8} {'wire':>8} {'setup s':>8} "
          f"{'SDD ms':>7} {'MOS ab agent/wire':>18} {'MOS ba agent/wire':>18} {'CDR':>5} "
          f"{'stall ms':>8} {'steal%':>6} {'psi%':>5} {'wall s':>6}")
    with HarnessSession(cfg, Path("reports")) as s:
        for i in range(n):
            t0 = time.monotonic()
            r = s.run_call(spec)
            t = r.timing

            def mos(d: str, src: str, r: CallResult = r) -> str:
                q = r.score(d, src)
                return "-" if q is None or q.mos_lqo is None else \
                    f"{q.mos_lqo:.3f}{'' if q.valid else '!'}"
            st = r.stall
            print(f"{i + 1:>4} {r.verdict.status.value:7} {1000 * (t.srd_s or 0):8.2f} "
                  f"{1000 * (t.wire_srd_s or 0):8.2f} {t.setup_s or 0:8.4f} "
                  f"{1000 * (t.wire_sdd_s or 0):7.2f} "
                  f"{mos('a_to_b', 'agent') + '/' + mos('a_to_b', 'wire'):>18} "
                  f"{mos('b_to_a', 'agent') + '/' + mos('b_to_a', 'wire'):>18} "
                  f"{'ok' if r.cdr and r.cdr.matched and not r.cdr.mismatches else 'BAD':>5} "
                  f"{1000 * st.max_stall_s if st else 0:8.0f} "
                  f"{(st.cpu_steal_pct or 0) if st else 0:6.1f} "
                  f"{(st.cpu_pressure_pct or 0) if st else 0:5.1f} {time.monotonic() - t0:6.1f}")
            for q in r.quality:
                if q.valid and q.mos_lqo is not None:
                    scores.setdefault((q.direction, q.source), []).append(q.mos_lqo)
                if q.ceiling_mos_lqo is not None:
                    ceilings[q.direction] = q.ceiling_mos_lqo
            if t.valid:
                for k in diffs:
                    d = t.diff_ms(k)
                    if d is not None:
                        diffs[k].append(abs(d))
        print(f"run: {s.run_dir}")
    for k, v in diffs.items():
        if v:
            print(f"|agent - wire| {k}: n={len(v)} p50 {statistics.median(v):.3f} ms "
                  f"p95 {pct(v, 95):.3f} ms max {max(v):.3f} ms (stall-free calls only)")
    print("('!' after a MOS: flagged invalid by the stall guard)")
    for (d, src), v in sorted(scores.items()):
        print(f"MOS-LQO {d} {src}: n={len(v)} median {statistics.median(v):.3f} "
              f"min {min(v):.3f} max {max(v):.3f} (codec ceiling {ceilings.get(d, 0):.3f})")
    every = [x for v in scores.values() for x in v]
    for src in ("agent", "wire"):
        both = [x for (d, s_), v in scores.items() if s_ == src for x in v]
        if both:
            print(f"MOS-LQO median, both directions, {src}: {statistics.median(both):.3f} "
                  f"(n={len(both)})")
    if every:
        print(f"MOS-LQO median over every valid score: {statistics.median(every):.3f}")


if __name__ == "__main__":
    main()
