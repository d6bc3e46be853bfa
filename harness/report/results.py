"""Machine-readable results: `reports/<run-id>/results.json`, rewritten atomically
after every call so that a crash or Ctrl-C keeps every call already measured, and
`reports/latest` pointing at the newest run."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.model import CallResult, QualityScore

SCHEMA = "beta-harness/results/1"


def _quality(scores: tuple[QualityScore, ...], direction: str) -> dict[str, Any]:
    by_source = {q.source: q for q in scores if q.direction == direction}
    valid = [q.mos_lqo for q in by_source.values() if q.valid and q.mos_lqo is not None]
    # headline: the worse of the valid sources; with none valid, the agent's figure
    headline = min(valid) if valid else (by_source["agent"].mos_lqo if "agent" in by_source
                                         else None)
    return {
        "mos_lqo": headline,
        "valid": bool(valid) and len(valid) == len(by_source),
        "band": next((q.band for q in by_source.values()), None),
        "sources": {src: {k: v for k, v in asdict(q).items() if k not in ("direction", "source")}
                    for src, q in by_source.items()},
    }


def call_to_json(r: CallResult) -> dict[str, Any]:
    cdr = None
    if r.cdr is not None:
        cdr = {"matched": r.cdr.matched, "rows_found": r.cdr.rows_found,
               "mismatches": [{"field": m.field, "expected": m.expected, "actual": m.actual}
                              for m in r.cdr.mismatches],
               "record": dict(r.cdr.record.raw) if r.cdr.record else None}
    return {
        "plan_id": r.spec.plan_id,
        "call_type": r.spec.call_type,
        "description": r.spec.description,
        "caller": r.spec.caller,
        "dial": r.spec.dial,
        "call_id": r.call_id,
        "started_wall": r.started_wall,
        "final_code": r.final_code,
        "verdict": r.verdict.status.value,
        "reasons": list(r.verdict.reasons),
        "invalid_measurement": r.verdict.invalid_measurement,
        "error": r.error,
        "timing": asdict(r.timing),
        "quality": {d: _quality(r.quality, d) for d in ("a_to_b", "b_to_a")},
        "cdr": cdr if cdr is not None else {"matched": False, "mismatches": [],
                                            "rows_found": 0, "record": None},
        "host": asdict(r.stall) if r.stall else None,
        "events": [asdict(e) for e in r.events],
        "artifacts": dict(r.artifacts),
    }


class ResultStore:
    def __init__(self, run_dir: Path, run_id: str, environment: dict[str, Any]) -> None:
        self.run_dir, self.run_id = run_dir, run_id
        self.environment = environment
        self.calls: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.started_wall = time.time()
        self.finished = False
        run_dir.mkdir(parents=True, exist_ok=True)
        self._point_latest()
        self.write()

    def _point_latest(self) -> None:
        latest = self.run_dir.parent / "latest"
        tmp = self.run_dir.parent / f".latest-{os.getpid()}"
        try:
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self.run_dir.name)
            tmp.replace(latest)
        except OSError:
            pass

    def add(self, result: CallResult) -> None:
        self.calls.append(call_to_json(result))
        self.write()

    def add_error(self, message: str) -> None:
        self.errors.append(message)
        self.write()

    def summary(self) -> dict[str, int]:
        out = {"calls": len(self.calls), "pass": 0, "fail": 0, "error": 0}
        for c in self.calls:
            out[c["verdict"]] += 1
        return out

    def document(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "run_id": self.run_id, "started_wall": self.started_wall,
                "finished": self.finished, "status": "complete" if self.finished else "INCOMPLETE",
                "environment": self.environment, "summary": self.summary(),
                "errors": self.errors, "calls": self.calls}

    def write(self) -> None:
        path = self.run_dir / "results.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.document(), indent=2, default=str), encoding="utf-8")
        os.replace(tmp, path)

    def close(self) -> None:
        self.finished = True
        self.write()
        from harness.report.html import write_html

        write_html(self.run_dir, self.document())
