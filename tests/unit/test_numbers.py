"""One number, every legal form: canonical values, the form seen, equivalence."""

import pytest

from harness.numbers import NumberForm, canonical, form, same_number, user_part


@pytest.mark.parametrize("text", [
    "4135550101", "14135550101", "+14135550101", "+1 (413) 555-0101", "tel:+1-413-555-0101",
    "tel:4135550101;phone-context=+1", "<sip:+14135550101@beta.test;user=phone>",
    '"Site 1" <sip:4135550101@beta.test>;tag=abc', "sip:14135550101@10.0.0.1:5060",
])
def test_every_form_of_a_nanp_number_is_one_number(text: str) -> None:
    assert canonical(text) == "+14135550101"
    assert same_number(text, "4135550101")


@pytest.mark.parametrize(("text", "want"), [
    ("011442079460123", "+442079460123"), ("+442079460123", "+442079460123"),
    ("911", "911"), ("0", "0"), ("411", "411"),
    ("sip:anonymous@anonymous.invalid", "anonymous"), ("Anonymous", "anonymous"),
    ("<sip:beta.test>", ""), ("", ""),
])
def test_international_service_and_withheld_numbers(text: str, want: str) -> None:
    assert canonical(text) == want


def test_a_seven_digit_number_needs_the_home_npa() -> None:
    assert canonical("5550190", "413") == "+14135550190"
    assert canonical("5550190") == "5550190"
    assert not same_number("4135550101", "4135550102")
    assert not same_number("", "")


@pytest.mark.parametrize(("text", "want"), [
    ("<sip:4135550101@h>", NumberForm.NATIONAL), ("14135550101", NumberForm.NANP11),
    ("sip:+14135550101@h", NumberForm.E164), ("011442079460123", NumberForm.INTERNATIONAL),
    ("911", NumberForm.SERVICE), ("anonymous", NumberForm.ANONYMOUS),
    ("5550190", NumberForm.LOCAL7), ("beta", NumberForm.OTHER),
])
def test_the_form_a_number_was_delivered_in(text: str, want: NumberForm) -> None:
    assert form(text) == want


def test_user_part_of_uris_and_header_values() -> None:
    assert user_part('"A" <sip:4135550101@beta.test>;tag=1') == "4135550101"
    assert user_part("tel:+1-413-555-0101") == "+1-413-555-0101"
    assert user_part("sip:beta.test") == ""
