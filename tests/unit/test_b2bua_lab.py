"""The B2BUA lab's configuration (sut.behaviours, sut.pstn_b2bua) and what it renders
into the embedded Kamailio's config (docs/b2bua-lab.md). No process is started."""

from pathlib import Path

import pytest

from harness.config import B2BUA_BEHAVIOURS, Behaviour, NumbersConfig, SutConfig, load_config
from harness.errors import ConfigError
from harness.numberplan import NumberPlan
from harness.softswitch.kamailio import EmbeddedKamailio
from harness.softswitch.sippy import SippyLeg, sippy_argv

PLAN = NumberPlan.from_config(NumbersConfig(line_password="pw", sites=2, lines_per_site=3))
PSTN_PORT = 31000


def _load(tmp_path: Path, text: str) -> tuple[str, SutConfig]:
    f = tmp_path / "lab.yaml"
    f.write_text(text)
    return str(f), load_config(f).sut


@pytest.mark.parametrize(("text", "field", "value", "hint"), [
    ("sut:\n  behaviours: topology_hiding,bogus\n", "sut.behaviours",
     "'topology_hiding,bogus'", "'e164_caller_id'"),
    ("sut:\n  pstn_b2bua: asterisk\n", "sut.pstn_b2bua", "'asterisk'", "'sippy'"),
    ("sut:\n  kind: external\n  sip_port: 5080\n  pstn_port: 5090\n  cdr_uri: csv:///x\n"
     "  behaviours: b2bua\n", "sut.behaviours", "'b2bua'", "embedded switch"),
    ("sut:\n  kind: external\n  sip_port: 5080\n  pstn_port: 5090\n  cdr_uri: csv:///x\n"
     "  pstn_b2bua: sippy\n", "sut.pstn_b2bua", "'sippy'", "embedded switch"),
])
def test_bad_lab_option_names_file_field_value(tmp_path: Path, text: str, field: str,
                                               value: str, hint: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(f)
    msg = str(err.value)
    assert str(f) in msg and f"'{field}'" in msg and value in msg and hint in msg
    assert "\n" not in msg


def test_behaviours_parse_and_b2bua_means_all(tmp_path: Path) -> None:
    _, sut = _load(tmp_path, "sut:\n  behaviours: ' e164_caller_id , topology_hiding'\n")
    assert sut.behaviour_set() == {Behaviour.E164_CALLER_ID, Behaviour.TOPOLOGY_HIDING}
    _, sut = _load(tmp_path, "sut:\n  behaviours: b2bua\n")
    assert sut.behaviour_set() == B2BUA_BEHAVIOURS == set(Behaviour) - {Behaviour.T38_GATEWAY}
    _, sut = _load(tmp_path, "sut:\n  behaviours: b2bua, t38_gateway\n")
    assert sut.behaviour_set() == set(Behaviour)
    assert load_config().sut.behaviour_set() == frozenset()


def test_pstn_b2bua_makes_trunk_groups_undelivered(tmp_path: Path) -> None:
    assert load_config().sut.pstn_trunk_groups is True
    _, sut = _load(tmp_path, "sut:\n  pstn_b2bua: sippy\n")
    assert sut.pstn_b2bua == "sippy" and sut.pstn_trunk_groups is False


def _render(tmp_path: Path, sut: SutConfig, b2bua_ports: tuple[int, int] = (0, 0)) -> str:
    sw = EmbeddedKamailio(sut, tmp_path / "run")
    sw.dir.mkdir(parents=True, exist_ok=True)
    sw._sip_port, sw.ng_port, sw.load_sink_port = 5070, 5071, 5072
    if b2bua_ports[0]:
        from harness.softswitch.sippy import SippyB2bua

        sw.b2bua_out = SippyB2bua("pstn-out", PSTN_PORT, sw.dir)
        sw.b2bua_in = SippyB2bua("pstn-in", 5070, sw.dir)
        sw.b2bua_out.leg = SippyLeg("pstn-out", b2bua_ports[0], PSTN_PORT, 1)
        sw.b2bua_in.leg = SippyLeg("pstn-in", b2bua_ports[1], 5070, 2)
    return sw._render("/usr/lib/kamailio/modules", PLAN, PSTN_PORT).read_text()


def _is_subsequence(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(any(line == other for other in it) for line in small)


MARKERS = {
    Behaviour.TOPOLOGY_HIDING: ('loadmodule "topoh.so"', 'modparam("topoh", "mask_callid", 1)'),
    Behaviour.STRIP_PRIVATE_HEADERS: ('remove_hf_re("^X-");',),
    Behaviour.E164_CALLER_ID: ('uac_replace_from("sip:+1$fU@$fd");',
                               "<sip:+1$fU@beta.test;user=phone>"),
}


@pytest.mark.parametrize("behaviour", sorted(B2BUA_BEHAVIOURS))
def test_each_behaviour_renders_and_only_adds(tmp_path: Path, behaviour: Behaviour) -> None:
    off = _render(tmp_path, SutConfig())
    on = _render(tmp_path, SutConfig(behaviours=behaviour.value))
    for marker in MARKERS[behaviour]:
        assert marker in on and marker not in off
    for other in B2BUA_BEHAVIOURS - {behaviour}:
        assert not any(m in on for m in MARKERS[other])
    assert "T.38" not in on
    # the default config is kept, line for line, in the same order
    assert _is_subsequence([ln.strip() for ln in off.splitlines()],
                           [ln.strip() for ln in on.splitlines()])


def test_the_t38_gateway_turns_every_offer_and_changes_nothing_else(tmp_path: Path) -> None:
    """`t38_gateway`: each rtpengine offer of a request's SDP carries T.38=force (the
    offer toward the called party becomes m=image udptl t38); the answers' are untouched
    (rtpengine keeps the caller's side audio), and no other line changes."""
    off = _render(tmp_path, SutConfig())
    on = _render(tmp_path, SutConfig(behaviours="t38_gateway"))
    changed = [(a.strip(), b.strip()) for a, b in zip(off.splitlines(), on.splitlines(),
                                                        strict=True) if a != b]
    assert changed and all(b == a.replace('");', ' T.38=force");') for a, b in changed)
    assert all(a.startswith(("rtpengine_offer(", "rtpengine_manage(")) for a, _ in changed)
    assert 'rtpengine_manage("replace-origin replace-session-connection");' in on


def test_off_renders_nothing_of_the_lab(tmp_path: Path) -> None:
    off = _render(tmp_path, SutConfig())
    for text in ("topoh", "remove_hf_re", "E164", "b2bua", "$du ="):
        assert text not in off


def test_the_delay_header_is_read_before_headers_are_stripped(tmp_path: Path) -> None:
    on = _render(tmp_path, SutConfig(behaviours="strip_private_headers",
                                     test_faults="delay_header"))
    outgoing = on.index("route[OUTGOING] {")
    relay = on.index("route[RELAY] {")
    assert outgoing < on.index("X-Harness-Delay-Ms", outgoing) < relay < on.index("remove_hf_re")


def test_pstn_b2bua_renders_both_directions(tmp_path: Path) -> None:
    off = _render(tmp_path, SutConfig())
    on = _render(tmp_path, SutConfig(pstn_b2bua="sippy"), b2bua_ports=(41001, 41002))
    assert '$du = "sip:127.0.0.1:41001";' in on  # switch -> B2BUA -> gateway
    assert '$sp == 41002' in on and f'$sp == {PSTN_PORT}' not in on  # B2BUA -> switch
    assert f'$sp == {PSTN_PORT}' in off and "$du" not in off


def test_sippy_argv_binds_loopback_without_radius_or_media() -> None:
    argv = sippy_argv(SippyLeg("pstn-out", 41001, 31000, 41003), python="/py")
    assert argv[:3] == ["/py", "-m", "sippy.b2bua"]
    text = " ".join(argv)
    for part in ("-f", "-l 127.0.0.1", "-p 41001", "-s 127.0.0.1:31000", "-a 127.0.0.1",
                 "-u", "-A 0", "-H", "-c tcp:127.0.0.1:41003"):
        assert f" {part}" in text
    assert "-r" not in argv  # no rtpproxy: the SDP passes unchanged
