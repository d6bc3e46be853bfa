"""Background load (harness.load): SIPp statistics parsed from recorded files, the
load section of the config, SIPp's command lines, the target's guard, the store's
load tagging and the report's load status."""

import json
import re
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from harness.config import HarnessConfig, LoadConfig, load_config, validate
from harness.errors import ConfigError, DialGuardError
from harness.load import LoadError
from harness.load.scenario import uac_scenario
from harness.load.sipp import BackgroundLoad, LoadTarget, Ports, in_dir, sink_command, uac_command
from harness.load.stats import LoadStats, _ms, answered
from harness.model import (
    CallResult,
    CallSpec,
    CallTiming,
    CdrCheck,
    QualityScore,
    Status,
    Verdict,
)
from harness.numberplan import NumberPlan
from harness.report.load import level_status, load_section
from harness.report.results import ResultStore
from harness.report.store import SqliteStore
from harness.softswitch.fake import FakeSoftswitch

DATA = Path(__file__).parent.parent / "data" / "sipp"


def _read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


# -- statistics (recorded from a real run: 10 cps, max 20, hold 1.5 s; then a run
#    whose load sink was killed mid-way) ----------------------------------------------
def test_clean_run_statistics_are_sipps_own_figures() -> None:
    rows = _read("clean-uac-stat.csv").splitlines()
    start = float(rows[1].split(";")[0].split("\t")[-1])
    stats = LoadStats.parse(_read("clean-uac-stat.csv"), _read("clean-uac-rtt.csv"), "",
                            stopped_wall=start + 46.063)
    assert stats.offered_cps == 10.0
    assert stats.created == 460 and stats.successful == 460 and stats.failed == 0
    assert stats.achieved_cps == pytest.approx(9.986, abs=0.01)
    assert stats.failed_by_reason == {}
    assert 10 <= stats.concurrent_max <= 20
    assert stats.setup_n == 460 and stats.setup_p50_ms is not None
    assert stats.setup_p50_ms <= stats.setup_p95_ms <= stats.setup_max_ms
    assert stats.call_length_mean_s == pytest.approx(1.5, abs=0.05)


def test_without_the_stop_time_the_window_runs_to_the_last_row() -> None:
    stats = LoadStats.parse(_read("clean-uac-stat.csv"))
    assert stats.achieved_cps < 10.0  # the drain after the stop counts: honest but low
    assert stats.setup_n == 0 and stats.setup_p95_ms is None


def test_killed_sink_shows_failed_calls_by_reason() -> None:
    stats = LoadStats.parse(_read("sink-killed-uac-stat.csv"), _read("sink-killed-uac-rtt.csv"),
                            _read("sink-killed-error-codes.csv"))
    assert stats.failed == 75 and stats.failed_by_reason == {"TimeoutOnRecv": 75}
    assert stats.successful + stats.failed <= stats.created


def test_sink_answered_count_and_bad_input() -> None:
    assert answered(_read("clean-uas-stat.csv")) == (460, 0)
    assert answered("") == (0, 0)
    with pytest.raises(ValueError, match="no statistics rows"):
        LoadStats.parse(_read("clean-uac-stat.csv").splitlines()[0])
    assert _ms("00:00:01:508000") == 1508.0 and _ms("garbage") is None


def test_error_codes_counted_per_sip_code() -> None:
    codes = "2026-11-26\t05:40:11.9\t1.0;00:00:01:000000;408,408,503,\n"
    stats = LoadStats.parse(_read("clean-uac-stat.csv"), error_codes=codes)
    assert stats.failed_by_reason == {"SIP 408": 2, "SIP 503": 1}


# -- config ----------------------------------------------------------------------------
def _with_load(**kw: object) -> HarnessConfig:
    return replace(HarnessConfig(source="my.yaml"), load=replace(LoadConfig(), **kw))


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("rate_cps", 0.0, "must be 0.1..500.0"),
    ("max_calls", 0, "must be 1..2000"),
    ("hold_s", -1.0, "must be 0.0..3600.0"),
    ("target", "55501", "expected 10 digits"),
    ("caller", "4135550105", "inside the beta lines' on-net block"),
    ("target", "4135550198", "must differ from load.caller"),
    ("sink_port", 80, "must be 0 (auto) or 1024..65535"),
])
def test_load_section_is_validated(field: str, value: object, problem: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(problem)) as err:
        validate(_with_load(**{field: value}))
    assert str(err.value).startswith(f"my.yaml: field 'load.{field}' = {value!r}")


def test_load_section_from_yaml_with_secret_from_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOAD_PW", "s3cret")
    path = tmp_path / "sut.yaml"
    path.write_text("load:\n  rate_cps: 20\n  max_calls: 40\n  password: ${LOAD_PW}\n")
    cfg = load_config(path)
    assert cfg.load.rate_cps == 20.0 and cfg.load.max_calls == 40
    assert cfg.load.password == "s3cret"
    assert cfg.redacted()["load"]["password"] == "***"
    path.write_text("load:\n  colour: blue\n")
    with pytest.raises(ConfigError, match="field 'load.colour' = 'blue': unknown key"):
        load_config(path)


# -- command lines -------------------------------------------------------------------------
TARGET = LoadTarget("127.0.0.1", 5070, "beta.test", "4135550198", "pw", "4135550199", 5080)


def test_generator_command() -> None:
    argv = uac_command("/usr/bin/sipp", TARGET, 10.0, 20, 1.5, Path("/r/load/1"),
                       Ports(41000, 41001, 41002), timeout_s=4.0)
    assert argv[:2] == ["/usr/bin/sipp", "127.0.0.1:5070"]
    pairs = dict(zip(argv[2::1], argv[3::1], strict=False))
    assert pairs["-r"] == "10" and pairs["-rp"] == "1000" and pairs["-l"] == "20"
    assert pairs["-recv_timeout"] == "4000"
    assert uac_scenario(1.5).count('timeout="1500" ontimeout="hangup"') == 2  # the hold
    assert pairs["-s"] == "4135550199" and pairs["-au"] == "4135550198"
    assert pairs["-i"] == "127.0.0.1" and pairs["-p"] == "41000" and pairs["-cp"] == "41001"
    assert pairs["-stf"] == "/r/load/1/uac-stat.csv" and "-trace_rtt" in argv


def test_sink_command_and_working_directory() -> None:
    argv = sink_command("/usr/bin/sipp", 5080, Path("/r/load/1"), Ports(1, 2, 41002))
    assert argv[argv.index("-p") + 1] == "5080" and argv[argv.index("-cp") + 1] == "41002"
    wrapped = in_dir(Path("/r/load/1"), argv)
    assert wrapped[:4] == ["/bin/sh", "-c", 'cd "$0" && exec "$@"', "/r/load/1"]
    assert wrapped[4:] == argv


# -- the target's guard -----------------------------------------------------------------------
def _plan(cfg: HarnessConfig) -> NumberPlan:
    return NumberPlan.from_config(cfg.numbers)


def test_external_switch_needs_the_load_password_and_sink_port() -> None:
    cfg = replace(_with_load(), sut=replace(HarnessConfig().sut, kind="external"))
    with pytest.raises(ConfigError, match="load.password"):
        LoadTarget.resolve(cfg, FakeSoftswitch(), _plan(cfg))
    cfg = replace(cfg, load=replace(cfg.load, password="pw"))
    with pytest.raises(ConfigError, match="load.sink_port"):
        LoadTarget.resolve(cfg, FakeSoftswitch(), _plan(cfg))
    t = LoadTarget.resolve(replace(cfg, load=replace(cfg.load, sink_port=5080)),
                           FakeSoftswitch(sip_port=5070), _plan(cfg))
    assert (t.port, t.sink_port, t.password) == (5070, 5080, "pw")
    t = LoadTarget.resolve(replace(cfg, load=replace(cfg.load, sink=False)),
                           FakeSoftswitch(), _plan(cfg))
    assert t.sink_port is None


def test_load_never_leaves_loopback_nor_dials_a_probe_number() -> None:
    cfg = _with_load(password="pw", sink_port=5080)
    with pytest.raises(LoadError, match="127.0.0.1 only"):
        LoadTarget.resolve(cfg, FakeSoftswitch(sip_host="10.0.0.5"), _plan(cfg))
    cfg = _with_load(password="pw", sink_port=5080, target="4135550190")  # a PSTN party
    with pytest.raises(DialGuardError, match="load.target is a number of the probe plan"):
        LoadTarget.resolve(cfg, FakeSoftswitch(), _plan(cfg))
    with pytest.raises(LoadError, match="refused"):
        BackgroundLoad(replace(TARGET, host="10.0.0.5"), 1.0, 1, 1.0, Path("/nonexistent"))


# -- the store tags calls with the level; the report judges the load, not the probes ----------
def _result(plan_id: str) -> CallResult:
    q = tuple(QualityScore(d, s, 4.28, "nb", True) for d in ("a_to_b", "b_to_a")
              for s in ("agent", "wire"))
    return CallResult(CallSpec(plan_id, "on-net cross-site", "site1/01", "site2/01"), "cid",
                      200, CallTiming(0.003, 1.004, 13.3, 0.001), q, CdrCheck(True), None,
                      Verdict(Status.PASS, ()))


def _level_doc(failed: int = 0, stalls: int = 0, errors: tuple[str, ...] = ()) -> dict:
    stats = asdict(LoadStats.parse(_read("clean-uac-stat.csv")))
    stats.update(achieved_cps=9.99, failed=failed,
                 failed_by_reason={"TimeoutOnRecv": failed} if failed else {})
    return {"level": {"rate_cps": 10, "max_calls": 20, "hold_s": 1.5}, "errors": list(errors),
            "stats": stats, "sink": {"answered": 460, "failed": 0},
            "host": {"max_stall_s": 0.3 if stalls else 0.01, "stalls_over_threshold": stalls,
                     "threshold_s": 0.1}}


def test_store_tags_probe_calls_with_the_active_load(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "run-1", "run-1", {"sut": "x"})
    store.add(_result("1.0"))
    load_id = store.begin_load({"rate_cps": 10, "max_calls": 20, "hold_s": 1.5})
    store.add(_result("1.1"))
    store.end_load(load_id, _level_doc())
    store.add(_result("1.2"))
    store.close()
    doc = json.loads((tmp_path / "run-1" / "results.json").read_text())
    assert [c["load"] and c["load"]["id"] for c in doc["calls"]] == [None, "L1", None]
    level = doc["load"]["levels"][0]
    assert level["status"] == "ok" and level["probes"]["calls"] == 1
    assert level["probes"]["srd_p50_s"] == 0.003 and level["probes"]["mos_median_a_to_b"] == 4.28
    assert doc["load"]["baseline"]["calls"] == 2
    # the level survives in the database: a re-rendered run shows it
    run = SqliteStore(tmp_path / "results.db").load_run("run-1")
    assert [lv["id"] for lv in run.loads] == ["L1"] and not run.loads[0]["running"]
    html = (tmp_path / "run-1" / "index.html").read_text()
    assert 'data-load="L1"' in html and "Probe calls under background load" in html


def test_load_status_blames_the_load_or_the_host_never_the_probes() -> None:
    assert level_status(_level_doc())[0] == "ok"
    status, reasons = level_status(_level_doc(failed=75))
    assert status == "load-failed" and "75 of 460 load calls failed (TimeoutOnRecv 75)" in reasons
    status, reasons = level_status(_level_doc(failed=75, stalls=2))
    assert status == "invalid" and "describe the host, not the switch" in reasons[-1]
    status, reasons = level_status(_level_doc(stalls=1))  # a clean load: noted, not voided
    assert status == "ok" and "include it" in reasons[0]
    assert level_status({**_level_doc(), "stats": None})[0] == "error"
    short = _level_doc()
    short["stats"]["achieved_cps"] = 5.0
    assert level_status(short)[0] == "short"
    assert load_section([], []) is None
