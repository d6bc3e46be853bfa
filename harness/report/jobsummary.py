"""The run's verdict and its failing rows as Markdown, for a CI job summary
(`$GITHUB_STEP_SUMMARY`): what a reader of the nightly sees without opening the
artifact.

    .venv/bin/python -m harness.report.jobsummary reports/latest/results.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

MAX_ROWS = 30  # failing rows listed; the rest are counted


def job_summary(doc: dict[str, Any]) -> str:
    verdict = doc.get("verdict") or {}
    word = verdict.get("word") or ("INCOMPLETE" if not doc.get("finished") else "UNKNOWN")
    lines = [f"## Beta acceptance: {word}", "", verdict.get("text") or "", ""]
    cov = verdict.get("coverage") or {}
    if cov:
        lines.append(f"Plan rows {cov.get('plan_rows')} · selected {cov.get('selected')} · "
                     f"run {cov.get('run')} · not run {len(cov.get('not_run') or [])}")
    billing = doc.get("billing") or {}
    if billing:
        lines.append(f"Billing: {billing.get('calls')} calls, {billing.get('cdr_rows')} CDR "
                     f"rows, {billing.get('missing')} missing, {billing.get('orphans')} "
                     f"orphan(s); charge {billing.get('charge')} (expected "
                     f"{billing.get('expected_charge')})")
    bad = [r for r in verdict.get("rows") or [] if r.get("status") != "pass"]
    reasons = {str(c.get("plan_id")): c.get("reasons") or [] for c in doc.get("calls") or []
               if c.get("verdict") != "pass"}
    if bad:
        lines += ["", "| row | call type | status | why |", "| --- | --- | --- | --- |"]
        for r in bad[:MAX_ROWS]:
            why = r.get("why") or "; ".join(reasons.get(str(r.get("plan_id")), [])[:2])
            lines.append(f"| {r.get('plan_id')} | {r.get('call_type')} | {r.get('status')} | "
                         f"{str(why).replace('|', '/')[:300]} |")
        if len(bad) > MAX_ROWS:
            lines.append(f"| … | {len(bad) - MAX_ROWS} more | | |")
    elif word == "ACCEPTED":
        lines += ["", "Every row of the plan ran and passed."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else "reports/latest/results.json")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"## Beta acceptance: no result\n\n{path}: {exc}")
        return 1
    print(job_summary(doc), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
