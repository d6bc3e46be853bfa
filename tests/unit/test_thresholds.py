"""Thresholds parsed from text, nearest-rank percentiles, per-class/codec defaults."""

import dataclasses
import random

import numpy as np
import pytest

from harness.errors import ConfigError, HarnessError
from harness.verdict.thresholds import (
    Threshold,
    ThresholdError,
    ThresholdTable,
    nearest_rank,
)


@pytest.mark.parametrize(("text", "fields"), [
    ("srd_s p95 < 3.0", ("srd_s", "p95", "<", 3.0)),
    ("srd_s max <= 5", ("srd_s", "max", "<=", 5.0)),
    ("mos_lqo median >= 4.0", ("mos_lqo", "median", ">=", 4.0)),
    ("ser_pct >= 99", ("ser_pct", "value", ">=", 99.0)),
    ("loss_pct < 1", ("loss_pct", "value", "<", 1.0)),
    ("jitter_ms < 30", ("jitter_ms", "value", "<", 30.0)),
    ("  sdd_s p99<=0.5 ", ("sdd_s", "p99", "<=", 0.5)),
    ("mos_lqo min > 3.8", ("mos_lqo", "min", ">", 3.8)),
    ("x_s mean < 1e-3", ("x_s", "mean", "<", 0.001)),
    ("delta_ms p90 > -2.5", ("delta_ms", "p90", ">", -2.5)),
])
def test_parse(text: str, fields: tuple[str, str, str, float]) -> None:
    t = Threshold.parse(text)
    assert (t.metric, t.statistic, t.operator, t.limit) == fields
    assert Threshold.parse(str(t)) == t  # the canonical text parses back
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.limit = 1.0  # type: ignore[misc]


def test_canonical_text() -> None:
    assert str(Threshold.parse("srd_s   p95<3.0")) == "srd_s p95 < 3"
    assert str(Threshold.parse("ser_pct >= 99.5")) == "ser_pct >= 99.5"


@pytest.mark.parametrize(("text", "problem"), [
    ("", "no comparison operator"),
    ("srd_s p95 3.0", "no comparison operator"),
    ("srd_s p96 < 3", "unknown statistic 'p96'"),
    ("srd_s p95 =< 3", "unknown operator '=<'"),
    ("srd_s == 3", "unknown operator '=='"),
    ("srd_s p95 < abc", "limit 'abc' is not a number"),
    ("srd_s p95 <", "limit '' is not a number"),
    ("srd_s < 3_0", "limit '3_0' is not a number"),
    ("srd_s < nan", "limit 'nan' is not a number"),
    ("srd_s < 1e999", "not a finite number"),
    ("SRD_S < 3", "metric 'SRD_S' is not a lower-case snake_case name"),
    ("srd-s < 3", "metric 'srd-s'"),
    ("srd_s p95 extra < 3", "3 word(s) before the operator"),
    ("< 3", "0 word(s) before the operator"),
    ("srd_s < 3 < 4", "limit '3 < 4' is not a number"),
])
def test_malformed_text_names_source_field_text_and_problem(text: str, problem: str) -> None:
    with pytest.raises(ThresholdError) as err:
        Threshold.parse(text, source="plans/beta.yaml", field="thresholds.local[2]")
    msg = str(err.value)
    assert msg.startswith("plans/beta.yaml: field 'thresholds.local[2]' = ")
    assert repr(text) in msg and problem in msg and "\n" not in msg
    assert isinstance(err.value, ValueError) and isinstance(err.value, ConfigError)
    assert isinstance(err.value, HarnessError)


def test_nearest_rank_by_hand() -> None:
    # the worked example of the nearest-rank method (Wikipedia, "Percentile")
    data = [15.0, 20.0, 35.0, 40.0, 50.0]
    assert [nearest_rank(data, p) for p in (5, 30, 40, 50, 100)] == [15, 20, 20, 35, 50]
    twenty = [float(i) for i in range(20, 0, -1)]  # unsorted on purpose
    # ranks: ceil(.5*20)=10, ceil(.9*20)=18, ceil(.95*20)=19, ceil(.99*20)=20
    assert [nearest_rank(twenty, p) for p in (50, 90, 95, 99)] == [10, 18, 19, 20]
    assert nearest_rank([7.0], 95) == 7.0
    with pytest.raises(ValueError, match="no values"):
        nearest_rank([], 50)
    with pytest.raises(ValueError, match="percentile 0"):
        nearest_rank([1.0], 0)


def test_nearest_rank_is_numpy_inverted_cdf() -> None:
    rng = random.Random(6076)
    for n in (1, 2, 3, 7, 19, 20, 21, 100, 101):
        data = [rng.uniform(0.0, 8.0) for _ in range(n)]
        for p in (50, 90, 95, 99):
            expected = float(np.percentile(data, p, method="inverted_cdf"))
            assert nearest_rank(data, p) == expected, (n, p)


def test_percentile_check_passes_and_fails_with_its_figure() -> None:
    srd = [i / 10 for i in range(1, 21)]  # 0.1 .. 2.0 s
    res = Threshold.parse("srd_s p95 < 3.0").evaluate(srd)
    assert res.passed and res.measured == pytest.approx(1.9) and res.n == 20
    assert res.text == "srd_s p95 1.9 < 3 (n=20)"
    res = Threshold.parse("srd_s p95 < 1.5").evaluate(srd)
    assert not res.passed and res.text == "srd_s p95 1.9, limit < 1.5 (n=20)"


def test_median_is_not_p50_on_an_even_count() -> None:
    values = [4.4, 3.9, 4.1, 4.0]  # sorted 3.9 4.0 4.1 4.4
    assert Threshold.parse("mos_lqo median >= 4.0").evaluate(values).measured == \
        pytest.approx(4.05)
    assert Threshold.parse("mos_lqo p50 >= 4.0").evaluate(values).measured == 4.0
    assert Threshold.parse("mos_lqo mean >= 4.0").evaluate(values).measured == \
        pytest.approx(4.1)
    assert Threshold.parse("mos_lqo min >= 4.0").evaluate(values).measured == 3.9
    assert Threshold.parse("mos_lqo max >= 4.0").evaluate(values).measured == 4.4


def test_plain_value_means_every_value_and_reports_the_worst() -> None:
    res = Threshold.parse("jitter_ms < 30").evaluate([10.0, 42.0, 5.0])
    assert not res.passed and res.measured == 42.0
    assert res.text == "jitter_ms worst 42, limit < 30 (n=3)"
    res = Threshold.parse("mos_lqo >= 4.0").evaluate([4.3, 3.9, 4.2])
    assert not res.passed and res.measured == 3.9
    assert Threshold.parse("loss_pct < 1").evaluate([0.0, 0.5, 0.99]).passed


def test_operators_at_the_limit() -> None:
    assert Threshold.parse("srd_s <= 5").evaluate(5.0).passed
    assert not Threshold.parse("srd_s < 5").evaluate(5.0).passed
    assert Threshold.parse("ser_pct >= 99").evaluate(99).passed
    assert not Threshold.parse("ser_pct > 99").evaluate(99.0).passed


def test_nothing_measured_never_passes() -> None:
    check = Threshold.parse("ser_pct >= 99")
    nothing: tuple[list[float], None] = ([], None)
    for empty in nothing:
        res = check.evaluate(empty)
        assert not res.passed and res.measured is None
        assert res.text == "ser_pct >= 99: not measured (no values)"
    res = check.evaluate([99.5, float("nan")])
    assert not res.passed and "non-finite value nan among 2" in res.text


def _texts(checks: tuple[Threshold, ...]) -> list[str]:
    return [str(c) for c in checks]


@pytest.mark.parametrize(("call_class", "pdd"), [
    ("onnet", "3"), ("local", "3"), ("ld_intralata", "5"), ("ld_interlata", "5"),
    ("international", "8"),
])
def test_default_pdd_per_call_class(call_class: str, pdd: str) -> None:
    table = ThresholdTable.build()
    assert _texts(table.for_call(call_class, "PCMU")) == [
        f"srd_s <= {pdd}", "ser_pct >= 99", "mos_lqo >= 4", "loss_pct < 1", "jitter_ms < 30"]


def test_codec_defaults_and_aliases() -> None:
    table = ThresholdTable.build()
    assert table.for_key("PCMA") == table.for_key("G711") == table.for_key("pcmu")
    assert _texts(table.for_key("G722")) == ["mos_lqo >= 3.7", "loss_pct < 1",
                                             "jitter_ms < 30"]


def test_config_overrides_replace_by_metric_and_may_add_classes() -> None:
    table = ThresholdTable.build({
        "International": ["srd_s p95 <= 10", "srd_s max <= 12"],
        "pcma": "jitter_ms < 20",
        "premium": ["srd_s <= 4"],  # a class the defaults do not have
    }, source="site.yaml")
    assert _texts(table.for_key("international")) == [
        "ser_pct >= 99", "srd_s p95 <= 10", "srd_s max <= 12"]
    assert _texts(table.for_key("G711")) == ["mos_lqo >= 4", "loss_pct < 1",
                                             "jitter_ms < 20"]
    assert _texts(table.for_key("G722"))[-1] == "jitter_ms < 30"  # untouched
    assert _texts(table.for_key("premium")) == ["srd_s <= 4"]
    assert _texts(ThresholdTable.build().for_key("international"))[0] == "srd_s <= 8"


def test_bad_override_names_the_config_field() -> None:
    with pytest.raises(ThresholdError) as err:
        ThresholdTable.build({"local": ["srd_s p95 < 3", "srd_s p97 < 4"]},
                             source="site.yaml")
    assert str(err.value).startswith("site.yaml: field 'thresholds.local[1]' = 'srd_s p97")
    with pytest.raises(ThresholdError, match="expected a list of threshold strings"):
        ThresholdTable.build({"local": 3})  # type: ignore[dict-item]


def test_unknown_call_class_lists_the_known_ones() -> None:
    with pytest.raises(ThresholdError, match=r"no thresholds .*known: .*international"):
        ThresholdTable.build().for_call("interplanetary", "PCMU")
