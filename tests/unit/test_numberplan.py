import pytest

from harness.config import NumbersConfig
from harness.errors import DialGuardError
from harness.numberplan import NumberPlan


@pytest.fixture
def plan() -> NumberPlan:
    return NumberPlan.from_config(NumbersConfig(line_password="pw"))


def test_84_lines_in_7_sites(plan: NumberPlan) -> None:
    assert len(plan.lines) == 84
    assert {ln.site for ln in plan.lines} == set(range(1, 8))
    assert plan.line("site1/01").number == "4135550100"
    assert plan.line("site2/01").number == "4135550112"
    assert plan.line("site7/12").number == "4135550183"
    assert len({ln.number for ln in plan.lines}) == 84


@pytest.mark.parametrize("dial", ["4135550112", "14135550112", "+14135550112", "5550112",
                                  "(413) 555-0112"])
def test_normalisation_forms(plan: NumberPlan, dial: str) -> None:
    assert plan.normalise(dial) == "4135550112"
    assert plan.check_dial(dial).name == "site2/01"


@pytest.mark.parametrize("dial", ["4135550199", "2125551234", "911", "011442079460123", "abc"])
def test_dial_guard_refuses_out_of_plan(plan: NumberPlan, dial: str) -> None:
    with pytest.raises(DialGuardError) as err:
        plan.check_dial(dial)
    assert repr(dial) in str(err.value)


def test_resolve_dial_by_line_name(plan: NumberPlan) -> None:
    assert plan.resolve_dial("site3/05") == plan.line("site3/05").number
    assert plan.resolve_dial("4135550100") == "4135550100"
    with pytest.raises(DialGuardError, match="no such beta line"):
        plan.line("site9/01")


def test_anonymous_call_rejection_is_provisioned_on_the_lines_the_config_names() -> None:
    ours = NumberPlan.from_config(NumbersConfig())
    assert [ln.name for ln in ours.anonymous_rejection] == ["site2/12"]
    theirs = NumberPlan.from_config(NumbersConfig(anonymous_rejection="site1/02, site3/04"))
    assert [ln.name for ln in theirs.anonymous_rejection] == ["site1/02", "site3/04"]
    assert NumberPlan.from_config(NumbersConfig(anonymous_rejection="")).anonymous_rejection \
        == ()
    # ours only where its line exists (a one-site plan has no site2/12)
    assert NumberPlan.from_config(NumbersConfig(sites=1)).anonymous_rejection == ()


def test_toll_restriction_is_provisioned_on_the_lines_the_config_names() -> None:
    ours = NumberPlan.from_config(NumbersConfig())
    assert [ln.name for ln in ours.toll_restricted] == ["site7/08"]
    theirs = NumberPlan.from_config(NumbersConfig(toll_restricted="site1/09"))
    assert [ln.name for ln in theirs.toll_restricted] == ["site1/09"]
    assert NumberPlan.from_config(NumbersConfig(toll_restricted="")).toll_restricted == ()
    assert NumberPlan.from_config(NumbersConfig(sites=6)).toll_restricted == ()  # no site 7
