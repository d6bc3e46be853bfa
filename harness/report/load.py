"""The report's background-load section: each load level beside the probe calls
measured under it (docs/load.md).

A level's own figures come from SIPp (offered and achieved cps, concurrent calls,
failures by reason, SIPp's set-up times); the probes' are the harness's (SRD per
RFC 6076 §4.3.1, MOS-LQO per P.862.1), taken from the calls the store tagged with
the level. The level's status judges the load, never the probe calls:

    error        SIPp could not run or its statistics could not be read
    invalid      the load failed or fell short while the host stalled beyond the
                 guard's threshold: its failures (SIPp's timeouts, a late rate)
                 describe the host, not the switch
    load-failed  SIPp counted failed calls, or the sink failed some
    short        achieved < 90 % of what the rate and concurrency allow
    ok           otherwise (a stall during a clean load is noted: SIPp's response
                 times over it include the host's pause)
"""

from __future__ import annotations

import math
from typing import Any

from harness.report.figures import DIRECTIONS, median, scored_mos, valid_pdd

SHORT_RATIO = 0.9


def _pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(q * len(s) / 100) - 1))]


def probe_summary(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """The probe calls' figures: SRD p50/p95 of valid timings, MOS medians of valid
    scores, how many were invalid (host stalled) and their verdicts."""
    srd = [v for c in calls for v in [valid_pdd(c)] if v is not None]
    out: dict[str, Any] = {
        "calls": len(calls), "seqs": [c.get("seq") for c in calls],
        "verdicts": {v: sum(1 for c in calls if c.get("verdict") == v)
                     for v in ("pass", "fail", "error")},
        "invalid_measurement": sum(1 for c in calls if c.get("invalid_measurement")),
        "srd_n": len(srd), "srd_p50_s": _pct(srd, 50), "srd_p95_s": _pct(srd, 95),
        "srd_max_s": max(srd) if srd else None}
    for d in DIRECTIONS:
        values = [v for c in calls for v in [scored_mos(c, d)] if v is not None]
        out[f"mos_median_{d}"] = median(values)
        out[f"mos_n_{d}"] = len(values)
    return out


def level_status(doc: dict[str, Any]) -> tuple[str, list[str]]:
    """(status, reasons) of one load level (see the module docstring)."""
    stats, host, sink = doc.get("stats"), doc.get("host"), doc.get("sink")
    if doc.get("running"):
        return "running", ["the load was still running when this was written"]
    reasons = list(doc.get("errors") or [])
    if stats is None:
        return "error", reasons or ["no SIPp statistics"]
    stalled = bool(host and host.get("stalls_over_threshold"))
    status = "ok"
    if stats["failed"] or (sink and sink.get("failed")):
        why = ", ".join(f"{k} {v}" for k, v in sorted(stats["failed_by_reason"].items()))
        reasons.append(f"{stats['failed']} of {stats['created']} load calls failed"
                       + (f" ({why})" if why else ""))
        status = "load-failed"
    else:
        level = doc["level"]
        hold = max(float(level["hold_s"]), 1e-3)
        allowed = min(float(level["rate_cps"]), level["max_calls"] / hold)
        if stats["achieved_cps"] < SHORT_RATIO * allowed:
            reasons.append(f"achieved {stats['achieved_cps']:.2f} cps of {allowed:.2f} the "
                           "rate and concurrency allow")
            status = "short"
    if stalled and host:
        reasons.append(f"host stalled {host['max_stall_s'] * 1000:.0f} ms during the load "
                       f"(threshold {host['threshold_s'] * 1000:.0f} ms)"
                       + (": these figures describe the host, not the switch"
                          if status != "ok" else ": SIPp's response times include it"))
        if status != "ok":
            return "invalid", reasons
    if status == "ok" and doc.get("errors"):
        return "error", reasons
    return status, reasons


def load_section(loads: list[dict[str, Any]] | tuple[dict[str, Any], ...],
                 calls: list[dict[str, Any]] | tuple[dict[str, Any], ...],
                 ) -> dict[str, Any] | None:
    """results.json's `load`: every level with its status and its probes, and the
    probes measured without load (the baseline); None for a run without load."""
    if not loads:
        return None
    levels = []
    for doc in loads:
        status, reasons = level_status(doc)
        probes = [c for c in calls if (c.get("load") or {}).get("id") == doc["id"]]
        levels.append({**doc, "status": status, "reasons": reasons,
                       "probes": probe_summary(probes)})
    baseline = [c for c in calls if not c.get("load")]
    return {"levels": levels, "baseline": probe_summary(baseline)}
