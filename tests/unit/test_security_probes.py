"""§12 security probes: the verdict (pure), applicability, the guards, the config."""

from pathlib import Path

import pytest

from harness.config import load_config
from harness.errors import ConfigError, DialGuardError
from harness.model import ProbeExpect, ProbeKind, ProbeSpec, Status
from harness.numberplan import NumberPlan
from harness.security.client import ProbeError, parse_response, target_guard
from harness.security.judge import ProbeEvidence, Reached, RealCall, judge, not_applicable

INTL = "011442079460123"
UNAUTH = ProbeSpec("12.1", "unauthenticated INVITE international",
                   ProbeKind.UNAUTHENTICATED_INVITE, INTL, line="site7/12")


def _ev(**kw: object) -> ProbeEvidence:
    base: dict[str, object] = {"switch": "127.0.0.1:5060", "source": "127.0.0.2:40000",
                               "sent": 2, "received": 1, "codes": (407,),
                               "wire_to_switch": 2, "wire_from_switch": 1}
    base.update(kw)
    return ProbeEvidence(**base)  # type: ignore[arg-type]


def test_a_challenged_invite_that_reached_nothing_passes() -> None:
    assert judge(UNAUTH, INTL, _ev()) == (Status.PASS, ())


def test_silence_is_a_refusal_when_the_probe_is_on_the_wire() -> None:
    status, _ = judge(UNAUTH, INTL, _ev(received=0, codes=(), wire_from_switch=0))
    assert status is Status.PASS


def test_an_invite_that_reached_the_trunk_is_toll_fraud_named_by_the_far_ends_call_id() -> None:
    """Whatever the switch answered (here even a 407), the trunk saw the INVITE."""
    hit = Reached("pstn:intl", "b2bua-leg-77", "sip:+442079460123@127.0.0.1:30401;tgrp=intl",
                  "<sip:4135550183@beta.test>")
    status, reasons = judge(UNAUTH, INTL, _ev(codes=(486,), reached=(hit,)))
    assert status is Status.FAIL
    assert reasons[0].startswith(f"toll fraud: an unauthenticated INVITE to {INTL} reached "
                                 "the PSTN trunk (INVITE Call-ID b2bua-leg-77 at pstn:intl")


def test_an_invite_that_rang_a_line_names_the_line() -> None:
    status, reasons = judge(UNAUTH, INTL, _ev(reached=(Reached("site2/01", "x"),)))
    assert status is Status.FAIL and "reached beta line site2/01" in reasons[0]


def test_a_2xx_to_an_unauthenticated_invite_fails_even_with_nothing_reached() -> None:
    status, reasons = judge(UNAUTH, INTL, _ev(codes=(200,)))
    assert status is Status.FAIL and "answered 200" in reasons[0]


def test_expected_codes_when_the_row_names_them() -> None:
    spec = ProbeSpec("x", "y", ProbeKind.WRONG_PASSWORD_INVITE, INTL, line="site7/12",
                     expect=ProbeExpect(codes=(403,)))
    assert judge(spec, INTL, _ev(codes=(407, 403)))[0] is Status.PASS
    status, reasons = judge(spec, INTL, _ev(codes=(407, 407)))
    assert status is Status.FAIL and "final 407, expected 403" in reasons[0]


def test_a_probe_the_switch_never_saw_is_the_harness_error() -> None:
    status, reasons = judge(UNAUTH, INTL, _ev(received=0, codes=(), wire_to_switch=0))
    assert status is Status.ERROR and "did not reach the switch" in reasons[0]
    assert judge(UNAUTH, INTL, _ev(sent=0))[0] is Status.ERROR


def test_a_switch_dead_after_the_probe_fails() -> None:
    status, reasons = judge(UNAUTH, INTL, _ev(alive=False, alive_detail="no answer"))
    assert status is Status.FAIL and "stopped answering" in reasons[0]


def test_a_wrong_password_that_registered_fails() -> None:
    spec = ProbeSpec("12.10", "wrong password", ProbeKind.WRONG_PASSWORD_REGISTER,
                     line="site7/12")
    assert judge(spec, "", _ev(codes=(401, 403, 401, 403)))[0] is Status.PASS
    status, reasons = judge(spec, "", _ev(codes=(401, 200)))
    assert status is Status.FAIL and "a wrong password registered line site7/12" in reasons[0]


HIJACK = ProbeSpec("12.11", "hijack", ProbeKind.REGISTER_HIJACK, "site7/10", line="site7/11",
                   real_caller="site7/09", real_dial="site7/10")


def _call(**kw: object) -> RealCall:
    base: dict[str, object] = {"plan_id": "12.11", "dial": "site7/10", "status": Status.PASS,
                               "final_code": 200, "setup_s": 0.6, "rang": ("site7/10",)}
    base.update(kw)
    return RealCall(**base)  # type: ignore[arg-type]


def test_hijack_passes_when_refused_and_the_real_line_rings() -> None:
    assert judge(HIJACK, "4135550178", _ev(codes=(401, 403), real_call=_call()))[0] \
        is Status.PASS


def test_hijack_fails_when_the_call_reached_the_hijackers_contact() -> None:
    trap = Reached("hijack contact 127.0.0.2:4000", "cid-1", seen_by="hijack socket")
    status, reasons = judge(HIJACK, "4135550178",
                            _ev(codes=(200,), reached=(trap,), real_call=_call(rang=())))
    assert status is Status.FAIL
    assert any(r.startswith("registration hijack: the call to site7/10 reached the "
                            "hijacker's contact") for r in reasons)
    assert any("site7/10's address without its credentials was accepted (200)" in r
               for r in reasons)
    assert any("did not ring site7/10" in r for r in reasons)


def test_flood_fails_when_the_real_call_is_slow_or_refused() -> None:
    spec = ProbeSpec("12.12", "flood", ProbeKind.INVITE_FLOOD, "12125550123",
                     line="site7/12", expect=ProbeExpect(setup_s_max=2.0))
    ev = _ev(codes=(407,) * 50, real_call=_call(setup_s=3.1))
    status, reasons = judge(spec, "12125550123", ev)
    assert status is Status.FAIL and "took 3.10 s to set up (limit 2.0 s)" in reasons[0]
    status, reasons = judge(spec, "12125550123", _ev(real_call=_call(
        status=Status.FAIL, final_code=503, reasons=("final code 503, expected 200",))))
    assert status is Status.FAIL and any("got 503" in r for r in reasons)


def test_a_real_call_spoiled_by_a_host_stall_is_an_error_not_a_verdict() -> None:
    spec = ProbeSpec("12.12", "flood", ProbeKind.INVITE_FLOOD, "12125550123", line="site7/12")
    ev = _ev(real_call=_call(status=Status.ERROR, invalid_measurement=True, setup_s=9.0,
                             reasons=("host stalled 900 ms",)))
    status, reasons = judge(spec, "12125550123", ev)
    assert status is Status.ERROR and "invalid measurement" in reasons[0]


def test_torture_failures_are_listed() -> None:
    spec = ProbeSpec("12.13", "torture", ProbeKind.TORTURE)
    status, reasons = judge(spec, "", _ev(torture_failed=("3.1.2.1-badinv01: got 200",)))
    assert status is Status.FAIL and reasons == ("RFC 4475 3.1.2.1-badinv01: got 200",)


def test_rows_left_out_by_the_config() -> None:
    replay = ProbeSpec("12.7", "r", ProbeKind.REPLAYED_CREDENTIALS_INVITE, INTL)
    torture = ProbeSpec("12.13", "t", ProbeKind.TORTURE)
    assert "binds_lines_to_addresses: false" in not_applicable(replay, False, False)
    assert not_applicable(replay, True, False) == ""
    assert "security.torture" in not_applicable(torture, True, False)
    assert not_applicable(torture, False, True) == ""
    assert not_applicable(UNAUTH, False, False) == ""


def test_the_plan_dials_only_numbers_of_the_test_plan() -> None:
    from harness.plugin import read_plan

    plan = NumberPlan.from_config(load_config().numbers)
    rows = read_plan(Path(__file__).parents[2] / "testplans" / "plan_12_security.py")
    for row in rows:
        assert isinstance(row, ProbeSpec)
        if row.target:
            plan.route(plan.resolve_dial(row.target))  # raises outside the plan
    premium = plan.route("19005550100")
    assert (premium.number, premium.trunk) == ("9005550100", "ld")
    with pytest.raises(DialGuardError):
        plan.route("19005550199")  # another premium number: not in the simulated PSTN


def test_probe_targets_are_loopback_unless_remote_is_allowed() -> None:
    assert target_guard("127.0.0.1", False) == "127.0.0.1"
    for host in ("192.0.2.10", "switch.example.com", "::1"):
        with pytest.raises(ProbeError):
            target_guard(host, False)
    assert target_guard("192.0.2.10", True) == "192.0.2.10"
    with pytest.raises(ProbeError):
        target_guard("switch.example.com", True)  # names are never resolved


@pytest.mark.parametrize(("text", "field"), [
    ("security:\n  flood_count: 0\n", "security.flood_count"),
    ("security:\n  flood_count: 100000\n", "security.flood_count"),
    ("security:\n  flood_rate_cps: 5000\n", "security.flood_rate_cps"),
    ("security:\n  probe_source: 192.0.2.7\n", "security.probe_source"),
    ("security:\n  probe_source: myhost\n", "security.probe_source"),
])
def test_security_config_is_bounded(tmp_path: Path, text: str, field: str) -> None:
    f = tmp_path / "sec.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert f"'{field}'" in str(err.value)


def test_parse_response_reads_code_and_headers() -> None:
    r = parse_response(b"SIP/2.0 407 Proxy Authentication Required\r\ni: abc\r\n"
                       b"Proxy-Authenticate: Digest realm=\"beta.test\"\r\n\r\n")
    assert r is not None and r.code == 407 and r.headers["call-id"] == "abc"
    assert parse_response(b"INVITE sip:x SIP/2.0\r\n\r\n") is None


def test_a_probes_footprint_for_the_scheduler() -> None:
    """How long each probe holds the switch (the flood's own length, a real call's) and
    which lines it uses, so the scheduler can fit it beside the billing call."""
    from harness.security.rows import expected_s, probe_parties

    sec = load_config().security
    plan = NumberPlan.from_config(load_config().numbers)
    plain = ProbeSpec("12.1", "x", ProbeKind.UNAUTHENTICATED_INVITE, "011441632960000")
    hijack = ProbeSpec("12.11", "x", ProbeKind.REGISTER_HIJACK, "site7/10", line="site7/11",
                       real_caller="site7/09", real_dial="site7/10")
    flood = ProbeSpec("12.12", "x", ProbeKind.INVITE_FLOOD, "18025550100", line="site7/12",
                      real_caller="site7/01", real_dial="site7/02")
    torture = ProbeSpec("12.13", "x", ProbeKind.TORTURE, real_caller="site3/04",
                        real_dial="site3/07")
    one, two, three = expected_s(plain, sec), expected_s(hijack, sec), expected_s(flood, sec)
    assert one is not None and two is not None and three is not None
    assert one < two < three
    assert three >= sec.flood_count / sec.flood_rate_cps
    assert expected_s(torture, sec) is None
    assert probe_parties(plain, plan) == frozenset()
    assert probe_parties(hijack, plan) == {"site7/09", "site7/10", "site7/11"}
    assert probe_parties(flood, plan) == {"site7/01", "site7/02", "site7/12"}
