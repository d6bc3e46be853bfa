"""Where a plan run's time went: every row's span from its results.json.

    .venv/bin/python bench/plan_timeline.py [reports/latest/results.json ...]

Prints, per run, each row's start, the end of its call and the moment its measurement
was stored (seconds from the run's start), then the run's wall, the time no row was in
flight (start-up, close-out), the most rows at once, and the rows that finished last:
the ones a faster plan has to shorten (issue #18's ≤ 110 s). Run `./bin/beta` first.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

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
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
