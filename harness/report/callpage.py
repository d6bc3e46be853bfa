"""What one call's drill-down page shows: the evidence behind its verdict.

Links are relative to the page (`calls/<plan-id>-<n>.html`, beside the run's
`calls/<plan-id>-<attempt>/` evidence directories), so a report directory can be
zipped, moved or opened from a CI artifact. Audio is linked; it is embedded (as a
`data:` URI) only where a reader needs it without the files: in failed calls and
in the call with the worst MOS.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.report.environment import redact_text
from harness.report.figures import DIRECTION_LABEL, DIRECTIONS, outcome, scored_mos, stream
from harness.report.store import RunRecord

EMBED_MAX_BYTES = 4_000_000  # per file; a longer recording is linked, never inlined

Call = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Artifact:
    label: str
    href: str  # relative to the page; "" when the file is not on disk
    embedded: bool = False
    size: int = 0


@dataclass(frozen=True, slots=True)
class Locator:
    """Where the run's files are, seen from the report's output directory."""

    run_dir: Path | None  # None: the run directory is gone (only the database is left)
    out_dir: Path

    def href(self, rel: str, depth: int) -> str:
        """Link from a page `depth` directories below out_dir to run_dir/rel."""
        if self.run_dir is None or not (self.run_dir / rel).is_file():
            return ""
        base = os.path.relpath(self.run_dir, self.out_dir)
        path = Path(*([".."] * depth), base, rel) if base != "." else \
            Path(*([".."] * depth), rel)
        return path.as_posix()

    def artifact(self, label: str, rel: str, depth: int, embed: bool) -> Artifact:
        href = self.href(rel, depth)
        if not href or self.run_dir is None:
            return Artifact(label, "")
        path = self.run_dir / rel
        size = path.stat().st_size
        if embed and size <= EMBED_MAX_BYTES and path.suffix == ".wav":
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            return Artifact(label, f"data:audio/wav;base64,{data}", True, size)
        return Artifact(label, href, False, size)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in ".-_" else "_" for ch in name)


def evidence_dir(call: Call) -> str:
    """`calls/<plan-id>-<n>`: the directory of the call's artifacts ("" if none)."""
    arts = [str(v) for v in (call.get("artifacts") or {}).values()]
    return Path(arts[0]).parent.as_posix() if arts else ""


def page_names(calls: tuple[Call, ...]) -> list[str]:
    """One unique page name per call: its evidence directory's name (`1.1-2`), else
    `<plan-id>-<n>` with n counting the plan id's calls in the run."""
    used: set[str] = set()
    seen: dict[str, int] = {}
    names = []
    for c in calls:
        pid = str(c["plan_id"])
        seen[pid] = seen.get(pid, 0) + 1
        name = _safe(Path(evidence_dir(c)).name) if evidence_dir(c) else ""
        n = seen[pid]
        while not name or name in used:
            name, n = f"{_safe(pid)}-{n}", n + 1
        used.add(name)
        names.append(name)
    return names


def worst_mos_index(calls: tuple[Call, ...]) -> int | None:
    """The call whose worse direction scored lowest (judged calls only)."""
    best: tuple[float, int] | None = None
    for i, c in enumerate(calls):
        scores = [m for m in (scored_mos(c, d) for d in DIRECTIONS) if m is not None]
        if scores and (best is None or min(scores) < best[0]):
            best = (min(scores), i)
    return None if best is None else best[1]


def reference_files(environment: dict[str, Any]) -> dict[str, str]:
    """direction -> reference/<name>.wav, from the environment's `references` entry
    ("allison-a 11.84 s, ..."): A plays reference a (heard A->B), B plays b."""
    refs = environment.get("references")
    if not isinstance(refs, dict):
        return {}
    out = {}
    for direction, key in (("a_to_b", "a"), ("b_to_a", "b")):
        text = str(refs.get(key) or "").split()
        if text:
            out[direction] = f"reference/{text[0]}.wav"
    return out


def audio(call: Call, run: RunRecord, loc: Locator, embed: bool) -> list[dict[str, Any]]:
    """Per direction: the reference sent, what the receiving agent recorded, what
    the wire carried toward it (decoded), each with its MOS."""
    arts = call.get("artifacts") or {}
    refs = reference_files(run.environment)
    out = []
    for d in DIRECTIONS:
        q = (call.get("quality") or {}).get(d) or {}
        sources = q.get("sources") or {}
        players = []
        if d in refs:
            players.append((loc.artifact("reference (sent)", refs[d], 1, embed), None))
        for key, label, src in ((f"recorded_{d}", "received by the agent", "agent"),
                                (f"wire_{d}", "on the wire toward the receiver", "wire")):
            if key in arts:
                players.append((loc.artifact(label, str(arts[key]), 1, embed),
                                (sources.get(src) or {}).get("mos_lqo")))
        out.append({"direction": d, "label": DIRECTION_LABEL[d], "players": players,
                    "mos": q.get("mos_lqo"), "valid": q.get("valid"), "band": q.get("band"),
                    "sources": sources, "stream": stream(call, d),
                    "agent_stream": stream(call, d, "agent")})
    return out


def evidence_links(call: Call, loc: Locator) -> list[Artifact]:
    """The call's pcap and files, then the run's capture and logs."""
    links = [loc.artifact(label, str(rel), 1, False)
             for label, rel in sorted((call.get("artifacts") or {}).items())
             if not str(rel).endswith(".wav")]
    folder = evidence_dir(call)
    if folder and loc.run_dir is not None:  # streams.json, ladder.json, ... beside them
        named = {str(v) for v in (call.get("artifacts") or {}).values()}
        links += [loc.artifact(p.name, f"{folder}/{p.name}", 1, False)
                  for p in sorted((loc.run_dir / folder).glob("*"))
                  if p.is_file() and p.suffix != ".wav" and f"{folder}/{p.name}" not in named]
    if loc.run_dir is not None:
        run_files = ["capture.pcap", "pjsua.log", "capture.log"] + sorted(
            p.relative_to(loc.run_dir).as_posix() for p in (loc.run_dir / "sut").glob("*.log"))
        links += [loc.artifact(f"run: {rel}", rel, 1, False) for rel in run_files]
    return [a for a in links if a.href]


EXCERPT_LINES = 30  # lines of each log shown on a call page


def party_logs(call: Call, loc: Locator) -> list[dict[str, str]]:
    """Which agent worker hosted each party, with a link to its pjsua log."""
    parties = [(f"caller {call.get('caller')}", str(call.get("caller_worker") or ""))]
    parties += [(f"far end {f.get('seat')}", str(f.get("worker") or ""))
                for f in call.get("far_ends") or [] if isinstance(f, dict)]
    clocks = call.get("clocks") or {}
    return [{"party": party, "worker": worker,
             "href": loc.href(f"pjsua-{worker}.log", 1) if worker else "",
             "host": _host_clock(worker, clocks)}
            for party, worker in parties]


def _host_clock(worker: str, clocks: dict[str, Any]) -> str:
    """'on agent host site2, its clock corrected by +2000.0 ms (± 0.05)' for a worker
    on an agent host (`<host>-w<j>`), else ''."""
    clock = clocks.get(worker.rsplit("-w", 1)[0]) if "-w" in worker else None
    if not isinstance(clock, dict):
        return ""
    return (f"on agent host {worker.rsplit('-w', 1)[0]}, its clock corrected by "
            f"{-float(clock.get('wall_offset_ms', 0.0)):+.1f} ms "
            f"(± {float(clock.get('uncertainty_ms', 0.0)):.2f})")


def log_excerpts(call: Call, run_dir: Path | None) -> list[dict[str, Any]]:
    """The switch's own log lines that name one of the call's Call-IDs (each leg's),
    for the embedded switch's kamailio.log and rtpengine.log: up to EXCERPT_LINES."""
    if run_dir is None or not (run_dir / "sut").is_dir():
        return []
    ids = {str(call.get("call_id") or "")} | {str(f.get("call_id") or "")
                                               for f in call.get("far_ends") or []
                                               if isinstance(f, dict)}
    ids.discard("")
    out = []
    for log in sorted((run_dir / "sut").glob("*.log")):
        try:
            text = log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        lines = [ln for ln in text.splitlines() if any(i in ln for i in ids)]
        if lines:
            out.append({"log": f"sut/{log.name}", "lines": [redact_text(ln[:400]) for ln in
                                                           lines[:EXCERPT_LINES]],
                        "more": max(0, len(lines) - EXCERPT_LINES)})
    return out


def cdr_rows(call: Call) -> dict[str, Any]:
    cdr = call.get("cdr") or {}
    mismatches = [{"field": m.get("field"), "expected": m.get("expected"),
                   "actual": m.get("actual")} for m in cdr.get("mismatches") or []]
    record = cdr.get("record") or {}
    return {"checked": bool((call.get("expect") or {}).get("cdr", True)),
            "matched": bool(cdr.get("matched")), "rows_found": cdr.get("rows_found", 0),
            "mismatches": mismatches,
            "record": [(k, v, readable_time(v)) for k, v in sorted(record.items())]}


def readable_time(value: object) -> str:
    """A CDR field that is a time, as UTC: a Unix epoch (seconds) or a Julian day
    number (SQLite's julianday(), as Kamailio's acc writes start/end times); '' for
    any other value."""
    try:
        number = float(str(value))
    except ValueError:
        return ""
    if 2_400_000 < number < 2_500_000:  # Julian day: day 2440587.5 is the Unix epoch
        number = (number - 2440587.5) * 86400.0
    elif not 1e9 < number < 1e10:
        return ""
    stamp = datetime.fromtimestamp(number, tz=UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{stamp.microsecond // 1000:03d} UTC"


def wireshark_filter(call: Call) -> str:
    """A Wireshark display filter for the call: every leg's Call-ID (the caller's, the
    far ends' through a B2BUA) and the UDP ports of its RTP streams."""
    ids = dict.fromkeys([str(call.get("call_id") or "")] +
                        [str(f.get("call_id") or "") for f in call.get("far_ends") or []
                         if isinstance(f, dict)])
    ports: dict[str, None] = {}
    for st in (call.get("streams") or {}).values():
        if not isinstance(st, dict):
            continue
        for end in (st.get("src"), st.get("dst"), st.get("local_rtp"), st.get("remote_rtp")):
            if isinstance(end, str) and ":" in end:
                ports[end.rsplit(":", 1)[1]] = None
    parts = [f'sip.Call-ID == "{i}"' for i in ids if i]
    if ports:
        parts.append(f"udp.port in {{{' '.join(sorted(ports, key=int))}}}")
    return " || ".join(parts)


def call_context(call: Call, run: RunRecord, loc: Locator, embed: bool) -> dict[str, Any]:
    return {"call": call, "outcome": outcome(call),
            "reasons": [redact_text(r) for r in call.get("reasons") or []],
            "error": redact_text(str(call.get("error") or "")),
            "audio": audio(call, run, loc, embed), "embedded": embed,
            "cdr": cdr_rows(call), "host": call.get("host"),
            "checks": call.get("checks"), "wireshark": wireshark_filter(call),
            "evidence": evidence_links(call, loc), "parties": party_logs(call, loc),
            "excerpts": log_excerpts(call, loc.run_dir)}
