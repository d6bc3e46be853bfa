"""Thresholds are data: "srd_s p95 < 3.0" parses into a check object.

Grammar (whitespace around the operator optional):

    <metric> [<statistic>] <operator> <limit>

    metric     snake_case name carrying its unit: srd_s, mos_lqo, ser_pct, jitter_ms
               (a call is judged on srd_s, setup_s, mos_lqo, loss_pct, jitter_ms)
    statistic  value | p50 | p90 | p95 | p99 | max | min | mean | median
               (omitted = value)
    operator   <  <=  >  >=
    limit      a finite number

Statistics over the measured values:

    value    every value must satisfy the check; the one reported is the worst
             (the largest for < and <=, the smallest for > and >=)
    pNN      nearest-rank percentile: the ceil(NN/100 * n)-th smallest value, an
             observed value, never interpolated (Hyndman & Fan 1996, definition 1;
             numpy's method="inverted_cdf")
    median   the conventional sample median (mean of the two middle values when n
             is even), so it can differ from p50
    mean, min, max  as named

A check with no values fails as "not measured"; a non-finite value fails too.
Malformed text raises `ThresholdError` (a `ConfigError` and a `ValueError`) naming
the source, the field, the text and what is wrong.

Per-call-class and per-codec defaults are data (`CALL_CLASS_DEFAULTS`,
`CODEC_DEFAULTS`); `ThresholdTable.build(overrides)` replaces, per key, the default
checks on each metric an override names, and may add keys.

One threshold system: a plan row's own limits (`Expect.srd_s_max`, `setup_s_max`,
`mos_lqo_min`) are compiled into the same table (`ThresholdTable.compile`), replacing
the class's or codec's limit on that figure for that row; every call is judged by one
limit per figure (`RowLimits`), each with where it came from.
"""

from __future__ import annotations

import functools
import math
import operator
import re
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from harness.errors import ConfigError
from harness.model import Expect, FromTable

STATISTICS = ("value", "p50", "p90", "p95", "p99", "max", "min", "mean", "median")
OPERATORS: Mapping[str, Callable[[float, float], bool]] = MappingProxyType({
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge})
_PERCENTILES = {"p50": 50, "p90": 90, "p95": 95, "p99": 99}
_SHAPE = re.compile(r"\s*(?P<left>[^<>=!]*?)\s*(?P<op>[<>=!]+)\s*(?P<right>.*?)\s*")
_METRIC = re.compile(r"[a-z][a-z0-9_]*")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_FORM = "expected '<metric> [<statistic>] <operator> <limit>', e.g. 'srd_s p95 < 3.0'"

# PDD (srd_s) per call, by call class: the beta plan's acceptance figures, not values
# from a standard. (SER is a figure over many calls: the busy hour judges it by its own
# row, LoadSpec.ser_pct_min; a plan row's unanswered call fails its row.)
CALL_CLASS_DEFAULTS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "onnet": ("srd_s <= 3.0",),
    "local": ("srd_s <= 3.0",),
    "ld_intralata": ("srd_s <= 5.0",),
    "ld_interlata": ("srd_s <= 5.0",),
    "international": ("srd_s <= 8.0",),
    "tollfree": ("srd_s <= 5.0",),
    "directory": ("srd_s <= 3.0",),
    "operator": ("srd_s <= 3.0",),
    "n11": ("srd_s <= 3.0",),
    "emergency": ("srd_s <= 3.0",),
    "incoming": ("srd_s <= 3.0",),
    "tollfree_in": ("srd_s <= 3.0",),
    "incomplete": ("srd_s <= 3.0",),  # an unassigned number: its refusal comes as fast
})
# Per call and direction, by codec (MOS-LQO: P.862.1 for G.711, P.862.2 for G.722).
# The scales differ: G.722 alone scores 3.89-3.95 (P.862.2) on the wideband references
# where G.711 alone scores 4.29-4.30 (P.862.1) on the narrowband ones.
CODEC_DEFAULTS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "G711": ("mos_lqo >= 4.2", "loss_pct < 1", "jitter_ms < 30"),
    "G722": ("mos_lqo >= 3.7", "loss_pct < 1", "jitter_ms < 30"),
})
CODEC_ALIASES: Mapping[str, str] = MappingProxyType({
    "PCMU": "G711", "PCMA": "G711", "G.711": "G711", "G.722": "G722"})


class ThresholdError(ConfigError, ValueError):
    """A threshold text that does not parse, or a lookup the table cannot answer."""


def nearest_rank(values: Sequence[float], pct: int) -> float:
    """The pct-th percentile by the nearest-rank method: the ceil(pct/100 * n)-th
    smallest value (1-based). Exact integer rank arithmetic; 0 < pct <= 100."""
    if not 0 < pct <= 100:
        raise ValueError(f"percentile {pct!r}: must be within 1..100")
    if not values:
        raise ValueError("percentile of no values")
    rank = -(-pct * len(values) // 100)  # ceil without float rounding
    return sorted(values)[rank - 1]


@dataclass(frozen=True, slots=True)
class ThresholdResult:
    passed: bool
    measured: float | None  # None: not measured
    text: str
    n: int = 0


@dataclass(frozen=True, slots=True)
class Threshold:
    metric: str
    statistic: str
    operator: str
    limit: float

    @classmethod
    def parse(cls, text: str, source: str = "<threshold>",
              field: str = "threshold") -> Threshold:
        """Parse one check; `source`/`field` name where the text came from."""
        def bad(problem: str) -> ThresholdError:
            return ThresholdError(source, field, text, problem)

        if not isinstance(text, str):
            raise bad("expected a string")
        m = _SHAPE.fullmatch(text)
        if not text.strip() or m is None:
            raise bad("no comparison operator; " + _FORM)
        op = m["op"]
        if op not in OPERATORS:
            raise bad(f"unknown operator {op!r} (known: {', '.join(OPERATORS)})")
        words = m["left"].split()
        if not 1 <= len(words) <= 2:
            raise bad(f"{len(words)} word(s) before the operator; " + _FORM)
        metric, statistic = words[0], (words[1] if len(words) == 2 else "value")
        if not _METRIC.fullmatch(metric):
            raise bad(f"metric {metric!r} is not a lower-case snake_case name with its "
                      "unit (e.g. srd_s, jitter_ms)")
        if statistic not in STATISTICS:
            raise bad(f"unknown statistic {statistic!r} (known: {', '.join(STATISTICS)})")
        if not _NUMBER.fullmatch(m["right"]):
            raise bad(f"limit {m['right']!r} is not a number; " + _FORM)
        limit = float(m["right"])
        if not math.isfinite(limit):  # e.g. 1e999
            raise bad(f"limit {m['right']!r} is not a finite number")
        return cls(metric, statistic, op, limit)

    def __str__(self) -> str:
        stat = "" if self.statistic == "value" else f" {self.statistic}"
        return f"{self.metric}{stat} {self.operator} {self.limit:g}"

    def measure(self, values: Sequence[float]) -> float:
        """The statistic of `values` (non-empty, finite) this check compares."""
        s = self.statistic
        if s == "value":
            return max(values) if self.operator in ("<", "<=") else min(values)
        if s in _PERCENTILES:
            return nearest_rank(values, _PERCENTILES[s])
        if s == "median":
            return float(statistics.median(values))
        if s == "mean":
            return statistics.fmean(values)
        return max(values) if s == "max" else min(values)

    def evaluate(self, values: float | Iterable[float] | None) -> ThresholdResult:
        """Pass/fail with the measured figure; a bare number is one value, None
        (e.g. a ratio with no denominator) is no value."""
        if values is None:
            vals: list[float] = []
        elif isinstance(values, (int, float)):
            vals = [float(values)]
        else:
            vals = [float(v) for v in values]
        n = len(vals)
        if n == 0:
            return ThresholdResult(False, None, f"{self}: not measured (no values)", 0)
        bad = [v for v in vals if not math.isfinite(v)]
        if bad:
            return ThresholdResult(False, None, f"{self}: not measured (non-finite value "
                                                f"{bad[0]} among {n})", n)
        measured = self.measure(vals)
        passed = OPERATORS[self.operator](measured, self.limit)
        label = f"{self.metric} {'worst' if self.statistic == 'value' else self.statistic}"
        if passed:
            text = f"{label} {measured:.6g} {self.operator} {self.limit:g} (n={n})"
        else:
            text = f"{label} {measured:.6g}, limit {self.operator} {self.limit:g} (n={n})"
        return ThresholdResult(passed, measured, text, n)


def parse_all(texts: str | Sequence[str], source: str, field: str) -> tuple[Threshold, ...]:
    """Parse a list of checks (a single string is a list of one)."""
    if isinstance(texts, str):
        return (Threshold.parse(texts, source, field),)
    if not isinstance(texts, Sequence):
        raise ThresholdError(source, field, texts, "expected a list of threshold strings")
    return tuple(Threshold.parse(t, source, f"{field}[{i}]") for i, t in enumerate(texts))


def _merge(base: tuple[Threshold, ...], new: tuple[Threshold, ...]) -> tuple[Threshold, ...]:
    replaced = {t.metric for t in new}
    return tuple(t for t in base if t.metric not in replaced) + new


@functools.cache
def _parsed_defaults() -> Mapping[str, tuple[Threshold, ...]]:
    """The harness's own defaults, parsed once (an origin is asked of every call)."""
    return {key: parse_all(texts, "<defaults>", key)
            for key, texts in (*CALL_CLASS_DEFAULTS.items(), *CODEC_DEFAULTS.items())}


def _codec_key(codec: str) -> str:
    key = codec.strip().upper()
    return CODEC_ALIASES.get(key, key)


@dataclass(frozen=True, slots=True)
class ThresholdTable:
    """Checks per key (call class, lower case; codec, upper case), parsed once."""

    checks: Mapping[str, tuple[Threshold, ...]] = field(default_factory=dict)
    source: str = "<defaults>"

    @classmethod
    def build(cls, overrides: Mapping[str, str | Sequence[str]] | None = None,
              source: str = "<defaults>", prefix: str = "thresholds") -> ThresholdTable:
        """Defaults, then `overrides` from config: for each key, an override's checks
        replace the default checks on the same metric (every statistic of it)."""
        table = dict(_parsed_defaults())
        for raw_key, texts in (overrides or {}).items():
            if not isinstance(raw_key, str) or not raw_key.strip():
                raise ThresholdError(source, prefix, raw_key, "key must be a call class "
                                     "or codec name")
            key = _codec_key(raw_key) if _codec_key(raw_key) in CODEC_DEFAULTS \
                else raw_key.strip().lower()
            parsed = parse_all(texts, source, f"{prefix}.{raw_key}")
            table[key] = _merge(table.get(key, ()), parsed)
        return cls(MappingProxyType(table), source)

    def key_of(self, key: str) -> str | None:
        """The table's key for a call class or codec name (any case, codec aliases)."""
        return next((c for c in (key.strip().lower(), _codec_key(key)) if c in self.checks),
                    None)

    def for_key(self, key: str) -> tuple[Threshold, ...]:
        found = self.key_of(key)
        if found is None:
            raise ThresholdError(self.source, "thresholds", key, "no thresholds for this call "
                                 f"class or codec (known: {', '.join(sorted(self.checks))})")
        return self.checks[found]

    def origin(self, key: str, threshold: Threshold) -> str:
        """Where `threshold` (one of `key`'s) comes from: the defaults in
        harness/verdict/thresholds.py, or the config file that overrode them."""
        found = self.key_of(key) or key
        if threshold in _parsed_defaults().get(found, ()):
            return f"harness/verdict/thresholds.py: {found}"
        return f"{self.source}: thresholds.{found}"

    def for_call(self, call_class: str, codec: str) -> tuple[Threshold, ...]:
        """The call class's checks followed by the codec's."""
        return self.for_key(call_class) + self.for_key(codec)

    def compile(self, expect: Expect, call_class: str, codec: str, profile: str = "",
                row: str = "") -> RowLimits:
        """One call's limits, one per figure: the call class's set-up checks (srd_s,
        setup_s) and, on a clean path, the codec's media checks (mos_lqo, loss_pct,
        jitter_ms), each replaced by the row's own limit where the row gives one
        (`Expect.srd_s_max`, `setup_s_max`, `mos_lqo_min`; None: not checked).
        A row under an impairment profile is meant to degrade: the codec's
        loss and jitter limits do not apply, and it gives its own MOS floor."""
        bounds: dict[str, Bound] = {}
        keys = [call_class] + ([codec] if profile in ("", "clean") else [])
        for key in keys:
            for t in self.checks.get(self.key_of(key) or "", ()):
                if t.metric in PER_CALL_METRICS and t.metric not in bounds:
                    bounds[t.metric] = Bound(t, self.origin(key, t))
        origin = f"plan row {row}" if row else "plan row"
        for metric, op, value in (("srd_s", "<=", expect.srd_s_max),
                                  ("setup_s", "<=", expect.setup_s_max),
                                  ("mos_lqo", ">=", expect.mos_lqo_min)):
            if value is None:
                bounds.pop(metric, None)
            elif not isinstance(value, FromTable):
                bounds[metric] = Bound(Threshold(metric, "value", op, float(value)), origin)
            elif metric != "setup_s" and metric not in bounds:  # asked of the table: it must say
                key = call_class if metric == "srd_s" else codec
                raise ThresholdError(self.source, f"thresholds.{key}", metric,
                                     f"plan row {row or '?'} takes its {metric} limit from "
                                     f"the table, which has none for {key!r}")
        return RowLimits(MappingProxyType(bounds))


# the figures a call is judged on against the table: its class's, its codec's
CLASS_METRICS = ("srd_s", "setup_s")
CODEC_METRICS = ("mos_lqo", "loss_pct", "jitter_ms")
PER_CALL_METRICS = CLASS_METRICS + CODEC_METRICS


@dataclass(frozen=True, slots=True)
class Bound:
    """One limit a call is judged by, and where it came from: "plan row 2.3", the
    harness's table ("harness/verdict/thresholds.py: local") or the config's."""

    threshold: Threshold
    origin: str

    @property
    def limit(self) -> float:
        return self.threshold.limit

    def holds(self, value: float, limit: float | None = None) -> bool:
        """`value` meets this bound (its own limit, or `limit` in its place: a score
        judged against a floor of its own)."""
        return OPERATORS[self.threshold.operator](
            value, self.threshold.limit if limit is None else limit)

    def shown(self, digits: int) -> str:
        """The limit as the verdict shows it, e.g. '<= 3.000', '>= 4.20'."""
        return f"{self.threshold.operator} {self.threshold.limit:.{digits}f}"

    @property
    def breached(self) -> str:
        """The operator a failing value stands in: '>' for a '<=' limit."""
        return _BREACH[self.threshold.operator]


_BREACH = {"<=": ">", "<": ">=", ">=": "<", ">": "<="}


@dataclass(frozen=True, slots=True)
class RowLimits:
    """A call's compiled limits by metric (`ThresholdTable.compile`)."""

    bounds: Mapping[str, Bound] = field(default_factory=dict)

    def get(self, metric: str) -> Bound | None:
        return self.bounds.get(metric)

    def limit(self, metric: str) -> float | None:
        bound = self.bounds.get(metric)
        return None if bound is None else bound.limit

    def applied_to(self, expect: Expect) -> Expect:
        """`expect` with the compiled figures in place of the table's (results.json and
        the report show the limit each call was judged by)."""
        return replace(expect, srd_s_max=self.limit("srd_s"), setup_s_max=self.limit(
            "setup_s"), mos_lqo_min=self.limit("mos_lqo"))
