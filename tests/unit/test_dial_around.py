"""Carrier selection (dial-around, 101XXXX): how a dial string with a carrier access
code is classified and guarded, the config's CIC, the CDR's carrier field in a CSV
export, and the check that a dial-around call was billed to the carrier dialled."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cdr import open_source
from harness.config import load_config
from harness.errors import ConfigError, DialGuardError
from harness.model import CallSpec, Expect, PlanRowError
from harness.numberplan import NumberPlan
from harness.verdict.call_types import carrier_check
from harness.verdict.checks import Outcome

PLAN = NumberPlan.from_config(load_config().numbers)


@pytest.mark.parametrize(("dial", "number", "call_class"), [
    ("101055512125550123", "2125550123", "ld_interlata"),
    ("1010555 1 978 555 0123", "9785550123", "ld_intralata"),
    ("1010555011442079460123", "+442079460123", "international"),
    ("*67101055512125550123", "2125550123", "ld_interlata"),
])
def test_a_carrier_access_code_routes_to_the_second_carriers_trunk(
        dial: str, number: str, call_class: str) -> None:
    route = PLAN.route(dial)
    assert (route.number, route.call_class, route.carrier, route.trunk) == \
        (number, call_class, "0555", "ld2")
    plain = PLAN.route(route.number if route.number.startswith("+") else "1" + route.number)
    assert plain.carrier == "" and plain.trunk in ("ld", "intl")


@pytest.mark.parametrize(("dial", "why"), [
    ("101077712125550123", "carrier access code 1010777: not the second carrier"),
    ("10105554135550190", "not a dialable number"),  # local: no IXC carries it
    ("1010555911", "not a dialable number"),
])
def test_the_dial_guard_refuses_another_cic_and_another_class(dial: str, why: str) -> None:
    with pytest.raises(DialGuardError, match=why):
        PLAN.route(dial)


def test_a_bad_cic_in_the_config_names_file_field_and_value(tmp_path: Path) -> None:
    path = tmp_path / "harness.yaml"
    path.write_text("numbers:\n  dial_around_cic: '55'\n")
    with pytest.raises(ConfigError, match=r"harness.yaml.*numbers.dial_around_cic.*'?55'?"):
        load_config(path)
    path.write_text("numbers:\n  dial_around_cic: ''\n")
    plan = NumberPlan.from_config(load_config(path).numbers)
    with pytest.raises(DialGuardError, match="dial_around_cic: none"):
        plan.route("101055512125550123")


def test_a_rows_carrier_must_be_a_cic() -> None:
    with pytest.raises(PlanRowError, match="expect.carrier = .555.: must be a 4-digit"):
        CallSpec("2.11", "x", "site1/09", "101055512125550123", expect=Expect(carrier="555"))


def test_the_billed_carrier_check_passes_fails_and_says_when_it_cannot_tell() -> None:
    assert carrier_check("0555", "0555").outcome is Outcome.PASS
    wrong = carrier_check("0555", "")
    assert wrong.outcome is Outcome.FAIL
    assert wrong.message == "cdr: carrier: expected 0555, got none (the line's own carrier)"
    assert carrier_check("0555", "0288").message == "cdr: carrier: expected 0555, got 0288"
    unknown = carrier_check("0555", None)  # the source has no carrier field
    assert unknown.outcome is Outcome.ERROR and "records no carrier" in unknown.message


def test_a_csv_export_maps_its_carrier_column(tmp_path: Path) -> None:
    path = tmp_path / "cdr.csv"
    path.write_text("From,To,Answer,End,CIC\n"
                    "4135550108,2125550123,2026-12-05T10:00:00,2026-12-05T10:01:01,0555\n")
    mapped = open_source(f"csv://{path}?caller=From&callee=To&answer=Answer&end=End"
                         "&carrier=CIC").all()
    assert [r.carrier for r in mapped] == ["0555"]
    unmapped = open_source(f"csv://{path}?caller=From&callee=To&answer=Answer&end=End").all()
    assert [r.carrier for r in unmapped] == [None]
