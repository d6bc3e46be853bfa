"""The plan scheduler replayed on a run's measured row lengths, at other concurrencies
(issue #18): when the call rows would end, and for how long before that only plain
calls are up (the quiet tail, in which the §12 probes may run beside the rows).

    .venv/bin/python bench/schedule_replay.py [results.json] [16 18 20 ...]

Each call row of the plan (testplans/) is given the span its call took in that run
(results.json → timeline) as both its expected and its real length; the real
`PlanScheduler` places them, its clock run 20 times fast (a replay takes seconds).
Agent workers as the embedded switch's: four lines each, a gateway per trunk group.
Run `./bin/beta` first.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import patch

import harness.run.schedule as schedule
from harness.config import load_config
from harness.model import CallResult, CallSpec
from harness.numberplan import NumberPlan
from harness.pstn.simulator import MAIN_GATEWAY, gateway_worker
from harness.run.runner import error_result

SPEED = 20.0  # the replay's clock against the wall's
ROOT = Path(__file__).resolve().parents[1]


def plan_rows(lengths: dict[str, float]) -> list[CallSpec]:
    """The plan's call rows (in plan order) that the run measured."""
    rows = []
    if str(ROOT) not in sys.path:  # testplans/ is the plan users run, not a package
        sys.path.insert(0, str(ROOT))
    for path in sorted((ROOT / "testplans").glob("plan_*.py")):
        module = importlib.import_module(f"testplans.{path.stem}")
        rows += [s for s in getattr(module, "PLAN", []) if isinstance(s, CallSpec)
                 and s.plan_id in lengths]
    return rows


def replay(rows: list[CallSpec], lengths: dict[str, float], plan: NumberPlan,
           concurrency: int) -> tuple[float, float]:
    """(when the last row ends, when the last row a probe cannot run beside ends), s."""
    t0 = time.monotonic()

    def fast() -> float:
        return t0 + (time.monotonic() - t0) * SPEED

    started: dict[str, float] = {}

    def run(spec: CallSpec) -> CallResult:
        started[spec.plan_id] = fast() - t0
        time.sleep(lengths[spec.plan_id] / SPEED)
        return error_result(spec, "replayed", 0.0)

    seats = [ln.name for ln in plan.lines]
    worker = {seat: f"w{i // 4}" for i, seat in enumerate(seats)}
    with patch.object(schedule, "time", SimpleNamespace(monotonic=fast)):
        sched = schedule.PlanScheduler(
            rows, run, plan, concurrency, links=2,
            gateway_of=lambda trunk: gateway_worker(trunk) if trunk else MAIN_GATEWAY,
            duration=lambda s: lengths[s.plan_id],
            worker_of=lambda seat: worker.get(seat, seat))
        for spec in rows:
            sched.result(spec.plan_id)
    ends = {p: started[p] + lengths[p] for p in started}
    loud = [ends[s.plan_id] for s in rows if schedule.quiet_from_s(s, plan) is None]
    return max(ends.values()), max(loud, default=0.0)


def main(args: list[str]) -> int:
    path = next((a for a in args if a.endswith(".json")), "reports/latest/results.json")
    counts = [int(a) for a in args if a.isdigit()] or [16, 18, 20]
    doc = json.loads(Path(path).read_text())
    lengths = {s["row"]: s["end_s"] - s["start_s"] for s in doc["timeline"]["spans"]
               if s["kind"] == "call"}
    rows = plan_rows(lengths)
    plan = NumberPlan.from_config(load_config().numbers)
    print(f"# {doc.get('run_id')}: {len(rows)} call rows, {sum(lengths.values()):.0f} s of "
          f"calls, the longest {max(lengths.values()):.1f} s")
    print("| rows at once | rows end | last row no probe may run beside ends | quiet tail |")
    print("| --- | --- | --- | --- |")
    for n in counts:
        end, loud = replay(rows, lengths, plan, n)
        print(f"| {n} | {end:.1f} s | {loud:.1f} s | {end - loud:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
