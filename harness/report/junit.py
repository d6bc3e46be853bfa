"""`reports/<run-id>/junit.xml`: one <testcase> per plan row, for CI dashboards.

classname = the call type, name = the plan id; the rows and their outcomes are the
run's own verdict's (harness/verdict/run.py): a failed row is a <failure>, a row the
harness could not judge an <error> (type `invalid_measurement` when the host stalled:
the switch was not judged), a row that did not run <skipped> with why — each carrying
the reasons of the row's last call. The busy hour is a row like any other. The run's
own errors (the switch did not start, ...) are one extra <error> testcase named `run`;
the run's verdict is the suite's `verdict` property. A run recorded before runs were
judged has one testcase per call.
"""

from __future__ import annotations

import socket
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from harness.report.environment import redact_text
from harness.report.store import RunRecord


def _duration_s(call: dict[str, Any]) -> float:
    times = [float(e["t_mono"]) for e in call.get("events") or []]
    return max(times) - min(times) if times else 0.0


def _testcase(suite: ET.Element, call: dict[str, Any]) -> str:
    case = ET.SubElement(suite, "testcase", classname=str(call["call_type"]),
                         name=str(call["plan_id"]), time=f"{_duration_s(call):.3f}")
    reasons = [redact_text(r) for r in call.get("reasons") or []] or \
        ([redact_text(call["error"])] if call.get("error") else [])
    verdict = str(call["verdict"])
    if verdict == "fail":
        el = ET.SubElement(case, "failure", type="fail",
                           message=reasons[0] if reasons else "fail")
    elif verdict == "error":
        kind = "invalid_measurement" if call.get("invalid_measurement") else "error"
        el = ET.SubElement(case, "error", type=kind,
                           message=reasons[0] if reasons else kind)
    else:
        return "pass"
    el.text = "\n".join(reasons)
    props = ET.SubElement(case, "properties")
    for key in ("call_id", "final_code", "seq"):
        if call.get(key) not in (None, ""):
            ET.SubElement(props, "property", name=key, value=str(call[key]))
    return verdict


def _row_case(suite: ET.Element, row: dict[str, Any], calls: list[dict[str, Any]]) -> str:
    """One plan row (its calls: every attempt of it; the last one's reasons)."""
    case = ET.SubElement(suite, "testcase", classname=str(row["call_type"]),
                         name=str(row["plan_id"]),
                         time=f"{sum(_duration_s(c) for c in calls):.3f}")
    status = str(row["status"])
    last = calls[-1] if calls else {}
    reasons = [redact_text(r) for r in last.get("reasons") or []] or \
        [redact_text(str(row.get("why") or status))]
    if status == "pass":
        return "pass"
    if status in ("skipped", "not run"):
        ET.SubElement(case, "skipped", message=redact_text(str(row.get("why") or status)))
        return "skipped"
    kind = "failure" if status == "fail" else "error"
    el = ET.SubElement(case, kind, message=reasons[0],
                       type="invalid_measurement" if last.get("invalid_measurement")
                       else status)
    el.text = "\n".join(reasons)
    if last.get("call_id"):
        props = ET.SubElement(case, "properties")
        ET.SubElement(props, "property", name="call_id", value=str(last["call_id"]))
    return "fail" if status == "fail" else "error"


def junit_xml(run: RunRecord) -> ET.ElementTree:
    suite = ET.Element("testsuite", name="beta-acceptance", hostname=socket.gethostname(),
                       timestamp=time.strftime("%Y-%m-%dT%H:%M:%S",
                                               time.localtime(run.started_wall)))
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="run_id", value=run.run_id)
    ET.SubElement(props, "property", name="status", value=run.status)
    counts = {"pass": 0, "fail": 0, "error": 0, "skipped": 0}
    verdict = run.verdict or {}
    rows = verdict.get("rows")
    if rows:
        ET.SubElement(props, "property", name="verdict", value=str(verdict["text"]))
        for row in rows:
            counts[_row_case(suite, row, [c for c in run.calls
                                          if c.get("plan_id") == row["plan_id"]])] += 1
    else:
        for call in run.calls:
            counts[_testcase(suite, call)] += 1
    if run.errors:
        case = ET.SubElement(suite, "testcase", classname="harness", name="run", time="0")
        el = ET.SubElement(case, "error", type="run_error", message=redact_text(run.errors[0]))
        el.text = "\n".join(redact_text(e) for e in run.errors)
        counts["error"] += 1
    total = sum(counts.values())
    suite.set("tests", str(total))
    suite.set("failures", str(counts["fail"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.set("time", f"{sum(_duration_s(c) for c in run.calls):.3f}")
    root = ET.Element("testsuites", name=f"beta run {run.run_id}", tests=str(total),
                      failures=str(counts["fail"]), errors=str(counts["error"]),
                      skipped=str(counts["skipped"]))
    root.append(suite)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(run: RunRecord, out_dir: Path) -> Path:
    path = out_dir / "junit.xml"
    tmp = path.with_suffix(".xml.tmp")
    junit_xml(run).write(tmp, encoding="utf-8", xml_declaration=True)
    tmp.replace(path)
    return path
