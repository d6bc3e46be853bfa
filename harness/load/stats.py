"""SIPp's own statistics, parsed into one `LoadStats` per load run.

Sources (SIPp 3.6, written by the processes `harness.load.sipp` starts):

* `-trace_stat -stf <file> -fd 1`: a `;`-separated CSV, one row per second plus
  final rows. Cumulative columns end in `(C)`; times are `HH:MM:SS:uuuuuu`;
  `StartTime`/`CurrentTime` carry the epoch after a tab.
* `-trace_rtt -rtt_freq 1`: `Date_ms;response_time_ms;rtd_no`, one line per
  measured response time (SIPp's clock ticks in whole milliseconds).
* `-trace_error_codes`: `time;elapsed;codes` per period, the SIP codes of the
  unexpected messages that failed calls (e.g. `408,408,`).

Achieved rate: calls created / the generating window (SIPp's start to the moment the
harness asked it to stop); after that SIPp only lets calls in progress finish.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from dataclasses import dataclass, field

_FAILURE_COLUMNS = (
    "CannotSendMessage", "MaxUDPRetrans", "TcpConnect", "TcpClosed", "UnexpectedMessage",
    "CallRejected", "CmdNotSent", "RegexpDoesntMatch", "RegexpShouldntMatch",
    "RegexpHdrNotFound", "OutboundCongestion", "TimeoutOnRecv", "TimeoutOnSend",
    "TestDoesntMatch", "TestShouldntMatch", "StrcmpDoesntMatch", "StrcmpShouldntMatch")


@dataclass(frozen=True, slots=True)
class LoadStats:
    """One SIPp process's view of the load (the UAC's; the sink's answered count)."""

    offered_cps: float  # SIPp's target rate
    achieved_cps: float  # created / generating_s
    generating_s: float  # SIPp start -> stop requested (or last row)
    created: int
    successful: int
    failed: int
    failed_by_reason: dict[str, int] = field(default_factory=dict)  # SIPp counter / SIP code
    concurrent_max: int = 0
    retransmissions: int = 0
    dead_call_msgs: int = 0
    setup_mean_ms: float | None = None  # SIPp rtd 1 (authenticated INVITE -> 200)
    setup_p50_ms: float | None = None  # from the -trace_rtt file
    setup_p95_ms: float | None = None
    setup_max_ms: float | None = None
    setup_n: int = 0
    call_length_mean_s: float | None = None

    @classmethod
    def parse(cls, stat_csv: str, rtt_csv: str = "", error_codes: str = "",
              stopped_wall: float | None = None) -> LoadStats:
        rows = _rows(stat_csv)
        if not rows:
            raise ValueError("no statistics rows (SIPp wrote only a header, or nothing)")
        last = rows[-1]
        start = _epoch(last["StartTime"])
        end = stopped_wall if stopped_wall is not None else _epoch(last["CurrentTime"])
        created = _int(last, "TotalCallCreated")
        window = max(end - start, 1e-9)
        by_reason = {name: _int(last, f"Failed{name}(C)") for name in _FAILURE_COLUMNS}
        reasons = {k: v for k, v in by_reason.items() if v}
        reasons.update({f"SIP {code}": n for code, n in _codes(error_codes).items()})
        rtts = _rtts(rtt_csv, 1)
        return cls(
            offered_cps=float(last.get("TargetRate") or 0.0),
            achieved_cps=round(created / window, 3), generating_s=round(window, 3),
            created=created, successful=_int(last, "SuccessfulCall(C)"),
            failed=_int(last, "FailedCall(C)"), failed_by_reason=reasons,
            concurrent_max=max(_int(r, "CurrentCall") for r in rows),
            retransmissions=_int(last, "Retransmissions(C)"),
            dead_call_msgs=_int(last, "DeadCallMsgs(C)"),
            setup_mean_ms=_ms(last.get("ResponseTime1(C)")) if rtts else None,
            setup_p50_ms=_pct(rtts, 50), setup_p95_ms=_pct(rtts, 95),
            setup_max_ms=max(rtts) if rtts else None, setup_n=len(rtts),
            call_length_mean_s=(None if not _int(last, "SuccessfulCall(C)") else
                                (_ms(last.get("CallLength(C)")) or 0.0) / 1000.0))


def answered(stat_csv: str) -> tuple[int, int]:
    """(calls the load sink completed, calls it failed): a UAS's statistics file."""
    rows = _rows(stat_csv)
    if not rows:
        return 0, 0
    return _int(rows[-1], "SuccessfulCall(C)"), _int(rows[-1], "FailedCall(C)")


def _rows(text: str) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(text), delimiter=";")
    try:
        header = next(reader)
    except StopIteration:
        return []
    return [dict(zip(header, row, strict=False)) for row in reader if len(row) > 3]


def _int(row: dict[str, str], key: str) -> int:
    value = (row.get(key) or "0").strip()
    return int(float(value)) if value else 0


def _epoch(stamp: str) -> float:
    """'2026-11-26\\t05:35:53.132181\\t1795671353.132181' -> 1795671353.132181."""
    return float(stamp.split("\t")[-1])


def _ms(text: str | None) -> float | None:
    """SIPp's 'HH:MM:SS:uuuuuu' -> milliseconds."""
    if not text:
        return None
    parts = text.strip().split(":")
    if len(parts) != 4:
        return None
    h, m, s, us = (int(p) for p in parts)
    return (h * 3600 + m * 60 + s) * 1000.0 + us / 1000.0


def _rtts(text: str, rtd: int) -> list[float]:
    out = []
    for line in text.splitlines()[1:]:
        parts = line.strip().split(";")
        if len(parts) >= 3 and parts[2].strip() == str(rtd):
            out.append(float(parts[1]))
    return out


def _codes(text: str) -> Counter[str]:
    out: Counter[str] = Counter()
    for line in text.splitlines():
        codes = line.rsplit(";", 1)[-1] if ";" in line else ""
        out.update(c.strip() for c in codes.split(",") if c.strip().isdigit())
    return out


def _pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(q * len(s) / 100) - 1))]
