"""The caller ID a far end is shown: the right number in any form, or — when the
carrier promises a form on an interface — in that form; and privacy (RFC 3323)."""

from harness.sip.scenario import LegOutcome
from harness.verdict.call_types import Promises, caller_id_checks, location_checks


def far(agent: str, from_: str, pai: str = "", privacy: str = "") -> LegOutcome:
    request = {"from": from_}
    if pai:
        request["p-asserted-identity"] = pai
    if privacy:
        request["privacy"] = privacy
    return LegOutcome("b", agent, "cid", (), 200, None, None, 0.0, 0.0,
                      tuple(request.items()))


E164 = far("site2/01", "<sip:+14135550124@sbc.carrier>")


def test_an_e164_switch_passes_when_any_form_is_promised() -> None:
    assert caller_id_checks(E164, "4135550124", "4135550124") == []
    assert caller_id_checks(E164, "4135550124", "4135550124", ("e164", "any")) == []


def test_a_form_the_carrier_did_not_promise_is_caught_naming_the_form() -> None:
    assert caller_id_checks(E164, "4135550124", "4135550124", ("national", "any")) == [
        "caller_id: far end shown '+14135550124' (e164), the carrier promises national on "
        "the onnet interface (numbers.caller_id_form_onnet)"]
    pstn = far("pstn:local", "<sip:4135550124@beta.test>", "<sip:4135550124@beta.test>")
    assert caller_id_checks(pstn, "4135550124", "4135550124", ("any", "e164"))[0].endswith(
        "the carrier promises e164 on the pstn interface (numbers.caller_id_form_pstn)")


def test_the_wrong_number_fails_in_any_form() -> None:
    assert caller_id_checks(E164, "4135550125", "4135550125") == [
        "caller_id: far end shown '+14135550124', expected '4135550125'"]


def test_privacy_leak_is_found_whatever_form_the_number_leaks_in() -> None:
    leak = far("pstn:local", "<sip:+14135550124@h>", "<sip:+14135550124@h>")
    assert caller_id_checks(leak, "anonymous", "4135550124") == [
        "caller_id: far end shown '+14135550124', expected 'anonymous' (privacy leak)"]
    kept = far("pstn:local", "<sip:anonymous@anonymous.invalid>",
               "<sip:+14135550124@h>", privacy="id")
    assert caller_id_checks(kept, "anonymous", "4135550124", ("national", "national")) == []


ALI = {"+14135550125": 3, "+14135550101": 1}


def psap(from_: str, geolocation: str = "") -> LegOutcome:
    request = {"from": from_, "p-asserted-identity": from_}
    if geolocation:
        request["geolocation"] = geolocation
    return LegOutcome("b", "pstn:psap", "cid", (), 200, None, None, 0.0, 0.0,
                      tuple(request.items()))


def test_911_location_as_the_carrier_promises_it() -> None:
    """A B2BUA or a legacy PSAP trunk drops Geolocation: with `callback` the PSAP finds
    the caller's site from the callback number in its ALI table (any form)."""
    legacy = psap("<sip:+14135550125@sbc>")
    header = psap("<sip:4135550125@beta.test>", "<https://lis.beta.test/site3>")
    geo, callback, either = (Promises(emergency_location=w, ali=ALI)
                             for w in ("geolocation", "callback", "either"))
    assert location_checks(legacy, "4135550125", geo) == [
        "location: no Geolocation header reached the PSAP"]
    assert location_checks(legacy, "4135550125", callback) == []
    assert location_checks(legacy, "4135550125", either) == []
    assert location_checks(header, "4135550125", geo) == []


def test_a_wrong_or_unknown_callback_number_is_named() -> None:
    callback = Promises(emergency_location="callback", ali=ALI)
    assert location_checks(psap("<sip:4135550101@h>"), "4135550125", callback) == [
        "location: callback number '4135550101' is at site1 in the ALI table, the caller "
        "is at site3"]
    assert location_checks(psap("<sip:4135550177@h>"), "4135550125", callback) == [
        "location: the PSAP's ALI table has no site for callback number '4135550177'"]
    either = Promises(emergency_location="either", ali=ALI)
    assert location_checks(psap("<sip:anonymous@a.invalid>"), "4135550125", either) == [
        "location: neither a Geolocation header nor a callback number the ALI table places "
        "at site3 reached the PSAP (shown 'anonymous')"]
