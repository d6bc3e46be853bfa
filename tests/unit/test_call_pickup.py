"""Call pickup: the config (numbers.pickup_groups, numbers.call_pickup), the plan row's
own checks, the embedded switch's rendering, one call made of the two a switch may use
(harness/run/pickup.py merged: a B2BUA that answers the caller's own INVITE, or a proxy
that hands the picking line's INVITE to the caller with Replaces), and the pickup
checks (harness/verdict/call_types.py pickup_checks)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.config import load_config, parse_pickup_groups
from harness.errors import ConfigError, DialGuardError
from harness.model import CallSpec, Expect, PlanRowError, SipEvent
from harness.numberplan import NumberPlan
from harness.party import Party
from harness.run.pickup import merged
from harness.sip.scenario import CallOutcome, LegOutcome
from harness.softswitch.kamailio import EmbeddedKamailio
from harness.verdict.call_types import pickup_checks


def _leg(party: str, agent: str, call_id: str, *kinds: tuple[str, float, int | None],
         ) -> LegOutcome:
    events = tuple(SipEvent(party, k, t, 1e9 + t, code) for k, t, code in kinds)
    final = next((code for k, _, code in kinds if code and code >= 200), None)
    return LegOutcome(party, agent, call_id, events, final, None,
                      Path(f"/tmp/{party}.wav"), 9.0, 9.0)


RANG = _leg("b", "site3/06", "c1", ("INCOMING", 0.1, None), ("ANSWER_SENT", 0.1, 180),
            ("DISCONNECTED", 3.3, 487))
PICKER = _leg("a", "site3/07", "c2", ("INVITE_SENT", 3.0, None), ("CONFIRMED", 3.2, 200),
              ("DISCONNECTED", 13.3, 200))


def test_a_b2bua_that_answers_the_callers_invite_is_one_call_with_the_picker_as_far_end(
        ) -> None:
    caller = _leg("a", "site2/05", "c1", ("INVITE_SENT", 0.0, None), ("EARLY", 0.1, 180),
                  ("CONFIRMED", 3.2, 200), ("BYE_SENT", 13.2, None),
                  ("DISCONNECTED", 13.3, 200))
    out = merged(CallOutcome(caller, RANG, 0.0, 13.3, legs=(RANG,)),
                 CallOutcome(PICKER, None, 3.0, 13.3))
    assert out.a is caller and out.replaced is None
    assert out.b is not None and (out.b.party, out.b.agent_name) == ("b", "site3/07")
    assert out.b.events[0].party == "b"
    assert out.forwarded_from == ("site3/06",) and out.legs[-1] is out.b
    assert pickup_checks("site3/06", "site3/07", out) == []


def test_a_proxy_that_hands_the_picking_call_to_the_caller_with_replaces_is_one_call(
        ) -> None:
    ringing = _leg("a", "site2/05", "c1", ("INVITE_SENT", 0.0, None), ("EARLY", 0.1, 180),
                   ("REPLACES_RX", 3.1, None), ("REPLACED", 3.1, None),
                   ("DISCONNECTED", 3.3, 487))
    taken = _leg("ap", "site2/05", "c2", ("INCOMING", 3.1, None), ("CONFIRMED", 3.2, 200),
                 ("BYE_SENT", 13.2, None), ("DISCONNECTED", 13.3, 200))
    out = merged(CallOutcome(ringing, RANG, 0.0, 13.3, legs=(RANG,), picked=taken),
                 CallOutcome(PICKER, None, 3.0, 13.3))
    a = out.a
    assert (a.party, a.call_id, a.final_code, a.record_wav) == ("a", "c2", 200,
                                                                 Path("/tmp/ap.wav"))
    kinds = [ev.kind for ev in a.events]
    assert kinds == ["INVITE_SENT", "EARLY", "REPLACES_RX", "REPLACED", "INCOMING",
                     "CONFIRMED", "BYE_SENT", "DISCONNECTED"]  # the ringing one's end left out
    assert {ev.party for ev in a.events} == {"a"}
    assert out.replaced is not None and out.replaced.call_id == "c1"
    assert out.picked is None and out.replaced in out.other_legs
    assert pickup_checks("site3/06", "site3/07", out) == []


def test_each_way_a_pickup_fails_is_named() -> None:
    caller = _leg("a", "site2/05", "c1", ("INVITE_SENT", 0.0, None), ("EARLY", 0.1, 180),
                  ("CONFIRMED", 3.2, 200), ("DISCONNECTED", 13.3, 200))

    def checks(rang: LegOutcome | None, picker: LegOutcome | None,
               a: LegOutcome = caller) -> list[str]:
        out = CallOutcome(a, rang, 0.0, 13.3, legs=(rang,) if rang else ())
        return pickup_checks("site3/06", "site3/07",
                             merged(out, CallOutcome(picker, None, 3.0, 13.3)
                                    if picker else None, "" if picker else "no call"))

    assert checks(None, PICKER) == [
        "pickup: site3/06 never rang: there was no call to pick up"]
    answered = _leg("b", "site3/06", "c1", ("INCOMING", 0.1, None), ("CONFIRMED", 1.0, 200))
    assert checks(answered, PICKER) == ["pickup: site3/06 answered the call itself"]
    assert checks(RANG, None) == ["pickup: site3/07 placed no pickup call"]
    refused = _leg("a", "site3/07", "c2", ("INVITE_SENT", 3.0, None),
                   ("DISCONNECTED", 3.1, 404))
    assert checks(RANG, refused) == [
        "pickup: site3/07's pickup call ended 404: nothing was picked up"]
    unconnected = _leg("a", "site2/05", "c1", ("INVITE_SENT", 0.0, None),
                       ("DISCONNECTED", 8.0, 408))
    assert checks(RANG, PICKER, unconnected) == [
        "pickup: site3/07's call was answered, the caller was never connected"]
    still = _leg("b", "site3/06", "c1", ("INCOMING", 0.1, None), ("DISCONNECTED", 9.0, 487))
    assert checks(still, PICKER) == [
        "pickup: site3/06 kept ringing 5.8 s after the caller was connected to site3/07"]
    slow = _leg("a", "site2/05", "c1", ("INVITE_SENT", 0.0, None), ("CONFIRMED", 7.5, 200))
    assert checks(replace(RANG, events=(*RANG.events[:2], SipEvent("b", "DISCONNECTED",
                                                                  7.6, 0.0, 487))),
                  PICKER, slow) == ["pickup: the caller was connected 4.5 s after site3/07 "
                                    "dialled the pickup code (at most 4 s)"]


def test_groups_parse_and_a_bad_group_names_the_field_and_value() -> None:
    assert parse_pickup_groups("site3/05, site3/06; site4/01,site4/02") == (
        (Party.parse("site3/05"), Party.parse("site3/06")),
        (Party.parse("site4/01"), Party.parse("site4/02")))
    for bad in ("site3/05", "site3/05,pstn:5550190", "site3/05,site3/05",
                "site3/05,site3/06;site3/06,site3/07"):
        with pytest.raises(ConfigError) as err:
            parse_pickup_groups(bad)
        assert "numbers.pickup_groups" in str(err.value)


def test_the_config_defaults_and_refusals(tmp_path: Path) -> None:
    plan = NumberPlan.from_config(load_config().numbers)
    assert plan.pickup_groups == (("site3/05", "site3/06", "site3/07"),)
    assert plan.pickup_code() == "*8" and plan.pickup_group("site3/07")[1] == "site3/06"
    assert plan.pickup_group("site1/01") == ()
    for field, value, why in (("call_pickup", "8", "vertical service code"),
                              ("call_pickup", "*69", "other than numbers.call_return"),
                              ("pickup_groups", "site3/05,site9/01", "no such beta line")):
        path = tmp_path / f"{field}.yaml"
        path.write_text(f"numbers:\n  {field}: '{value}'\n")
        with pytest.raises(ConfigError) as err:
            load_config(path)
        assert f"numbers.{field}" in str(err.value) and why in str(err.value), str(err.value)
    none = tmp_path / "none.yaml"
    none.write_text("numbers:\n  call_pickup: ''\n")
    with pytest.raises(DialGuardError):
        NumberPlan.from_config(load_config(none).numbers).pickup_code()


def test_a_pickup_row_is_checked_when_written() -> None:
    ok = CallSpec("7.12", "pickup", "site2/05", "site3/06", callee_behaviour="no_answer",
                  picked_up_by="site3/07", expect=Expect(rings="site3/06"))
    assert ok.picked_up_by == "site3/07"
    with pytest.raises(PlanRowError) as err:
        CallSpec("7.12", "pickup", "site2/05", "site3/06", picked_up_by="pstn:5550190",
                 expect=Expect(rings="site3/06"))
    text = str(err.value)
    assert "picked_up_by = 'pstn:5550190'" in text and "callee_behaviour 'no_answer'" in text


def test_the_embedded_switch_renders_its_groups_and_the_billing_fault(
        tmp_path: Path) -> None:
    cfg = load_config()
    plan = NumberPlan.from_config(cfg.numbers)

    def render(faults: str = "") -> str:
        switch = EmbeddedKamailio(replace(cfg.sut, test_faults=faults), tmp_path)
        switch.dir.mkdir(parents=True, exist_ok=True)
        return switch._render("/modules", plan, 30999).read_text()

    text = render()
    members = "|".join(plan.line(m).number for m in plan.pickup_groups[0])
    assert f'$var(called) =~ "^({members})$"' in text
    assert 'if ($rU == "*8" && is_method("INVITE"))' in text
    assert 'append_hf("Replaces: $var(replaces);early-only\\r\\n");' in text
    assert "$dlg_var(src_user) = $var(caller);" in text
    assert "$dlg_var(src_user) = $var(picker);" in render("pickup_billed_to_picker")
