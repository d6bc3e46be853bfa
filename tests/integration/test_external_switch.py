"""The unchanged beta plan rows against a switch the harness did not start: a second
Kamailio brought up by the test with its own config and database, described to the
harness by a YAML file alone (secret from the environment)."""

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.config import NumbersConfig, SutConfig, load_config
from harness.errors import SipError, SoftswitchError
from harness.model import CallSpec, Expect, Status
from harness.numberplan import NumberPlan
from harness.run.session import HarnessSession
from harness.softswitch.kamailio import EmbeddedKamailio
from harness.softswitch.process import free_udp_port

pytestmark = pytest.mark.integration
SECRET = "user-switch-pw-7431"


def _yaml(path: Path, sip_port: int, pstn_port: int, acc_db: Path,
          voicemail: tuple[int, int] | None = None) -> Path:
    # where the switch sends the voicemail pilot, and trusts the platform's NOTIFYs from
    platform = f"  pstn_trunk_ports: vm={voicemail[0]}\n  voicemail_mwi_port: " \
        f"{voicemail[1]}\n" if voicemail else ""
    path.write_text(f"""# the user's switch: started by hand, not by the harness
sut:
  kind: external
  sip_host: 127.0.0.1
  sip_port: {sip_port}
  domain: beta.test
  pstn_port: {pstn_port}
{platform}  cdr_uri: sqlite:///{acc_db}
numbers:
  line_password: ${{BETA_LINE_PASSWORD}}
""")
    return path


UserSwitch = tuple[int, int, Path, tuple[int, int]]


@pytest.fixture(scope="module")
def user_switch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UserSwitch]:
    """A Kamailio + rtpengine the user runs: its own ports, database and password; its
    voicemail pilot routed to a port the harness's voicemail platform is told of."""
    run = tmp_path_factory.mktemp("user-switch")
    sip_port, pstn_port = free_udp_port(), free_udp_port()
    vm = free_udp_port(exclude=[sip_port, pstn_port])
    voicemail = (vm, free_udp_port(exclude=[sip_port, pstn_port, vm]))
    switch = EmbeddedKamailio(SutConfig(sip_port=sip_port), run)
    switch.start(NumberPlan.from_config(NumbersConfig(line_password=SECRET)), pstn_port,
                 {"vm": voicemail[0]}, voicemail[1])
    yield sip_port, pstn_port, switch.acc_db.resolve(), voicemail
    switch.stop()


def test_plan_rows_run_unchanged_against_an_external_switch(
        user_switch: UserSwitch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sip_port, pstn_port, acc_db, voicemail = user_switch
    monkeypatch.setenv("BETA_LINE_PASSWORD", SECRET)
    cfg = load_config(_yaml(tmp_path / "sut.yaml", sip_port, pstn_port, acc_db, voicemail))
    assert cfg.numbers.line_password == SECRET
    assert cfg.redacted()["numbers"]["line_password"] == "***"
    with HarnessSession(cfg, tmp_path / "reports") as session:
        assert session.registration["registered"] == 84
        rows = [
            CallSpec("1.1", "on-net cross-site", "site1/01", "site2/01",
                     expect=Expect(mos_lqo_min=4.2, rings="site2/01", call_class="onnet")),
            CallSpec("2.4", "long distance interLATA", "site2/05", "12125550123", talk_s=2.0,
                     expect=Expect(mos_lqo_min=None, srd_s_max=5.0, rings="pstn:ld",
                                   call_class="ld_interlata")),
            CallSpec("4.1", "incoming DID", "pstn:2125550188", "site2/03", talk_s=2.0,
                     expect=Expect(mos_lqo_min=None, rings="site2/03", call_class="incoming",
                                   caller_id="2125550188")),
            # the lab's voicemail platform, where the user's switch sends the pilot
            CallSpec("7.14", "voicemail", "site1/07", "site5/05", voicemail=True,
                     callee_behaviour="no_answer", talk_s=2.0,
                     expect=Expect(mos_lqo_min=None, rings="pstn:vm", call_class="onnet",
                                   forwarded_from="site5/05")),
        ]
        results = [session.run_call(r) for r in rows]
    for r in results:
        assert r.verdict.status is not Status.FAIL, (r.spec.plan_id, r.verdict.reasons)
        if r.verdict.status is Status.ERROR:  # only a host stall may stop a verdict
            assert r.verdict.invalid_measurement, r.verdict.reasons
        assert r.cdr is not None and r.cdr.matched
    doc = (session.run_dir / "results.json").read_text()
    assert SECRET not in doc
    import json

    billing = json.loads(doc)["billing"]  # the run reconciled at close, orphans included
    assert billing["calls"] == 5 and billing["missing"] == 0 and billing["orphans"] == 0
    assert "voicemail" in {c.criterion for c in results[-1].verdict.checks}  # it ran
    if all(r.stall is not None and r.stall.clean for r in results):  # else times may be off
        assert billing["discrepancies"] == []
    assert (session.run_dir / "billing.txt").read_text().startswith("5 calls")


def test_preflight_names_an_unreachable_switch(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BETA_LINE_PASSWORD", SECRET)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        yaml = _yaml(tmp_path / "down.yaml", port, free_udp_port(), tmp_path / "none.db")
        session = HarnessSession(load_config(yaml), tmp_path / "reports")
        with pytest.raises(SoftswitchError) as err:
            session.start()
    msg = str(err.value)
    assert str(yaml) in msg and f"127.0.0.1:{port}" in msg and "no answer to SIP OPTIONS" in msg


def test_preflight_names_lines_with_a_wrong_password(
        user_switch: UserSwitch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sip_port, pstn_port, acc_db, _ = user_switch
    monkeypatch.setenv("BETA_LINE_PASSWORD", "not-the-password")
    yaml = _yaml(tmp_path / "wrong.yaml", sip_port, pstn_port, acc_db)
    session = HarnessSession(load_config(yaml), tmp_path / "reports")
    with pytest.raises(SipError) as err:
        session.start()
    msg = str(err.value)
    assert "registration failed for 84 of 84 lines: site1/01 (4135550100): 401" in msg \
        or "registration failed for 84 of 84 lines: site1/01 (4135550100): 403" in msg
    assert "not-the-password" not in msg
