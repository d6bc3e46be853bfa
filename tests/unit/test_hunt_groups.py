"""Hunt groups (numbers.hunt_groups): a pilot number the switch hunts serially over
beta lines. How the dial guard and the far ends see a pilot, how plans name it, the
defaults that follow the number plan, and config errors naming file, field and
value."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_config, parse_hunt_groups
from harness.errors import ConfigError, DialGuardError
from harness.numberplan import Hunt, NumberPlan
from harness.party import Party

PLAN = NumberPlan.from_config(load_config().numbers)


def test_the_default_group_is_site3s_pilot_over_three_free_lines() -> None:
    assert PLAN.hunt_groups == (Hunt("4135550184", ("site3/08", "site3/09", "site3/12"),
                                     "site7/04"),)
    route = PLAN.route("5550184")  # on-net, no line's own number: the pilot
    assert (route.number, route.call_class, route.trunk) == ("4135550184", "onnet", None)
    first = PLAN.line_by_number("4135550184")  # the pilot rings the first line first
    assert first is not None and first.name == "site3/08"
    assert PLAN.hunt("4135550184") is not None and PLAN.hunt("4135550131") is None
    # who may ring: every line of the group, whatever order the switch hunts them in,
    # and its overflow line
    assert sorted(PLAN.far_ends("4135550184")) == ["site3/08", "site3/09", "site3/12",
                                                   "site7/04"]


def test_plans_name_a_pilot_by_its_group() -> None:
    assert PLAN.resolve_dial("hunt:1") == "4135550184"
    assert PLAN.resolve_dial("*67hunt:1") == "*674135550184"
    with pytest.raises(DialGuardError, match="hunt_groups has 1 group"):
        PLAN.resolve_dial("hunt:2")


def test_groups_parse_in_order_and_a_bad_form_is_refused() -> None:
    [group] = parse_hunt_groups("4135550185>site1/10, site1/11")
    assert group.pilot == "4135550185" and group.overflow is None
    assert group.members == (Party.parse("site1/10"), Party.parse("site1/11"))
    [group] = parse_hunt_groups("4135550185>site1/10,site1/11>site7/04")
    assert group.overflow == Party.parse("site7/04") and len(group.members) == 2
    for bad in ("4135550185>site1/10", "4135550185", "4135550185>site1/10,site1/10",
                "4135550185>site1/10,pstn:local", "55501>site1/10,site1/11",
                "4135550185>site1/10,site1/11>site1/10", "4135550185>site1/10,site1/11>",
                "4135550185>site1/10,site1/11>4135550101"):
        with pytest.raises(ConfigError, match="expected 'NPA-NXX-XXXX>siteN/NN,siteN/NN"):
            parse_hunt_groups(bad)


@pytest.mark.parametrize(("value", "why"), [
    ("4135550131>site3/08,site3/09", "a beta line's own number"),
    ("4135550195>site3/08,site3/09", "not in the on-net block"),
    ("4135550189>site3/08,site3/09", "a test number or a number ported out"),
    ("4135550186>site3/08,site3/09", "a test number or a number ported out"),
    ("4135550185>site3/08,site3/09; 4135550185>site1/10,site1/11",
     "the pilot of another hunt group"),
    ("4135550185>site3/08,site9/09", "no such beta line"),
    ("4135550185>site3/08", "expected 'NPA-NXX-XXXX>siteN/NN,siteN/NN"),
    ("4135550185>site3/08,site3/09>site9/04", "no such beta line"),
])
def test_a_bad_hunt_group_names_file_field_and_value(tmp_path: Path, value: str,
                                                      why: str) -> None:
    path = tmp_path / "harness.yaml"
    path.write_text(f"numbers:\n  hunt_groups: '{value}'\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "harness.yaml" in text and "numbers.hunt_groups" in text and why in text, text


def test_the_default_follows_the_number_plan_and_none_is_none(tmp_path: Path) -> None:
    path = tmp_path / "harness.yaml"
    path.write_text("numbers:\n  home_npa: '617'\n  first_line: '6175550100'\n")
    plan = NumberPlan.from_config(load_config(path).numbers)
    assert plan.hunt_groups == (Hunt("6175550184", ("site3/08", "site3/09", "site3/12"),
                                     "site7/04"),)
    path.write_text("numbers:\n  sites: 6\n")  # no branch office: no overflow line
    plan = NumberPlan.from_config(load_config(path).numbers)
    assert plan.hunt_groups[0].overflow is None
    path.write_text("numbers:\n  sites: 2\n")  # no site 3: no default group
    assert NumberPlan.from_config(load_config(path).numbers).hunt_groups == ()
    path.write_text("numbers:\n  hunt_groups: ''\n")
    plan = NumberPlan.from_config(load_config(path).numbers)
    assert plan.hunt_groups == ()
    with pytest.raises(DialGuardError, match="inside the on-net block"):
        plan.route("5550184")  # not provisioned: a spare number of the block
