"""Results of a run, kept crash-safe twice over and turned into the report at the end.

* `reports/results.db` (SQLite, see `harness.report.store`): one committed row per
  call as soon as it is measured, one row per run; every past run can be rendered
  again from it (`python -m harness.report render`) and trends read it.
* `reports/<run-id>/results.json`: the same documents, rewritten atomically after
  every call, for tools that want one file.

`reports/latest` points at the newest run. `close()` marks the run finished and
writes the HTML report and the JUnit XML beside results.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.model import CallResult, FromTable, QualityScore
from harness.report.environment import redact
from harness.report.load import load_section
from harness.report.store import RunRecord, SqliteStore
from harness.report.timeline import timeline_doc
from harness.verdict.run import RunVerdict

SCHEMA = "beta-harness/results/1"


def _quality(scores: tuple[QualityScore, ...], direction: str) -> dict[str, Any]:
    by_source = {q.source: q for q in scores if q.direction == direction}
    valid = [q.mos_lqo for q in by_source.values() if q.valid and q.mos_lqo is not None]
    # headline: the worse of the valid sources; with none valid, the agent's figure
    headline = min(valid) if valid else (by_source["agent"].mos_lqo if "agent" in by_source
                                         else None)
    return {
        "mos_lqo": headline,
        # a source not scored by design (note: the wire of an SRTP call) does not count
        "valid": bool(valid) and len(valid) == len([q for q in by_source.values()
                                                    if not q.note]),
        "band": next((q.band for q in by_source.values()), None),
        "sources": {src: {k: v for k, v in asdict(q).items() if k not in ("direction", "source")}
                    for src, q in by_source.items()},
    }


_RUN_DIR = re.compile(r"^\d{8}-\d{6}-\d+$")


def prune_runs(reports: Path, keep: int, current: str = "") -> list[str]:
    """Delete all but the newest `keep` run directories under `reports` (a name of the
    run-id form holding a results.json; never `current`); their rows stay in
    results.db. Returns the ids deleted. `keep` 0: nothing is deleted."""
    if keep <= 0 or not reports.is_dir():
        return []
    runs = sorted((d for d in reports.iterdir() if d.is_dir() and not d.is_symlink() and
                   _RUN_DIR.match(d.name) and (d / "results.json").is_file() and
                   d.name != current), key=lambda d: d.name, reverse=True)
    gone = []
    for old in runs[max(0, keep - (1 if current else 0)):]:
        shutil.rmtree(old, ignore_errors=True)
        gone.append(old.name)
    return gone


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
        "profile": r.spec.profile,
        "description": r.spec.description,
        "caller": r.spec.caller,
        "dial": r.spec.dial,
        "codec": r.spec.codec,
        # the limits the call was judged by; one never compiled (the call ended before
        # it was judged) was not checked: None, never the "table" placeholder
        "expect": {k: None if isinstance(v, FromTable) else v
                   for k, v in asdict(r.spec.expect).items()},
        "call_id": r.call_id,
        "started_wall": r.started_wall,
        "earlier_walls": list(r.earlier_walls),  # earlier placings (re-placed on a stall)
        "final_code": r.final_code,
        "verdict": r.verdict.status.value,
        "reasons": list(r.verdict.reasons),
        "checks": [c.as_json() for c in r.verdict.checks],
        "invalid_measurement": r.verdict.invalid_measurement,
        "error": r.error,
        "timing": {**asdict(r.timing),
                   **{f"{k}_diff_ms": r.timing.diff_ms(k) for k in ("srd_s", "setup_s", "sdd_s")}},
        "quality": {d: _quality(r.quality, d) for d in
                    ("a_to_b", "b_to_a", *sorted({q.direction for q in r.quality}
                                                 - {"a_to_b", "b_to_a"}))},
        "cdr": cdr if cdr is not None else {"matched": False, "mismatches": [],
                                            "rows_found": 0, "record": None},
        "host": asdict(r.stall) if r.stall else None,
        "events": [asdict(e) for e in r.events],
        "artifacts": dict(r.artifacts),
        "far_ends": [asdict(f) for f in r.far_ends],
        "caller_worker": r.caller_worker,
        "clocks": dict(r.clocks or {}),
        "early_media": asdict(r.early_media) if r.early_media else None,
    }


def rfc6076(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """RFC 6076 aggregates (SER, SEER, ISA, SCR, SRD/set-up/SDD p50/p95/max) overall,
    per call class and per call type, over the calls measured so far."""
    from dataclasses import replace as _replace

    from harness.report.figures import attempt
    from harness.verdict.aggregate import aggregate, summarise

    pairs = [(c, a) for c in calls for a in [attempt(c)] if a is not None]
    summary = summarise(a for _, a in pairs)
    types = sorted({str(c["call_type"]) for c, _ in pairs})
    return {"overall": asdict(summary.overall),
            "by_class": {m.call_class: asdict(m) for m in summary.by_class},
            "by_call_type": {t: asdict(aggregate([_replace(a, call_class=t) for c, a in pairs
                                                  if c["call_type"] == t], t))
                             for t in types}}


class ResultStore:
    """The run's results: `add()` commits a call to the database and rewrites
    results.json before it returns; `close()` finishes the run and writes the report.

    `db` defaults to `<reports>/results.db`, one database beside every run directory."""

    def __init__(self, run_dir: Path, run_id: str, environment: dict[str, Any],
                 db: Path | str | None = None) -> None:
        self.run_dir, self.run_id = run_dir, run_id
        self.environment = environment
        self.calls: list[dict[str, Any]] = []
        self.errors: list[str] = []
        # background load (harness.load): its levels, and the one running now, which
        # every call added meanwhile is tagged with (docs/load.md)
        self.loads: list[dict[str, Any]] = []
        self.active_load: dict[str, Any] | None = None
        self.busy_hours: list[dict[str, Any]] = []  # busy-hour rows (harness/run/busyhour.py)
        self.probes: list[dict[str, Any]] = []  # §12 security probes (harness/security)
        self.started_wall = time.time()
        self.finished = False
        self.finished_at: float | None = None
        self.verdict: RunVerdict | None = None  # the run's one verdict (verdict/run.py)
        self.provenance: dict[str, str] = {}  # harness commit, plan + thresholds hash
        self._closed = False
        run_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = Path(db) if db is not None else run_dir.parent / "results.db"
        self.db = SqliteStore(self.db_path)
        self.db.begin_run(run_id, self.started_wall, str(run_dir.resolve()),
                          redact(environment))
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
        doc = call_to_json(result)
        doc["seq"] = len(self.calls) + 1
        doc["stored_wall"] = time.time()  # measured: the end of its span (timeline)
        doc["streams"] = dict(result.streams) if result.streams is not None else None
        doc["loss_stage"] = dict(result.loss_stage) if result.loss_stage is not None \
            else None
        doc["load"] = dict(self.active_load) if self.active_load else None
        self.db.add_call(self.run_id, doc["seq"], doc)
        self.calls.append(doc)
        self.write()

    def begin_load(self, level: dict[str, Any]) -> str:
        """A background load started: calls added until `end_load` carry its level."""
        load_id = f"L{len(self.loads) + 1}"
        doc = {"id": load_id, "level": dict(level), "running": True}
        self.loads.append(doc)
        self.active_load = {"id": load_id, **level}
        self.db.put_load(self.run_id, len(self.loads), doc)
        self.write()
        return load_id

    def end_load(self, load_id: str, doc: dict[str, Any]) -> None:
        """The load stopped: its statistics, host report and CPU replace the entry."""
        for seq, old in enumerate(self.loads, 1):
            if old["id"] == load_id:
                new = {**doc, "id": load_id, "running": False}
                self.loads[seq - 1] = new
                self.db.put_load(self.run_id, seq, new)
        if self.active_load and self.active_load.get("id") == load_id:
            self.active_load = None
        self.write()

    def add_busy_hour(self, doc: dict[str, Any]) -> None:
        """A busy-hour row's outcome (harness/run/busyhour.py), beside its calls."""
        doc = {**doc, "stored_wall": time.time()}
        self.busy_hours.append(doc)
        self.db.add_busy_hour(self.run_id, len(self.busy_hours), doc)
        self.write()

    def add_probe(self, doc: dict[str, Any]) -> None:
        """A security probe row's report (harness/security/rows.py), in results.json."""
        self.probes.append({**doc, "stored_wall": time.time()})
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
        verdict = {**self.verdict.as_dict(), "provenance": self.provenance} \
            if self.verdict is not None else None
        return {"schema": SCHEMA, "run_id": self.run_id, "started_wall": self.started_wall,
                "finished": self.finished, "status": "complete" if self.finished else "INCOMPLETE",
                "finished_at": self.finished_at, "verdict": verdict, **self.provenance,
                "environment": redact(self.environment), "summary": self.summary(),
                "errors": self.errors, "billing": self.billing, "cost": self.cost,
                "rfc6076": rfc6076(self.calls), "load": load_section(self.loads, self.calls),
                "busy_hour": self.busy_hours, "security": self.probes,
                "timeline": timeline_doc(self.started_wall, self.calls, self.busy_hours,
                                         self.probes, None if self.finished_at is None
                                         else self.finished_at - self.started_wall),
                "calls": self.calls}

    billing: dict[str, Any] | None = None  # the run's billing summary, once reconciled
    # what the run cost the host: CPU seconds of the harness and the switch it ran,
    # per call placed (HarnessSession.close)
    cost: dict[str, Any] | None = None

    def record(self) -> RunRecord:
        """This run as the report renders it (the same data the database holds)."""
        return RunRecord(self.run_id, self.started_wall, self.finished,
                         str(self.run_dir.resolve()), redact(self.environment),
                         tuple(self.errors), tuple(self.calls), loads=tuple(self.loads),
                         busy_hours=tuple(self.busy_hours), security=tuple(self.probes),
                         verdict=self.document()["verdict"])

    def write(self) -> None:
        """results.json and the run row; called after every change (the session also
        calls it after replacing `environment`)."""
        self.db.update_run(self.run_id, redact(self.environment), self.errors,
                           time.time() if self.finished else None)
        path = self.run_dir / "results.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.document(), indent=2, default=str), encoding="utf-8")
        os.replace(tmp, path)

    def close(self, finished: bool = True) -> None:
        """End the run: flag it complete (unless `finished=False`: an interrupted plan is
        reported INCOMPLETE), then write index.html, calls/*.html and junit.xml (a
        report that fails to render leaves the results intact)."""
        if self._closed:
            return
        self._closed = True
        self.finished = finished
        self.finished_at = time.time()
        verdict = self.document()["verdict"]
        if verdict is not None:
            self.db.put_verdict(self.run_id, verdict)
        self.write()
        from harness.report.render import write_report

        try:
            write_report(self.record(), self.run_dir, self.db)
        finally:
            self.db.close()
