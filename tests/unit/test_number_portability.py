"""Number portability (the switch's LNP table from numbers.ported_out / ported_in): how
the dial guard routes ported numbers, how plans name them, the embedded switch's
rendered table, and config errors naming file, field and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_config
from harness.errors import ConfigError, DialGuardError
from harness.numberplan import NumberPlan
from tests.unit.test_kamailio_render import render

PLAN = NumberPlan.from_config(load_config().numbers)


def test_a_number_ported_out_of_the_block_goes_to_the_pstn() -> None:
    route = PLAN.route("5550186")  # inside the on-net block 4135550100..89
    assert (route.number, route.call_class, route.trunk) == ("4135550186", "local", "local")
    assert PLAN.line_by_number("4135550186") is None
    assert PLAN.pstn_number("4135550186") is not None  # the simulated PSTN answers it
    with pytest.raises(DialGuardError, match="inside the on-net block"):
        PLAN.route("5550187")  # a spare number of the block, not ported: refused


def test_a_number_ported_in_reaches_its_line_whoever_dials_it() -> None:
    route = PLAN.route("14135550195")
    assert (route.number, route.call_class, route.trunk) == ("4135550195", "onnet", None)
    line = PLAN.line_by_number("4135550195")
    assert line is not None and line.name == "site4/05" and line.number == "4135550140"
    assert PLAN.far_ends("4135550195") == ("site4/05",)


def test_plans_name_ported_numbers_and_the_dial_around_code_by_role() -> None:
    assert PLAN.resolve_dial("ported_in:site4/05") == "4135550195"
    assert PLAN.resolve_dial("*67ported_in:site4/05") == "*674135550195"
    assert PLAN.resolve_dial("ported_out:1") == "4135550186"
    assert PLAN.resolve_dial("cac:12125550123") == "101055512125550123"
    with pytest.raises(DialGuardError, match="no number is ported in to site1/01"):
        PLAN.resolve_dial("ported_in:site1/01")
    with pytest.raises(DialGuardError, match="ported_out has 1 number"):
        PLAN.resolve_dial("ported_out:2")


@pytest.mark.parametrize(("field", "value", "why"), [
    ("ported_out", "4135550140", "a beta line's own number"),
    ("ported_out", "4135550195", "not in the on-net block"),
    ("ported_out", "4135550189", "a declared test number"),
    ("ported_out", "55501", "expected 10-digit NANP numbers"),
    ("ported_in", "4135550150>site4/05", "in the on-net block already"),
    ("ported_in", "4135550190>site4/05", "a number of the simulated PSTN"),
    ("ported_in", "4135550195>site9/05", "no such beta line"),
    ("ported_in", "4135550195", "expected 'NPA-NXX-XXXX>siteN/NN'"),
])
def test_a_bad_porting_entry_names_file_field_and_value(tmp_path: Path, field: str,
                                                        value: str, why: str) -> None:
    path = tmp_path / "harness.yaml"
    path.write_text(f"numbers:\n  {field}: '{value}'\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "harness.yaml" in text and f"numbers.{field}" in text and why in text, text


def test_the_embedded_switch_renders_its_lnp_table_unless_the_fault_drops_it(
        tmp_path: Path) -> None:
    plain = render(tmp_path)
    assert '} else if ($rU =~ "^(4135550186)$") {' in plain
    assert 'if ($rU == "4135550195") {\n\t\t$rU = "4135550140";' in plain
    faulty = render(tmp_path, test_faults="ignore_lnp")
    assert "4135550186" not in faulty and "4135550195" not in faulty


def test_the_defaults_follow_the_number_plan(tmp_path: Path) -> None:
    """Another block gets its own default numbers; a plan without site4/05 has no
    number ported in (and loads, as toll restriction's default does)."""
    path = tmp_path / "harness.yaml"
    path.write_text("numbers:\n  home_npa: '617'\n  first_line: '6175550100'\n")
    plan = NumberPlan.from_config(load_config(path).numbers)
    assert plan.ported_out == ("6175550186",)
    assert plan.ported_in == (("6175550195", "site4/05"),)
    path.write_text("numbers:\n  sites: 3\n")
    small = NumberPlan.from_config(load_config(path).numbers)
    assert small.ported_in == () and small.ported_out == ("4135550186",)
