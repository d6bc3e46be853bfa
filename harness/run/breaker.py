"""The circuit breaker of a run: after `limit` calls in a row lost the switch (it
exited, or stopped answering OPTIONS after a call), no more calls are placed; each
later row is the harness's `error` naming why, and the run is INCOMPLETE.

Pure: `failure` says why the switch is down ('' while it runs), so this is unit-tested
without one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

LOST_OPTIONS = "switch did not answer OPTIONS"  # CallResult.error after the call's probe


@dataclass
class CircuitBreaker:
    limit: int  # sut.circuit_breaker (at least 1)
    failure: Callable[[], str]  # why the switch (or the lab's other carrier) is down
    losses: int = 0  # calls in a row that lost the switch
    last_failure: str = ""
    switch_failed: bool = False  # the switch failed at least once during the run
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def open(self) -> bool:
        return self.losses >= max(1, self.limit)

    def refusal(self) -> str:
        """Why a call is not dialled, while the breaker is open."""
        return (f"not dialled: circuit breaker open after {self.losses} calls in a row lost "
                f"the switch ({self.last_failure})")

    def count(self, call_error: str) -> None:
        """One call done: did it lose the switch? (`call_error`: its CallResult.error)"""
        why = self.failure()
        with self._lock:
            if why or LOST_OPTIONS in call_error:
                self.losses += 1
                self.last_failure = why or "no answer to OPTIONS"
                self.switch_failed = True
            else:
                self.losses = 0
