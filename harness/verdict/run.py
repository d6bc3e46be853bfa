"""The run's one verdict, computed once and shown everywhere (results.json, the report's
front page, the terminal's last lines, JUnit, the exit code).

    ACCEPTED      every row of the plan was selected, ran and passed — the busy hour
                  included — and the billing reconciled with no discrepancy;
    NOT ACCEPTED  a row failed, or the billing did not reconcile: the rows are named;
    INCOMPLETE    the run was interrupted, or rows could not be judged (the harness's
                  own error, a host stall) or never ran;
    PARTIAL       every row that ran passed, but not every row of the plan ran
                  (selected away with -k/-m, or skipped): "PARTIAL (n of N rows run)".

A failure outranks everything: a person must not sign a run with a failed row even
if half the plan did not run. No pytest here: the plugin hands in what happened to
each row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class RowStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"  # ran, the harness could not judge it
    SKIPPED = "skipped"  # not run on purpose: deselected, or skipped with a reason
    NOT_RUN = "not run"  # selected, never reached a verdict (an interrupted run)


class RunWord(StrEnum):
    ACCEPTED = "ACCEPTED"
    NOT_ACCEPTED = "NOT ACCEPTED"
    INCOMPLETE = "INCOMPLETE"
    PARTIAL = "PARTIAL"


@dataclass(frozen=True, slots=True)
class RowOutcome:
    plan_id: str
    call_type: str
    status: RowStatus
    why: str = ""  # fail/error: the first reason; skipped/not run: why


@dataclass(frozen=True, slots=True)
class Coverage:
    plan_rows: int  # rows the plan holds
    selected: int  # rows this run was asked to run
    run: int  # rows that reached a verdict (pass, fail or error)
    not_run: tuple[tuple[str, str], ...]  # (plan id, why) of every row without one


@dataclass(frozen=True, slots=True)
class RunVerdict:
    word: RunWord
    text: str  # the word and why, one line
    coverage: Coverage
    failed: tuple[str, ...]  # plan ids
    errors: tuple[str, ...]  # plan ids the harness could not judge
    billing: tuple[str, ...]  # billing discrepancies
    rows: tuple[RowOutcome, ...] = ()  # every row of the plan, as judged

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["coverage"]["not_run"] = [{"plan_id": p, "why": w}
                                      for p, w in self.coverage.not_run]
        return doc


def _ids(rows: Sequence[RowOutcome]) -> str:
    shown = ", ".join(r.plan_id for r in rows[:8])
    return shown + (f" and {len(rows) - 8} more" if len(rows) > 8 else "")


def judge_run(rows: Sequence[RowOutcome], finished: bool, billing: Sequence[str] = (),
              run_errors: Sequence[str] = ()) -> RunVerdict:
    """`rows`: every row of the plan, selected or not; `billing`: the run's billing
    discrepancies (reconciled against the tariff); `run_errors`: what went wrong with
    the run itself (the switch failed, a worker died, billing not reconciled)."""
    by = {s: [r for r in rows if r.status is s] for s in RowStatus}
    ran = by[RowStatus.PASS] + by[RowStatus.FAIL] + by[RowStatus.ERROR]
    skipped, not_run = by[RowStatus.SKIPPED], by[RowStatus.NOT_RUN]
    coverage = Coverage(len(rows), len(rows) - sum(1 for r in skipped if r.why.startswith(
        "not selected")), len(ran), tuple((r.plan_id, r.why) for r in skipped + not_run))
    failed, errors = by[RowStatus.FAIL], by[RowStatus.ERROR]
    if failed or billing:
        parts = [f"{len(failed)} of {len(ran)} rows failed ({_ids(failed)})"] if failed else []
        parts += [f"billing: {len(billing)} discrepancies"] if billing else []
        parts += [f"{len(errors)} rows not judged ({_ids(errors)})"] if errors else []
        parts += [f"{len(skipped) + len(not_run)} of {len(rows)} rows not run"] \
            if skipped or not_run else []
        word, text = RunWord.NOT_ACCEPTED, "; ".join(parts)
    elif not finished or errors or not_run or not rows or run_errors:
        parts = [] if finished else ["the run was interrupted"]
        parts += [f"run error: {run_errors[0]}"] if run_errors else []
        parts += [f"{len(errors)} rows could not be judged ({_ids(errors)})"] if errors else []
        parts += [f"{len(not_run)} rows never ran ({_ids(not_run)})"] if not_run else []
        parts += ["the plan has no rows"] if not rows else []
        word, text = RunWord.INCOMPLETE, "; ".join(parts)
    elif skipped:
        word = RunWord.PARTIAL
        text = f"{len(ran)} of {len(rows)} rows run, all passed; not run: {_ids(skipped)}"
    else:
        word = RunWord.ACCEPTED
        text = f"all {len(rows)} rows of the plan ran and passed; billing reconciled"
    label = f"PARTIAL ({len(ran)} of {len(rows)} rows run)" if word is RunWord.PARTIAL \
        else word.value
    return RunVerdict(word, f"{label}: {text}", coverage, tuple(r.plan_id for r in failed),
                      tuple(r.plan_id for r in errors), tuple(billing), tuple(rows))
