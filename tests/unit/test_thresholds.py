"""Thresholds parsed from text, nearest-rank percentiles, per-class/codec defaults."""

import dataclasses
import random

import numpy as np
import pytest

from harness.errors import ConfigError, HarnessError
from harness.model import Expect
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
        f"srd_s <= {pdd}", "mos_lqo >= 4.2", "loss_pct < 1", "jitter_ms < 30"]


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
    assert _texts(table.for_key("international")) == ["srd_s p95 <= 10", "srd_s max <= 12"]
    assert _texts(table.for_key("G711")) == ["mos_lqo >= 4.2", "loss_pct < 1",
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


# -- one call's limits: the row's Expect compiled into the table ---------------------
def _limits(expect: Expect, call_class: str = "ld_interlata", codec: str = "PCMA",
            profile: str = "", table: ThresholdTable | None = None) -> dict[str, tuple[str, str]]:
    compiled = (table or ThresholdTable.build()).compile(expect, call_class, codec, profile,
                                                          "2.3")
    return {m: (str(b.threshold), b.origin) for m, b in compiled.bounds.items()}


def test_a_row_that_says_nothing_is_judged_by_its_class_and_codec() -> None:
    assert _limits(Expect()) == {
        "srd_s": ("srd_s <= 5", "harness/verdict/thresholds.py: ld_interlata"),
        "mos_lqo": ("mos_lqo >= 4.2", "harness/verdict/thresholds.py: G711"),
        "loss_pct": ("loss_pct < 1", "harness/verdict/thresholds.py: G711"),
        "jitter_ms": ("jitter_ms < 30", "harness/verdict/thresholds.py: G711")}


def test_a_rows_own_limit_replaces_the_tables_and_none_drops_it() -> None:
    got = _limits(Expect(srd_s_max=6.5, setup_s_max=9.0, mos_lqo_min=None))
    assert got["srd_s"] == ("srd_s <= 6.5", "plan row 2.3")
    assert got["setup_s"] == ("setup_s <= 9", "plan row 2.3")
    assert "mos_lqo" not in got and "loss_pct" in got  # not scored; the wire still judged
    assert "srd_s" not in _limits(Expect(srd_s_max=None))


def test_the_configs_table_is_the_default_a_row_can_still_override() -> None:
    table = ThresholdTable.build({"ld_interlata": ["srd_s p95 < 4"], "G711": "mos_lqo >= 4.1"},
                                 source="beta.yaml")
    got = _limits(Expect(), table=table)
    assert got["srd_s"] == ("srd_s p95 < 4", "beta.yaml: thresholds.ld_interlata")
    assert got["mos_lqo"] == ("mos_lqo >= 4.1", "beta.yaml: thresholds.G711")
    assert _limits(Expect(mos_lqo_min=3.9), table=table)["mos_lqo"] == (
        "mos_lqo >= 3.9", "plan row 2.3")


def test_an_impaired_row_is_judged_by_its_class_and_its_own_floor() -> None:
    got = _limits(Expect(mos_lqo_min=3.15), profile="loss3")
    assert set(got) == {"srd_s", "mos_lqo"} and got["mos_lqo"][1] == "plan row 2.3"
    assert set(_limits(Expect(mos_lqo_min=4.0), profile="clean")) == {
        "srd_s", "mos_lqo", "loss_pct", "jitter_ms"}


def test_a_limit_asked_of_a_table_that_has_none_is_a_harness_error() -> None:
    with pytest.raises(ThresholdError) as err:
        _limits(Expect(), call_class="premium")  # a class no table knows
    assert "plan row 2.3 takes its srd_s limit from the table" in str(err.value)
    assert isinstance(err.value, HarnessError)
    assert _limits(Expect(srd_s_max=3.0), call_class="premium")["srd_s"][1] == "plan row 2.3"


def test_compiled_limits_are_what_the_results_show() -> None:
    compiled = ThresholdTable.build().compile(Expect(srd_s_max=None), "local", "G722")
    shown = compiled.applied_to(Expect(srd_s_max=None))
    assert (shown.srd_s_max, shown.setup_s_max, shown.mos_lqo_min) == (None, None, 3.7)
    assert shown.mos_floor == 3.7
    with pytest.raises(TypeError, match="compile the row's limits first"):
        _ = Expect().mos_floor
