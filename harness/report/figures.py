"""The figures a report shows, computed from the calls' JSON documents.

SER (RFC 6076 §4.6), ISA (§4.8) and the PDD percentiles (SRD, §4.3.1, nearest
rank) are `harness.verdict.aggregate`'s, over one `Attempt` per call that sent an INVITE; a
set-up time taken while the host stalled is left out (it is not the switch's).
MOS medians are over the directions every source scored validly (ITU-T P.862.1/.2).

Nothing here decides a verdict: a criterion's state is read from the reasons
`harness.verdict.metrics.decide` gave each call, so the report cannot disagree with it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from harness.report.store import RunRecord
from harness.verdict.aggregate import AggregateMetrics, Attempt, DelayStats, aggregate

DIRECTIONS = ("a_to_b", "b_to_a")
DIRECTION_LABEL = {"a_to_b": "A→B", "b_to_a": "B→A"}

Call = dict[str, Any]


def median(values: Iterable[float]) -> float | None:
    data = list(values)
    return statistics.median(data) if data else None


# -- what one call contributes ---------------------------------------------------------------
def outcome(call: Call) -> str:
    """pass | fail | invalid (host stall: not a judgement of the switch) | error."""
    if call["verdict"] == "error":
        return "invalid" if call.get("invalid_measurement") else "error"
    return str(call["verdict"])


def sent_invite(call: Call) -> bool:
    events = call.get("events") or []
    return any(e.get("kind") == "INVITE_SENT" for e in events) or call.get("final_code") \
        is not None


def call_class(call: Call) -> str:
    """The class the switch rated the call in (its CDR), else the plan's call type."""
    record = (call.get("cdr") or {}).get("record") or {}
    return str(record.get("call_class") or call["call_type"])


def attempt(call: Call) -> Attempt | None:
    """The call as an RFC 6076 session attempt; None if no INVITE left the caller."""
    if not sent_invite(call):
        return None
    timing = call.get("timing") or {}
    code = call.get("final_code")
    final = code if isinstance(code, int) and 200 <= code <= 699 else None
    sdd = timing.get("sdd_s")  # SDD is measured on the wire only in newer results
    return Attempt(final, valid_pdd(call),
                   timing.get("setup_s") if timing.get("valid", True) else None,
                   sdd if sdd is not None else timing.get("wire_sdd_s"),
                   final == 200 and timing.get("sdt_s") is not None,
                   call_class(call), timing.get("retransmissions"))


def valid_pdd(call: Call) -> float | None:
    timing = call.get("timing") or {}
    value = timing.get("srd_s")
    return float(value) if value is not None and timing.get("valid", True) else None


def scored_mos(call: Call, direction: str) -> float | None:
    """The direction's headline MOS-LQO, only when every source scored it validly."""
    if call.get("invalid_measurement"):
        return None
    q = (call.get("quality") or {}).get(direction) or {}
    value = q.get("mos_lqo")
    return float(value) if value is not None and q.get("valid") else None


def stream(call: Call, direction: str, source: str = "wire") -> dict[str, Any] | None:
    """A direction's stream figures: `source` "wire" (the capture, RFC 3550) or "agent"
    (what the receiving agent's RTP session counted)."""
    found = (call.get("streams") or {}).get(f"{source}_{direction}")
    return found if isinstance(found, dict) else None


def _values(calls: Iterable[Call], get: Callable[[Call], float | None]) -> list[float]:
    return [v for v in (get(c) for c in calls) if v is not None]


def mos_values(calls: Iterable[Call], direction: str) -> list[float]:
    return [v for v in (scored_mos(c, direction) for c in calls) if v is not None]


# -- the headline ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Headline:
    calls: int
    counts: dict[str, int]  # pass / fail / invalid / error
    rfc: AggregateMetrics  # RFC 6076 over every call that sent an INVITE
    # the same over the calls the plan expects to complete (final 200): the plan's
    # busy, no-answer and unassigned rows are meant to fail and would skew SER
    rfc_expected: AggregateMetrics
    mos_median: dict[str, float | None]
    mos_n: dict[str, int]


def headline(calls: tuple[Call, ...]) -> Headline:
    counts = {k: 0 for k in ("pass", "fail", "invalid", "error")}
    for c in calls:
        counts[outcome(c)] += 1
    attempts = [a for a in (attempt(c) for c in calls) if a is not None]
    meant = [a for c in calls if _expects_answer(c) for a in [attempt(c)] if a is not None]
    return Headline(calls=len(calls), counts=counts, rfc=aggregate(attempts),
                    rfc_expected=aggregate(meant),
                    mos_median={d: median(mos_values(calls, d)) for d in DIRECTIONS},
                    mos_n={d: len(mos_values(calls, d)) for d in DIRECTIONS})


def _expects_answer(call: Call) -> bool:
    expect = call.get("expect") or {}
    return bool(expect.get("final_code", 200) == 200)


def run_word(run: RunRecord, counts: dict[str, int]) -> str:
    """The run's one word as judged at its close (harness/verdict/run.py); a run
    recorded before runs were judged (or never closed) by its calls alone."""
    if run.verdict and run.verdict.get("word"):
        return str(run.verdict["word"])
    return run_verdict(run.finished, counts)


def run_verdict(finished: bool, counts: dict[str, int]) -> str:
    """A run's word from its calls alone (runs recorded before the run's own verdict
    was kept): ACCEPTED only for a finished run where every call passed."""
    if not finished:
        return "INCOMPLETE"
    if not sum(counts.values()):
        return "NO CALLS"
    if counts["fail"]:
        return "NOT ACCEPTED"
    if counts["invalid"] or counts["error"]:
        return "INCONCLUSIVE"
    return "ACCEPTED"


# -- the acceptance table: one row per call type ----------------------------------------------
@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    limit: str  # the threshold as the plan states it
    measured: str  # what the calls of this type measured
    state: str  # pass | fail | invalid | n/a


@dataclass(frozen=True, slots=True)
class AcceptanceRow:
    call_type: str
    plan_ids: tuple[str, ...]
    call_class: str
    counts: dict[str, int]
    criteria: tuple[Criterion, ...]
    other_reasons: tuple[str, ...]  # failures no criterion covers, and harness errors
    # the compact line of the front page's matrix
    codes: str = ""  # final responses and how many of each
    pdd_max_s: float | None = None  # the worst valid PDD (SRD) of the type's calls
    mos: tuple[float | None, float | None] = (None, None)  # medians A->B, B->A
    mos_worst: float | None = None  # the worst valid score of any path and source
    scored: int = 0  # valid scores behind mos_worst
    cdr_state: str = "n/a"
    reasons: tuple[str, ...] = ()  # every reason of the type's calls that did not pass

    @property
    def plan_label(self) -> str:
        """The row's plan ids, a long run of them (the busy hour's calls) as a range."""
        ids = self.plan_ids
        return ", ".join(ids) if len(ids) <= 3 else f"{ids[0]}–{ids[-1]} ({len(ids)})"

    @property
    def section(self) -> str:
        return self.plan_ids[0].split(".", 1)[0] if self.plan_ids else ""

    @property
    def attempts(self) -> int:
        return sum(self.counts.values())

    @property
    def verdict(self) -> str:
        for state, word in (("fail", "FAIL"), ("error", "ERROR"), ("invalid", "INVALID")):
            if self.counts[state]:
                return word
        return "PASS"


def _fmt(value: float | None, digits: int, unit: str = "") -> str:
    return "—" if value is None else f"{value:.{digits}f}{unit}"


def _limits(calls: list[Call], key: str, fmt: Callable[[Any], str]) -> str:
    seen: list[str] = []
    for c in calls:
        value = (c.get("expect") or {}).get(key)
        if value is not None and fmt(value) not in seen:
            seen.append(fmt(value))
    return " / ".join(seen)


def _criterion_checks(c: Call, family: str) -> list[dict[str, Any]] | None:
    """The call's checks of `family` (a criterion or its dotted prefix); None for a
    call written before results carried checks."""
    checks = c.get("checks")
    if checks is None:
        return None
    return [k for k in checks if k["criterion"] == family or
            k["criterion"].startswith(family + ".")]


def _state(calls: list[Call], prefix: str, checked: bool) -> str:
    """fail if any call failed on criterion `prefix`, invalid if only invalid
    measurements did (from the calls' checks; older results: their reasons)."""
    if not checked:
        return "n/a"
    family = prefix.rstrip(".")
    found = [_criterion_checks(c, family) for c in calls]
    if all(f is not None for f in found):
        outcomes = {k["outcome"] for f in found for k in f or []}
        if outcomes & {"fail", "error", "not-run"}:
            return "fail"
        return "invalid" if "invalid" in outcomes else "pass"
    hits = [r for c in calls for r in c.get("reasons") or [] if r.startswith(prefix)]
    if any("invalid_measurement" not in r for r in hits):
        return "fail"
    return "invalid" if hits else "pass"


def _code_counts(calls: list[Call]) -> str:
    counts: dict[str, int] = {}
    for c in calls:
        key = str(c.get("final_code") or "none")
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k} ×{n}" for k, n in counts.items())


def _criteria(calls: list[Call]) -> tuple[Criterion, ...]:
    if not any(c.get("expect") for c in calls):
        return (Criterion("Criteria", "not recorded (results written before schema "
                          "carried thresholds)", "—", "n/a"),)
    pdd = DelayStats.of(valid_pdd(c) for c in calls)
    setup = _values(calls, lambda c: (c.get("timing") or {}).get("setup_s"))
    out = [
        Criterion("Final response", _limits(calls, "final_code", lambda v: f"= {v}"),
                  _code_counts(calls), _state(calls, "final_code", True)),
        Criterion("PDD (SRD, RFC 6076 §4.3)", _limits(calls, "srd_s_max",
                                                     lambda v: f"≤ {v:.3f} s"),
                  f"p95 {_fmt(pdd.p95_s, 3, ' s')} · max {_fmt(pdd.max_s, 3, ' s')}",
                  _state(calls, "timing.srd_s", bool(_limits(calls, "srd_s_max", str)))),
        Criterion("Set-up time (INVITE→200)", _limits(calls, "setup_s_max",
                                                      lambda v: f"≤ {v:.3f} s"),
                  f"max {_fmt(max(setup, default=None), 3, ' s')}",
                  _state(calls, "timing.setup_s", bool(_limits(calls, "setup_s_max", str)))),
    ]
    for d in DIRECTIONS:
        mos = mos_values(calls, d)
        out.append(Criterion(f"MOS-LQO {DIRECTION_LABEL[d]}",
                             _limits(calls, "mos_lqo_min", lambda v: f"≥ {v:.2f}"),
                             f"min {_fmt(min(mos, default=None), 2)} · median "
                             f"{_fmt(median(mos), 2)} ({len(mos)}/{len(calls)} scored)",
                             _state(calls, f"quality.{d}",
                                    bool(_limits(calls, "mos_lqo_min", str)))))
    out.append(_cdr_criterion(calls))
    other = _other_expectations(calls)
    if other or _other_reasons(calls, "fail"):
        out.append(Criterion("Other checks", other or "—",
                             f"{len(_other_reasons(calls, 'fail'))} failure(s), listed below",
                             "fail" if _other_reasons(calls, "fail") else "pass"))
    return tuple(out)


_SHOWN = ("final_code", "srd_s_max", "setup_s_max", "mos_lqo_min", "cdr")
_KNOWN_REASONS = ("final_code", "timing.", "quality.", "cdr")


def _other_expectations(calls: list[Call]) -> str:
    """What the plan expects beyond the criteria above (rings, caller_id, ...)."""
    seen: list[str] = []
    for c in calls:
        for key, value in (c.get("expect") or {}).items():
            if key not in _SHOWN and value not in (None, False, "") and \
                    f"{key} = {value}" not in seen:
                seen.append(f"{key} = {value}")
    return " · ".join(seen)


_KNOWN_FAMILIES = ("final_code", "timing", "quality", "cdr")


def _other_reasons(calls: list[Call], *outcomes: str) -> list[str]:
    """Reasons of calls with these outcomes that no criterion above covers (by the
    checks' criteria; older results: by their reasons' text)."""
    out: set[str] = set()
    for c in calls:
        if outcome(c) not in outcomes:
            continue
        if c.get("checks") is not None:
            out.update(k.get("message", "") for k in c["checks"]
                       if k["outcome"] != "pass" and
                       k["criterion"].split(".", 1)[0] not in _KNOWN_FAMILIES)
        else:
            out.update(r for r in c.get("reasons") or [] if not r.startswith(_KNOWN_REASONS))
    return sorted(out)


def _cdr_criterion(calls: list[Call]) -> Criterion:
    checked = any((c.get("expect") or {}).get("cdr") for c in calls)
    found = sum(1 for c in calls if (c.get("cdr") or {}).get("matched"))
    mismatched = sum(1 for c in calls if (c.get("cdr") or {}).get("matched")
                     and (c.get("cdr") or {}).get("mismatches"))
    return Criterion("CDR reconciled", "record found, fields within tolerance" if checked
                     else "", f"{found}/{len(calls)} found · {mismatched} with mismatches",
                     _state(calls, "cdr", checked))


def acceptance(calls: tuple[Call, ...]) -> list[AcceptanceRow]:
    """One row per call type, in the order the plan first placed them."""
    by_type: dict[str, list[Call]] = {}
    for c in calls:
        by_type.setdefault(str(c["call_type"]), []).append(c)
    rows = []
    for call_type, group in by_type.items():
        counts = {k: 0 for k in ("pass", "fail", "invalid", "error")}
        for c in group:
            counts[outcome(c)] += 1
        classes = {str(((c.get("cdr") or {}).get("record") or {}).get("call_class") or "")
                   for c in group} - {""}
        worst = _all_scores(group)
        checked = any((c.get("expect") or {}).get("cdr") for c in group)
        rows.append(AcceptanceRow(
            call_type, tuple(dict.fromkeys(c["plan_id"] for c in group)),
            ", ".join(sorted(classes)), counts, _criteria(group),
            tuple(_other_reasons(group, "fail", "error")), _code_counts(group),
            max(_values(group, valid_pdd), default=None),
            (median(mos_values(group, "a_to_b")), median(mos_values(group, "b_to_a"))),
            min(worst, default=None), len(worst), _state(group, "cdr", checked),
            tuple(dict.fromkeys(r for c in group if outcome(c) != "pass"
                                for r in c.get("reasons") or []))))
    return rows


def by_section(rows: list[AcceptanceRow]) -> list[tuple[str, list[AcceptanceRow]]]:
    """The rows grouped by plan section, sections in the order the plan first shows
    them (rows are in plan order)."""
    groups: dict[str, list[AcceptanceRow]] = {}
    for r in rows:
        groups.setdefault(r.section, []).append(r)
    return list(groups.items())


def _all_scores(calls: list[Call]) -> list[float]:
    """Every valid MOS-LQO of the calls: each direction (transfer and 3-way paths
    included) and each source."""
    out = []
    for c in calls:
        for q in (c.get("quality") or {}).values():
            for src in (q.get("sources") or {}).values():
                if src.get("valid") and src.get("mos_lqo") is not None:
                    out.append(float(src["mos_lqo"]))
    return out


@dataclass(frozen=True, slots=True)
class SiteRow:
    """One customer site (or the branch office): its lines' calls."""

    site: str
    lines: int  # lines of the site that took part in a call
    calls: int  # calls a line of the site placed or answered
    passed: int
    mos_median: float | None


def per_site(calls: tuple[Call, ...]) -> list[SiteRow]:
    """Calls by the site of each beta line in them (caller, dialled or answering line),
    with the median of their valid scores: where trouble concentrates at a glance."""
    by: dict[str, dict[str, Any]] = {}
    for c in calls:
        parties = {str(c.get("caller") or ""), str(c.get("dial") or "").removeprefix("*67")}
        parties |= {str(f.get("seat") or "") for f in c.get("far_ends") or []
                    if isinstance(f, dict)}
        sites = {p.split("/", 1)[0] for p in parties if p.startswith("site") and "/" in p}
        for site in sites:
            entry = by.setdefault(site, {"lines": set(), "calls": 0, "passed": 0, "mos": []})
            entry["lines"] |= {p for p in parties if p.startswith(site + "/")}
            entry["calls"] += 1
            entry["passed"] += outcome(c) == "pass"
            entry["mos"] += [v for d in DIRECTIONS if (v := scored_mos(c, d)) is not None]
    return [SiteRow(site, len(e["lines"]), e["calls"], e["passed"], median(e["mos"]))
            for site, e in sorted(by.items(), key=lambda kv: int(kv[0][4:] or 0))]


# -- the trend over past runs ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TrendPoint:
    run_id: str
    started_wall: float
    finished: bool
    calls: int
    pass_rate_pct: float | None
    pdd_median_s: float | None
    mos_median: float | None


def trend_point(run_id: str, started_wall: float, finished: bool,
                rows: list[tuple[str, float | None, int, float | None, float | None]]
                ) -> TrendPoint:
    """From `SqliteStore.figures()` rows: (verdict, valid srd_s, invalid, mos a, mos b)."""
    judged = [r for r in rows if not (r[0] == "error" and r[2])]
    passed = sum(1 for r in judged if r[0] == "pass")
    pdd = [r[1] for r in rows if r[1] is not None]
    mos = [m for r in rows if not r[2] for m in (r[3], r[4]) if m is not None]
    return TrendPoint(run_id, started_wall, finished, len(rows),
                      100.0 * passed / len(judged) if judged else None, median(pdd), median(mos))


# -- against the previous run of the same plan --------------------------------------------------
MOS_MOVED = 0.3  # a call type's worst MOS moved this much: shown
PDD_MOVED_S = 0.05  # ... its worst PDD moved this much (and by half): shown


@dataclass(frozen=True, slots=True)
class RunDiff:
    previous: str  # the run compared with
    new_failures: tuple[str, ...]  # call types that passed then and do not now
    fixed: tuple[str, ...]  # call types that did not pass then and do now
    moved: tuple[str, ...]  # figures that moved beyond MOS_MOVED / PDD_MOVED_S
    note: str = ""  # why nothing was compared


def compare(calls: tuple[Call, ...], previous: tuple[Call, ...], previous_id: str) -> RunDiff:
    """What changed since `previous` (the same plan's newest earlier run), by call type."""
    now = {r.call_type: r for r in acceptance(calls)}
    then = {r.call_type: r for r in acceptance(previous)}
    new = tuple(t for t, r in now.items() if r.verdict != "PASS" and t in then
                and then[t].verdict == "PASS")
    fixed = tuple(t for t, r in now.items() if r.verdict == "PASS" and t in then
                  and then[t].verdict != "PASS")
    moved = []
    for t, r in now.items():
        old = then.get(t)
        if old is None:
            continue
        if r.mos_worst is not None and old.mos_worst is not None and \
                abs(r.mos_worst - old.mos_worst) >= MOS_MOVED:
            moved.append(f"{t}: MOS worst {old.mos_worst:.2f} → {r.mos_worst:.2f}")
        if r.pdd_max_s is not None and old.pdd_max_s is not None and \
                abs(r.pdd_max_s - old.pdd_max_s) >= PDD_MOVED_S and \
                abs(r.pdd_max_s - old.pdd_max_s) >= 0.5 * min(r.pdd_max_s, old.pdd_max_s):
            moved.append(f"{t}: PDD max {1000 * old.pdd_max_s:.0f} → "
                         f"{1000 * r.pdd_max_s:.0f} ms")
    return RunDiff(previous_id, new, fixed, tuple(moved))
