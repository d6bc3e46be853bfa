import json
from pathlib import Path

from harness.model import (
    CallResult,
    CallSpec,
    CallTiming,
    CdrCheck,
    QualityScore,
    Status,
    Verdict,
)
from harness.report.results import ResultStore, call_to_json
from harness.run.runner import error_result


def _result(plan_id: str, status: Status) -> CallResult:
    q = tuple(QualityScore(d, s, 4.28, "nb", True) for d in ("a_to_b", "b_to_a")
              for s in ("agent", "wire"))
    return CallResult(CallSpec(plan_id, "on-net cross-site", "site1/01", "site2/01"), "cid",
                      200, CallTiming(0.003, 1.004, 13.3, 0.001), q, CdrCheck(True), None,
                      Verdict(status, () if status is Status.PASS else ("cdr: no record",)))


def test_every_call_is_on_disk_as_soon_as_it_is_measured(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "run-1", "run-1", {"sut": "x"})
    store.add(_result("1.1", Status.PASS))
    # a crash here must keep call 1.1: the file is already complete JSON
    doc = json.loads((tmp_path / "run-1" / "results.json").read_text())
    assert doc["status"] == "INCOMPLETE" and [c["plan_id"] for c in doc["calls"]] == ["1.1"]
    store.add(_result("1.2", Status.FAIL))
    store.close()
    doc = json.loads((tmp_path / "run-1" / "results.json").read_text())
    assert doc["status"] == "complete"
    assert doc["summary"] == {"calls": 2, "pass": 1, "fail": 1, "error": 0}
    c = doc["calls"][1]
    for key in ("plan_id", "call_type", "verdict", "reasons"):
        assert key in c
    assert c["verdict"] == "fail" and c["reasons"] == ["cdr: no record"]
    assert c["timing"]["srd_s"] == 0.003 and c["timing"]["setup_s"] == 1.004
    assert c["quality"]["a_to_b"]["mos_lqo"] == 4.28 and c["quality"]["b_to_a"]["mos_lqo"] == 4.28
    assert c["cdr"]["matched"] is True and c["cdr"]["mismatches"] == []
    assert (tmp_path / "latest").resolve() == (tmp_path / "run-1").resolve()
    assert "1.2" in (tmp_path / "run-1" / "index.html").read_text()


def test_run_errors_are_kept_beside_the_calls(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r", "r", {})
    store.add(_result("1.1", Status.PASS))
    store.add_error("Kamailio refused its config: line 12: syntax error")
    doc = json.loads((tmp_path / "r" / "results.json").read_text())
    assert doc["errors"] == ["Kamailio refused its config: line 12: syntax error"]
    assert len(doc["calls"]) == 1


def test_rfc6076_aggregates_per_call_type_and_overall(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r", "r", {})
    store.add(_result("1.1", Status.PASS))
    store.add(_result("1.2", Status.FAIL))
    doc = json.loads((tmp_path / "r" / "results.json").read_text())
    agg = doc["rfc6076"]
    assert agg["overall"]["attempts"] == 2 and agg["overall"]["ser_pct"] == 100.0
    assert agg["overall"]["srd"]["p50_s"] == 0.003
    assert set(agg["by_call_type"]) == {"on-net cross-site"}


def test_old_run_directories_are_pruned_never_the_current_one(tmp_path: Path) -> None:
    from harness.report.results import prune_runs

    names = [f"20261201-0000{i:02d}-1{i}" for i in range(5)]
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text("{}")
    (tmp_path / "notes").mkdir()  # not a run: left alone
    assert prune_runs(tmp_path, 3, current=names[0]) == [names[2], names[1]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([names[0], names[3],
                                                                  names[4], "notes"])
    assert prune_runs(tmp_path, 0) == []


def test_a_call_that_ended_before_its_limits_were_compiled_stores_none() -> None:
    """A row whose limits are the table's (TABLE) and that never got judged (the dial
    guard refused it) stores no placeholder: its limits were not checked."""
    doc = call_to_json(error_result(CallSpec("2.3", "ld", "site1/01", "19785550123"),
                                    "refused by the dial guard", 0.0))
    assert {k: doc["expect"][k] for k in ("srd_s_max", "setup_s_max", "mos_lqo_min")} == {
        "srd_s_max": None, "setup_s_max": None, "mos_lqo_min": None}
    json.dumps(doc)  # plain JSON all the way down
