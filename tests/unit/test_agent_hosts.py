"""Agent hosts' pure logic (harness/sip/hosts.py, harness/config.py parse_hosts): the
clock offset from NTP-style exchanges, a worker's times moved into the controller's
clocks at the edge, and the agents.hosts mini-language."""

import time
from dataclasses import replace
from pathlib import Path, PurePosixPath

import pytest

from harness.capture.dumpcap import Capture, Captures
from harness.capture.pcap import UdpPacket
from harness.config import HostTarget, HostTargets, load_config, parse_hosts
from harness.errors import ConfigError
from harness.media.assess import unseen_by_capture
from harness.model import SipEvent
from harness.sip.attribution import IncomingInvite, Stray
from harness.sip.hosts import (
    ZERO,
    AgentHost,
    ClockOffset,
    HostCapture,
    RunRoot,
    estimate,
    map_paths,
    to_controller,
)
from harness.sip.layout import deal_apart
from harness.sip.messages import ADone, Expected, Finished, Stalls, StrayInvite
from harness.sip.scenario import LegOutcome, StreamSnapshot
from harness.verdict.call_types import _short_of_audio


def _exchange(sent: float, out_s: float, back_s: float, offset: float,
              wall_offset: float) -> tuple[float, float, float, float, float, float]:
    """One exchange: sent at `sent` (controller), read at the host `out_s` later, back
    `back_s` after that; the host's clocks `offset` / `wall_offset` ahead."""
    host = sent + out_s
    return (sent, 1e9 + sent, host + offset, 1e9 + host + wall_offset, host + back_s,
            1e9 + host + back_s)


def test_the_offset_comes_from_the_quickest_round_trip_and_its_half_bounds_the_error() -> None:
    samples = [_exchange(10.0, 0.030, 0.002, 5.0, 2.0),  # queued on the way out: skewed
               _exchange(11.0, 0.001, 0.001, 5.0, 2.0),  # the quickest, symmetric
               _exchange(12.0, 0.002, 0.040, 5.0, 2.0)]  # queued on the way back
    clock = estimate(samples)
    assert clock.mono_s == pytest.approx(5.0, abs=1e-9)
    assert clock.wall_s == pytest.approx(2.0, abs=1e-6)
    assert clock.uncertainty_s == pytest.approx(0.001, abs=1e-9)
    assert clock.rounds == 3
    # the asymmetric ones alone: the estimate is off, but by no more than its bound
    skewed = estimate(samples[:1])
    assert abs(skewed.mono_s - 5.0) <= skewed.uncertainty_s + 1e-9
    assert abs(skewed.mono_s - 5.0) > 0.01
    with pytest.raises(ValueError, match="no clock exchange"):
        estimate([])


def _leg(t_mono: float, t_wall: float) -> LegOutcome:
    return LegOutcome("b", "site2/01", "cid", (SipEvent("b", "INCOMING", t_mono, t_wall),
                                              SipEvent("b", "CONFIRMED", t_mono + 1,
                                                       t_wall + 1, 200)),
                      200, None, None, 0.0, 0.0)


def test_every_time_a_host_reports_is_moved_into_the_controllers_clocks() -> None:
    clock = ClockOffset(mono_s=1000.0, wall_s=2.0, uncertainty_s=0.0001, rounds=16)
    done = to_controller(ADone("k", _leg(1100.0, 5002.0), "", 1099.0, 1110.0,
                               (_leg(1105.0, 5007.0),)), clock)
    assert (done.t_start, done.t_end) == (99.0, 110.0)
    assert [(e.t_mono, e.t_wall) for e in done.leg.events] == \
        [(100.0, 5000.0), (101.0, 5001.0)]
    assert done.more[0].events[0].t_mono == 105.0 and done.more[0].events[0].t_wall == 5005.0
    fin = to_controller(Finished("k", (_leg(1200.0, 6002.0),)), clock)
    assert fin.legs[0].events[1].t_mono == 201.0
    assert to_controller(Stalls(((1300.0, 0.2),)), clock).lates == ((300.0, 0.2),)
    invite = IncomingInvite("site2/01", "cid", "sip:x", "f", "t", (), "", 1400.0, 6400.0)
    stray = to_controller(StrayInvite(Stray("site2-w1", invite, "no call fits")), clock)
    assert (stray.stray.invite.t_mono, stray.stray.invite.t_wall) == (400.0, 6398.0)
    # durations and counters are not times of a clock: left as they are
    assert done.leg.record_s == 0.0 and done.leg.final_code == 200
    same = Expected("k")
    assert to_controller(same, clock) is same
    assert to_controller(done, ZERO) is done


def test_agents_hosts_names_each_sites_host() -> None:
    hosts = parse_hosts("site1=lab; site2 = ssh:beta@10.20.2.5:2222; site3=local;"
                        "site4=ssh:beta@10.20.2.5:2222", 7, "c.yaml")
    assert hosts.sites == {1: HostTarget("lab"), 2: HostTarget("ssh", "beta@10.20.2.5", 2222),
                           4: HostTarget("ssh", "beta@10.20.2.5", 2222)}
    assert hosts.sites[2].address == "10.20.2.5"
    assert hosts.pstn is None
    assert not parse_hosts("", 7)
    assert parse_hosts("site1=local", 7).sites == {}


def test_agents_hosts_places_the_simulated_pstn_on_a_host_of_its_own() -> None:
    assert parse_hosts("pstn=lab", 7) == HostTargets({}, HostTarget("lab"))
    hosts = parse_hosts("site2=lab; pstn=ssh:beta@10.20.9.5", 7)
    assert hosts.pstn == HostTarget("ssh", "beta@10.20.9.5", 22) and bool(hosts)
    assert parse_hosts("pstn=local", 7).pstn is None


@pytest.mark.parametrize(("overrides", "problem"), [
    ({"pstn.mode": "carrier"}, "with pstn.mode carrier"),
    ({"sut.pstn_b2bua": "sippy"}, "with sut.pstn_b2bua"),
])
def test_a_pstn_host_where_the_pstn_is_not_the_simulated_gateway_is_refused(
        tmp_path: Path, overrides: dict[str, str], problem: str) -> None:
    lines = ["agents:", '  hosts: "pstn=lab"']
    for key, value in overrides.items():
        section, name = key.split(".")
        lines += [f"{section}:", f"  {name}: {value}"]
    path = tmp_path / "beta.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.field == "agents.hosts" and problem in str(err.value)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(("text", "problem"), [
    ("site8=lab", "no site 8"),
    ("site1", "expected siteN=lab"),
    ("pstn=ftp://x", "expected lab, local or ssh:user@host"),
    ("psnt=lab", "expected siteN=lab"),
    ("pstn=lab; pstn=local", "pstn is given twice"),
    ("site1=ftp://x", "expected lab, local or ssh:user@host"),
    ("site1=ssh:10.0.0.5", "expected lab, local or ssh:user@host"),
    ("site1=ssh:u@h:99999", "port 99999"),
    ("site1=lab; site1=ssh:u@h", "site1 is given twice"),
])
def test_a_bad_agents_hosts_entry_is_named_with_the_file_and_field(text: str,
                                                                    problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_hosts(text, 7, "beta.yaml")
    assert err.value.file == "beta.yaml" and err.value.field == "agents.hosts"
    assert problem in str(err.value)


def test_a_host_is_named_by_its_login_whatever_ssh_options_precede_it() -> None:
    host = AgentHost("h1", "ssh=-p 2222 -F /etc/beta/ssh_config beta@10.20.2.5//python=py",
                     "10.20.2.5", 0.01)
    assert host.login == "beta@10.20.2.5"
    assert host.label == "agent host h1 (beta@10.20.2.5)"


def test_a_hosts_lines_that_one_request_can_ring_twice_never_share_a_worker() -> None:
    names = [f"site3/{i:02d}" for i in range(1, 13)]
    hunt = ("site3/08", "site3/09", "site3/12")
    apart = [(a, b) for k, a in enumerate(hunt) for b in hunt[k + 1:]] + \
        [("site3/01", "site3/04")]  # a forwarding rule
    groups = deal_apart(names, 4, apart)
    where = {names[i]: g for g, group in enumerate(groups) for i in group}
    assert len({where[n] for n in hunt}) == 3
    assert where["site3/01"] != where["site3/04"]
    assert all(len(g) <= 4 for g in groups) and sorted(i for g in groups for i in g) == \
        list(range(12))
    # more lines that must be apart than workers of 4 would give: a worker more
    many = deal_apart(names[:5], 4, [(a, b) for k, a in enumerate(names[:5])
                                     for b in names[k + 1:5]])
    assert len(many) == 5


def test_media_no_capture_saw_is_not_scored_on_the_wire_only_when_the_agent_got_it() -> None:
    # 10 s connected, 20 ms packets: 500 expected
    assert "not scored" in unseen_by_capture(0, 480, 10.0)
    assert unseen_by_capture(0, 0, 10.0) == ""  # nothing reached the agent: one-way audio
    assert unseen_by_capture(0, 100, 10.0) == ""  # a trickle is not the stream
    assert unseen_by_capture(3, 480, 10.0) == ""  # the wire saw it: the wire is scored
    assert unseen_by_capture(0, None, 10.0) == ""


def test_paths_under_the_run_directory_move_to_the_hosts_and_back() -> None:
    root = RunRoot(Path("/srv/reports/run1"), PurePosixPath("beta-runs/run1"))
    leg = replace(_leg(1.0, 2.0), record_wav=Path("/srv/reports/run1/calls/1.1-1/rec.wav"),
                  resumed_wav=Path("/elsewhere/x.wav"))
    seen: list[tuple[Path, Path]] = []
    out = map_paths(Finished("k", (leg,)), root.out, seen)
    assert out.legs[0].record_wav == Path("beta-runs/run1/calls/1.1-1/rec.wav")
    assert out.legs[0].resumed_wav == Path("/elsewhere/x.wav")  # not the run's: left
    assert seen == [(Path("/srv/reports/run1/calls/1.1-1/rec.wav"),
                     Path("beta-runs/run1/calls/1.1-1/rec.wav"))]
    back = map_paths(out, root.back, [])
    assert back.legs[0].record_wav == leg.record_wav
    assert map_paths(Expected("k"), root.out, []) == Expected("k")


def test_a_clock_that_drifted_beyond_the_tolerance_during_the_run_is_named() -> None:
    host = AgentHost("site2", "ssh=root@198.18.1.7//python=py", "198.18.1.7", 0.010)
    host.clock = ClockOffset(5.0, 2.0, 0.0001, 16)
    assert host.drift(ClockOffset(5.004, 2.004, 0.0001, 16)) == ""  # 4 ms: within 10
    assert host.drift(None) == ""  # lost by the close: nothing measured
    why = host.drift(ClockOffset(5.0, 2.030, 0.0001, 16))
    assert "agent host site2 (root@198.18.1.7): its clock drifted 30.0 ms" in why
    assert "agents.clock_tolerance_ms 10" in why


def _receiver(local: str, rx_packets: int) -> LegOutcome:
    stats = StreamSnapshot("PCMU", local, "198.18.1.1:30000", rx_packets, 0, 0, 0.3, 1.0,
                           rx_packets, 0.1, 60.0, 0, 0, 0)
    return replace(_leg(1.0, 2.0), stats=stats)


def test_audio_that_no_capture_saw_counts_only_what_the_receiving_agent_got() -> None:
    """The wire is the evidence when it saw the stream; where it saw nothing (direct
    media inside an agent host), the receiving agent's own RTP count; a receiver that got
    nothing is one-way audio either way."""
    got, starved = _receiver("198.18.1.8:12590", 538), _receiver("198.18.1.8:12592", 0)
    assert _short_of_audio([], (("a_to_b", got),)) == []
    assert _short_of_audio([], (("a_to_b", starved),)) == [("a_to_b", 0)]
    # from a moment on (after a transfer): the wire only, the agent's count is the call's
    assert _short_of_audio([], (("a_to_c", got),), since_wall=5.0) == [("a_to_c", 0)]
    seen = [UdpPacket(1.0 + i * 0.02, "198.18.1.1", 30000, "198.18.1.8", 12590, b"\\x80")
            for i in range(10)]
    assert _short_of_audio(seen, (("a_to_b", got),)) == [("a_to_b", 10)]  # the wire's


class _Channel:
    """A host's capture conversation, as execnet would carry it: the file's bytes from
    the offset asked, handed out in the chunks the host had written by then."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks, self.file = chunks, b""
        self.asked: list[tuple[str, int]] = []

    def send(self, request: tuple[str, int]) -> None:
        self.asked.append(request)

    def receive(self, timeout: float) -> tuple[str, bytes]:
        if self.chunks:
            self.file += self.chunks.pop(0)
        return "data", self.file[self.asked[-1][1]:]

    def close(self) -> None:
        pass


def _pcap(tmp_path: Path, packets: list[UdpPacket]) -> bytes:
    path = tmp_path / "made.pcap"
    Capture(path, "any", "").write_slice(packets, path)
    return path.read_bytes()


def test_a_hosts_capture_is_copied_here_as_it_grows_and_put_in_the_controllers_clock(
        tmp_path: Path) -> None:
    sent = [UdpPacket(100.75 + k * 0.02, "198.18.1.6", 10000, "198.18.1.1", 20000,
                      bytes([k]) * 172) for k in range(3)]
    data = _pcap(tmp_path, sent)
    cut = len(data) - 50  # the host had written the third packet in part only
    host = AgentHost("site1", "ssh=root@198.18.1.6", "198.18.1.6", 0.01)
    host.clock = ClockOffset(0.0, 0.5, 0.0001, 16)  # its processes' wall clock 0.5 s ahead
    cap = HostCapture(host, tmp_path / "capture-host-site1.pcap")
    cap.clock_s = 0.25  # its kernel's packet times 0.25 s ahead of its processes'
    cap._channel = _Channel([data[:cut], data[cut:]])
    first = list(cap.refresh())
    assert [round(p.ts, 6) for p in first] == [100.0, 100.02]
    assert [round(p.ts, 6) for p in cap.refresh()] == [100.0, 100.02, 100.04]
    assert cap._channel.asked == [("read", 0), ("read", cut)]
    # the copy here is the host's file as taken, in the host's own clock (evidence)
    assert (tmp_path / "capture-host-site1.pcap").read_bytes() == data
    assert cap.packets_between(100.01, 100.05)[0].payload == sent[1].payload


def test_a_capture_lost_with_its_host_is_not_waited_for(tmp_path: Path) -> None:
    """The calls a lost host's capture would have shown are errors naming the host: the
    run's readers do not fail every later call waiting for a marker it cannot show."""
    main = Capture(tmp_path / "capture.pcap", "lo", "")
    tag = b"sync-1"
    main.path.write_bytes(_pcap(tmp_path, [UdpPacket(time.time(), "127.0.0.1", 5060,
                                                     "127.0.0.1", 5061, tag)]))
    silent = Capture(tmp_path / "capture-host-site1.pcap", "any", "")
    silent.path.write_bytes(_pcap(tmp_path, []))
    both = Captures(main, [])
    both.add(silent, "", "198.18.1.6")
    both._marks = [(time.time(), tag)]
    assert not both.sync(lambda p: p.payload == tag, timeout_s=0.2, since_wall=time.time() - 5)
    # a call whose parties are elsewhere does not read (nor wait for) that host's capture
    assert both.sync(lambda p: p.payload == tag, timeout_s=0.2, since_wall=time.time() - 5,
                     only={"127.0.0.1", "198.18.1.7"})
    assert not both.sync(lambda p: p.payload == tag, timeout_s=0.2,
                         since_wall=time.time() - 5, only={"198.18.1.6"})
    silent.lost = "agent host site1 (root@198.18.1.6): the connection closed"
    assert both.sync(lambda p: p.payload == tag, timeout_s=0.2, since_wall=time.time() - 5)
