"""The embedded default system under test: Kamailio 5.6 + rtpengine on 127.0.0.1.

Per run it renders `kamailio.cfg.j2` into the run directory, provisions the beta
lines in `auth.db` (subscriber table) and prepares `acc.db` (WAL, tolerant schema
for `acc_cdrs`), picks free ports, starts rtpengine (userspace, `--table=-1`) and
Kamailio as children of the harness, and waits until rtpengine answers an NG ping
and Kamailio answers SIP OPTIONS. `stop()` kills both process groups.

Background load (harness.load, docs/load.md): `load.caller` is provisioned as a
subscriber and `load.target` routed to the harness's SIPp UAS on `load_sink_port`.

The B2BUA lab (docs/b2bua-lab.md): `sut.behaviours` renders B2BUA-like behaviours
into the config; `sut.pstn_b2bua = "sippy"` starts two Sippy B2BUAs (harness/softswitch/
sippy.py) in the PSTN interconnect, one per direction, before Kamailio.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import jinja2

from harness.cdr import CdrSource
from harness.cdr.kamailio_log import read_acc_log
from harness.cdr.kamailio_sqlite import KamailioSqliteCdr
from harness.config import SWITCH_FAULTS, LoadConfig, SutConfig
from harness.errors import EnvironmentMissing, SoftswitchError
from harness.model import Line
from harness.network.netns import LINKS_MAX as ACCESS_LINKS_MAX
from harness.numberplan import NumberPlan
from harness.pstn.directory import DIAL_AROUND_CLASSES, DIAL_AROUND_TRUNK, TOLLFREE_NPAS
from harness.softswitch import TlsListener
from harness.softswitch.numrange import range_regex
from harness.softswitch.process import (
    LAB_SWITCH_NICENESS,
    ChildProcess,
    PortHold,
    free_tcp_port,
    free_udp_port,
    free_udp_range,
    release_udp_range,
    rtpengine_ping,
    sip_options_ping,
    tcp_listening,
    tcp_port_free,
    udp_port_free,
)
from harness.softswitch.sippy import SippyB2bua, sippy_version
from harness.softswitch.tlsca import TestCa, make_test_ca
from harness.vocab import VOICEMAIL_TRUNK

MODULE_DIRS = ("/usr/lib/x86_64-linux-gnu/kamailio/modules",
               "/usr/lib/aarch64-linux-gnu/kamailio/modules", "/usr/lib/kamailio/modules")
KNOWN_FAULTS = SWITCH_FAULTS  # sut.test_faults: checked when the config is loaded
RTP_RANGE = 400  # ports for rtpengine: 2 per call leg side, ample for 42 calls
_SCHEMA_AUTH = """
CREATE TABLE IF NOT EXISTS version (table_name VARCHAR(32) NOT NULL, table_version INTEGER
    DEFAULT 0 NOT NULL, CONSTRAINT version_table_name_idx UNIQUE (table_name));
CREATE TABLE IF NOT EXISTS subscriber (id INTEGER PRIMARY KEY NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL, domain VARCHAR(64) DEFAULT '' NOT NULL,
    password VARCHAR(64) DEFAULT '' NOT NULL, ha1 VARCHAR(128) DEFAULT '' NOT NULL,
    ha1b VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT subscriber_account_idx UNIQUE (username, domain));
INSERT OR REPLACE INTO version (table_name, table_version) VALUES ('subscriber', 7);
"""
# Kamailio writes NULL for unset cdr_extra values: no NOT NULL constraints here.
_SCHEMA_ACC = """
CREATE TABLE IF NOT EXISTS version (table_name VARCHAR(32) NOT NULL, table_version INTEGER
    DEFAULT 0 NOT NULL, CONSTRAINT version_table_name_idx UNIQUE (table_name));
CREATE TABLE IF NOT EXISTS acc (id INTEGER PRIMARY KEY NOT NULL, method, from_tag, to_tag,
    callid, sip_code, sip_reason, time, time_attr, time_exten, src_user, dst_user, dialed,
    call_class, carrier);
CREATE INDEX IF NOT EXISTS acc_callid_idx ON acc (callid);
CREATE TABLE IF NOT EXISTS missed_calls (id INTEGER PRIMARY KEY NOT NULL, method, from_tag,
    to_tag, callid, sip_code, sip_reason, time);
CREATE TABLE IF NOT EXISTS acc_cdrs (id INTEGER PRIMARY KEY NOT NULL, start_time, end_time,
    duration REAL, callid, src_user, dst_user, dialed, call_class, carrier, invite_ts,
    answer_ts, end_ts, sip_code);
CREATE INDEX IF NOT EXISTS acc_cdrs_callid_idx ON acc_cdrs (callid);
INSERT OR REPLACE INTO version (table_name, table_version) VALUES ('acc', 5);
INSERT OR REPLACE INTO version (table_name, table_version) VALUES ('acc_cdrs', 2);
INSERT OR REPLACE INTO version (table_name, table_version) VALUES ('missed_calls', 4);
"""


def _require(program: str, package: str) -> str:
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        raise EnvironmentMissing(program, package)
    return path


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0].strip() if text else "unknown"


class EmbeddedKamailio:
    name = "embedded-kamailio"
    serves_access_links = True

    def __init__(self, cfg: SutConfig, run_dir: Path, load: LoadConfig | None = None,
                 carrier: bool = False) -> None:
        self.cfg = cfg
        # pstn.mode carrier: off-net calls go to another carrier's trunk at the PSTN
        # port, without trunk groups (docs/other-carrier.md)
        self.carrier = carrier
        self.trunk_ports: dict[str, int] = {}  # trunk group -> its own gateway port
        self.mwi_port = 0  # the voicemail platform's NOTIFYs come from here (0: none)
        # background load (docs/load.md): load.caller is provisioned, load.target routed
        # to the harness's SIPp UAS ("load sink") on load_sink_port
        self.load = load or LoadConfig()
        self.load_password = self.load.password or secrets.token_hex(8)
        self.load_sink_port = self.load.sink_port
        # held from the config's rendering until a load's SIPp sink binds it (PortHold)
        self.sink_hold: PortHold | None = None
        self.dir = run_dir / "sut"
        self._sip_port = cfg.sip_port
        self.ng_port = 0
        self.rtp_min = 0
        self.kamailio: ChildProcess | None = None
        self.rtpengine: ChildProcess | None = None
        # sut.pstn_b2bua (docs/b2bua-lab.md): switch -> B2BUA -> gateway, and back
        self.b2bua_out: SippyB2bua | None = None
        self.b2bua_in: SippyB2bua | None = None
        self.acc_db = self.dir / "acc.db"
        self.auth_db = self.dir / "auth.db"
        self.tls_port = cfg.tls_port  # sut.tls: Kamailio's TLS listener (docs/tls-srtp.md)
        self.test_ca: TestCa | None = None
        # access links (harness/network/netns.py): the address lines in the harness's network
        # namespaces reach; set before start(), '' for none
        self.access_address = ""
        # the simulated PSTN's gateways (agents.hosts pstn=): set before start()
        self.pstn_address = "127.0.0.1"

    # -- Softswitch protocol -------------------------------------------------------
    @property
    def sip_host(self) -> str:
        return "127.0.0.1"

    @property
    def sip_port(self) -> int:
        return self._sip_port

    @property
    def domain(self) -> str:
        return self.cfg.domain

    def cdr_source(self) -> CdrSource:
        return KamailioSqliteCdr(f"sqlite:///{self.acc_db.resolve()}",
                                 (self.dir / "kamailio.log").resolve())

    def capture_filter(self) -> str:
        lo, hi = self.rtp_min, self.rtp_min + RTP_RANGE - 1
        ports = " or ".join(f"port {p}" for p in (self._sip_port, *self._b2bua_ports()))
        bpf = f"udp and host 127.0.0.1 and ({ports} or portrange {lo}-{hi})"
        if self.test_ca is not None:  # the TLS handshakes (evidence of the version)
            bpf = f"({bpf}) or (tcp and host 127.0.0.1 and port {self.tls_port})"
        return bpf

    def tls_listener(self) -> TlsListener | None:
        if self.test_ca is None:
            return None
        return TlsListener("127.0.0.1", self.tls_port, self.test_ca.ca.cert,
                           self.test_ca.agent.cert, self.test_ca.agent.key)

    def versions(self) -> dict[str, str]:
        out = {"kamailio": _version([_require("kamailio", "kamailio"), "-v"]),
               "rtpengine": _version([_require("rtpengine", "rtpengine-daemon"), "--version"])}
        if self.cfg.pstn_b2bua:
            out["pstn_b2bua"] = sippy_version()
        if self.cfg.behaviours:
            out["behaviours"] = ",".join(sorted(self.cfg.behaviour_set()))
        return out

    def alive(self) -> bool:
        return not self.failure()

    def cdr_store_errors(self, since: int = -1) -> tuple[int, str]:
        """Kamailio's acc module writes each record to its log, then to SQLite;
        db_sqlite (Kamailio 5.6) has no busy timeout, so two of its processes writing
        at the same instant lose one database write. The record is then read from the
        log (KamailioSqliteCdr, harness/cdr/kamailio_log.py); a refused write with no
        record logged before it is lost, and this says so. The harness runs this
        switch: such a loss is its own, never the switch under test's. `since` < 0:
        the mark only (the log's size now)."""
        if self.kamailio is None or not self.kamailio.log_path.exists():
            return 0, ""
        size = self.kamailio.log_path.stat().st_size
        if since < 0 or since >= size:
            return size, ""
        with open(self.kamailio.log_path, "rb") as log:
            log.seek(since)
            text = log.read(size - since).decode("utf-8", errors="replace")
        lost = read_acc_log(text).lost
        if not lost:
            return size, ""
        return size, (f"the embedded switch's CDR store refused {len(lost)} write(s) since "
                      f"the mark that its log does not hold either (SQLite busy, "
                      f"kamailio.log: {lost[-1][:160]})")

    def failure(self) -> str:
        """'' while Kamailio and rtpengine run; else which one exited (cheap: a poll)."""
        for child in (self.kamailio, self.rtpengine):
            if child is not None and not child.running():
                return f"{child.name} exited"
        for b2bua in (self.b2bua_out, self.b2bua_in):
            if b2bua is not None and not b2bua.running():
                return f"{b2bua.child.name} exited"
        return ""

    @property
    def separate_trunks(self) -> bool:
        """A gateway port per trunk group, unless a B2BUA (which names one next hop) or
        another carrier's trunk stands between the switch and the simulated PSTN."""
        return not (self.cfg.pstn_b2bua or self.carrier)

    def start(self, plan: NumberPlan, pstn_port: int,
              trunk_ports: Mapping[str, int] | None = None, mwi_port: int = 0) -> None:
        """Start for `plan`'s lines, routing PSTN classes to the simulated PSTN gateway
        at 127.0.0.1:`pstn_port`, or a trunk group in `trunk_ports` to its own gateway's
        port (trunk group in the R-URI's tgrp parameter either way); the voicemail pilot
        to trunk group "vm"'s, trusting the platform's NOTIFYs from `mwi_port`."""
        self.trunk_ports = dict(trunk_ports or {})
        self.mwi_port = mwi_port
        kam = _require("kamailio", "kamailio")
        rtpe = _require("rtpengine", "rtpengine-daemon")
        module_path = next((d for d in MODULE_DIRS if Path(d, "db_sqlite.so").exists()), None)
        if module_path is None:
            raise EnvironmentMissing("db_sqlite.so (Kamailio module)", "kamailio-sqlite-modules")
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            for attempt in range(3):
                try:
                    self._start_once(kam, rtpe, module_path, plan, pstn_port)
                    return
                except SoftswitchError as e:
                    # a port chosen free was taken before the child bound it: choose
                    # again (only ports the harness chose; a configured one in use is
                    # the user's)
                    if "Address already in use" not in str(e) or attempt == 2:
                        raise
                    self._sip_port, self.tls_port = self.cfg.sip_port, self.cfg.tls_port
                    self._release_sink_port()
                    self.load_sink_port = self.load.sink_port
                    self.b2bua_out = self.b2bua_in = None
        except BaseException:
            self._release_sink_port()  # a switch that never started holds nothing
            raise

    def _start_once(self, kam: str, rtpe: str, module_path: str, plan: NumberPlan,
                    pstn_port: int) -> None:
        self._choose_ports()
        self._provision(plan.lines)
        if self.cfg.tls:
            self._prepare_tls(module_path)
        if self.cfg.pstn_b2bua:  # ports chosen here, before the config names them
            self.b2bua_out = SippyB2bua("pstn-out", pstn_port, self.dir)
            self.b2bua_in = SippyB2bua("pstn-in", self._sip_port, self.dir)
        cfg_path = self._render(module_path, plan, pstn_port)
        self._check_config(kam, cfg_path)
        try:
            self._start_rtpengine(rtpe)
            for b2bua in (self.b2bua_out, self.b2bua_in):
                if b2bua is not None:
                    b2bua.start()
            self._start_kamailio(kam, cfg_path)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for child in (self.kamailio, self.rtpengine):
            if child is not None:
                child.stop()
        self._release_sink_port()
        for b2bua in (self.b2bua_out, self.b2bua_in):
            if b2bua is not None:
                b2bua.stop()
        release_udp_range(self.rtp_min)

    @property
    def pstn_entry(self) -> tuple[str, int]:
        """Where the simulated PSTN gateway sends incoming DID calls: the switch, or
        with sut.pstn_b2bua the B2BUA in front of it (docs/b2bua-lab.md)."""
        if self.b2bua_in is not None:
            return ("127.0.0.1", self.b2bua_in.port)
        if self.pstn_address != "127.0.0.1" and self.access_address:
            return (self.access_address, self._sip_port)  # a lab host behind an access link
        return (self.sip_host, self._sip_port)

    # -- internals -----------------------------------------------------------------
    def _b2bua_ports(self) -> tuple[int, ...]:
        return tuple(b.port for b in (self.b2bua_out, self.b2bua_in) if b is not None)

    def _choose_ports(self) -> None:
        if self._sip_port:
            if not udp_port_free(self._sip_port):
                raise SoftswitchError(f"sut.sip_port {self._sip_port}: UDP port already in use "
                                      "on 127.0.0.1")
        else:
            self._sip_port = free_udp_port()
        # each chosen free, none bound yet: never the same port twice
        self.ng_port = free_udp_port(exclude=(self._sip_port,))
        if not self.load.sink_port:
            self.load_sink_port = free_udp_port(exclude=(self._sip_port, self.ng_port))
        elif not udp_port_free(self.load_sink_port):
            raise SoftswitchError(f"load.sink_port {self.load_sink_port}: UDP port already in "
                                  "use on 127.0.0.1")
        # Kamailio sends load.target to this port from its start on, but the load's SIPp
        # sink binds it only when a load begins (minutes later in a session): held until
        # then, so that no other listener (this run's or another's) is given it and
        # answers the load calls in the sink's place
        self.sink_hold = PortHold(self.load_sink_port)
        if self.cfg.rtp_port_min:
            self.rtp_min = self.cfg.rtp_port_min
            if not udp_port_free(self.rtp_min):
                raise SoftswitchError(f"sut.rtp_port_min {self.rtp_min}: UDP port already in use")
        else:
            self.rtp_min = free_udp_range(RTP_RANGE, 20000, 30000)

    def _provision(self, lines: tuple[Line, ...]) -> None:
        for db in (self.auth_db, self.acc_db):
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
        con = sqlite3.connect(self.auth_db)
        with con:
            con.executescript(_SCHEMA_AUTH)
            con.executemany("INSERT INTO subscriber (username, domain, password) VALUES (?,?,?)",
                            [(ln.number, self.domain, ln.password) for ln in lines])
            con.execute("INSERT INTO subscriber (username, domain, password) VALUES (?,?,?)",
                        (self.load.caller, self.domain, self.load_password))
        con.close()
        con = sqlite3.connect(self.acc_db)
        con.execute("PRAGMA journal_mode=WAL")  # concurrent acc writers: no 'database locked'
        with con:
            con.executescript(_SCHEMA_ACC)
        con.close()

    def _render(self, module_path: str, plan: NumberPlan, pstn_port: int) -> Path:
        env = jinja2.Environment(loader=jinja2.PackageLoader("harness", "softswitch"),
                                 undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        lo, hi = plan.onnet_block()
        sites = sorted({ln.site for ln in plan.lines})
        site_regexes = []
        for site in sites:
            numbers = [int(ln.number) for ln in plan.lines if ln.site == site]
            site_regexes.append((site, range_regex(min(numbers), max(numbers), 10)))
        faults = self.cfg.fault_set()
        text = env.get_template("kamailio.cfg.j2").render(
            run_id=self.dir.parent.name, debug=2, children=self.cfg.kamailio_children,
            sip_port=self._sip_port, domain=self.domain, module_path=module_path,
            auth_db=self.auth_db.resolve(), acc_db=self.acc_db.resolve(),
            ng_port=self.ng_port, home_npa=plan.home_npa, pstn_port=pstn_port,
            pstn_host=self.pstn_address,
            trunk_ports=self.trunk_ports,
            onnet_regex=range_regex(lo, hi, 10), tollfree_npas="|".join(TOLLFREE_NPAS),
            intralata_npas="|".join(plan.intralata_npas) or "NONE",
            site_regexes=site_regexes, faults=faults, forwarding=plan.forwarding,
            hunt_groups=[{"pilot": h.pilot,
                          "members": [plan.line(m).number for m in h.members],
                          "overflow": plan.line(h.overflow).number if h.overflow else ""}
                         for h in plan.hunt_groups],
            anonymous_rejection=[ln.number for ln in plan.anonymous_rejection],
            toll_free_in=list(plan.toll_free_in),
            call_return=plan.call_return,
            call_pickup=plan.call_pickup,
            pickup_groups=[[plan.line(m).number for m in group] for group in plan.pickup_groups],
            toll_restricted=[ln.number for ln in plan.toll_restricted],
            t38_lines=[] if "no_t38_to_t38_lines" in faults
            else [ln.number for ln in plan.t38_lines],
            dial_around_cic=plan.dial_around_cic or "NONE",
            dial_around_classes="|".join(DIAL_AROUND_CLASSES),
            dial_around_trunk=DIAL_AROUND_TRUNK,
            lnp=None if "ignore_lnp" in faults or not (plan.ported_in or plan.ported_out)
            else {"ported_in": [n for n, _ in plan.ported_in] or ["NONE"],
                  "ported_out": list(plan.ported_out) or ["NONE"],
                  "ported_in_lines": [(n, plan.line(name).number)
                                      for n, name in plan.ported_in]},
            no_answer_timeout_ms=int(self.cfg.no_answer_timeout_s * 1000),
            tls=self.test_ca is not None, tls_port=self.tls_port,
            tls_cfg=(self.dir / "tls.cfg").resolve(),
            load_target=self.load.target, load_sink_port=self.load_sink_port,
            access=self.access_address, behaviours=self.cfg.behaviour_set(),
            topoh_key=secrets.token_hex(12),
            b2bua_out_port=self.b2bua_out.port if self.b2bua_out else 0,
            b2bua_in_port=self.b2bua_in.port if self.b2bua_in else 0, carrier=self.carrier,
            voicemail={"pilot": plan.voicemail_pilot, "port": self.trunk_ports[VOICEMAIL_TRUNK],
                       "mwi_port": self.mwi_port, "after_s": plan.voicemail_after_s,
                       "boxes": [plan.line(b).number for b in plan.voicemail_boxes]}
            if plan.voicemail_pilot and VOICEMAIL_TRUNK in self.trunk_ports and self.mwi_port
            else None)
        path = self.dir / "kamailio.cfg"
        path.write_text(text, encoding="utf-8")
        return path

    def _release_sink_port(self) -> None:
        if self.sink_hold is not None:
            self.sink_hold.close()
            self.sink_hold = None

    @staticmethod
    def _check_config(kam: str, cfg_path: Path) -> None:
        out = subprocess.run([kam, "-c", "-f", str(cfg_path)], capture_output=True, text=True,
                             timeout=60, check=False)
        if out.returncode != 0:
            tail = " | ".join(ln.strip() for ln in (out.stderr + out.stdout).splitlines()[-6:])
            raise SoftswitchError(f"Kamailio refused its config {cfg_path}: {tail}")

    def _start_rtpengine(self, rtpe: str) -> None:
        self.rtpengine = ChildProcess("rtpengine", [
            rtpe, "--config-file=none", "--table=-1", "--foreground", "--log-stderr",
            "--log-level=5", *self._rtpengine_interfaces(), f"--listen-ng=127.0.0.1:{self.ng_port}",
            f"--port-min={self.rtp_min}", f"--port-max={self.rtp_min + RTP_RANGE - 1}",
            "--num-threads=2", "--delete-delay=0", f"--pidfile={self.dir / 'rtpengine.pid'}",
        ], self.dir / "rtpengine.log", niceness=LAB_SWITCH_NICENESS)
        self.rtpengine.start()
        # short tries: a ping sent before rtpengine binds is lost, not refused (UDP)
        self._wait(lambda: rtpengine_ping("127.0.0.1", self.ng_port, 0.1), self.rtpengine,
                   "rtpengine did not answer an NG ping")

    def _rtpengine_interfaces(self) -> list[str]:
        """rtpengine's one interface: 127.0.0.1, or with access links the access
        address, as local to the loopback's lines as it is reachable from the
        namespaces' (two logical interfaces with `direction=` flags were tried first:
        in one plan run rtpengine gave one port to two concurrent calls)."""
        return [f"--interface={self.access_address or '127.0.0.1'}"]

    def _start_kamailio(self, kam: str, cfg_path: Path) -> None:
        self.kamailio = ChildProcess("kamailio", [
            kam, "-f", str(cfg_path), "-DD", "-E", "-m", "64", "-M", "8",
            "-P", str(self.dir / "kamailio.pid"), "-Y", str(self.dir), "-w", str(self.dir),
        ], self.dir / "kamailio.log", death_signal=signal.SIGTERM,
           niceness=LAB_SWITCH_NICENESS)
        self.kamailio.start()
        self._wait(lambda: sip_options_ping("127.0.0.1", self._sip_port, 0.1) == 200,
                   self.kamailio, "Kamailio did not answer SIP OPTIONS")
        if self.test_ca is not None:
            self._wait(lambda: tcp_listening("127.0.0.1", self.tls_port), self.kamailio,
                       f"Kamailio did not listen on tls:127.0.0.1:{self.tls_port}")

    def _prepare_tls(self, module_path: str) -> None:
        """The run's test CA and certificates, a free TLS port, the tls module's config:
        TLS 1.2 or later both ways; the switch verifies a phone it connects to (the
        test CA) but asks no certificate of phones connecting to it (they authenticate
        with SIP digest, as the UDP lines do)."""
        if not Path(module_path, "tls.so").exists():
            raise EnvironmentMissing("tls.so (Kamailio module)", "kamailio-tls-modules")
        if self.tls_port:
            if not tcp_port_free(self.tls_port):
                raise SoftswitchError(f"sut.tls_port {self.tls_port}: TCP port already in use "
                                      "on 127.0.0.1")
        else:
            self.tls_port = free_tcp_port()
        faults = self.cfg.fault_set()
        # behind the access links: the access address and every line side's (lab agent
        # hosts' lines dial and answer over TLS from there, docs/agent-hosts.md)
        block = self.access_address.rsplit(".", 1)[0]
        more = tuple(f"{block}.{j}" for j in range(1, 2 + ACCESS_LINKS_MAX)) \
            if self.access_address else ()
        self.test_ca = ca = make_test_ca(self.dir / "tls", self.domain, faults, more)
        (self.dir / "tls.cfg").write_text(
            "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
            f"require_certificate = no\ncertificate = {ca.server.cert.resolve()}\n"
            f"private_key = {ca.server.key.resolve()}\nca_list = {ca.ca.cert.resolve()}\n\n"
            "[client:default]\nmethod = TLSv1.2+\nverify_certificate = yes\n"
            f"require_certificate = yes\nca_list = {ca.ca.cert.resolve()}\n",
            encoding="utf-8")

    @staticmethod
    def _wait(ready: object, child: ChildProcess, what: str, timeout_s: float = 30.0) -> None:
        assert callable(ready)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not child.running():
                raise SoftswitchError(f"{child.name} exited at start-up: {child.log_tail()}")
            if ready():
                return
            time.sleep(0.05)
        raise SoftswitchError(f"{what} within {timeout_s:.0f} s: {child.log_tail()}")
