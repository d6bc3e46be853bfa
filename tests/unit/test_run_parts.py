"""The session's collaborators that need no switch: the circuit breaker, the test
hooks and the billing close-out (harness/run/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cdr.ledger import Ledger
from harness.cdr.reconcile import CallReconciliation, CdrPolicy, RunReconciliation
from harness.errors import HarnessError
from harness.model import CdrCheck, Mismatch
from harness.run.billing import close_billing
from harness.run.breaker import LOST_OPTIONS, CircuitBreaker
from harness.run.hooks import NO_HOOKS, TestHooks


def test_the_breaker_opens_after_the_limit_of_calls_in_a_row_that_lost_the_switch() -> None:
    down = [""]
    breaker = CircuitBreaker(2, lambda: down[0])
    breaker.count("")
    assert not breaker.open and not breaker.switch_failed
    down[0] = "kamailio exited (code 1)"
    breaker.count("")
    assert not breaker.open and breaker.switch_failed  # one loss: still placing calls
    breaker.count("")
    assert breaker.open
    assert breaker.refusal() == ("not dialled: circuit breaker open after 2 calls in a row "
                                 "lost the switch (kamailio exited (code 1))")


def test_a_call_that_kept_the_switch_resets_the_count_but_not_the_runs_failure() -> None:
    breaker = CircuitBreaker(2, lambda: "")
    breaker.count(f"{LOST_OPTIONS} after the call")
    assert breaker.losses == 1 and breaker.last_failure == "no answer to OPTIONS"
    breaker.count("")
    assert breaker.losses == 0 and not breaker.open
    assert breaker.switch_failed  # the run still says the switch failed once: INCOMPLETE


def test_a_limit_below_one_still_needs_one_lost_call() -> None:
    breaker = CircuitBreaker(0, lambda: "")
    assert not breaker.open
    breaker.count(LOST_OPTIONS)
    assert breaker.open


def test_test_hooks_refuse_an_agent_fault_no_agent_knows() -> None:
    with pytest.raises(HarnessError, match="unknown agent fault.*bridge_no_a_to_b"):
        TestHooks(agent_faults=frozenset({"bridge_no_a_to_b"}))
    assert not NO_HOOKS.any
    assert TestHooks(codec_override="PCMA").any


class _Book:
    """A CDR book's surface the close-out uses (harness/cdr/book.py)."""

    def __init__(self, ledgers: list[object], error: str = "") -> None:
        self.ledgers, self.error = ledgers, error

    def close(self) -> object:
        raise HarnessError(self.error)


def test_a_book_that_cannot_be_closed_is_a_run_error_naming_why(tmp_path: Path) -> None:
    out = close_billing(_Book([object()], "cdr source unreadable: /x.db"), tmp_path)  # type: ignore[arg-type]
    assert out.billing is None
    assert out.error == "billing not reconciled: cdr source unreadable: /x.db"
    assert not (tmp_path / "billing.txt").exists()


def test_no_calls_no_billing(tmp_path: Path) -> None:
    out = close_billing(_Book([]), tmp_path)  # type: ignore[arg-type]
    assert out.billing is None and out.error == ""


class _ClosedBook:
    """A book that closes into `run` (harness/cdr/book.py's surface)."""

    def __init__(self, run: RunReconciliation) -> None:
        self.ledgers, self.run = [object()], run
        self.policy = CdrPolicy()

    def close(self) -> RunReconciliation:
        return self.run


def _run_with_a_missing_record() -> RunReconciliation:
    def call(cid: str, matched: bool) -> CallReconciliation:
        ledger = Ledger(cid, "4135550101", "4135550102", False, None, None, 1.0,
                        disposition="failed")
        missing = () if matched else (Mismatch("cdr", f"1 record for Call-ID {cid}", "none"),)
        return CallReconciliation(ledger, CdrCheck(matched, missing))
    return RunReconciliation((call("kept", True), call("lost", False)))


def test_a_record_the_harnesss_own_switch_failed_to_write_is_its_error_not_billings(
        tmp_path: Path) -> None:
    """The embedded switch logged 'database is locked' during the run: a call without
    its record is left out of the billing and named as the harness's error; the same
    run without such a log line keeps the discrepancy against the switch."""
    refused = "the embedded switch's CDR store refused 1 write(s) since the mark"
    out = close_billing(_ClosedBook(_run_with_a_missing_record()), tmp_path,  # type: ignore[arg-type]
                        refused)
    assert out.billing is not None and out.billing["discrepancies"] == []
    assert out.billing["calls"] == 1
    assert "1 call(s) without a CDR left out of the billing (lost)" in out.error
    assert refused in out.error
    blamed = close_billing(_ClosedBook(_run_with_a_missing_record()), tmp_path)  # type: ignore[arg-type]
    assert blamed.error == "" and blamed.billing is not None
    assert blamed.billing["discrepancies"] == [
        "lost: cdr: expected 1 record for Call-ID lost, got none"]
