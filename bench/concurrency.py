"""Concurrency ramp: N simultaneous on-net calls (each line in one call), each with
speech both ways, recorded and PESQ-scored, CDR-reconciled; per step print calls,
calls up at once, RFC 6076 SER, p95 SRD, median MOS-LQO per source, the harness's
CPU and memory, and the stall guard's worst stall.

    .venv/bin/python bench/concurrency.py [N ...]      (default: 10 20 42 84)

84 lines make 42 on-net calls at most: a step above that is reported as not
reachable, not faked with lines in two calls at once.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

from harness.config import load_config
from harness.model import LoadSpec
from harness.run.session import HarnessSession


def main() -> None:
    steps = [int(a) for a in sys.argv[1:]] or [10, 20, 42, 84]
    cfg = load_config()
    cfg = replace(cfg, guard=replace(cfg.guard, retries_on_stall=0))
    print(f"{'calls':>5} {'up':>3} {'SER %':>6} {'ISA %':>6} {'SRD p50 ms':>10} "
          f"{'p95 ms':>7} {'MOS agent':>9} {'MOS wire':>8} {'invalid':>7} {'CPU ctl s':>9} "
          f"{'CPU agents s':>12} {'CPU/call s':>10} {'RSS MB':>7} {'stall ms':>8} "
          f"{'wall s':>6} verdict")
    t0 = time.monotonic()
    with HarnessSession(cfg, Path("reports")) as s:
        print(f"# session up in {time.monotonic() - t0:.1f} s: {s.line_workers} line workers "
              f"+ 1 PSTN worker, {len(s.plan.lines)} lines registered")
        for n in steps:
            if 2 * n > len(s.plan.lines):
                print(f"{n:>5} not reachable: {len(s.plan.lines)} lines make "
                      f"{len(s.plan.lines) // 2} on-net calls at most")
                continue
            rep = s.run_load(LoadSpec(f"B{n}", f"ramp {n}", calls=n))
            o = rep.rfc6076["overall"]
            srd = o["srd"]
            print(f"{n:>5} {rep.concurrent_peak:>3} {o['ser_pct']:>6.1f} {o['isa_pct']:>6.1f} "
                  f"{1000 * (srd['p50_s'] or 0):>10.1f} {1000 * (srd['p95_s'] or 0):>7.1f} "
                  f"{rep.mos_lqo['agent']['median'] or 0:>9.3f} "
                  f"{rep.mos_lqo['wire']['median'] or 0:>8.3f} {rep.invalid_measurements:>7} "
                  f"{rep.cpu_s['controller']:>9.1f} {rep.cpu_s['agents']:>12.1f} "
                  f"{rep.cpu_s['per_call']:>10.3f} "
                  f"{rep.rss_mb['controller'] + rep.rss_mb['agents']:>7.0f} "
                  f"{1000 * rep.stall_max_s:>8.0f} {rep.wall_s:>6.1f} {rep.status.value}"
                  + (f"  ({'; '.join(rep.reasons)[:160]})" if rep.reasons else ""))


if __name__ == "__main__":
    main()
