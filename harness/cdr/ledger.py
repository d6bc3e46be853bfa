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

    `call_ids`: the Call-IDs of the call's other dialogs as the agents saw them (the
    far end's leg, every leg that rang). Through a proxy they equal `call_id`; through
    a B2BUA each leg has its own, and the switch may record any of them.
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
    call_ids: tuple[str, ...] = ()

    @property
    def dialogs(self) -> tuple[str, ...]:
        """Every Call-ID of the call, the caller's first, each once."""
        return tuple(dict.fromkeys(c for c in (self.call_id, *self.call_ids) if c))

    @property
    def talk_s(self) -> float | None:
        if self.answer_wall is None or self.end_wall is None:
            return None
        return self.end_wall - self.answer_wall
