"""The run's agent hosts (docs/agent-hosts.md), one collaborator of the session: which
customer sites (and whether the simulated PSTN) run on a host, the lab's namespaced SSH
hosts started for them, each host connected over SSH with its clocks compared and then
watched, each host's own capture added to the run's, and at the close each host's logs
got, its clocks measured once more and what it used written into the run's evidence.

The session asks it where things are (`host_of_site`, `pstn_host`, `on_host`) and what
a call's figures across hosts are worth (`clocks_of`, `clock_errors`); it owns nothing
of the switch, the farm or the capture it is given.
"""

from __future__ import annotations

import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

from harness.capture.dumpcap import Capture, Captures
from harness.config import HarnessConfig, parse_hosts
from harness.errors import SipError
from harness.network.access import AccessLinks
from harness.network.sshhost import LabHosts, faketime
from harness.pstn.simulator import MAIN_GATEWAY
from harness.run.hooks import TestHooks
from harness.sip.farm import AgentFarm
from harness.sip.hosts import AgentHost, HostCapture, RunRoot
from harness.sip.scenario import WorkerSpec


def _connect(host: AgentHost) -> Exception | None:
    try:
        host.connect()
    except SipError as exc:
        return exc
    return None


class AgentHosts:
    def __init__(self, cfg: HarnessConfig, run_dir: Path, run_id: str,
                 hooks: TestHooks) -> None:
        self.cfg, self.run_dir, self.run_id, self.hooks = cfg, run_dir, run_id, hooks
        self.targets = parse_hosts(cfg.agents.hosts, cfg.numbers.sites, cfg.source)
        self.lab_sites = sorted(n for n, t in self.targets.sites.items() if t.kind == "lab")
        pstn = self.targets.pstn
        self.pstn_lab = pstn is not None and pstn.kind == "lab"
        self.hosts: dict[str, AgentHost] = {}  # by host name: "site1" (lab), "h1", ...
        self.host_of_site: dict[int, str] = {}
        self.pstn_host = ""  # the simulated PSTN's agent host ('': this machine)
        self.lab: LabHosts | None = None
        self.captures: list[HostCapture] = []  # each host's own

    def __bool__(self) -> bool:
        return bool(self.hosts)

    @property
    def lab_count(self) -> int:
        """How many lab hosts the run needs (an access link each)."""
        return len(self.lab_sites) + self.pstn_lab

    def pstn_address(self, access: AccessLinks | None) -> str:
        """Where the simulated PSTN's gateways listen: its host's address (a lab host's
        is the last host link), else 127.0.0.1."""
        if self.pstn_lab:
            assert access is not None
            return access.host_links[-1].address
        if self.targets.pstn is not None:
            return self.targets.pstn.address
        return "127.0.0.1"

    # -- start -------------------------------------------------------------------------
    def start(self, access: AccessLinks | None) -> None:
        """The hosts up (harness/sip/hosts.py): the lab's namespaced SSH hosts started
        first; each host connected over SSH and its clocks compared, all at once, then
        watched. A host that cannot be reached stops the run, named."""
        if not self.targets:
            return
        agents = self.cfg.agents
        tolerance = agents.clock_tolerance_ms / 1000
        if self.lab_count:
            assert access is not None
            self.lab = LabHosts([f"site{n}" for n in self.lab_sites] +
                                ([MAIN_GATEWAY] if self.pstn_lab else []),
                                list(access.host_links))
            self.lab.start()
            here = Path(__file__).resolve().parents[2]  # the project, as this machine has it
            skew, rate = dict(self.hooks.host_clock_s), dict(self.hooks.host_clock_rate)
            for host in self.lab.hosts:
                python = sys.executable if host.name not in skew | rate else \
                    faketime(skew.get(host.name, 0.0), sys.executable,
                             rate.get(host.name, 1.0))
                xspec = (f"ssh=-F {self.lab.ssh_config} root@{host.address}"
                         f"//python={python}//chdir={here}")
                # the lab's hosts share this file system; the harness's own test of a
                # host that does not sets the run directory apart on it
                root = RunRoot(self.run_dir, PurePosixPath(
                    f"/tmp/beta-host-{host.name}-{self.run_id}")) \
                    if self.hooks.host_run_dir_apart else None
                self.hosts[host.name] = AgentHost(host.name, xspec, host.address, tolerance,
                                                  root)
                if host.name == MAIN_GATEWAY:
                    self.pstn_host = host.name
                else:
                    self.host_of_site[int(host.name.removeprefix("site"))] = host.name
        logins: dict[tuple[str, int], str] = {}
        pstn = self.targets.pstn
        for n, target in [*sorted(self.targets.sites.items()), (0, pstn)]:
            if target is None or target.kind != "ssh":
                continue
            key = (target.login, target.port)
            if key not in logins:
                name = logins[key] = f"h{len(logins) + 1}"
                # keys only, never a prompt; a host that does not answer within 10 s is
                # not reached, and one that stops answering is lost within 6 s
                ssh = (f"-F {agents.ssh_config} " if agents.ssh_config else "") + \
                    "-o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=2 " \
                    f"-o ServerAliveCountMax=3 -p {target.port} "
                xspec = f"ssh={ssh}{target.login}//python={agents.host_python}" + \
                    (f"//chdir={agents.host_dir}" if agents.host_dir else "")
                # the host's own run directory, under its project directory (or the
                # login's home): references and certificates put there, recordings and
                # logs got back
                root = RunRoot(self.run_dir, PurePosixPath("beta-runs") / self.run_id)
                self.hosts[name] = AgentHost(name, xspec, target.address, tolerance, root)
            if target is pstn:
                self.pstn_host = logins[key]
            else:
                self.host_of_site[n] = logins[key]
        with ThreadPoolExecutor(max_workers=len(self.hosts)) as pool:
            problems = [str(exc) for exc in pool.map(_connect, self.hosts.values()) if exc]
        if problems:
            raise SipError("; ".join(problems))
        for agent_host in self.hosts.values():  # measured again while the run lasts
            agent_host.watch_clock(agents.clock_check_s)

    def start_captures(self, capture: Capture | Captures | None,
                       access: AccessLinks | None) -> Capture | Captures | None:
        """Each host's own capture (dumpcap there, its traffic only), read with the
        run's other captures as one (harness/sip/hosts.py HostCapture): the run's
        capture with them. The marker a reader waits for is sent to each host's
        address. A host that cannot capture stops the run, named
        (agents.host_capture: false runs without)."""
        if not (self.hosts and capture is not None and self.cfg.agents.host_capture):
            return capture
        run_capture = Captures(capture, []) if isinstance(capture, Capture) else capture
        lab = {host.name for host in self.lab.hosts} if self.lab else set()
        core = access.core if access is not None else ""
        self.captures = [HostCapture(host, self.run_dir / f"capture-host-{name}.pcap")
                         for name, host in self.hosts.items()]
        with ThreadPoolExecutor(max_workers=len(self.captures)) as pool:
            list(pool.map(lambda cap: cap.start(), self.captures))  # all at once
        for cap in self.captures:
            run_capture.add(cap, core if cap.host.name in lab else "", cap.host.address)
        return run_capture

    def on_host(self, specs: list[WorkerSpec]) -> dict[str, AgentHost]:
        """The workers among `specs` that run on a host (by worker name): a site's
        (`<host>-w<j>`), and the simulated PSTN's gateways on its host."""
        return {spec.name: self.hosts[host] for spec in specs
                if (host := self.pstn_host if spec.gateway else
                    spec.name.rsplit("-w", 1)[0]) in self.hosts}

    # -- what a call's figures across hosts are worth ----------------------------------
    @staticmethod
    def clocks_of(farm: AgentFarm | None, workers: set[str]) -> dict[str, Any]:
        """The agent hosts among `workers`' and their clock offsets, as corrected in the
        times they reported."""
        hosts = farm.hosts if farm else {}
        return {host.name: host.clock.as_dict()
                for w in sorted(workers) if (host := hosts.get(w)) is not None}

    @staticmethod
    def clock_errors(farm: AgentFarm | None, workers: set[str]) -> list[str]:
        """Why figures across the agent hosts among `workers` cannot be trusted: each
        such host whose clock was seen to drift beyond the tolerance during the run."""
        hosts = farm.hosts if farm else {}
        return sorted({host.drifted for w in workers
                       if (host := hosts.get(w)) is not None and host.drifted})

    # -- evidence ----------------------------------------------------------------------
    def environment(self, farm: AgentFarm | None) -> dict[str, Any]:
        """results.json environment.agent_hosts: each host, what it runs, its clocks and
        its capture."""
        out: dict[str, Any] = {
            name: {"login": host.login, "address": host.address,
                   "clock": host.clock.as_dict(),
                   "sites": [f"site{n}" for n, h in sorted(self.host_of_site.items())
                             if h == name] + (["pstn"] if name == self.pstn_host else []),
                   "workers": [w for w, h in (farm.hosts.items() if farm else ())
                               if h is host], **host.about}
            for name, host in self.hosts.items()}
        for cap in self.captures:  # its own capture, and that clock's offset
            out[cap.host.name]["capture"] = {
                "file": cap.path.name, "interface": cap.interface, "filter": cap.bpf,
                "clock_offset_ms": round(cap.clock_s * 1000, 3)}
        return out

    def close(self, environment: dict[str, Any]) -> list[str]:
        """Each host's capture's last bytes, its logs got, its clocks measured once more,
        what it used written into `environment` (results.json); then the hosts and the
        lab's sshd stopped. Returns the run errors: each host whose clock drifted
        beyond the tolerance during the run."""
        errors = []
        for host in self.hosts.values():
            host.stop_watching()
        for cap in self.captures:  # their last bytes, while the hosts are up
            cap.stop()
        for host in self.hosts.values():
            host.fetch_logs()
            again, used = host.resync(), host.describe()
            if drift := host.drift(again):
                errors.append(drift)
            doc = environment.setdefault("agent_hosts", {}).setdefault(host.name, {})
            doc["clock_at_end"] = again.as_dict() if again is not None else None
            moved = host.drift_since_start()
            doc["clock_checks"] = {
                "every_s": self.cfg.agents.clock_check_s, "count": len(host.clock_checks),
                "max_moved_ms": None if moved is None else round(moved * 1000, 3),
                "drifted": host.drifted}
            # its workers have stopped by now: their CPU counts, their memory is gone
            # (bench/agent_hosts.py reads it while they run)
            used.pop("workers_rss_mb", None)
            doc["at_end"] = used or f"{host.label} lost: {host.lost}"
            if host.root is not None:
                doc["files"] = {"run_dir": str(host.root.there), "put": host.copied[0],
                                "got": host.copied[1]}
            host.close()
        if self.lab is not None:
            lab, self.lab = self.lab, None
            lab.stop()
            for host in self.hosts.values():  # a lab host lost before it could remove
                if host.root is not None:  # its own run directory
                    shutil.rmtree(Path(host.root.there), ignore_errors=True)
        return errors
