"""Call-rate ramp: how many calls per second the harness itself can place and
complete through the switch (signalling: INVITE, 180, 200, ACK, BYE; no media files,
no scoring, no CDR lookup), line pairs taking turns so no line is in two calls.

Per step: offered and achieved calls/s, SER (RFC 6076 §4.6), SRD p50/p95 from the
caller's events, the most calls up at once, CPU of the controller and the agent
workers, and the stall guard's worst stall.

    .venv/bin/python bench/call_rate.py [CPS ...]        (default: 10 20 30 40 60)
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from harness.config import load_config
from harness.numbers import canonical
from harness.run.busyhour import cpu_seconds
from harness.run.session import HarnessSession
from harness.sip.attribution import CallIdentity
from harness.sip.scenario import CallOrder, CallOutcome, FarEndPolicy, Script
from harness.verdict.metrics import call_timing
from harness.verdict.thresholds import nearest_rank

SECONDS = 10.0  # offered load per step


def main() -> None:
    rates = [float(a) for a in sys.argv[1:]] or [10, 20, 30, 40, 60]
    cfg = load_config()
    with HarnessSession(replace(cfg, capture=replace(cfg.capture, enabled=False)),
                        Path("reports")) as s:
        assert s.farm is not None
        lines = sorted(s.plan.lines, key=lambda ln: (ln.index, ln.site))
        pairs = list(zip(lines[0::2], lines[1::2], strict=False))
        locks = [threading.Lock() for _ in pairs]
        pids = [*(s.farm.pid(w) for w in s.farm.alive())]
        print(f"{'offered/s':>9} {'calls':>5} {'achieved/s':>10} {'SER %':>6} {'SRD p50 ms':>10} "
              f"{'p95 ms':>7} {'up max':>6} {'CPU ctl %':>9} {'CPU agents %':>12} "
              f"{'stall ms':>8}")
        for rate in rates:
            n = int(rate * SECONDS)
            outs: list[CallOutcome] = []
            up = [0, 0]  # calls up now, most at once
            guard = threading.Lock()

            def one(i: int, outs: list[CallOutcome] = outs, up: list[int] = up,
                    guard: threading.Lock = guard) -> None:
                a, b = pairs[i % len(pairs)]
                with locks[i % len(pairs)]:
                    with guard:
                        up[0] += 1
                        up[1] = max(up[1], up[0])
                    order = CallOrder(uuid.uuid4().hex, a.name,
                                      f"sip:{b.number}@{s.switch.domain}", Script(talk_s=0.3),
                                      FarEndPolicy(b.name, "answer", 0.0, identity=CallIdentity(
                                          (canonical(a.number),), (b.name,))))
                    out = s.farm.place(order)  # type: ignore[union-attr]
                    with guard:
                        up[0] -= 1
                        outs.append(out)

            cpu0 = [cpu_seconds(p) for p in pids]
            ctl0 = time.process_time()
            t0 = time.monotonic()
            with ThreadPoolExecutor(len(pairs)) as pool:
                for i in range(n):
                    delay = t0 + i / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    pool.submit(one, i)
            wall = time.monotonic() - t0
            answered = [o for o in outs if o.a.final_code == 200]
            srd = [t.srd_s for o in outs for t in [call_timing(o.a.events, None)]
                   if t.srd_s is not None]
            agents = sum(cpu_seconds(p) for p in pids) - sum(cpu0)
            stall = s.guard.report(t0, time.monotonic())
            print(f"{rate:>9.0f} {len(outs):>5} {len(outs) / wall:>10.1f} "
                  f"{100 * len(answered) / max(1, len(outs)):>6.1f} "
                  f"{1000 * nearest_rank(srd, 50):>10.1f} {1000 * nearest_rank(srd, 95):>7.1f} "
                  f"{up[1]:>6} {100 * (time.process_time() - ctl0) / wall:>9.1f} "
                  f"{100 * agents / wall:>12.1f} {1000 * stall.max_stall_s:>8.0f}")


if __name__ == "__main__":
    main()
