"""Where the selftest's time goes (issue #18): every test's start, end and worker.

As a pytest plugin, it writes one JSON line per test phase into
$SELFTEST_TIMELINE (a directory), a file per xdist worker:

    SELFTEST_TIMELINE=/tmp/tl ./bin/selftest -p bench.selftest_timeline

As a program, it prints from those files the run's span, each worker's busy time,
the time spent in `alone` tests, the waits between tests, and the modules by time:

    .venv/bin/python bench/selftest_timeline.py /tmp/tl
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    where = os.environ.get("SELFTEST_TIMELINE")
    if not where:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    Path(where).mkdir(parents=True, exist_ok=True)
    with open(Path(where) / f"timeline-{worker}.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": report.nodeid, "when": report.when,
                             "start": report.start, "stop": report.stop,
                             "outcome": report.outcome,
                             "alone": "alone" in report.keywords}) + "\n")


def summary(directory: Path) -> list[str]:
    tests: dict[tuple[str, str], list[Any]] = {}
    for path in sorted(directory.glob("timeline-gw*.jsonl")) or \
            sorted(directory.glob("timeline-*.jsonl")):
        worker = path.stem.removeprefix("timeline-")
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            span = tests.setdefault((worker, row["id"]), [row["start"], row["stop"],
                                                          row["alone"]])
            span[0], span[1] = min(span[0], row["start"]), max(span[1], row["stop"])
    if not tests:
        return [f"{directory}: no timeline files"]
    t0 = min(s for s, _, _ in tests.values())
    t1 = max(e for _, e, _ in tests.values())
    lines = [f"span {t1 - t0:.0f} s, {len(tests)} tests"]
    by_worker: dict[str, list[tuple[float, float, bool]]] = defaultdict(list)
    by_module: dict[str, float] = defaultdict(float)
    for (worker, nodeid), (start, stop, alone) in tests.items():
        by_worker[worker].append((start - t0, stop - t0, alone))
        by_module[nodeid.split("::")[0]] += stop - start
    for worker, spans in sorted(by_worker.items()):
        spans.sort()
        busy = sum(e - s for s, e, _ in spans)
        alone = sum(e - s for s, e, a in spans if a)
        waits = sum(max(0.0, spans[i + 1][0] - spans[i][1]) for i in range(len(spans) - 1))
        lines.append(f"{worker}: busy {busy:.0f} s (alone {alone:.0f} s), waited "
                     f"{waits:.0f} s between tests, first at {spans[0][0]:.0f} s, "
                     f"last ended at {spans[-1][1]:.0f} s")
    lines.append("modules by time:")
    lines += [f"  {t:7.1f} s  {m}" for m, t in sorted(by_module.items(),
                                                     key=lambda kv: -kv[1])[:15]]
    return lines


if __name__ == "__main__":
    print("\n".join(summary(Path(sys.argv[1] if len(sys.argv) > 1 else "."))))
