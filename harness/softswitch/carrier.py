"""The lab's "other carrier" (pstn.mode: carrier, pstn.embedded): a second Kamailio
on 127.0.0.1 where the harness owns the PSTN far end's numbers (docs/other-carrier.md).

Per run it renders `carrier.cfg.j2` into `<run>/carrier/`, provisions every DID in
`auth.db` (one digest password for all), and starts Kamailio as a child of the
harness (the embedded switch's `ChildProcess` and port helpers): a registrar with
digest auth for the DIDs, a trunk to the switch under test trusted by its source
address and port, calls from the trunk delivered to the registered DIDs, and the DIDs'
calls to the switch's number block sent over the trunk. `stop()` kills it.
"""

from __future__ import annotations

import secrets
import signal
import sqlite3
from pathlib import Path

import jinja2

from harness.config import PstnConfig
from harness.errors import EnvironmentMissing, SoftswitchError
from harness.numberplan import NumberPlan
from harness.pstn.directory import carrier_dids
from harness.softswitch.kamailio import (
    _SCHEMA_AUTH,
    MODULE_DIRS,
    EmbeddedKamailio,
    _require,
    _version,
)
from harness.softswitch.numrange import range_regex
from harness.softswitch.process import (
    LAB_SWITCH_NICENESS,
    ChildProcess,
    free_udp_port,
    sip_options_ping,
    udp_port_free,
)


class OtherCarrier:
    name = "other-carrier"

    def __init__(self, cfg: PstnConfig, run_dir: Path) -> None:
        self.cfg = cfg
        self.dir = run_dir / "carrier"
        self.port = cfg.carrier_port
        self.password = cfg.did_password or secrets.token_hex(8)
        self.auth_db = self.dir / "auth.db"
        self.kamailio: ChildProcess | None = None
        self.faults = cfg.fault_set()

    @property
    def host(self) -> str:
        return self.cfg.carrier_host

    @property
    def domain(self) -> str:
        return self.cfg.carrier_domain

    def reserve_port(self) -> int:
        """Its UDP port: the configured one, else a free one (the switch under test's
        config names it as the trunk before either starts)."""
        if not self.port:
            self.port = free_udp_port(self.host)
        elif not udp_port_free(self.port, self.host):
            raise SoftswitchError(f"pstn.carrier_port {self.port}: UDP port already in use "
                                  f"on {self.host}")
        return self.port

    def start(self, plan: NumberPlan, trunk_host: str, trunk_port: int) -> None:
        """Start with `plan`'s PSTN numbers as DIDs and a trunk to the switch under test
        at `trunk_host`:`trunk_port` (its source address for calls it sends here)."""
        kam = _require("kamailio", "kamailio")
        module_path = next((d for d in MODULE_DIRS if Path(d, "db_sqlite.so").exists()), None)
        if module_path is None:
            raise EnvironmentMissing("db_sqlite.so (Kamailio module)", "kamailio-sqlite-modules")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.reserve_port()
        self._provision(carrier_dids(plan.pstn, plan.pstn_callers))
        path = self.dir / "kamailio.cfg"
        path.write_text(self.render(module_path, plan, trunk_host, trunk_port), encoding="utf-8")
        EmbeddedKamailio._check_config(kam, path)
        self.kamailio = ChildProcess("other-carrier kamailio", [
            kam, "-f", str(path), "-DD", "-E", "-m", "32", "-M", "4",
            "-P", str(self.dir / "kamailio.pid"), "-Y", str(self.dir), "-w", str(self.dir),
        ], self.dir / "kamailio.log", death_signal=signal.SIGTERM,
           niceness=LAB_SWITCH_NICENESS)
        self.kamailio.start()
        try:
            EmbeddedKamailio._wait(lambda: sip_options_ping(self.host, self.port, 0.5) == 200,
                                   self.kamailio, "the other carrier's Kamailio did not "
                                   "answer SIP OPTIONS")
        except BaseException:
            self.stop()
            raise

    def render(self, module_path: str, plan: NumberPlan, trunk_host: str,
               trunk_port: int) -> str:
        env = jinja2.Environment(loader=jinja2.PackageLoader("harness", "softswitch"),
                                 undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        lo, hi = plan.onnet_block()
        ld = [p.number for p in plan.pstn if p.call_class.startswith("ld_")]
        local = next((p.number for p in plan.pstn
                      if p.call_class == "local" and p.behaviour == "answer"), "")
        return env.get_template("carrier.cfg.j2").render(
            run_id=self.dir.parent.name, debug=2, host=self.host, port=self.port,
            domain=self.domain, module_path=module_path, auth_db=self.auth_db.resolve(),
            trunk_host=trunk_host, trunk_port=trunk_port, trunk_regex=range_regex(lo, hi, 10),
            faults=self.faults, ld_dids="|".join(ld) or "NONE", local_did=local,
            ported_in="|".join(n for n, _ in plan.ported_in) or "NONE")

    def stop(self) -> None:
        if self.kamailio is not None:
            self.kamailio.stop()

    def failure(self) -> str:
        """'' while its Kamailio runs (or before it started), else that it exited."""
        if self.kamailio is not None and not self.kamailio.running():
            return f"{self.kamailio.name} exited"
        return ""

    def versions(self) -> dict[str, str]:
        return {"other_carrier": "lab Kamailio " + _version([_require("kamailio", "kamailio"),
                                                             "-v"])}

    def _provision(self, dids: tuple[str, ...]) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.auth_db) + suffix).unlink(missing_ok=True)
        con = sqlite3.connect(self.auth_db)
        with con:
            con.executescript(_SCHEMA_AUTH)
            con.executemany("INSERT INTO subscriber (username, domain, password) VALUES (?,?,?)",
                            [(did, self.domain, self.password) for did in dids])
        con.close()
