"""Probe calls under background SIPp load at several levels through the embedded
switch; prints per level SIPp's offered/achieved cps and failures, the probes' SRD
p50/p95 and MOS medians, CPU of the harness process and of SIPp, and the host-stall
guard's worst stall over the level's window.

    .venv/bin/python bench/background_load.py [PROBES_PER_LEVEL] [CPS,CPS,...]
    (defaults: 3 probes; levels 0,10,20,40 cps; hold 2 s; max calls 4 x rate)
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from harness.config import load_config
from harness.load.sipp import BackgroundLoad
from harness.model import CallResult, CallSpec
from harness.run.session import HarnessSession

PROBE = CallSpec("1.1", "on-net cross-site", "site1/01", "site2/01", talk_s=8.0)
HOLD_S = 2.0


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))]


def fmt(value: float | None, scale: float = 1.0, digits: int = 1) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


def probe_figures(results: list[CallResult]) -> tuple[str, str, str, int]:
    srd = [r.timing.srd_s for r in results
           if r.timing.valid and r.timing.srd_s is not None and not r.verdict.invalid_measurement]
    mos = [q.mos_lqo for r in results if not r.verdict.invalid_measurement
           for q in r.quality if q.source == "wire" and q.valid and q.mos_lqo is not None]
    invalid = sum(1 for r in results if r.verdict.invalid_measurement)
    return (fmt(pct(srd, 50), 1000), fmt(pct(srd, 95), 1000),
            fmt(statistics.median(mos) if mos else None, digits=2), invalid)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    levels = [float(x) for x in (sys.argv[2] if len(sys.argv) > 2 else "0,10,20,40").split(",")]
    cfg = load_config()
    cfg = replace(cfg, guard=replace(cfg.guard, retries_on_stall=0))
    print(f"{'cps':>5} {'achieved':>8} {'conc':>5} {'ok':>6} {'failed':>6} {'sipp p95':>8} "
          f"{'SRD p50':>8} {'SRD p95':>8} {'MOS med':>7} {'inval':>5} {'harn cpu%':>9} "
          f"{'sipp cpu%':>9} {'stall ms':>8} {'psi%':>5} {'wall s':>6}")
    with HarnessSession(cfg, Path("reports")) as s:
        for cps in levels:
            t0, c0, w0 = time.monotonic(), time.process_time(), time.time()
            if cps <= 0:
                results = [s.run_call(PROBE) for _ in range(n)]
                stats, sipp_cpu = None, 0.0
            else:
                with BackgroundLoad.for_session(s, rate_cps=cps, max_calls=max(20, int(cps * 4)),
                                                hold_s=HOLD_S) as load:
                    results = [s.run_call(PROBE) for _ in range(n)]
                stats = load.stats
                cpu = load.doc.get("cpu") or {}
                sipp_cpu = (cpu.get("uac_s") or 0.0) + (cpu.get("sink_s") or 0.0)
            wall = time.monotonic() - t0
            host = s.guard.report(t0)
            p50, p95, mos, invalid = probe_figures(results)
            print(f"{cps:5.0f} {fmt(stats.achieved_cps if stats else None, digits=2):>8} "
                  f"{stats.concurrent_max if stats else '-':>5} "
                  f"{stats.successful if stats else '-':>6} {stats.failed if stats else '-':>6} "
                  f"{fmt(stats.setup_p95_ms if stats else None, digits=0):>8} "
                  f"{p50:>8} {p95:>8} {mos:>7} {invalid:>5} "
                  f"{100 * (time.process_time() - c0) / wall:9.1f} "
                  f"{100 * sipp_cpu / wall:9.1f} {1000 * host.max_stall_s:8.0f} "
                  f"{fmt(host.cpu_pressure_pct):>5} {wall:6.1f}", flush=True)
            del w0
        print(f"run: {s.run_dir}")
    print("SRD/MOS: the probe calls (ms; MOS = median of valid wire scores, both directions);"
          " harness CPU % of one core (the pytest/python process, all threads); SIPp CPU: UAC"
          " + sink; stall: the guard's worst wake-up delay over the level")


if __name__ == "__main__":
    main()
