"""The embedded switch's configuration as rendered: test faults and B2BUA behaviours
appear only when asked for; by default the switch is the plain template."""

import re
from dataclasses import replace
from pathlib import Path

import pytest

from harness.config import load_config
from harness.errors import ConfigError
from harness.numberplan import NumberPlan
from harness.softswitch.kamailio import EmbeddedKamailio


def render(tmp_path: Path, **sut: str) -> str:
    cfg = load_config()
    switch = EmbeddedKamailio(replace(cfg.sut, **sut), tmp_path)
    switch.dir.mkdir(parents=True, exist_ok=True)
    path = switch._render("/modules", NumberPlan.from_config(cfg.numbers), 30999)
    return path.read_text()


def test_the_delay_header_slows_the_switch_only_under_its_fault(tmp_path: Path) -> None:
    assert "X-Harness-Delay-Ms" not in render(tmp_path)
    assert 'is_present_hf("X-Harness-Delay-Ms")' in render(tmp_path, test_faults="delay_header")


def test_b2bua_behaviours_render_only_when_asked(tmp_path: Path) -> None:
    plain = render(tmp_path)
    for needle in ("topoh", 'remove_hf_re("^X-")', "route(E164_FROM)"):
        assert needle not in plain
    b2bua = render(tmp_path, behaviours="b2bua")
    assert 'modparam("topoh", "mask_callid", 1)' in b2bua
    assert 'remove_hf_re("^X-")' in b2bua
    assert "route(E164_FROM)" in b2bua and "<sip:+1$fU@" in b2bua


def test_an_unknown_behaviour_names_the_field(tmp_path: Path) -> None:
    cfg = tmp_path / "sut.yaml"
    cfg.write_text("sut:\n  behaviours: topology_hiding, teleport\n")
    with pytest.raises(ConfigError, match=r"sut.behaviours.*teleport"):
        load_config(cfg)


def test_each_trunk_group_with_a_gateway_of_its_own_is_routed_to_its_port(
        tmp_path: Path) -> None:
    cfg = load_config()
    switch = EmbeddedKamailio(cfg.sut, tmp_path)
    switch.dir.mkdir(parents=True, exist_ok=True)
    assert switch.separate_trunks
    assert not EmbeddedKamailio(replace(cfg.sut, pstn_b2bua="sippy"), tmp_path).separate_trunks
    assert not EmbeddedKamailio(cfg.sut, tmp_path, carrier=True).separate_trunks
    switch.trunk_ports = {"ld": 31001, "psap": 31006}
    text = switch._render("/modules", NumberPlan.from_config(cfg.numbers), 30999).read_text()
    assert 'if ($var(trunk) == "ld") {\n\t\t$var(gw) = "127.0.0.1:31001";' in text
    assert 'if ($var(trunk) == "psap") {\n\t\t$var(gw) = "127.0.0.1:31006";' in text
    assert '$var(gw) = "127.0.0.1:30999";' in text  # the other trunk groups: the main one
    # every gateway is a trusted trunk (a far end's in-dialog requests come from there)
    for port in (30999, 31001, 31006):
        assert f'if ($si == "127.0.0.1" && $sp == {port}) {{' in text


def test_toll_restriction_renders_for_its_lines_unless_the_fault_drops_it(
        tmp_path: Path) -> None:
    plain = render(tmp_path)
    assert 'route(TOLL_RESTRICTION);' in plain
    assert '($fU =~ "^(4135550179)$")' in plain  # site7/08, the default
    assert 'send_reply("403", "Toll Restricted");' in plain
    faulty = render(tmp_path, test_faults="ignore_toll_restriction")
    assert 'send_reply("403", "Toll Restricted");' not in faulty


def test_a_t38_line_is_offered_t38_in_both_relays_unless_the_fault_drops_it(
        tmp_path: Path) -> None:
    plain = render(tmp_path)
    assert 'if (is_method("INVITE") && $rU =~ "^(4135550180)$") {' in plain  # site7/09
    assert plain.count('$var(t38) = " T.38=force";') == 1
    # both offers of the relay carry it (with TLS on, the TLS policy's: the plan's own
    # session, tests/integration/test_call_types.py)
    assert plain.count('replace-session-connection$var(t38)");') == 2
    faulty = render(tmp_path, test_faults="no_t38_to_t38_lines")
    assert "T.38" not in faulty and "$var(t38)" not in faulty


def test_dial_around_renders_the_second_carriers_trunk_and_cdr_field(tmp_path: Path) -> None:
    """101XXXX with the configured CIC goes to trunk group ld2 and the CDR names the
    carrier; each fault drops one of the two, and Kamailio accepts all three configs."""
    plain = render(tmp_path)
    assert '$var(cic) != "0555"' in plain and '$var(trunk) = "ld2";' in plain
    assert "$dlg_var(carrier) = $var(cic);" in plain and "carrier=$dlg_var(carrier)" in plain
    ignored = render(tmp_path, test_faults="ignore_dial_around")
    assert '$var(trunk) = "ld2";' not in ignored
    unbilled = render(tmp_path, test_faults="bill_dial_around_to_own_carrier")
    assert '$dlg_var(carrier) = "";' in unbilled and '$var(trunk) = "ld2";' in unbilled
    _kamailio_accepts(tmp_path, plain, ignored, unbilled)


def _kamailio_accepts(tmp_path: Path, *texts: str) -> None:
    import shutil
    import subprocess

    kam = shutil.which("kamailio")
    modules = next((d for d in ("/usr/lib/x86_64-linux-gnu/kamailio/modules",
                                "/usr/lib/kamailio/modules") if Path(d, "acc.so").exists()), "")
    if kam is None or not modules:
        pytest.skip("kamailio is not installed: the config is not checked")
    for text in texts:
        cfg = tmp_path / "check.cfg"
        cfg.write_text(text.replace('"/modules"', f'"{modules}"').replace(
            "mpath=\"/modules\"", f'mpath="{modules}"'))
        out = subprocess.run([kam, "-c", "-f", str(cfg)], capture_output=True, text=True,
                             timeout=60, check=False)
        assert out.returncode == 0, out.stderr[-800:]



def test_every_rejected_attempt_is_logged_just_before_its_database_write(
        tmp_path: Path) -> None:
    """The CDR store's refused writes are read from the log (harness/cdr/kamailio_log.py):
    each acc_db_request has its acc_log_request just before it; Kamailio accepts it."""
    plain = render(tmp_path)
    assert plain.count("acc_log_request(") == plain.count("acc_db_request(") >= 4
    for m in re.finditer(r'acc_db_request\("([^"]+)", "acc"\);', plain):
        before = plain[:m.start()].rstrip().splitlines()[-1].strip()
        assert before == f'acc_log_request("{m.group(1)}");', before
    assert 'modparam("acc", "log_extra", "src_user=$fU;' in plain
    _kamailio_accepts(tmp_path, plain)


def test_a_hunt_group_renders_its_pilot_and_its_lines_in_order(tmp_path: Path) -> None:
    """The default group: pilot 4135550184 over site3/08, 09, 12 (4135550131, 32, 35);
    the fault keeps the pilot ringing the first line and drops the hunting. Kamailio
    accepts both configs."""
    plain = render(tmp_path)
    assert 'if ($rU == "4135550184") {' in plain and '$rU = "4135550131";' in plain
    assert plain.index('$var(next) = "4135550132";') < plain.index('$var(next) = "4135550135";')
    assert 'if ($avp(hunt_at) == 2) {' in plain
    stops = render(tmp_path, test_faults="hunt_stops_at_busy")
    assert '$rU = "4135550131";' in stops and '$var(next) = "4135550132";' not in stops
    # every line tried: the overflow line, site7/04 (4135550175), unless the fault
    assert plain.index('$var(next) = "4135550135";') < plain.index('$var(next) = "4135550175";')
    no_overflow = render(tmp_path, test_faults="hunt_no_overflow")
    assert '$var(next) = "4135550175";' not in no_overflow
    assert '$var(next) = "4135550135";' in no_overflow
    _kamailio_accepts(tmp_path, plain, stops, no_overflow)


def test_a_toll_free_number_renders_translated_and_billed_to_the_site(tmp_path: Path) -> None:
    """The default toll-free number 8665550184 reaches site 3's pilot: translated for a
    PSTN caller (billed tollfree_in) and for a line (on-net); the faults drop the
    billing, or cut an international calling number. Kamailio accepts all three."""
    plain = render(tmp_path)
    assert 'if ($rU == "8665550184") {' in plain and '$rU = "4135550184";' in plain
    assert '$dlg_var(call_class) = "tollfree_in";' in plain
    assert '} else if ($rU =~ "^(8665550184)$") {' in plain  # on-net from a line
    unbilled = render(tmp_path, test_faults="bill_toll_free_as_incoming")
    assert '"tollfree_in"' not in unbilled and '$rU = "4135550184";' in unbilled
    cut = render(tmp_path, test_faults="truncate_intl_caller_id")
    assert "uac_replace_from(\"sip:$(fU{s.substr,-10,0})@$fd\");" in cut
    assert "s.substr,-10" not in plain
    _kamailio_accepts(tmp_path, plain, unbilled, cut)


def test_call_return_is_offered_with_its_code_and_its_fault_keeps_the_first_caller(
        tmp_path: Path) -> None:
    """Call return (numbers.call_return): the switch keeps who called each line last
    and calls them back on the code; under `call_return_first_caller` it keeps the
    first caller only. Kamailio accepts both."""
    plain = render(tmp_path)
    assert 'if ($rU == "*69" && is_method("INVITE"))' in plain
    assert plain.count("route(LAST_CALLER);") == 2  # from the PSTN, and on-net
    assert "$sht(lastcall=>$var(called)) = $var(last);" in plain
    assert "!= $null) {\n\t\treturn;" not in plain
    first = render(tmp_path, test_faults="call_return_first_caller")
    assert "if ($sht(lastcall=>$var(called)) != $null) {\n\t\treturn;" in first
    _kamailio_accepts(tmp_path, plain, first)


def test_a_switch_without_call_return_renders_no_code(tmp_path: Path) -> None:
    cfg = load_config()
    cfg = replace(cfg, numbers=replace(cfg.numbers, call_return=""))
    switch = EmbeddedKamailio(cfg.sut, tmp_path)
    switch.dir.mkdir(parents=True, exist_ok=True)
    text = switch._render("/modules", NumberPlan.from_config(cfg.numbers), 30999).read_text()
    assert "route(CALL_RETURN)" not in text
    _kamailio_accepts(tmp_path, text)


def test_no_call_waiting_renders_only_when_asked(tmp_path: Path) -> None:
    """The fault no_call_waiting: a line on a call (a dialog profile per line) is busy
    to a second caller; not in the plain template."""
    assert "line_calls" not in render(tmp_path)
    faulty = render(tmp_path, test_faults="no_call_waiting")
    assert 'modparam("dialog", "profiles_with_value", "line_calls")' in faulty
    assert 'get_profile_size("line_calls", "$var(called)", "$var(up)")' in faulty
    _kamailio_accepts(tmp_path, faulty)
