"""harness.party: a party named once, as text, parsed into a value and back."""

import pytest

from harness.party import Party, PartyError, PartyKind


@pytest.mark.parametrize("text", ["site2/05", "site1/01", "site12/11", "pstn:local",
                                  "pstn:2125550188", "pstn:+442079460123", "pstn:?",
                                  "pstn:"])
def test_parse_and_str_round_trip(text: str) -> None:
    assert str(Party.parse(text)) == text


def test_parse_gives_typed_fields() -> None:
    assert Party.parse("site2/05") == Party(PartyKind.LINE, 2, 5)
    assert Party.parse("site2/05").is_line and not Party.parse("site2/05").is_pstn
    pstn = Party.parse("pstn:ld")
    assert pstn.is_pstn and pstn.tag == "ld" and pstn == Party.pstn("ld")
    assert Party.parse("pstn:") == Party.pstn()


def test_a_line_is_written_with_a_two_digit_index() -> None:
    # numberplan.line() accepts 'site2/5' as line 5 of site 2: the same party
    assert Party.parse("site2/5") == Party.parse("site2/05")
    assert str(Party.parse("site2/5")) == "site2/05"


@pytest.mark.parametrize("text", ["", "none", "site2", "site2/", "Site2/05", "site2/05 ",
                                  "pstn", "PSTN:ld", "2125550188", "sip:site2/05",
                                  "pstn:ld\nsite1/01"])
def test_bad_text_is_refused_naming_it(text: str) -> None:
    with pytest.raises(PartyError) as err:
        Party.parse(text)
    assert repr(text) in str(err.value) and "siteN/NN" in str(err.value)
    assert isinstance(err.value, ValueError)  # a parse error, like int('x')


def test_not_a_string_is_refused() -> None:
    with pytest.raises(PartyError):
        Party.parse(5)  # type: ignore[arg-type]


def test_seat_names_that_are_no_party() -> None:
    assert Party.of_seat("unknown:4135550100") is None
    assert Party.of_seat("agent worker 3 (a beta line's phone)") is None
    assert Party.of_seat("none") is None
    assert Party.in_pstn("pstn:intl") and Party.in_pstn("pstn:+1 978 555 0123")
    assert not Party.in_pstn("site1/01") and not Party.in_pstn("pstnx")
    assert not Party.in_pstn("hijack contact 127.0.0.2:5099")


def test_the_pstn_at_large_covers_every_pstn_seat() -> None:
    anywhere = Party.pstn()
    assert anywhere.covers("pstn:ld") and anywhere.covers("pstn:4135550190")
    assert not anywhere.covers("site1/01") and not anywhere.covers("unknown:1")
    assert Party.parse("pstn:ld").covers("pstn:ld")
    assert not Party.parse("pstn:ld").covers("pstn:local")
    assert Party.parse("site5/03").covers("site5/03")
    assert not Party.parse("site5/03").covers("site5/04")


def test_the_number_plan_gives_a_partys_calling_number() -> None:
    from harness.config import NumbersConfig
    from harness.numberplan import NumberPlan

    plan = NumberPlan.from_config(NumbersConfig())
    assert plan.number_of(Party.parse("site1/01")) == "4135550100"
    assert plan.number_of(Party.parse("site2/01")) == "4135550112"
    assert plan.number_of(Party.parse("pstn:2125550188")) == "2125550188"
