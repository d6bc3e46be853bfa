"""The nightly's job summary: the run's verdict word, coverage, billing and each failing
row with why, from results.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.report.jobsummary import job_summary, main

DOC = {"finished": True, "verdict": {
    "word": "NOT ACCEPTED", "text": "NOT ACCEPTED: 1 of 3 rows failed (2.3)",
    "coverage": {"plan_rows": 3, "selected": 3, "run": 3, "not_run": []},
    "rows": [{"plan_id": "1.1", "call_type": "on-net", "status": "pass", "why": ""},
             {"plan_id": "2.3", "call_type": "long distance", "status": "fail", "why": ""}]},
    "billing": {"calls": 3, "cdr_rows": 3, "missing": 0, "orphans": 0, "charge": "0.01",
                "expected_charge": "0.01"},
    "calls": [{"plan_id": "2.3", "verdict": "fail",
               "reasons": ["routing: pstn:local rang, expected pstn:ld | trunk"]}]}


def test_a_failing_run_names_each_failing_row_and_why() -> None:
    text = job_summary(DOC)
    assert text.startswith("## Beta acceptance: NOT ACCEPTED")
    assert "| 2.3 | long distance | fail | routing: pstn:local rang, expected pstn:ld / trunk |" \
        in text
    assert "| 1.1 |" not in text and "Billing: 3 calls, 3 CDR rows, 0 missing" in text


def test_an_accepted_run_says_so_and_an_unfinished_one_is_incomplete() -> None:
    ok = {**DOC, "verdict": {**DOC["verdict"], "word": "ACCEPTED", "rows": []}}
    assert "Every row of the plan ran and passed." in job_summary(ok)
    assert job_summary({"finished": False}).startswith("## Beta acceptance: INCOMPLETE")


def test_no_results_file_is_said_and_exits_non_zero(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "none.json")]) == 1
    assert "no result" in capsys.readouterr().out
    (tmp_path / "r.json").write_text(json.dumps(DOC))
    assert main([str(tmp_path / "r.json")]) == 0
