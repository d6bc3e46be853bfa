"""Bad input at start-up: each a one-line error naming its cause; no process left."""

import json
import socket
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from harness.config import NumbersConfig, SutConfig, load_config
from harness.errors import EnvironmentMissing, SipError, SoftswitchError
from harness.model import Line
from harness.numberplan import NumberPlan
from harness.run.session import HarnessSession
from harness.sip.register import Registrar
from harness.softswitch import kamailio as kamailio_mod
from harness.softswitch.kamailio import EmbeddedKamailio

pytestmark = pytest.mark.integration
PLAN = NumberPlan.from_config(NumbersConfig(line_password="pw", sites=1, lines_per_site=2))
PSTN_PORT = 40000


def _no_switch_left(run_dir: Path) -> None:
    out = subprocess.run(["pgrep", "-f", str(run_dir)], capture_output=True, text=True,
                         check=False)
    assert out.stdout.strip() == "", f"processes left behind: {out.stdout}"


def test_kamailio_refusing_its_config_shows_the_log_tail(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    sw = EmbeddedKamailio(SutConfig(), tmp_path)
    render = sw._render

    def broken(module_path: str, plan: NumberPlan, pstn_port: int) -> Path:
        path = render(module_path, plan, pstn_port)
        text = path.read_text().replace("request_route {", "request_route {\n\tnosuchfn();")
        path.write_text(text)
        return path

    monkeypatch.setattr(sw, "_render", broken)
    with pytest.raises(SoftswitchError) as err:
        sw.start(PLAN, PSTN_PORT)
    msg = str(err.value)
    assert "Kamailio refused its config" in msg and "kamailio.cfg" in msg
    assert "parse error in config file" in msg and "unknown command" in msg
    assert "\n" not in msg
    _no_switch_left(tmp_path)


def test_a_port_in_use_is_named(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        sw = EmbeddedKamailio(SutConfig(sip_port=port), tmp_path)
        with pytest.raises(SoftswitchError, match=f"sut.sip_port {port}: UDP port already in use"):
            sw.start(PLAN, PSTN_PORT)


def test_a_missing_debian_package_is_named(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = kamailio_mod.shutil.which
    monkeypatch.setattr(kamailio_mod.shutil, "which",
                        lambda name, path=None: None if name == "rtpengine" else real_which(name))
    with pytest.raises(EnvironmentMissing) as err:
        EmbeddedKamailio(SutConfig(), tmp_path).start(PLAN, PSTN_PORT)
    assert "'rtpengine' not found" in str(err.value) and "'rtpengine-daemon'" in str(err.value)


def test_start_failure_is_written_to_results(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = kamailio_mod.shutil.which
    monkeypatch.setattr(kamailio_mod.shutil, "which",
                        lambda name, path=None: None if name == "kamailio" else real_which(name))
    session = HarnessSession(load_config(), tmp_path)
    with pytest.raises(EnvironmentMissing):
        session.start()
    doc = json.loads((session.run_dir / "results.json").read_text())
    assert any("'kamailio' not found" in e for e in doc["errors"])


def test_registration_failure_names_the_line_and_the_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The switch holds another password for site1/01 than the harness does."""
    provision = EmbeddedKamailio._provision

    def other_password(self: EmbeddedKamailio, lines: tuple[Line, ...]) -> None:
        provision(self, (replace(lines[0], password="not-" + lines[0].password),
                         *lines[1:]))

    monkeypatch.setattr(EmbeddedKamailio, "_provision", other_password)
    cfg = load_config()
    session = HarnessSession(replace(cfg, capture=replace(cfg.capture, enabled=False)), tmp_path)
    expected = (r"registration failed for 1 of 84 lines: "
                r"site1/01 \(4135550100\): 40[13] ")
    with pytest.raises(SipError, match=expected):
        session.start()
    doc = json.loads((session.run_dir / "results.json").read_text())
    assert any("registration failed for 1 of 84 lines" in e for e in doc["errors"])
    _no_switch_left(tmp_path)


def test_the_registrar_answers_a_wrong_password_with_a_challenge(tmp_path: Path) -> None:
    sw = EmbeddedKamailio(SutConfig(), tmp_path)
    sw.start(PLAN, PSTN_PORT)
    try:
        reg = Registrar(sw.sip_host, sw.sip_port, sw.domain)
        line = PLAN.lines[0]
        good = reg.register(line.number, line.password, f"sip:{line.number}@127.0.0.1:5999")
        bad = reg.register(line.number, "wrong", f"sip:{line.number}@127.0.0.1:5999")
        reg.close()
    finally:
        sw.stop()
    assert good.code == 200 and good.rrd_s is not None and good.rrd_s < 2.0
    assert bad.code in (401, 403)
