"""pstn.mode carrier (docs/other-carrier.md): the config section, the lab's other
carrier's template, the DIDs, and routing judged by which DID rang."""

import re
from pathlib import Path

import pytest

from harness.config import PstnConfig, load_config
from harness.errors import ConfigError
from harness.model import CallSpec, Expect
from harness.numberplan import NumberPlan
from harness.pstn.directory import carrier_dids, classify, expected_did
from harness.sip.agent import Switchboard
from harness.sip.scenario import CallOutcome, LegOutcome
from harness.softswitch.carrier import OtherCarrier
from harness.verdict.call_types import Promises, call_type_checks, did_checks
from harness.verdict.checks import reasons


def test_gateway_is_the_default_and_keeps_trunk_groups() -> None:
    cfg = load_config()
    assert cfg.pstn.mode == "gateway" and cfg.sut.pstn_trunk_groups


def test_carrier_mode_loads_and_turns_trunk_groups_off(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BETA_DID_PASSWORD", "s3cret")
    f = tmp_path / "carrier.yaml"
    f.write_text("pstn:\n  mode: carrier\n  embedded: false\n  carrier_port: 5070\n"
                 "  carrier_domain: other.example\n  did_password: ${BETA_DID_PASSWORD}\n")
    cfg = load_config(f)
    assert cfg.pstn == PstnConfig("carrier", False, "127.0.0.1", 5070, "other.example",
                                  "s3cret")
    assert not cfg.sut.pstn_trunk_groups  # no tgrp crosses a carrier boundary
    assert cfg.redacted()["pstn"]["did_password"] == "***"


@pytest.mark.parametrize(("text", "field", "value"), [
    ("pstn:\n  mode: sideways\n", "pstn.mode", "'sideways'"),
    ("pstn:\n  mode: carrier\n  carrier_port: 80\n", "pstn.carrier_port", "80"),
    ("pstn:\n  mode: carrier\n  carrier_domain: 'a b'\n", "pstn.carrier_domain", "'a b'"),
    ("pstn:\n  mode: carrier\n  test_faults: drop_all\n", "pstn.test_faults", "'drop_all'"),
    ("pstn:\n  mode: carrier\n  embedded: false\n  did_password: x\n",
     "pstn.carrier_port", "0"),
    ("pstn:\n  mode: carrier\n  embedded: false\n  carrier_port: 5070\n",
     "pstn.did_password", "''"),
    ("pstn:\n  mode: carrier\n  embedded: false\n  carrier_port: 5070\n  did_password: x\n"
     "  carrier_host: 192.0.2.7\n", "pstn.carrier_host", "'192.0.2.7'"),
    ("pstn:\n  mode: carrier\n  carrier_host: 127.0.0.2\n", "pstn.carrier_host", "'127.0.0.2'"),
    ("pstn:\n  mode: carrier\n  embedded: false\n  carrier_port: 5070\n  did_password: x\n"
     "  test_faults: deliver_ld_to_local\n", "pstn.test_faults", "'deliver_ld_to_local'"),
    ("pstn:\n  carrier: yes\n", "pstn.carrier", "True"),
])
def test_bad_pstn_section_names_file_field_and_value(tmp_path: Path, text: str, field: str,
                                                     value: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(f)
    msg = str(err.value)
    assert str(f) in msg and f"'{field}'" in msg and value in msg


def test_every_pstn_number_and_caller_is_a_did() -> None:
    plan = NumberPlan.from_config(load_config().numbers)
    dids = carrier_dids(plan.pstn, plan.pstn_callers)
    # 900, 976: premium; 4135550186: ported out of the block to that carrier (LNP)
    assert len(dids) == 23 and {"911", "0", "411", "+442079460123", "2125550188",
                                "+442079460958",
                                "9005550100", "4139765555", "4135550186"} <= set(dids)


@pytest.mark.parametrize(("dial", "did"), [("5550190", "4135550190"), ("411", "411"),
                                           ("011442079460123", "+442079460123"),
                                           ("04135550190", "0"), ("12125551212", "2125551212")])
def test_the_did_a_dial_string_must_ring(dial: str, did: str) -> None:
    route = classify(dial, "413", ("978",), frozenset())
    assert route is not None and expected_did(route) == did


def _render(tmp_path: Path, faults: str = "") -> str:
    carrier = OtherCarrier(PstnConfig("carrier", test_faults=faults), tmp_path / "run-1")
    carrier.port = 5999
    plan = NumberPlan.from_config(load_config().numbers)
    return carrier.render("/usr/lib/kamailio/modules", plan, "127.0.0.1", 5060)


def test_the_other_carriers_template_renders(tmp_path: Path) -> None:
    text = _render(tmp_path)
    assert "listen=udp:127.0.0.1:5999" in text and 'alias="carrier.test"' in text
    assert re.search(r'"sqlite:////\S+/run-1/carrier/auth.db"', text)  # four slashes
    assert 'if ($si == "127.0.0.1" && $sp == 5060)' in text  # the trusted trunk
    assert '$ru = "sip:" + $rU + "@127.0.0.1:5060";' in text  # subscribers' calls out
    assert "children=1" in text and "pike.so" not in text and "{{" not in text
    assert "deliver_ld_to_local" not in text and "4135550190" not in text


def test_the_misrouting_fault_renders_only_when_asked(tmp_path: Path) -> None:
    text = _render(tmp_path, "deliver_ld_to_local")
    # the LD numbers of the directory, PSTN callers that answer a call return among them
    assert 'if ($rU =~ "^(9785550123|2125550123|9005550100|2125550188|9785550177)$")' \
        in text
    assert '$rU = "4135550190";' in text


def test_a_pstn_far_end_across_a_carrier_is_named_by_its_did() -> None:
    board = Switchboard()
    board.pstn = object()  # type: ignore[assignment]
    invite = "INVITE sip:9785550123@127.0.0.1:31000 SIP/2.0\r\n\r\n"
    assert board.route(invite)[1] == "pstn:?"
    board.pstn_by_did = True
    assert board.route(invite)[1] == "pstn:9785550123"


def test_at_a_trunk_groups_own_gateway_the_trunk_group_is_the_port_it_reached() -> None:
    """A separate trunk (harness/pstn/simulator.py): who rang is that trunk group, with
    or without ;tgrp= in the R-URI (a switch that names none, or another)."""
    board = Switchboard()
    board.pstn = object()  # type: ignore[assignment]
    plain = "INVITE sip:2125550123@127.0.0.1:31001 SIP/2.0\r\n\r\n"
    tagged = "INVITE sip:2125550123@127.0.0.1:31001;tgrp=ld SIP/2.0\r\n\r\n"
    assert board.route(plain)[1] == "pstn:?" and board.route(tagged)[1] == "pstn:ld"
    board.trunk = "local"  # the local trunk's own gateway: a call on it is a local one
    assert board.route(plain)[1] == "pstn:local" and board.route(tagged)[1] == "pstn:local"


def _outcome(far: str) -> CallOutcome:
    a = LegOutcome("a", "site2/04", "c1", (), 200, None, None, 0.0, 0.0)
    b = LegOutcome("b", far, "c2", (), 200, None, None, 0.0, 0.0)
    return CallOutcome(a, b, 0.0, 1.0)


def test_routing_across_a_carrier_is_judged_by_which_did_rang() -> None:
    spec = CallSpec("2.3", "ld", "site2/04", "19785550123",
                    expect=Expect(mos_lqo_min=None, rings="pstn:ld", audio=False))
    route = classify(spec.dial, "413", ("978",), frozenset())
    promises = Promises(trunk_groups=False, pstn_dids=True)
    ok = call_type_checks(spec, _outcome("pstn:9785550123"), None, [], "4135550115",
                          promises, route=route)
    assert [(c.criterion, c.outcome.value) for c in ok] == [("routing", "pass")]
    assert reasons(call_type_checks(spec, _outcome("pstn:4135550190"), None, [], "4135550115",
                                    promises, route=route)) == (
        "routing: DID 4135550190 rang at the other carrier, expected DID 9785550123 (pstn:ld)",)
    assert did_checks("site1/01", "pstn:local", "4135550190") == [
        "routing: site1/01 rang at the other carrier, expected DID 4135550190 (pstn:local)"]
    assert did_checks("pstn:+1 978 555 0123", "pstn:ld", "9785550123") == []
