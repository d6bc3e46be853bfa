"""What agent hosts cost the controller (docs/agent-hosts.md): the same batch of calls
with 0 (every line on this machine), 1, 4 and 7 customer sites on lab agent hosts
(network namespaces reached over SSH), and 8: the seven sites and the simulated PSTN
on a host of its own; prints per level the session's start, the
calls' wall and verdicts, the controller's CPU per call and resident memory, and per
host the CPU and memory its processes used (as the host reports them).

    .venv/bin/python bench/agent_hosts.py [CALLS] [HOSTS,HOSTS,...]
    (defaults: 24 calls, 6 at a time, 4 s of talk each, one in four off-net; levels
    0,1,4,7,8)

The controller's CPU is this process's (threads included: the farm, scoring, CDR,
capture reading); the local agent workers are children and not in it. Run as root on
an otherwise idle host.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from harness.config import load_config
from harness.model import CallSpec, Status
from harness.run.session import HarnessSession

AT_ONCE = 6
TALK_S = 4.0


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# the off-net calls' numbers, each a different PSTN far end (and trunk group)
OFF_NET = ("5550190", "19785550123", "18005550199", "12125550123", "411", "311")


def calls(n: int) -> list[CallSpec]:
    """n calls, callers over every site in turn, each line in one call: cross-site
    on-net, and every fourth one off-net to a PSTN far end of its own."""
    out = []
    for k in range(n):
        site, line = k % 7 + 1, k // 7 % 6 + 1
        caller = f"site{site}/{line:02d}"
        if k % 4 == 3:
            out.append(CallSpec("2.1", "off-net", caller, OFF_NET[k // 4 % len(OFF_NET)],
                                talk_s=TALK_S))
        else:
            out.append(CallSpec("1.1", "on-net cross-site", caller,
                                f"site{site % 7 + 1}/{line + 6:02d}", talk_s=TALK_S))
    return out


def hosts_text(hosts: int) -> str:
    """agents.hosts for a level: sites 1..hosts on lab hosts; 8, all seven sites and
    the simulated PSTN."""
    sites = [f"site{i}=lab" for i in range(1, min(hosts, 7) + 1)]
    return "; ".join(sites + (["pstn=lab"] if hosts > 7 else []))


def level(hosts: int, n: int) -> str:
    cfg = load_config()
    cfg = replace(cfg, agents=replace(cfg.agents, hosts=hosts_text(hosts)),
        guard=replace(cfg.guard, retries_on_stall=0))
    t0 = time.monotonic()
    with HarnessSession(cfg, Path("reports")) as s:
        started = time.monotonic() - t0
        before = {name: h.describe().get("cpu_s", 0.0) for name, h in s.hosts.items()}
        c0, w0 = cpu_s(), time.monotonic()
        with ThreadPoolExecutor(AT_ONCE) as pool:
            results = list(pool.map(s.run_call, calls(n)))
        wall, used = time.monotonic() - w0, cpu_s() - c0
        rss = rss_mb()
        after = {name: h.describe() for name, h in s.hosts.items()}
    passed = sum(1 for r in results if r.verdict.status is Status.PASS)
    host_cpu = [a.get("cpu_s", 0.0) - before[name] for name, a in after.items()]
    host_rss = [a.get("workers_rss_mb", 0.0) for a in after.values()]
    per_host = f"{statistics.mean(host_cpu):9.2f} {statistics.mean(host_rss):9.0f}" \
        if host_cpu else f"{'-':>9} {'-':>9}"
    return (f"{hosts:>5} {started:7.1f} {n:>5} {passed:>5} {wall:7.1f} "
            f"{1000 * used / n:9.0f} {rss:8.0f} {per_host}")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 24
    levels = [int(x) for x in (sys.argv[2] if len(sys.argv) > 2 else "0,1,4,7,8").split(",")]
    print(f"{'hosts':>5} {'start s':>7} {'calls':>5} {'pass':>5} {'wall s':>7} "
          f"{'ctl ms/call':>9} {'ctl MB':>8} {'host cpu s':>9} {'host MB':>9}")
    for hosts in levels:
        print(level(hosts, n), flush=True)


if __name__ == "__main__":
    main()
