"""RFC 6076 aggregate metrics over many call attempts, per call class and overall.

    §4.1  RRD   Registration Request Delay: REGISTER -> its final response (given
                separately: registrations are not calls)
    §4.3  SRD   Session Request Delay, reported as p50/p95/max: §4.3.1 successful
                set-up (final 2xx) apart from §4.3.2 failed set-up (4xx-6xx or none)
    §4.4  SDD   Session Disconnect Delay, p50/p95/max
    §4.6  SER   = INVITEs answered 200 / (INVITEs - INVITEs answered 3xx) x 100
    §4.7  SEER  = INVITEs answered 200, 480, 486, 600 or 603
                  / (INVITEs - INVITEs answered 3xx) x 100
    §4.8  ISA   = INVITEs answered 408, 500, 503 or 504 / INVITEs x 100
                  (no 3xx exclusion in this denominator)
    §4.9  SCR   = successfully completed sessions / INVITEs x 100
    setup_s     INVITE -> 200 (ITU-T E.721 call set-up time), p50/p95/max

Readings chosen where the RFC leaves room:

- One `Attempt` is one session request as the caller sees it. An INVITE challenged
  with 401/407 and re-sent with credentials is the same attempt; its final code is
  that of the authenticated INVITE. Retransmissions are not attempts; when given they
  are summed (a count, not an RFC 6076 metric).
- No final response at all (`final_code=None`) is counted as 408: RFC 3261 §8.1.3.1
  has the UAC treat a transaction timeout as a 408 (Request Timeout). It is thus
  ineffective (ISA) and not established (SER, SEER).
- SER counts 200 exactly, as §4.6 writes "200 OK".
- "Completed" (§4.9: a dialog that completes without failing for lack of response)
  is the caller's judgement, carried by `Attempt.completed`; the harness's reading is
  "answered 200 and ended by a BYE that got its 2xx". An attempt without any final
  response cannot be completed.
- A ratio whose denominator is 0 is None (undefined), never 0 % or 100 %.
- A 3xx attempt's SRD is neither §4.3.1 nor §4.3.2: it is left out of both.

Percentiles are nearest-rank (`harness.verdict.thresholds.nearest_rank`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.verdict.thresholds import nearest_rank

EFFECTIVE_FAILURE_CODES = frozenset({480, 486, 600, 603})  # RFC 6076 §4.7
INEFFECTIVE_CODES = frozenset({408, 500, 503, 504})  # RFC 6076 §4.8
TIMEOUT_CODE = 408  # RFC 3261 §8.1.3.1: a transaction timeout counts as 408
OVERALL = "all"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One session request: its final response code and RFC 6076 times (seconds)."""

    final_code: int | None  # None: no final response received
    srd_s: float | None
    setup_s: float | None
    sdd_s: float | None
    completed: bool
    call_class: str
    retransmissions: int | None = None  # INVITE retransmissions, when known

    def __post_init__(self) -> None:
        code = self.final_code
        if code is not None and not (isinstance(code, int) and 200 <= code <= 699):
            raise ValueError(f"Attempt.final_code {code!r}: a final response is 200..699 "
                             "(None when none came)")
        for name in ("srd_s", "setup_s", "sdd_s"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"Attempt.{name} {value!r}: must be a finite time >= 0")
        if self.completed and code is None:
            raise ValueError("Attempt.completed with no final response: a session "
                             "without a response cannot be completed (RFC 6076 §4.9)")
        if self.retransmissions is not None and self.retransmissions < 0:
            raise ValueError(f"Attempt.retransmissions {self.retransmissions!r}: must be >= 0")

    @property
    def effective_code(self) -> int:
        """The final code, with no response read as 408 (RFC 3261 §8.1.3.1)."""
        return TIMEOUT_CODE if self.final_code is None else self.final_code


@dataclass(frozen=True, slots=True)
class DelayStats:
    """Nearest-rank p50/p95 and the maximum of a set of delays; None when n = 0."""

    n: int
    p50_s: float | None
    p95_s: float | None
    max_s: float | None

    @classmethod
    def of(cls, values: Iterable[float | None]) -> DelayStats:
        vals = [v for v in values if v is not None]
        for v in vals:
            if not (math.isfinite(v) and v >= 0.0):
                raise ValueError(f"delay {v!r} s: must be a finite time >= 0")
        if not vals:
            return cls(0, None, None, None)
        return cls(len(vals), nearest_rank(vals, 50), nearest_rank(vals, 95), max(vals))


@dataclass(frozen=True, slots=True)
class AggregateMetrics:
    """RFC 6076 figures of one group of attempts (a call class, or all of them)."""

    call_class: str
    attempts: int
    answered: int  # final 200
    redirected: int  # final 3xx
    effective: int  # final 200, 480, 486, 600, 603 (§4.7)
    ineffective: int  # final 408, 500, 503, 504, or none (§4.8)
    no_response: int  # no final response (counted as 408)
    completed: int  # §4.9
    ser_pct: float | None
    seer_pct: float | None
    isa_pct: float | None
    scr_pct: float | None
    srd: DelayStats  # §4.3.1, successful session set-up
    srd_failed: DelayStats  # §4.3.2, failed session set-up
    setup: DelayStats
    sdd: DelayStats  # §4.4
    retransmissions: int | None  # sum over the attempts that reported it
    retransmissions_reported: int  # how many attempts reported it


def _pct(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else 100.0 * numerator / denominator


def aggregate(attempts: Sequence[Attempt], call_class: str = OVERALL) -> AggregateMetrics:
    """RFC 6076 §4.3, §4.4, §4.6-§4.9 over `attempts` (see the module docstring)."""
    codes = [a.effective_code for a in attempts]
    total = len(attempts)
    redirected = sum(1 for c in codes if 300 <= c < 400)
    answered = sum(1 for c in codes if c == 200)
    effective = sum(1 for c in codes if c == 200 or c in EFFECTIVE_FAILURE_CODES)
    ineffective = sum(1 for c in codes if c in INEFFECTIVE_CODES)
    completed = sum(1 for a in attempts if a.completed)
    reported = [a.retransmissions for a in attempts if a.retransmissions is not None]
    return AggregateMetrics(
        call_class=call_class, attempts=total, answered=answered, redirected=redirected,
        effective=effective, ineffective=ineffective,
        no_response=sum(1 for a in attempts if a.final_code is None), completed=completed,
        ser_pct=_pct(answered, total - redirected),
        seer_pct=_pct(effective, total - redirected),
        isa_pct=_pct(ineffective, total), scr_pct=_pct(completed, total),
        srd=DelayStats.of(a.srd_s for a, c in zip(attempts, codes, strict=True)
                          if 200 <= c < 300),
        srd_failed=DelayStats.of(a.srd_s for a, c in zip(attempts, codes, strict=True)
                                 if c >= 400),
        setup=DelayStats.of(a.setup_s for a in attempts),
        sdd=DelayStats.of(a.sdd_s for a in attempts),
        retransmissions=sum(reported) if reported else None,
        retransmissions_reported=len(reported))


@dataclass(frozen=True, slots=True)
class Summary:
    overall: AggregateMetrics
    by_class: tuple[AggregateMetrics, ...]  # sorted by call class
    rrd: DelayStats  # RFC 6076 §4.1

    def for_class(self, call_class: str) -> AggregateMetrics:
        for m in self.by_class:
            if m.call_class == call_class:
                return m
        known = ", ".join(m.call_class for m in self.by_class) or "none"
        raise KeyError(f"no attempts of call class {call_class!r} (classes: {known})")


def summarise(attempts: Iterable[Attempt], rrd_s: Iterable[float] = ()) -> Summary:
    """Aggregate per call class and overall; `rrd_s` are REGISTER delays (§4.1)."""
    every = list(attempts)
    classes = sorted({a.call_class for a in every})
    return Summary(
        overall=aggregate(every, OVERALL),
        by_class=tuple(aggregate([a for a in every if a.call_class == c], c)
                       for c in classes),
        rrd=DelayStats.of(rrd_s))
