"""Incoming toll-free (numbers.toll_free_in): a site's toll-free number the switch
serves, translated to the on-net number it reaches (a line's, or a hunt group's
pilot) and billed to the site. How the dial guard, the far ends and the call class see
it, how plans name it, the default, and config errors naming file, field and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_config, parse_toll_free_in
from harness.errors import ConfigError, DialGuardError
from harness.model import CallSpec
from harness.numberplan import NumberPlan
from harness.run.runner import call_class

PLAN = NumberPlan.from_config(load_config().numbers)


def test_the_default_serves_site3s_main_number_under_866() -> None:
    assert PLAN.toll_free_in == (("8665550184", "4135550184"),)
    assert PLAN.resolve_dial("tollfree_in:1") == "8665550184"
    with pytest.raises(DialGuardError, match="toll_free_in has 1 number"):
        PLAN.resolve_dial("tollfree_in:2")
    route = PLAN.route("18665550184")  # any form: served here, on-net, no trunk
    assert (route.number, route.call_class, route.trunk) == ("8665550184", "onnet", None)
    first = PLAN.line_by_number("8665550184")  # the pilot's first line rings first
    assert first is not None and first.name == "site3/08"
    assert sorted(PLAN.far_ends("8665550184")) == ["site3/08", "site3/09", "site3/12",
                                                   "site7/04"]
    # another toll-free number is still the PSTN's (an outgoing toll-free call)
    assert PLAN.route("8005550199").call_class == "tollfree"


def test_from_the_pstn_it_is_billed_to_the_site_from_a_line_it_is_on_net() -> None:
    route = PLAN.route("8665550184")
    spec = CallSpec("x", "x", caller="pstn:2125550188", dial="tollfree_in:1")
    assert call_class(spec, route) == "tollfree_in"
    assert call_class(CallSpec("x", "x", caller="site1/01", dial="tollfree_in:1"),
                      route) == "onnet"
    direct = CallSpec("x", "x", caller="pstn:2125550188", dial="site2/03")
    assert call_class(direct, PLAN.route(PLAN.resolve_dial("site2/03"))) == "incoming"


def test_a_bad_form_is_refused() -> None:
    assert parse_toll_free_in("8005550101>4135550101, 8885550102>4135550184") == (
        ("8005550101", "4135550101"), ("8885550102", "4135550184"))
    for bad in ("4135550101>4135550102", "8005550101", "8005550101>site1/01",
                "800555010>4135550101"):
        with pytest.raises(ConfigError, match="expected '8XX-NXX-XXXX>NPA-NXX-XXXX'"):
            parse_toll_free_in(bad)


@pytest.mark.parametrize(("value", "why"), [
    ("8005550199>4135550101", "a toll-free number of the simulated PSTN"),
    ("8665550101>4135550101, 8665550101>4135550102", "served twice"),
    ("8665550101>4135550189", "neither a beta line's number"),
    ("8665550101>site1/01", "expected '8XX-NXX-XXXX>NPA-NXX-XXXX'"),
])
def test_a_bad_toll_free_number_names_file_field_and_value(tmp_path: Path, value: str,
                                                           why: str) -> None:
    path = tmp_path / "harness.yaml"
    path.write_text(f"numbers:\n  toll_free_in: '{value}'\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "harness.yaml" in text and "numbers.toll_free_in" in text and why in text, text
    assert value.split(">")[0].split(",")[0] in text or value in text, text


def test_the_default_follows_the_hunt_groups_and_none_is_none(tmp_path: Path) -> None:
    path = tmp_path / "harness.yaml"
    path.write_text("numbers:\n  home_npa: '617'\n  first_line: '6175550100'\n")
    assert NumberPlan.from_config(load_config(path).numbers).toll_free_in == (
        ("8665550184", "6175550184"),)
    path.write_text("numbers:\n  hunt_groups: ''\n")  # no main number: no default
    assert NumberPlan.from_config(load_config(path).numbers).toll_free_in == ()
    path.write_text("numbers:\n  toll_free_in: ''\n")
    plan = NumberPlan.from_config(load_config(path).numbers)
    assert plan.toll_free_in == ()
    with pytest.raises(DialGuardError, match="outside the test number plan"):
        plan.route("8665550184")  # not served here, and no PSTN number either
