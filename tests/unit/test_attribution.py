"""Which call an incoming INVITE belongs to, from what any switch delivers: a B2BUA's
new Call-ID, no private header, the calling number in another form."""

from harness.sip.attribution import CallIdentity, IncomingInvite, attribute, may_be, pstn_seat

NPA = "413"
A_TO_B = CallIdentity(("+14135550101",), ("site1/02", "site6/07"), NPA)  # forwards to 6/07
C_TO_PSTN = CallIdentity(("+14135550103",), (pstn_seat("4135550190"),), NPA)
D_TO_PSTN = CallIdentity(("+14135550104",), (pstn_seat("4135550190"),), NPA)


def invite(seat: str, from_: str, ruri: str = "sip:x@h", pai: str = "", hint: str = "",
           t: float = 10.0) -> IncomingInvite:
    request = {"request-line": f"INVITE {ruri} SIP/2.0", "from": from_, "to": f"<{ruri}>",
               "call-id": "b2bua-leg-7"}
    if pai:
        request["p-asserted-identity"] = pai
    if hint:
        request["x-harness-call"] = hint
    return IncomingInvite.parse(seat, request, "X-Harness-Call", t, 1000.0 + t)


CALLS = {"ab": (A_TO_B, 1.0), "cp": (C_TO_PSTN, 1.0), "dp": (D_TO_PSTN, 1.0)}


def test_the_header_is_a_hint_when_it_survives() -> None:
    got = attribute(invite("site3/01", "<sip:999@h>", hint="cp"), CALLS)
    assert (got.key, got.how) == ("cp", "header")


def test_without_the_header_the_calling_number_in_any_form_and_the_seat_decide() -> None:
    for shown in ("<sip:+14135550101@sbc.carrier>", "<sip:14135550101@h>", "<tel:4135550101>"):
        got = attribute(invite("site1/02", shown), CALLS)
        assert (got.key, got.how) == ("ab", "number+seat"), shown
    forwarded = attribute(invite("site6/07", "<sip:+14135550101@h>"), CALLS)
    assert (forwarded.key, forwarded.how) == ("ab", "number+seat")


def test_a_call_the_switch_misroutes_is_still_the_callers_so_the_misroute_is_reported(
) -> None:
    got = attribute(invite("site4/11", "<sip:4135550101@h>"), CALLS)
    assert (got.key, got.how) == ("ab", "number")


def test_pstn_calls_to_one_number_are_told_apart_by_the_calling_number() -> None:
    for ruri in ("sip:4135550190@127.0.0.1:5099;tgrp=local", "sip:+14135550190@gw.invalid"):
        got = attribute(invite("pstn:local", "<sip:4135550104@beta.test>", ruri), CALLS)
        assert (got.key, got.how) == ("dp", "number+seat"), ruri


def test_a_withheld_caller_is_attributed_by_who_rang_when_that_is_unique() -> None:
    got = attribute(invite("site1/02", '"Anonymous" <sip:anonymous@anonymous.invalid>'), CALLS)
    assert (got.key, got.how) == ("ab", "seat")


def test_two_withheld_calls_to_one_pstn_number_are_not_guessed() -> None:
    got = attribute(invite("pstn:local", "<sip:anonymous@anonymous.invalid>",
                           "sip:4135550190@gw"), CALLS)
    assert got.key == "" and got.candidates == ("cp", "dp")
    assert "2 calls in progress fit it equally (seat)" in got.why


def test_an_invite_nothing_fits_or_before_any_order_is_unattributed() -> None:
    got = attribute(invite("site2/05", "<sip:4135550177@h>"), CALLS)
    assert got.key == "" and got.candidates == ()
    assert "neither its calling number nor site2/05 fits" in got.why
    early = attribute(invite("site1/02", "<sip:4135550101@h>", t=0.5), CALLS)
    assert (early.key, early.why) == ("", "no call was in progress")


def test_the_asserted_identity_counts_when_from_is_withheld() -> None:
    got = attribute(invite("pstn:local", "<sip:anonymous@anonymous.invalid>",
                           "sip:4135550190@gw", pai="<sip:+14135550103@beta.test>"), CALLS)
    assert (got.key, got.how) == ("cp", "number+seat")


def test_a_stray_names_the_invite() -> None:
    inv = invite("site2/05", "<sip:4135550177@h>", "sip:4135550166@h")
    assert inv.describe() == ("INVITE Call-ID b2bua-leg-7 at site2/05 (R-URI "
                              "sip:4135550166@h, From <sip:4135550177@h>)")


# -- a refusal read from the wire: could its INVITE have been this call's? ------------
def test_a_refusal_by_a_line_another_call_rang_is_not_this_calls() -> None:
    """A busy row beside this one: its line answers its own caller 486. Neither the
    line nor the calling number is this call's (a pickup row once named it)."""
    busy_row = invite("site2/07", "<sip:+14135550105@h>", "sip:4135550118@w5")
    assert not may_be(busy_row, A_TO_B)


def test_a_refusal_by_the_calls_own_line_is_its_whatever_the_caller_id_shows() -> None:
    for shown in ("<sip:+14135550101@sbc.carrier>", "<sip:anonymous@anonymous.invalid>",
                  "<sip:2125550000@h>"):  # E.164, withheld, rewritten by the switch
        assert may_be(invite("site1/02", shown), A_TO_B), shown
    assert may_be(invite("site6/07", "<sip:anonymous@h>"), A_TO_B)  # forwarded to


def test_a_refusal_of_the_calls_number_at_a_far_end_it_should_not_ring_is_its() -> None:
    assert may_be(invite("site4/11", "<tel:4135550101>"), A_TO_B)  # the switch misrouted


def test_at_a_pstn_number_two_calls_ring_the_calling_number_decides() -> None:
    ruri = "sip:4135550190@127.0.0.1:5099;tgrp=local"
    theirs = invite("pstn:local", "<sip:4135550104@beta.test>", ruri)
    assert may_be(theirs, D_TO_PSTN) and not may_be(theirs, C_TO_PSTN)
    withheld = invite("pstn:local", "<sip:anonymous@anonymous.invalid>", ruri)
    assert may_be(withheld, C_TO_PSTN)  # the scheduler runs one withheld call to it
    elsewhere = invite("pstn:local", "<sip:anonymous@h>", "sip:2125550123@gw")
    assert not may_be(elsewhere, C_TO_PSTN)
