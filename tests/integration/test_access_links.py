"""Access links (harness/network/netns.py, harness/network/access.py): a row under an
impairment profile runs with its lines in network namespaces joined to the switch by
veth pairs, and the profile's rules sit on those links only.

Real namespaces, veths, Kamailio, rtpengine, pjsua2 workers and dumpcap throughout."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.model import CallResult, CallSpec, Expect, Status
from harness.network import netns
from harness.network.netns import AccessNet
from harness.run.session import HarnessSession

pytestmark = pytest.mark.integration


def _ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True).stdout


def _streams(live: HarnessSession, r: CallResult) -> dict[str, Any]:
    return json.loads((live.run_dir / dict(r.artifacts)["streams"]).read_text())


def _call(live: HarnessSession, profile: str) -> tuple[CallResult, dict[str, Any]]:
    r = live.run_call(CallSpec("6.x", f"on-net under {profile or 'no profile'}", "site1/04",
                               "site2/06", profile=profile,
                               expect=Expect(mos_lqo_min=1.0, audio=False)))
    assert r.final_code == 200, r.verdict.reasons
    return r, _streams(live, r)


def test_a_profile_row_crosses_its_links_and_only_its_media_is_impaired(
        live: HarnessSession) -> None:
    assert live.access is not None
    x1, x2 = live.access.net.links[:2]  # the first pair: no other row is crossing
    lossy, st = _call(live, "loss5")
    # each direction reached its line behind that line's own link (the wire streams
    # come from the links' captures), from the switch's access address
    assert st["wire_a_to_b"]["dst"].split(":")[0] == x2.address
    assert st["wire_b_to_a"]["dst"].split(":")[0] == x1.address
    assert st["wire_a_to_b"]["src"].split(":")[0] == live.access.core
    for d in ("a_to_b", "b_to_a"):
        assert 1.5 <= st[f"wire_{d}"]["loss_pct"] <= 10.0  # 5 % random loss, binomial spread
    # the wire's loss is what the receiving agent counted (the tap sits after the rule)
    agent = {d: st.get(f"agent_{d}") for d in ("a_to_b", "b_to_a")}
    for d, a in agent.items():
        if a is not None:
            assert abs(a["loss_pct"] - st[f"wire_{d}"]["loss_pct"]) < 1.0, (d, a, st)
    # afterwards the same lines are back on the loopback and nothing is lost
    plain, st0 = _call(live, "")
    assert st0["wire_a_to_b"]["dst"].startswith("127.0.0.1:")
    assert st0["wire_b_to_a"]["dst"].startswith("127.0.0.1:")
    assert st0["wire_a_to_b"]["loss_pct"] == 0.0 and st0["wire_b_to_a"]["loss_pct"] == 0.0
    assert lossy.cdr is not None and plain.cdr is not None
    assert lossy.cdr.matched and plain.cdr.matched  # the switch billed both


def test_two_profile_rows_at_once_each_on_its_own_pair_impaired_by_its_own_profile(
        live: HarnessSession) -> None:
    """Rows under a profile run beside each other, one to a pair of access links: the
    loss5 row loses on its links, the clean row beside it, on the other pair, loses
    nothing (each profile's rules sit on its own row's links)."""
    assert live.access is not None and len(live.access.pairs) == 2
    specs = [CallSpec("6.a", "on-net under loss5", "site1/04", "site2/06", profile="loss5",
                      expect=Expect(mos_lqo_min=1.0, audio=False)),
             CallSpec("6.b", "on-net under clean", "site3/04", "site4/06", profile="clean",
                      expect=Expect(mos_lqo_min=1.0, audio=False))]
    sched = live.schedule(specs)
    lossy, clean = (sched.result(s.plan_id) for s in specs)
    assert lossy.final_code == 200 and clean.final_code == 200, \
        (lossy.verdict.reasons, clean.verdict.reasons)
    # the two calls were up together: placed within 5 s, each talking its ~12 s
    assert abs(lossy.started_wall - clean.started_wall) < 5.0
    assert min(lossy.timing.sdt_s or 0, clean.timing.sdt_s or 0) > 8.0
    st, st0 = _streams(live, lossy), _streams(live, clean)
    pairs = [{ln.address for ln in live.access.net.links[2 * p:2 * p + 2]}
             for p in live.access.pairs]
    lines = ({st[f"wire_{d}"]["dst"].split(":")[0] for d in ("a_to_b", "b_to_a")},
             {st0[f"wire_{d}"]["dst"].split(":")[0] for d in ("a_to_b", "b_to_a")})
    assert sorted(map(sorted, lines)) == sorted(map(sorted, pairs)), (lines, pairs)
    for d in ("a_to_b", "b_to_a"):
        assert 1.5 <= st[f"wire_{d}"]["loss_pct"] <= 10.0, st
        assert st0[f"wire_{d}"]["loss_pct"] == 0.0, st0


def test_a_clean_profile_row_crosses_the_links_unimpaired(live: HarnessSession) -> None:
    assert live.access is not None
    r, st = _call(live, "clean")
    assert st["wire_a_to_b"]["dst"].split(":")[0] == live.access.net.links[1].address
    assert st["wire_a_to_b"]["loss_pct"] == 0.0 and st["wire_b_to_a"]["loss_pct"] == 0.0
    stored = json.loads((live.run_dir / "results.json").read_text())["calls"][-1]
    assert stored["profile"] == "clean"


def test_a_line_behind_a_link_reaches_the_switch_and_nothing_else() -> None:
    net = AccessNet.create(1)
    link = net.links[0]
    try:
        assert link.netns in _ip("netns", "list")
        assert net.core in _ip("-o", "-4", "addr", "show", "dev", "lo")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as core, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as loop:
            _talk_from_inside(net, core, loop)
    finally:
        net.destroy()
    assert link.netns not in _ip("netns", "list")
    assert link.host_if not in _ip("-o", "link", "show")
    assert net.core not in _ip("-o", "-4", "addr", "show", "dev", "lo")


def _talk_from_inside(net: AccessNet, core: socket.socket, loop: socket.socket) -> None:
    """A process inside the link's namespace sends to the switch's access address and
    to 127.0.0.1: the first arrives, from the line's address; the second stays inside."""
    link = net.links[0]
    core.bind((net.core, 0))
    loop.bind(("127.0.0.1", 0))
    code = (
        "import socket, sys\n"
        "from harness.network import netns\n"
        f"netns.enter({link.netns!r})\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        f"s.bind(({link.address!r}, 0))\n"
        f"s.sendto(b'to-core', ({net.core!r}, {core.getsockname()[1]}))\n"
        f"s.sendto(b'to-loopback', ('127.0.0.1', {loop.getsockname()[1]}))\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30,
                   cwd=Path(__file__).resolve().parents[2])
    core.settimeout(5.0)
    data, peer = core.recvfrom(100)
    assert (data, peer[0]) == (b"to-core", link.address)
    loop.settimeout(0.5)  # the namespace's 127.0.0.1 is its own: nothing arrives here
    with pytest.raises(socket.timeout):
        loop.recvfrom(100)


def test_links_left_by_a_killed_harness_are_cleaned_up() -> None:
    code = ("import os, sys, time\nfrom harness.network.netns import AccessNet\n"
            "n = AccessNet.create(1)\nprint(n.links[0].netns, n.core, flush=True)\n"
            "time.sleep(60)\n")
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                          cwd=Path(__file__).resolve().parents[2]) as child:
        assert child.stdout is not None
        name, core = child.stdout.readline().split()
        child.kill()  # no chance to clean up
        child.wait(10)
    assert name in _ip("netns", "list")
    removed = netns.clean_stale()
    assert name in removed and f"{core}/32" in removed
    assert name not in _ip("netns", "list")
    assert core not in _ip("-o", "-4", "addr", "show", "dev", "lo")
    assert not os.path.exists(f"/run/netns/{name}")


def test_harness_processes_creating_links_together_get_different_access_addresses() -> None:
    """Three processes create their access links at the same moment (two runs on one
    host, the selftest's parallel workers): three addresses, three sets of links."""
    code = ("import sys, time\nfrom harness.network.netns import AccessNet\n"
            "sys.stdin.readline()\n"  # all wait, then go together
            "n = AccessNet.create(2)\nprint(n.core, *(k.host_if for k in n.links), flush=True)\n"
            "sys.stdin.readline()\nn.destroy()\n")
    root = Path(__file__).resolve().parents[2]
    kids = [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, cwd=root) for _ in range(3)]
    try:
        for kid in kids:
            assert kid.stdin is not None
            kid.stdin.write("go\n")
            kid.stdin.flush()
        made = [kid.stdout.readline().split() for kid in kids]  # type: ignore[union-attr]
        assert all(len(m) == 3 for m in made), made  # each created its links
        assert len({m[0] for m in made}) == 3, made
        assert len({i for m in made for i in m[1:]}) == 6, made
    finally:
        for kid in kids:
            kid.communicate("done\n", timeout=30)
    # each took its address away (by its label: another run on this host, the
    # selftest's other workers, may take the same address next)
    left = _ip("-o", "-4", "addr", "show", "dev", "lo")
    for kid, m in zip(kids, made, strict=True):
        assert f"lo:b{kid.pid}" not in left, (m, left)
        assert not any(f" {i}" in _ip("-o", "link", "show") for i in m[1:]), m


def test_a_fax_crosses_a_clean_access_link_intact_and_one_losing_1_percent_is_caught(
        live: HarnessSession) -> None:
    """The fax row's page over access links, two fax calls at once, each on its own pair:
    intact over clean links (the links alone do nothing to the modems' signal); over
    links that lose 1 % of packets at random T.30 without ECM cannot get it through
    intact (the modems lose their training, or rows arrive damaged), and the fax check
    says which."""
    specs = [CallSpec("7.13a", "fax under clean", "site6/12", "site7/06", fax=True,
                      profile="clean", expect=Expect(mos_lqo_min=None, rings="site7/06")),
             CallSpec("7.13b", "fax under loss1", "site1/12", "site2/11", fax=True,
                      profile="loss1", expect=Expect(mos_lqo_min=None, rings="site2/11"))]
    sched = live.schedule(specs)
    clean, lossy = (sched.result(s.plan_id) for s in specs)
    assert clean.verdict.status is Status.PASS, clean.verdict.reasons
    assert abs(lossy.started_wall - clean.started_wall) < 5.0  # up together
    assert lossy.final_code == 200, lossy.verdict.reasons
    assert lossy.verdict.status is Status.FAIL, lossy.verdict.reasons
    fax_fails = [x for x in lossy.verdict.reasons if x.startswith("fax: ")]
    assert fax_fails, lossy.verdict.reasons
    print("\n" + "\n".join(fax_fails))
    # the premise by which a damaged page on an unchanged path is the harness's own
    # (harness/media/passage.py), on the real path: the clean links and the switch pass
    # both directions sample for sample; the lossy links' loss is seen as the path's
    passages = {(r.spec.plan_id, p["direction"]): p for r in (clean, lossy)
                for p in json.loads((live.run_dir / dict(r.artifacts)["fax_passage"])
                                    .read_text())}
    for way in ("a_to_b", "b_to_a"):
        assert passages["7.13a", way]["altered"] == "", passages["7.13a", way]
        assert passages["7.13a", way]["samples_differing"] == 0
        assert "lost" in passages["7.13b", way]["altered"], passages["7.13b", way]
    print(passages["7.13a", "a_to_b"])
