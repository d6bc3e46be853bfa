"""junit.xml: one testcase per call, failures and errors carrying the reasons."""

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.report.junit import write_junit
from harness.report.store import RunRecord


def test_one_testcase_per_call_with_the_verdicts_reasons(tmp_path: Path,
                                                         report_run: RunRecord) -> None:
    root = ET.parse(write_junit(report_run, tmp_path)).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == \
        [(c["call_type"], c["plan_id"]) for c in report_run.calls]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("7", "3", "1")
    failure = cases[3].find("failure")
    assert failure is not None and failure.get("message") == "cdr: no record for this call"
    error = cases[4].find("error")
    assert error is not None and error.get("type") == "invalid_measurement"
    assert error.text is not None and error.text.count("host stalled 793 ms") == 4
    assert cases[0].find("failure") is None and cases[0].find("error") is None
    assert float(cases[0].get("time") or 0) > 14.0  # INVITE to the last BYE


def test_run_errors_are_reported_as_their_own_testcase(tmp_path: Path) -> None:
    run = RunRecord("r", 0.0, True, "", {}, ("'kamailio' not found",), ())
    root = ET.parse(write_junit(run, tmp_path)).getroot()
    (case,) = root.iter("testcase")
    assert case.get("name") == "run" and root.get("errors") == "1"
    error = case.find("error")
    assert error is not None and error.get("message") == "'kamailio' not found"
