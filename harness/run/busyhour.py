"""The busy hour: every beta line in a call at once, and what the calls experienced.

A `LoadSpec` plan row pairs the beta lines into `calls` simultaneous on-net calls
(84 lines: 42 calls) of mixed types — cross-site between customer sites, to and
from the branch office, G.711 µ-law and A-law — each with speech both ways,
recorded and scored like any other call. All start together; each is measured in
full (timing, PESQ from both sources, CDR). The row's figures are the RFC 6076
aggregates over those calls (SER §4.6, ISA §4.8, SRD §4.3.1 percentiles), the
MOS-LQO distribution per source (ITU-T P.862.1), the greatest number of calls
that were up at the same moment, and what the harness itself spent (CPU seconds
and memory of the controller and its agent workers) beside the stall guard's
figures: a busy hour measured on a starving host says so.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass, field
from typing import Any

from harness.model import CallResult, CallSpec, Expect, LoadSpec, Status
from harness.numberplan import NumberPlan
from harness.verdict.thresholds import nearest_rank
from harness.vocab import Codec


def busy_hour_calls(plan: NumberPlan, spec: LoadSpec) -> list[CallSpec]:
    """`spec.calls` calls pairing distinct lines: lines ordered by (line, site) so
    that neighbours sit at different sites; every third call offers A-law."""
    lines = sorted(plan.lines, key=lambda ln: (ln.index, ln.site))
    pairs = list(zip(lines[0::2], lines[1::2], strict=False))[:spec.calls]
    last_site = max(ln.site for ln in plan.lines)
    rows = []
    for n, (a, b) in enumerate(pairs, start=1):
        kind = "branch office" if last_site in (a.site, b.site) and last_site > 1 else \
            "cross-site" if a.site != b.site else "same-site"
        codec: Codec = "PCMA" if n % 3 == 0 else "PCMU"
        rows.append(CallSpec(
            f"{spec.plan_id}.{n:02d}", f"busy hour: on-net {kind} {codec}", a.name, b.name,
            talk_s=spec.talk_s, codec=codec,
            expect=Expect(srd_s_max=spec.srd_s_p95_max,
                          mos_lqo_min=spec.mos_lqo_call_min if spec.score else None,
                          rings=b.name, call_class="onnet"),
            description=f"{a.name} calls {b.name} while every line is busy"))
    return rows


@dataclass(frozen=True, slots=True)
class LoadReport:
    """A busy-hour row's outcome: aggregates, distribution, host and harness cost."""

    plan_id: str
    call_type: str
    calls: int
    concurrent_peak: int
    wall_s: float
    rfc6076: dict[str, Any]
    mos_lqo: dict[str, dict[str, float | int | None]]  # per source: n, min, p10, median, max
    invalid_measurements: int
    stall_max_s: float
    cpu_s: dict[str, float]  # controller, agents (all workers), per call
    rss_mb: dict[str, float]
    status: Status
    reasons: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        o = self.rfc6076.get("overall", {})
        srd = o.get("srd", {})
        med = {k: v.get("median") for k, v in self.mos_lqo.items()}
        return [f"{self.plan_id} {self.call_type}: {self.status.value.upper()}",
                f"  {self.calls} calls, {self.concurrent_peak} up at once, {self.wall_s:.1f} s",
                f"  SER {o.get('ser_pct')} %  ISA {o.get('isa_pct')} %  SRD p50/p95/max "
                f"{_ms(srd.get('p50_s'))}/{_ms(srd.get('p95_s'))}/{_ms(srd.get('max_s'))} ms",
                f"  MOS-LQO median agent {med.get('agent')} wire {med.get('wire')} "
                f"(invalid: {self.invalid_measurements})",
                f"  harness CPU {_named(self.cpu_s, 's')}; RSS {_named(self.rss_mb, 'MB')}; "
                "stall max "
                f"{self.stall_max_s * 1000:.0f} ms",
                *(f"  - {r}" for r in self.reasons)]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def concurrent_peak(results: list[CallResult]) -> int:
    """The most calls connected at one moment (caller's CONFIRMED to its end)."""
    edges = []
    for r in results:
        up = next((e.t_mono for e in r.events if e.party == "a" and e.kind == "CONFIRMED"), None)
        down = max((e.t_mono for e in r.events if e.party == "a"), default=None)
        if up is not None and down is not None:
            edges += [(up, 1), (down, -1)]
    peak = now = 0
    for _, step in sorted(edges):
        now += step
        peak = max(peak, now)
    return peak


def mos_distribution(results: list[CallResult]) -> tuple[dict[str, dict[str, Any]], int]:
    """Valid MOS-LQO per source (agent recording, wire), and how many scores the stall
    guard invalidated."""
    out: dict[str, dict[str, Any]] = {}
    invalid = 0
    for source in ("agent", "wire"):
        scores = []
        for r in results:
            for q in r.quality:
                if q.source != source:
                    continue
                if not q.valid:  # the stall guard's verdict, not the network's
                    invalid += 1
                elif q.mos_lqo is not None:  # a valid score without a MOS is a defect
                    scores.append(q.mos_lqo)  # (silence...): its call fails on its own
        out[source] = {"n": len(scores),
                       "min": round(min(scores), 3) if scores else None,
                       "p10": round(nearest_rank(scores, 10), 3) if scores else None,
                       "median": round(nearest_rank(scores, 50), 3) if scores else None,
                       "max": round(max(scores), 3) if scores else None}
    return out, invalid


def judge(spec: LoadSpec, rfc: dict[str, Any], mos: dict[str, dict[str, Any]],
          invalid: int, results: list[CallResult]) -> tuple[Status, tuple[str, ...]]:
    """Pass when SER, p95 SRD and the median MOS-LQO of each source meet the row; an
    `error` when the guard invalidated measurements (the host, not the switch)."""
    o = rfc.get("overall", {})
    reasons = []
    ser = o.get("ser_pct")
    if ser is None or ser < spec.ser_pct_min:
        reasons.append(f"SER {ser} % < {spec.ser_pct_min} %")
    p95 = (o.get("srd") or {}).get("p95_s")
    if p95 is None or p95 > spec.srd_s_p95_max:
        reasons.append(f"SRD p95 {p95} s > {spec.srd_s_p95_max} s")
    if spec.score:
        for source, dist in mos.items():
            median = dist["median"]
            if median is None or median < spec.mos_lqo_median_min:
                reasons.append(f"MOS-LQO median ({source}) {median} < "
                               f"{spec.mos_lqo_median_min}")
    failed = [r for r in results if r.verdict.status is not Status.PASS]
    if failed:
        reasons.append(f"{len(failed)} of {len(results)} calls did not pass: " + "; ".join(
            f"{r.spec.plan_id} {r.verdict.reasons[0] if r.verdict.reasons else ''}"
            for r in failed[:5]))
    if invalid or any(r.verdict.invalid_measurement for r in results):
        return Status.ERROR, (f"invalid_measurement: {invalid} scores taken while the host "
                              "stalled", *reasons)
    return (Status.FAIL if reasons else Status.PASS), tuple(reasons)


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (/proc/PID/stat fields 14 and 15)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def rusage_now() -> tuple[float, float]:
    """(CPU seconds this process has used, those of its children that ended: agent
    workers, scoring processes, the embedded switch, captures), user + system."""
    me, kids = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                     resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def run_cost(before: tuple[float, float], calls: int,
             agents_cpu_s: float = 0.0) -> dict[str, float | int]:
    """A whole run's CPU since `before` (rusage_now at its start), read once every child
    has ended: the controller's, its children's (with `agents_cpu_s`, what the agent
    workers said they used: forked by the fork server, they are not this process's
    children), and per call placed."""
    me, kids = (now - then for now, then in zip(rusage_now(), before, strict=True))
    kids += agents_cpu_s
    return {"controller_cpu_s": round(me, 1), "children_cpu_s": round(kids, 1),
            "calls": calls, "cpu_per_call_s": round((me + kids) / max(1, calls), 2)}


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return 0.0


def _named(figures: dict[str, Any], unit: str) -> str:
    """{'controller': 11.5, 'per_call': 0.48} as "controller 11.5 s, per call 0.48 s"."""
    return ", ".join(f"{k.replace('_', ' ')} {v} {unit}" for k, v in figures.items()) or "-"
