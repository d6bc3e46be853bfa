"""Lines at the customer sites (docs/agent-hosts.md): a site's lines on an agent host
reached over real SSH (Debian's OpenSSH server in a network namespace of its own, a
key made for the run), through execnet, with real calls through the embedded switch.

* site1's and site2's lines each on their own namespaced host, each keeping the run
  directory in one of its own (references put there, recordings and logs got back
  over execnet, as from a machine that shares no file system); site2's clocks set
  2 s off (libfaketime in its Python): calls between the hosts, with a line of this
  machine and to the PSTN pass, set-up timing and the CDR reconcile, and the offsets
  are reported as measured; the plan's hunt group row from site1's host: the next
  line's media anchored in the switch (scored on the wire both ways);
* the simulated PSTN on a namespaced host of its own ("pstn=lab"): the switch routes its
  trunk groups to that host's address, and takes incoming calls from it; a call to
  the long-distance trunk and an incoming DID call from there pass, rung where they
  should and scored;
* site6's host with a clock that runs 0.2 % fast (libfaketime): measured again every
  second, it is seen to drift beyond the tolerance, and a call across it is then the
  harness's error naming the host and the drift;
* the host of site1 killed with a call up: that call and a later call to one of its
  lines are the harness's errors naming the host; a call between other sites passes.
"""

import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from harness.config import load_config
from harness.errors import SipError
from harness.model import CallSpec, Expect, Status
from harness.network.netns import AccessLink
from harness.plugin import read_plan
from harness.run.hooks import TestHooks
from harness.run.session import HarnessSession

pytestmark = [pytest.mark.integration]

SKEW_S = 2.0
DRIFT_RATE = 1.002  # 2 ms a second: beyond the 10 ms tolerance within seconds
PLANS = Path(__file__).resolve().parents[2] / "testplans"


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HarnessSession]:
    cfg = load_config()
    cfg = replace(cfg, agents=replace(cfg.agents, hosts="site1=lab; site2=lab; site6=lab; "
                                      "pstn=lab", clock_check_s=1.0))
    session = HarnessSession(cfg, tmp_path_factory.mktemp("hosts"),
                             hooks=TestHooks(host_clock_s=(("site2", SKEW_S),),
                                             host_clock_rate=(("site6", DRIFT_RATE),),
                                             host_run_dir_apart=True))
    session.start()
    try:
        yield session
    finally:
        session.close()


def _sip_from(session: HarnessSession, pcap: Path, address: str) -> int:
    """SIP packets from `address` in `pcap`: decoded as SIP on the switch's port (a free
    port chosen for the run may be one tshark gives another protocol by default)."""
    out = subprocess.run(["tshark", "-r", str(pcap), "-d",
                          f"udp.port=={session.switch.sip_port},sip",
                          "-Y", f"sip && ip.src == {address}",
                          "-T", "fields", "-e", "frame.number"], capture_output=True,
                         text=True, timeout=60, check=False)
    return len(out.stdout.split())


def _links(session: HarnessSession) -> dict[str, AccessLink]:
    return {h.name: h.link for h in session.lab_hosts.hosts} if session.lab_hosts else {}


def test_lines_on_namespaced_ssh_hosts_place_calls_with_their_clocks_corrected(
        hosted: HarnessSession) -> None:
    farm = hosted.farm
    assert farm is not None
    assert farm.worker_of("site1/01").startswith("site1-w")
    assert farm.worker_of("site2/01").startswith("site2-w")
    assert farm.worker_of("site3/01").startswith("w")  # a line of this machine
    hosts = hosted.store.environment["agent_hosts"] if hosted.store else {}
    assert set(hosts) == {"site1", "site2", "site6", "pstn"}
    assert hosts["pstn"]["sites"] == ["pstn"]
    # every gateway of the simulated PSTN (the main one, each trunk group's) is there
    pstn_address = hosts["pstn"]["address"]
    assert {w for w, s in farm.specs.items() if s.gateway} == set(hosts["pstn"]["workers"])
    assert all(s.address == pstn_address for s in farm.specs.values() if s.gateway)
    # the offsets as measured over SSH: site2's wall clock 2 s ahead, site1's not
    assert abs(hosts["site2"]["clock"]["wall_offset_ms"] - SKEW_S * 1000) < 20, hosts["site2"]
    assert abs(hosts["site1"]["clock"]["wall_offset_ms"]) < 20, hosts["site1"]
    assert all(h["clock"]["uncertainty_ms"] < 10 for h in hosts.values())
    rows = [CallSpec("1.1", "on-net cross-site", "site1/01", "site2/01", talk_s=6.0),
            CallSpec("1.1", "on-net cross-site", "site3/01", "site1/02", talk_s=6.0),
            CallSpec("1.1", "on-net cross-site", "site2/03", "site4/03", talk_s=6.0),
            # off-net from the host whose clock is off: billed, its CDR reconciled
            # against the caller's times, which came from that host
            CallSpec("2.1", "local 7-digit", "site2/04", "5550100", talk_s=6.0),
            # the PSTN's host: a trunk group's own gateway there, and a DID call from it
            CallSpec("2.3", "long distance intraLATA", "site3/04", "19785550123",
                     talk_s=6.0, expect=Expect(rings="pstn:ld", call_class="ld_intralata")),
            CallSpec("4.1", "incoming DID", "pstn:9785550177", "site1/07", talk_s=6.0,
                     expect=Expect(rings="site1/07", call_class="incoming",
                                   caller_id="9785550177"))]
    # the plan's hunt group row: its caller on site1's host, the group's lines here; the
    # next line is rung from the switch's failure route, its media anchored there too
    hunt = next(r for r in read_plan(PLANS / "plan_07_features.py")
                if isinstance(r, CallSpec) and r.plan_id == "7.9")
    assert hunt.caller.startswith("site1/")
    rows.append(hunt)
    with ThreadPoolExecutor(len(rows)) as pool:  # no party in two of them: all at once
        results = list(pool.map(hosted.run_call, rows))
    hunted = results[-1]
    assert all(q.mos_lqo is not None for q in hunted.quality if q.source == "wire"), \
        [(q.direction, q.source, q.mos_lqo, q.reasons) for q in hunted.quality]
    rows, results = rows[:-1], results[:-1]
    for spec, r in zip([*rows, hunt], [*results, hunted], strict=True):
        assert r.verdict.status is Status.PASS, (spec.caller, spec.dial, r.verdict.reasons)
        # (the simulated PSTN's far ends ring 2 s before they answer)
        assert r.timing.valid and r.timing.setup_s is not None and r.timing.setup_s < 2.5
        assert r.quality, "scored"
    print(f"\nclock offsets (wall, ms): site1 {hosts['site1']['clock']['wall_offset_ms']}, "
          f"site2 {hosts['site2']['clock']['wall_offset_ms']} "
          f"(± {hosts['site2']['clock']['uncertainty_ms']})")
    billed = results[3]
    assert billed.cdr is not None and billed.cdr.matched and billed.cdr.record is not None, \
        billed.cdr
    # each call states the offsets corrected in its figures, for the hosts it used
    assert set(results[0].clocks or {}) == {"site1", "site2"}
    assert set(results[2].clocks or {}) == {"site2"}
    assert set(results[-2].clocks or {}) == {"pstn"}  # site3 is this machine's
    assert set(results[-1].clocks or {}) == {"pstn", "site1"}
    # the incoming call left the PSTN's host: in that host's own capture
    assert _sip_from(hosted, hosted.run_dir / "capture-host-pstn.pcap", pstn_address) > 0
    assert abs((results[2].clocks or {})["site2"]["wall_offset_ms"] - SKEW_S * 1000) < 20
    assert results[0].caller_worker.startswith("site1-w")
    assert results[2].caller_worker.startswith("site2-w")
    # the hosts keep the run directory apart: the references were put there, and the
    # recordings scored here were got from there
    assert all(h.copied[0] >= 2 and h.copied[1] >= 2 for n, h in hosted.hosts.items()
               if n != "site6"), {n: h.copied for n, h in hosted.hosts.items()}
    assert results[0].quality and all(q.valid for q in results[0].quality)
    # each host captured its own traffic, copied into the run's evidence; its links are
    # not captured on the switch's side (nothing else would see a host's media)
    links = _links(hosted)
    assert _sip_from(hosted, hosted.run_dir / "capture-host-site2.pcap",
                     links["site2"].address) > 0
    assert not (hosted.run_dir / f"capture-{links['site2'].host_if}.pcap").exists()
    # site2's processes run 2 s ahead (libfaketime) but its kernel stamps packets with the
    # real clock: the host measured that, and its packets were put in the controller's
    # clock with both offsets; the wire scores of its calls come from its capture alone
    assert abs(hosts["site2"]["capture"]["clock_offset_ms"] + SKEW_S * 1000) < 20, \
        hosts["site2"]["capture"]
    assert abs(hosts["site1"]["capture"]["clock_offset_ms"]) < 20, hosts["site1"]["capture"]
    for r in (results[0], results[2]):
        wire = [q for q in r.quality if q.source == "wire"]
        assert len(wire) == 2 and all(q.valid and q.mos_lqo is not None and q.mos_lqo >= 4.0
                                      for q in wire), \
            [(q.direction, q.mos_lqo, q.valid, q.reasons) for q in wire]


def test_a_host_whose_clock_drifts_makes_the_calls_across_it_errors(
        hosted: HarnessSession) -> None:
    drifting = hosted.hosts["site6"]
    deadline = time.monotonic() + 30.0
    while not drifting.drifted and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "agent host site6" in drifting.drifted and "drifted" in drifting.drifted, \
        [c.as_dict() for c in drifting.clock_checks]
    assert not any(h.drifted for n, h in hosted.hosts.items() if n != "site6")
    across = hosted.run_call(CallSpec("1.1", "on-net cross-site", "site6/01", "site4/02",
                                      talk_s=3.0), retries_on_stall=0)
    assert across.verdict.status is Status.ERROR, across.verdict.reasons
    assert any(why.startswith("figures across agent hosts not trusted: agent host site6")
               for why in across.verdict.reasons), across.verdict.reasons
    print(f"\nsite6's clock 0.2 % fast: {drifting.drifted}")


def test_a_host_killed_with_a_call_up_is_the_harness_error_naming_it(
        hosted: HarnessSession) -> None:
    lab = hosted.lab_hosts
    assert lab is not None
    long = CallSpec("1.1", "on-net cross-site", "site1/05", "site3/05", talk_s=12.0,
                    expect=Expect(mos_lqo_min=None))
    timer = threading.Timer(5.0, lab.kill, args=("site1",))
    timer.start()
    t0 = time.monotonic()
    during = hosted.run_call(long, retries_on_stall=0)
    took = time.monotonic() - t0
    timer.join()
    assert during.verdict.status is Status.ERROR, during.verdict.reasons
    assert any("agent host site1" in why for why in during.verdict.reasons), \
        during.verdict.reasons
    assert took < 60.0
    print(f"\nsite1's host killed 5 s after the dial; the call's verdict came {took:.1f} s "
          f"after the dial: {during.verdict.reasons[0]}")
    to_it = hosted.run_call(CallSpec("1.1", "on-net cross-site", "site3/06", "site1/06",
                                     talk_s=2.0), retries_on_stall=0)
    assert to_it.verdict.status is Status.ERROR, to_it.verdict.reasons
    assert any("site1/06" in why and "agent host site1" in why
               for why in to_it.verdict.reasons), to_it.verdict.reasons
    # the rest of the run goes on: the other host and this machine's lines
    after = hosted.run_call(CallSpec("1.1", "on-net cross-site", "site2/07", "site4/07",
                                     talk_s=4.0))
    assert after.verdict.status is Status.PASS, after.verdict.reasons
    assert hosted.farm is not None
    assert {w for w, why in hosted.farm.dead.items() if "agent host site1" in why} == \
        {w for w in hosted.farm.specs if w.startswith("site1-w")}, hosted.farm.dead


def test_a_host_that_cannot_be_reached_stops_the_run_naming_it(tmp_path: Path) -> None:
    """agents.hosts naming a machine that does not answer: the session does not start,
    and says which host, as whom, and what ssh said (within the connect timeout)."""
    cfg = load_config()
    cfg = replace(cfg, agents=replace(cfg.agents, hosts="site3=ssh:beta@198.18.255.254"))
    session = HarnessSession(cfg, tmp_path)
    t0 = time.monotonic()
    with pytest.raises(SipError) as err:
        session.start()
    assert time.monotonic() - t0 < 40.0
    assert "agent host h1 (beta@198.18.255.254) could not be started" in str(err.value)
    assert "198.18.255.254" in str(err.value).split("could not be started", 1)[1]
    doc = (session.run_dir / "results.json").read_text()
    assert "agent host h1" in doc  # the run's errors say it too
