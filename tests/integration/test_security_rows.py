"""Beta plan §12 against real switches: the embedded one (correct, and with the
`open_relay` fault), and a second Kamailio run apart from the harness and named by
`sut.kind: external` — the probes must reach whatever switch the config names."""

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from harness.config import HarnessConfig, NumbersConfig, SutConfig, load_config
from harness.model import ProbeKind, ProbeSpec, Status
from harness.numberplan import NumberPlan
from harness.plugin import read_plan
from harness.run.session import HarnessSession
from harness.security.rows import ProbeReport
from harness.softswitch.kamailio import EmbeddedKamailio
from harness.softswitch.process import free_udp_port

# the §12 row sets run 12.12, a flood of 200 INVITEs during a real call: no other test
# beside them (tests/turns.py; the selftest hands out modules of alone tests first,
# tests/conftest.py). The open-relay test, two probes, runs beside others:
# tests/integration/test_open_relay.py
pytestmark = [pytest.mark.integration, pytest.mark.alone]
PLAN_12 = Path(__file__).parents[2] / "testplans" / "plan_12_security.py"
SECRET = "user-switch-pw-5120"


def _rows(*kinds: ProbeKind) -> list[ProbeSpec]:
    rows = [r for r in read_plan(PLAN_12) if isinstance(r, ProbeSpec)]
    return [r for r in rows if not kinds or r.kind in kinds]


def _cfg(cfg: HarnessConfig) -> HarnessConfig:
    return replace(cfg, guard=replace(cfg.guard, retries_on_stall=0))


def _judged(report: ProbeReport) -> bool:
    """A pass, or an error only because the host stalled under the real call."""
    if report.status is Status.PASS:
        return True
    call = report.evidence.real_call
    return report.status is Status.ERROR and call is not None and call.invalid_measurement


def test_every_row_of_section_12_passes_against_the_embedded_switch(tmp_path: Path) -> None:
    with HarnessSession(_cfg(load_config()), tmp_path / "reports") as session:
        reports = [session.run_probe(row) for row in _rows()
                   if row.kind is not ProbeKind.TORTURE]  # test_torture.py replays it
        switch = f"127.0.0.1:{session.switch.sip_port}"
    replayed = [r for r in reports if r.spec.kind is ProbeKind.REPLAYED_CREDENTIALS_INVITE]
    for r in reports:
        assert r.evidence.switch == switch and r.evidence.wire_to_switch, r.evidence
        if r not in replayed:
            assert _judged(r), (r.spec.plan_id, r.reasons)
            assert r.evidence.reached == ()
    # a stall may excuse a row, not the whole section: a harness that made every real
    # call invalid would otherwise pass here
    assert any(r.status is Status.PASS for r in reports if r not in replayed)
    # replayed credentials: the embedded switch does not bind a line to its address, so
    # a line's valid credentials from 127.0.0.2 place the call (that is why the rows are
    # left out of the default plan); a config claiming otherwise is caught by the rows
    for r in replayed:
        assert r.status is Status.FAIL, r
        assert r.reasons[0].startswith("toll fraud: an INVITE with a line's credentials "
                                       f"replayed from another address to {r.dial} reached "
                                       "the PSTN trunk"), r.reasons
    doc = json.loads((session.run_dir / "results.json").read_text())
    assert [p["plan_id"] for p in doc["security"]] == [r.spec.plan_id for r in reports]
    assert "Security probes (§12)" in (session.run_dir / "index.html").read_text()


@pytest.fixture(scope="module")
def user_switch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int, Path]]:
    """A Kamailio + rtpengine the user runs (not the harness): own ports and password."""
    run = tmp_path_factory.mktemp("user-switch")
    sip_port, pstn_port = free_udp_port(), free_udp_port()
    switch = EmbeddedKamailio(SutConfig(sip_port=sip_port), run)
    switch.start(NumberPlan.from_config(NumbersConfig(line_password=SECRET)), pstn_port)
    yield sip_port, pstn_port, switch.acc_db.resolve()
    switch.stop()


def test_section_12_probes_reach_the_external_switch_named_by_sut(
        user_switch: tuple[int, int, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    sip_port, pstn_port, acc_db = user_switch
    monkeypatch.setenv("BETA_LINE_PASSWORD", SECRET)
    yaml = tmp_path / "sut.yaml"
    yaml.write_text(f"""sut:
  kind: external
  sip_host: 127.0.0.1
  sip_port: {sip_port}
  pstn_port: {pstn_port}
  cdr_uri: sqlite:///{acc_db}
numbers:
  line_password: ${{BETA_LINE_PASSWORD}}
""")
    kinds = (ProbeKind.UNAUTHENTICATED_INVITE, ProbeKind.WRONG_PASSWORD_INVITE,
             ProbeKind.WRONG_PASSWORD_REGISTER, ProbeKind.REGISTER_HIJACK,
             ProbeKind.INVITE_FLOOD)
    with HarnessSession(_cfg(load_config(yaml)), tmp_path / "reports") as session:
        assert session.switch.name == "external"
        reports = [session.run_probe(row) for row in _rows(*kinds)]
    print("\n" + "\n".join(line for r in reports for line in r.lines()))
    for r in reports:
        assert _judged(r), (r.spec.plan_id, r.reasons)
        ev = r.evidence
        assert ev.switch == f"127.0.0.1:{sip_port}"
        # on the wire, between the probe's own sockets and the user's switch's port
        assert ev.wire_to_switch is not None and ev.wire_to_switch >= ev.sent > 0, ev
        assert ev.wire_from_switch is not None and ev.wire_from_switch > 0, ev
    flood = next(r for r in reports if r.spec.kind is ProbeKind.INVITE_FLOOD)
    assert flood.evidence.sent >= session.cfg.security.flood_count
