"""`reports/<run-id>/junit.xml`: one <testcase> per call, for CI dashboards.

classname = the call type, name = the plan id; a `fail` verdict is a <failure>, an
`error` verdict an <error> (type `invalid_measurement` when the host stalled: the
switch was not judged), each carrying the verdict's reasons. The run's own errors
(the switch did not start, ...) are one extra <error> testcase named `run`.
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


def junit_xml(run: RunRecord) -> ET.ElementTree:
    suite = ET.Element("testsuite", name="beta-acceptance", hostname=socket.gethostname(),
                       timestamp=time.strftime("%Y-%m-%dT%H:%M:%S",
                                               time.localtime(run.started_wall)))
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="run_id", value=run.run_id)
    ET.SubElement(props, "property", name="status", value=run.status)
    counts = {"pass": 0, "fail": 0, "error": 0}
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
    suite.set("skipped", "0")
    suite.set("time", f"{sum(_duration_s(c) for c in run.calls):.3f}")
    root = ET.Element("testsuites", name=f"beta run {run.run_id}", tests=str(total),
                      failures=str(counts["fail"]), errors=str(counts["error"]))
    root.append(suite)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(run: RunRecord, out_dir: Path) -> Path:
    path = out_dir / "junit.xml"
    tmp = path.with_suffix(".xml.tmp")
    junit_xml(run).write(tmp, encoding="utf-8", xml_declaration=True)
    tmp.replace(path)
    return path
