"""The run's calls grouped by network impairment profile (docs/impairments.md): per
profile and direction, the median PESQ MOS-LQO of each source (ITU-T P.862.1/.2,
valid scores only), the wire's RFC 3550 loss and jitter, the G.107 rating R and
pjsua's RTCP round trip: the "clean vs each profile" table of the report. Beside
them, for a loss profile, the seeded pattern the harness's stage applied
(harness/network/netloss.py): realised loss, bursts (RFC 3611 §4.7.2, Gmin = 1), mean and
maximum burst length — the same on every call of the profile."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.network.impair import PROFILES
from harness.report.figures import DIRECTIONS, Call, median, stream


@dataclass(frozen=True, slots=True)
class PatternFigures:
    """The loss the stage applied toward one direction's receiver (harness.network.netloss)."""

    loss_pct: float
    bursts: float
    burst_mean: float
    burst_max: float


@dataclass(frozen=True, slots=True)
class ProfileRow:
    profile: str
    calls: int
    # per direction ("a_to_b", "b_to_a"): medians over the profile's calls
    mos_agent: dict[str, float | None]
    mos_wire: dict[str, float | None]
    loss_pct: dict[str, float | None]
    jitter_ms: dict[str, float | None]
    r_factor: dict[str, float | None]
    rtt_ms: float | None  # the caller's RTCP round trip (pjsua)
    # the stage's loss pattern per direction (medians; None: not a loss profile)
    pattern: dict[str, PatternFigures | None] = field(default_factory=dict)


def _pattern(group: list[Call], direction: str) -> PatternFigures | None:
    flows = [f for c in group for f in ((c.get("loss_stage") or {}).get("flows") or [])
             if f.get("lane") == direction]
    if not flows:
        return None

    def med(key: str) -> float:
        return float(median(float(f[key]) for f in flows) or 0.0)
    return PatternFigures(med("loss_pct"), med("bursts"), med("burst_mean"), med("burst_max"))


def _source_mos(call: Call, direction: str, source: str) -> float | None:
    q = (((call.get("quality") or {}).get(direction) or {}).get("sources") or {}).get(source)
    if not q or not q.get("valid") or q.get("mos_lqo") is None:
        return None
    return float(q["mos_lqo"])


def _wire(call: Call, direction: str, key: str) -> float | None:
    found = stream(call, direction)
    value = found.get(key) if found else None
    return float(value) if value is not None else None


def _invalid_r(call: Call, direction: str) -> bool:
    """The call's R in `direction` holds the harness host's delay (scoring.emodel_ratings):
    left out of the profile's median."""
    found = stream(call, direction)
    return bool(found and found.get("r_invalid"))


def profile_rows(calls: tuple[Call, ...]) -> list[ProfileRow]:
    """One row per profile the run used (answered calls only), in PROFILES order."""
    by: dict[str, list[Call]] = {}
    for c in calls:
        if c.get("profile") and c.get("final_code") == 200:
            by.setdefault(str(c["profile"]), []).append(c)
    order = [p for p in PROFILES if p in by] + sorted(set(by) - set(PROFILES))
    rows = []
    for name in order:
        group = by[name]

        def per(get: Any, group: list[Call] = group) -> dict[str, float | None]:
            return {d: median(v for v in (get(c, d) for c in group) if v is not None)
                    for d in DIRECTIONS}
        rtt = median(float(s["rtt_mean_ms"]) for c in group
                     if (s := stream(c, "b_to_a", "agent")) and s.get("rtt_mean_ms"))
        rows.append(ProfileRow(
            name, len(group), per(lambda c, d: _source_mos(c, d, "agent")),
            per(lambda c, d: _source_mos(c, d, "wire")),
            per(lambda c, d: _wire(c, d, "loss_pct")), per(lambda c, d: _wire(c, d, "jitter_ms")),
            per(lambda c, d: None if _invalid_r(c, d) else _wire(c, d, "r_factor")), rtt,
            {d: _pattern(group, d) for d in DIRECTIONS}))
    return rows
