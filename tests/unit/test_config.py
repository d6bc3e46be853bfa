from pathlib import Path

import pytest

from harness.config import load_config
from harness.errors import ConfigError


def test_defaults_are_valid() -> None:
    cfg = load_config()
    assert cfg.numbers.sites * cfg.numbers.lines_per_site == 84
    assert cfg.media.clock_rate == 16000


def test_yaml_overrides_a_field(tmp_path: Path) -> None:
    f = tmp_path / "sut.yaml"
    f.write_text("guard:\n  stall_threshold_s: 0.25\n")
    cfg = load_config(f)
    assert cfg.guard.stall_threshold_s == 0.25
    assert cfg.source == str(f)


@pytest.mark.parametrize(("text", "field", "value"), [
    ("sut:\n  colour: blue\n", "sut.colour", "'blue'"),
    ("guard:\n  stall_threshold_s: fast\n", "guard.stall_threshold_s", "'fast'"),
    ("numbers:\n  first_line: '12345'\n", "numbers.first_line", "'12345'"),
    ("media:\n  clock_rate: 44100\n", "media.clock_rate", "44100"),
    ("sut:\n  sip_port: 80\n", "sut.sip_port", "80"),
    ("numbers:\n  caller_id_form_pstn: E164\n", "numbers.caller_id_form_pstn", "'E164'"),
    ("bogus: 1\n", "bogus", "1"),
])
def test_bad_input_names_file_field_and_value(tmp_path: Path, text: str, field: str,
                                              value: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(f)
    msg = str(err.value)
    assert str(f) in msg and f"'{field}'" in msg and value in msg
    assert "\n" not in msg


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    f = tmp_path / "broken.yaml"
    f.write_text("sut: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(f)


def test_secrets_are_redacted(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("numbers:\n  line_password: hunter2\n")
    red = load_config(f).redacted()
    assert red["numbers"]["line_password"] == "***"
    assert "hunter2" not in repr(red)


# -- the mini-languages, parsed at load (#17.3) -----------------------------------------
EXTERNAL = ("sut:\n  kind: external\n  sip_port: 5060\n  pstn_port: 5070\n"
            "  cdr_uri: 'sqlite:////tmp/x.db'\n")


@pytest.mark.parametrize(("text", "field", "value", "problem"), [
    ("cdr:\n  tariff: 'locl=0.01 60/60'\n", "cdr.tariff", "'locl'", "not a call class"),
    ("cdr:\n  tariff: 'local=cheap'\n", "cdr.tariff", "'local=cheap'", "rate per minute"),
    ("cdr:\n  tariff: 'local=0.01 60/0'\n", "cdr.tariff", "'local=0.01 60/0'", "FIRST/NEXT"),
    ("cdr:\n  tariff: 'local 0.01'\n", "cdr.tariff", "'local 0.01'", "class=rate"),
    ("thresholds: 'internationl: srd_s <= 6.0'\n", "thresholds", "'internationl'",
     "not a call class or codec"),
    ("thresholds: 'international srd_s <= 6.0'\n", "thresholds",
     "'international srd_s <= 6.0'", "expected 'class or codec: check"),
    ("thresholds: 'international: srd_s =< 6.0'\n", "thresholds.international[0]",
     "'srd_s =< 6.0'", "unknown operator '=<'"),
    ("thresholds: 'G711: moss_lqo >= 4.1'\n", "thresholds.G711[0]", "'moss_lqo >= 4.1'",
     "metric 'moss_lqo' is not judged for a codec (known: jitter_ms, loss_pct, mos_lqo)"),
    ("thresholds: 'local: mos_lqo >= 4.1'\n", "thresholds.local[0]", "'mos_lqo >= 4.1'",
     "is not judged for a call class"),
    ("thresholds: 'local: ser_pct >= 99.9'\n", "thresholds.local[0]", "'ser_pct >= 99.9'",
     "metric 'ser_pct' is not judged for a call class (known: setup_s, srd_s)"),
    ("numbers:\n  anonymous_rejection: 'site2/12, site2'\n", "numbers.anonymous_rejection",
     "'site2'", "expected beta lines 'siteN/NN'"),
    ("numbers:\n  anonymous_rejection: 'site9/01'\n", "numbers.anonymous_rejection",
     "'site9/01'", "no such beta line"),
    ("numbers:\n  toll_restricted: 'site7/08, 900'\n", "numbers.toll_restricted",
     "'900'", "expected beta lines 'siteN/NN'"),
    ("numbers:\n  toll_restricted: 'site8/01'\n", "numbers.toll_restricted",
     "'site8/01'", "no such beta line"),
    ("numbers:\n  forwarding: 'site1/01>site1/02:busyy'\n", "numbers.forwarding",
     "'site1/01>site1/02:busyy'", "kind 'busyy'"),
    ("numbers:\n  forwarding: 'site1/01>site1:busy'\n", "numbers.forwarding",
     "'site1/01>site1:busy'", "'site1' is not a party"),
    ("numbers:\n  forwarding: 'pstn:ld>site1/01:busy'\n", "numbers.forwarding",
     "'pstn:ld>site1/01:busy'", "a beta line forwards"),
    ("numbers:\n  forwarding: 'site1/01>site9/02:busy'\n", "numbers.forwarding",
     "'site9/02'", "no such beta line"),
    ("numbers:\n  forwarding: 'site1/01>site1/02:no_answer:soon'\n", "numbers.forwarding",
     "'site1/01>site1/02:no_answer:soon'", "seconds"),
    ("sut:\n  test_faults: 'misroute_ld_to_local, ignore_privcy'\n", "sut.test_faults",
     "'misroute_ld_to_local, ignore_privcy'", "unknown fault(s) ignore_privcy"),
    (EXTERNAL + "  pstn_trunk_ports: 'ld=5072, toll=5073'\n", "sut.pstn_trunk_ports",
     "'ld=5072, toll=5073'", "'toll': not a trunk group"),
    (EXTERNAL + "  pstn_trunk_ports: 'ld=50'\n", "sut.pstn_trunk_ports", "'ld=50'",
     "ld=50: expected a UDP port"),
    (EXTERNAL + "  pstn_trunk_ports: 'ld=5072, intl=5072'\n", "sut.pstn_trunk_ports",
     "'ld=5072, intl=5072'", "two trunk groups on one port"),
    (EXTERNAL + "  pstn_trunk_ports: 'ld=5070'\n", "sut.pstn_trunk_ports", "'ld=5070'",
     "is sut.pstn_port"),
    ("sut:\n  pstn_trunk_ports: 'ld=5072'\n", "sut.pstn_trunk_ports", "'ld=5072'",
     "for an external switch"),
    # the lab's voicemail platform against an external switch: both its ports, or none
    (EXTERNAL + "  pstn_trunk_ports: 'vm=5075'\n", "sut.voicemail_mwi_port", "0",
     "needs both its trunk's port"),
    (EXTERNAL + "  voicemail_mwi_port: 5076\n", "sut.voicemail_mwi_port", "5076",
     "needs both its trunk's port"),
    (EXTERNAL + "  pstn_trunk_ports: 'vm=5075'\n  voicemail_mwi_port: 5075\n",
     "sut.voicemail_mwi_port", "5075", "of its own"),
    ("sut:\n  voicemail_mwi_port: 5076\n", "sut.voicemail_mwi_port", "5076",
     "for an external switch"),
    # a carrier fault is checked in gateway mode too (it used to be only in carrier mode)
    ("pstn:\n  test_faults: deliver_ld_to_locl\n", "pstn.test_faults",
     "'deliver_ld_to_locl'", "unknown fault(s) deliver_ld_to_locl"),
])
def test_a_bad_mini_language_fails_at_load(tmp_path: Path, text: str, field: str, value: str,
                                          problem: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(f)
    msg = str(err.value)
    assert msg.startswith(f"{f}: field '{field}' = {value}"), msg
    assert problem in msg and "\n" not in msg


def test_the_mini_languages_are_typed_values(tmp_path: Path) -> None:
    from decimal import Decimal

    from harness.party import Party

    f = tmp_path / "sut.yaml"
    f.write_text("cdr:\n  tariff: 'local=0.0100 60/60; international=0.25 30/6'\n"
                 "thresholds: 'international: srd_s <= 6.0; PCMU: mos_lqo >= 4.1'\n"
                 "numbers:\n  forwarding: 'site1/01>site1/02:no_answer:6'\n"
                 "sut:\n  test_faults: 'ignore_privacy,strip_pcma'\n")
    typed = load_config(f).parsed()
    rate = typed.tariff.rate("international")
    assert rate is not None and rate.per_min == Decimal("0.25")
    assert rate.increment.first_s == 30 and rate.increment.next_s == 6
    assert "srd_s <= 6" in [str(t) for t in typed.thresholds.for_key("international")]
    assert typed.thresholds.source == str(f)
    (rule,) = typed.forwarding
    assert (rule.line, rule.target, rule.kind, rule.after_s) == (
        Party.line(1, 1), Party.line(1, 2), "no_answer", 6.0)
    assert typed.switch_faults == {"ignore_privacy", "strip_pcma"}
    assert typed.carrier_faults == frozenset()


def test_the_defaults_parse() -> None:
    typed = load_config().parsed()
    assert typed.tariff.rate("onnet") is not None and len(typed.forwarding) == 3


def test_an_external_switchs_trunk_groups_ports(tmp_path: Path) -> None:
    f = tmp_path / "ext.yaml"
    f.write_text(EXTERNAL + "  pstn_trunk_ports: ' ld=5072 ,intl=5073'\n")
    assert load_config(f).sut.trunk_ports() == {"ld": 5072, "intl": 5073}
    assert load_config().sut.trunk_ports() == {}
    f.write_text(EXTERNAL + "  pstn_trunk_ports: 'vm=5075'\n  voicemail_mwi_port: 5076\n")
    assert (load_config(f).sut.trunk_ports(), load_config(f).sut.voicemail_mwi_port) == \
        ({"vm": 5075}, 5076)  # the lab's voicemail platform, where the switch sends it
