"""Where a plan run's time went: every row's span from its results.json.

    .venv/bin/python bench/plan_timeline.py [reports/latest/results.json ...]

Prints, per run, each row's start, the end of its call and the moment its measurement
was stored (seconds from the run's start), then the run's wall, the time no row was in
flight (start-up, close-out), the most rows at once, and the rows that finished last:
the ones a faster plan has to shorten (issue #18's ≤ 110 s); then the run's CPU per call
and the worst host stall inside any call's window. Run `./bin/beta` first.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from harness.report.timeline import lines, spans


def main(paths: list[str]) -> int:
    for path in paths or ["reports/latest/results.json"]:
        doc = json.loads(Path(path).read_text())
        wall = None if not doc.get("finished_at") else doc["finished_at"] - doc["started_wall"]
        print(f"# {doc.get('run_id')} ({doc.get('harness_commit', '?')[:12]}): "
              f"{(doc.get('verdict') or {}).get('text', doc.get('status'))}")
        got = spans(doc["started_wall"], doc.get("calls", ()), doc.get("busy_hour", ()),
                    doc.get("security", ()))
        print("\n".join(lines(got, wall)))
        print(cost_line(doc))
    return 0


def cost_line(doc: dict[str, Any]) -> str:
    """The run's CPU per call and the worst host stall inside any call's window (the
    stall guard's figure, judged per call: a stall there invalidates that call)."""
    cost = doc.get("cost") or {}
    stalls = [(c["host"]["max_stall_s"], c["plan_id"]) for c in doc.get("calls", ())
              if (c.get("host") or {}).get("max_stall_s") is not None]
    worst = max(stalls, default=None)
    over = sum(1 for c in doc.get("calls", ())
               if (c.get("host") or {}).get("stalls_over_threshold"))
    return (f"cpu: controller {cost.get('controller_cpu_s', '?')} s + children "
            f"{cost.get('children_cpu_s', '?')} s over {cost.get('calls', '?')} calls = "
            f"{cost.get('cpu_per_call_s', '?')} s per call; max stall inside a call window "
            + (f"{1000 * worst[0]:.0f} ms ({worst[1]})" if worst else "?")
            + f"; calls with a stall over the guard's threshold: {over}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
