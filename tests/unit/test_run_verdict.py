"""The run's one verdict: ACCEPTED only when every row ran and passed and the billing
reconciled; a failed row is never hidden by a partial or interrupted run."""

from harness.verdict.run import RowOutcome, RowStatus, RunWord, judge_run

P, F, E, S, N = (RowStatus.PASS, RowStatus.FAIL, RowStatus.ERROR, RowStatus.SKIPPED,
                 RowStatus.NOT_RUN)


def rows(*statuses: RowStatus, why: str = "") -> list[RowOutcome]:
    return [RowOutcome(f"1.{i}", "t", s, why) for i, s in enumerate(statuses, 1)]


def test_accepted_only_when_every_row_ran_and_passed_and_billing_reconciled() -> None:
    v = judge_run(rows(P, P, P), finished=True)
    assert v.word is RunWord.ACCEPTED
    assert v.text == "ACCEPTED: all 3 rows of the plan ran and passed; billing reconciled"
    assert (v.coverage.plan_rows, v.coverage.selected, v.coverage.run) == (3, 3, 3)


def test_a_failed_row_or_a_billing_discrepancy_is_not_accepted_naming_them() -> None:
    v = judge_run(rows(P, F, P), finished=True)
    assert v.word is RunWord.NOT_ACCEPTED and v.failed == ("1.2",)
    assert v.text == "NOT ACCEPTED: 1 of 3 rows failed (1.2)"
    b = judge_run(rows(P, P), finished=True, billing=("2 orphan CDR rows",))
    assert b.word is RunWord.NOT_ACCEPTED and "billing: 1 discrepancies" in b.text


def test_a_subset_run_is_partial_and_says_how_much_ran() -> None:
    v = judge_run(rows(P, S, S, S, why="not selected (-k/-m)"), finished=True)
    assert v.word is RunWord.PARTIAL
    assert v.text.startswith("PARTIAL (1 of 4 rows run): 1 of 4 rows run, all passed")
    assert v.coverage.selected == 1 and len(v.coverage.not_run) == 3


def test_a_failure_outranks_a_partial_or_interrupted_run() -> None:
    v = judge_run(rows(F, S, N, why="not selected (-k/-m)"), finished=False)
    assert v.word is RunWord.NOT_ACCEPTED
    assert "2 of 3 rows not run" in v.text


def test_interrupted_unjudged_or_unreached_rows_are_incomplete() -> None:
    assert judge_run(rows(P, P), finished=False).word is RunWord.INCOMPLETE
    e = judge_run(rows(P, E), finished=True)
    assert e.word is RunWord.INCOMPLETE and e.errors == ("1.2",)
    assert e.text == "INCOMPLETE: 1 rows could not be judged (1.2)"
    assert judge_run(rows(P, N), finished=True).word is RunWord.INCOMPLETE
    assert judge_run([], finished=True).word is RunWord.INCOMPLETE


def test_a_run_error_makes_an_otherwise_clean_run_incomplete() -> None:
    v = judge_run(rows(P, P), finished=True, run_errors=("agent worker w3 exited (-9)",))
    assert v.word is RunWord.INCOMPLETE
    assert v.text == "INCOMPLETE: run error: agent worker w3 exited (-9)"
