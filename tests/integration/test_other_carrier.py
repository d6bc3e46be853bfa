"""The PSTN far end across another network (pstn.mode: carrier, docs/other-carrier.md):
the simulated PSTN's numbers are DIDs registered at the lab's other carrier (a second
Kamailio), joined to the switch under test by a trunk. Off-net calls cross it, PSTN
subscribers dial in through it, and a DID the carrier routes wrongly is named."""

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from harness.capture.pcap import read_udp
from harness.config import PstnConfig, load_config, validate
from harness.model import CallSpec, Expect, Status
from harness.pstn.directory import carrier_dids
from harness.run.session import HarnessSession

pytestmark = pytest.mark.integration
QUICK = dict(talk_s=2.0)


def _session(root: Path, faults: str = "") -> HarnessSession:
    cfg = load_config()
    cfg = validate(replace(cfg, guard=replace(cfg.guard, retries_on_stall=0),
                           pstn=PstnConfig(mode="carrier", test_faults=faults)))
    return HarnessSession(cfg, root)


@pytest.fixture(scope="module")
def carrier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HarnessSession]:
    session = _session(tmp_path_factory.mktemp("carrier"))
    session.start()
    try:
        yield session
    finally:
        session.close()


def test_the_dids_register_at_the_other_carrier(carrier: HarnessSession) -> None:
    dids = carrier.registration["pstn_dids"]
    # every number of the simulated PSTN (the premium ones, 900 and 976, and the one ported
    # out of the block to that carrier included) and the three PSTN callers
    assert dids["registered"] == dids["dids"] == len(carrier_dids(
        carrier.plan.pstn, carrier.plan.pstn_callers)) == 23
    assert carrier.carrier is not None and carrier.carrier.port == int(
        dids["carrier"].rsplit(":", 1)[1])


def _sip(session: HarnessSession) -> list[tuple[str, str, str]]:
    """(source, destination, start line) of every SIP request in the run's capture."""
    assert session.capture is not None
    packets, _ = read_udp(session.capture.path)
    out = []
    for p in packets:
        first = p.payload.split(b"\r\n", 1)[0].decode("utf-8", "replace")
        if first.endswith("SIP/2.0"):
            out.append((p.src_addr, p.dst_addr, first))
    return out


def test_an_offnet_call_crosses_the_other_carrier(carrier: HarnessSession) -> None:
    r = carrier.run_call(CallSpec("2.2", "local off-net 10-digit", "site1/03", "4135550190",
                                  **QUICK, expect=Expect(mos_lqo_min=None, rings="pstn:local",
                                                         call_class="local")))
    assert r.verdict.status is Status.PASS, r.verdict.reasons
    assert [f.seat for f in r.far_ends] == ["pstn:4135550190"]
    assert carrier.carrier is not None and carrier.farm is not None
    other = f"127.0.0.1:{carrier.carrier.port}"
    switch = f"127.0.0.1:{carrier.switch.sip_port}"
    pstn = f"127.0.0.1:{carrier.farm.ports['pstn']}"
    sip = _sip(carrier)
    # the DID registered itself at the other carrier (contact: the PSTN worker) ...
    assert any(dst == other and line.startswith("REGISTER sip:carrier.test")
               for _, dst, line in sip)
    # ... the switch sent the call over the trunk, without a trunk group ...
    trunk = [line for src, dst, line in sip if (src, dst) == (switch, other)
             and line.startswith("INVITE sip:4135550190@")]
    assert trunk and not any("tgrp=" in line for line in trunk)
    # ... and the other carrier delivered it to the DID's registered contact
    assert ("INVITE sip:4135550190@" + pstn + " SIP/2.0") in \
        [line for src, dst, line in sip if (src, dst) == (other, pstn)]


def test_a_pstn_subscriber_dials_in_through_the_other_carrier(carrier: HarnessSession) -> None:
    r = carrier.run_call(CallSpec("4.1", "incoming DID from PSTN", "pstn:2125550188",
                                  "site2/03", **QUICK,
                                  expect=Expect(mos_lqo_min=None, rings="site2/03",
                                                call_class="incoming", caller_id="2125550188")))
    assert r.verdict.status is Status.PASS, r.verdict.reasons
    assert r.timing.wire_srd_s is not None  # measured on the caller's hop: the carrier


def test_a_did_the_other_carrier_routes_wrongly_is_named(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    session = _session(tmp_path_factory.mktemp("carrier-fault"), "deliver_ld_to_local")
    session.start()
    try:
        r = session.run_call(CallSpec("2.3", "long distance intraLATA", "site2/04",
                                      "19785550123", **QUICK,
                                      expect=Expect(mos_lqo_min=None, rings="pstn:ld",
                                                    call_class="ld_intralata")))
    finally:
        session.close()
    assert r.verdict.status is Status.FAIL
    assert "routing: DID 4135550190 rang at the other carrier, expected DID 9785550123 " \
        "(pstn:ld)" in r.verdict.reasons
    assert [f.seat for f in r.far_ends] == ["pstn:4135550190"]
