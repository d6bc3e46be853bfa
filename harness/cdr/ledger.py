"""The agents' own account of a call: the ground truth a CDR is checked against."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Ledger:
    """What really happened on a call, from the agents (wall clock, seconds).

    `disposition` (answered | busy | no_answer | failed | cancelled) is what the
    caller's agent saw; empty means "answered" when `answered`, else "some kind of
    not answered". `call_class` empty skips the call-class check. `start_wall` is
    when the INVITE left; matching on numbers and time uses it for unanswered calls.
    """

    call_id: str
    caller: str
    callee: str
    answered: bool
    answer_wall: float | None
    end_wall: float | None
    start_wall: float | None = None
    call_class: str = ""
    disposition: str = ""

    @property
    def talk_s(self) -> float | None:
        if self.answer_wall is None or self.end_wall is None:
            return None
        return self.end_wall - self.answer_wall
