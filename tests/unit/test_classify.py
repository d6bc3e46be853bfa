import pytest

from harness.config import NumbersConfig
from harness.errors import DialGuardError
from harness.numberplan import NumberPlan
from harness.pstn.directory import classify


@pytest.fixture
def plan() -> NumberPlan:
    return NumberPlan.from_config(NumbersConfig(line_password="pw"))


@pytest.mark.parametrize(("dial", "number", "call_class", "trunk"), [
    ("5550190", "4135550190", "local", "local"),
    ("14135550190", "4135550190", "local", "local"),
    ("19785550123", "9785550123", "ld_intralata", "ld"),
    ("12125550123", "2125550123", "ld_interlata", "ld"),
    ("+12125550123", "2125550123", "ld_interlata", "ld"),
    ("011442079460123", "+442079460123", "international", "intl"),
    ("18005550199", "8005550199", "tollfree", "tollfree"),
    ("411", "411", "directory", "operator"),
    ("12125551212", "2125551212", "directory", "operator"),
    ("0", "0", "operator", "operator"),
    ("00", "00", "operator", "operator"),
    ("04135550190", "4135550190", "operator", "operator"),
    ("311", "311", "n11", "n11"),
    ("911", "911", "emergency", "psap"),
    ("4135550112", "4135550112", "onnet", None),
])
def test_classes(plan: NumberPlan, dial: str, number: str, call_class: str,
                 trunk: str | None) -> None:
    route = plan.route(dial)
    assert (route.number, route.call_class, route.trunk) == (number, call_class, trunk)


def test_privacy_prefix_is_stripped_and_flagged(plan: NumberPlan) -> None:
    route = plan.route(plan.resolve_dial("*67site2/01"))
    assert route.privacy and route.number == "4135550112" and route.call_class == "onnet"


@pytest.mark.parametrize("dial", [
    "12125550199",  # a valid NANP number, but no PSTN test subscriber
    "011493012345678",  # international, not in the simulated PSTN
    "4135550185",  # inside the on-net block, neither a line nor declared unassigned
    "999", "12",
])
def test_guard_refuses_what_the_plan_does_not_declare(plan: NumberPlan, dial: str) -> None:
    with pytest.raises(DialGuardError):
        plan.route(dial)


def test_declared_test_strings_are_allowed(plan: NumberPlan) -> None:
    assert plan.route("4135550189").call_class == "onnet"  # declared unassigned
    assert plan.route("55501").call_class == "incomplete"


def test_911_only_to_the_simulated_psap() -> None:
    plan = NumberPlan.from_config(NumbersConfig(line_password="pw",
                                                emergency_to_simulated_psap=False))
    with pytest.raises(DialGuardError, match="simulated PSAP"):
        plan.route("911")


def test_classify_without_a_plan() -> None:
    assert classify("12", "413", (), frozenset()) is None
    assert classify("*67911", "413", (), frozenset()).privacy  # type: ignore[union-attr]


def test_forwarding_rules_from_config() -> None:
    plan = NumberPlan.from_config(NumbersConfig(
        line_password="pw", forwarding="site1/01>site1/02:busy; site2/01>site2/02:no_answer:6"))
    busy, noans = plan.forwarding
    assert (busy.number, busy.target, busy.kind) == ("4135550100", "4135550101", "busy")
    assert (noans.kind, noans.after_s) == ("no_answer", 6.0)


@pytest.mark.parametrize("text", ["site1/01>site9/02:busy", "site1/01>site1/02:sometimes",
                                  "garbage"])
def test_bad_forwarding_rule_names_the_field(text: str) -> None:
    from harness.errors import ConfigError

    with pytest.raises(ConfigError, match="numbers.forwarding"):
        NumberPlan.from_config(NumbersConfig(line_password="pw", forwarding=text))


def test_the_default_forwarding_rule_needs_its_lines() -> None:
    full = NumberPlan.from_config(NumbersConfig(line_password="pw"))
    assert [(f.line, f.kind) for f in full.forwarding] == [
        ("site6/06", "unconditional"), ("site6/08", "busy"), ("site6/10", "no_answer")]
    small = NumberPlan.from_config(NumbersConfig(line_password="pw", sites=1))
    assert small.forwarding == ()  # no site 6: no default rule, and no error
