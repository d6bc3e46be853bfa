"""The session's collaborators that need no switch: the circuit breaker, the test
hooks and the billing close-out (harness/run/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
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
