"""A fax row to a T.38 line (`numbers.t38_lines`): the line's fax machine is the
harness's T.38 terminal (harness/sip/t38line.py) for the row. The line is moved to it
(REGISTER: the switch learns where the line is only from a REGISTER), the call placed
as any fax row's (the caller's G.711 fax terminal in its agent), the terminal's side
taken as the call's far end, and the line moved back.

Judged (`t38_fax_checks`), beside the fax check every fax row has (both T.30 sessions
ended normally, the page received is the page sent, bit for bit):
  * the switch offered the line T.38 (else the line refused the call: its 488 names
    what it was offered, harness/run/runner.py `judge_refusal`);
  * a damaged page is the path's when the UDPTL toward the terminal lost IFP packets
    its redundancy did not recover, or the gateway converted what it received wrongly;
    the harness's own when the caller's agent sent its fax tones late (the talking
    agent's lateness, as for speech: harness/media/assess.py), an invalid measurement."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.media.assess import TALKER_LATE_MS
from harness.model import Line
from harness.sip.scenario import CallOutcome
from harness.sip.t38line import T38Line
from harness.verdict.checks import Check, Outcome, invalid_reason, judged

T38_EVIDENCE = "t38.json"


class T38Call:
    """The T.38 terminal of one fax row's called line, for the row's call."""

    def __init__(self, line: Line, receive_into: Path) -> None:
        self.line = line
        self.ua = T38Line(line.name, line.number)
        self.ua.expect(receive_into)
        self.figures: dict[str, Any] = {}  # the UDPTL side, once the call is down

    @contextmanager
    def registered(self, move: Callable[[Line, str, str], None],
                   old_contact: str) -> Iterator[None]:
        """The line registered at the terminal for the call (`move(line, old, new)`:
        harness/run/registrations.py), and back at `old_contact` after it."""
        move(self.line, old_contact, self.ua.contact)
        try:
            yield
        finally:
            move(self.line, self.ua.contact, old_contact)

    def outcome(self, out: CallOutcome, call_dir: Path) -> CallOutcome:
        """The call with the terminal's side as its far end ("b"), its figures kept
        (`figures`, and as t38.json); the terminal closed."""
        try:
            leg = self.ua.leg()
            self.figures = self.ua.figures()
        finally:
            self.ua.close()
        (call_dir / T38_EVIDENCE).write_text(json.dumps(self.figures, indent=2))
        if leg is None:
            return out
        end = max([out.t_end_mono, *(ev.t_mono for ev in leg.events[-1:])])
        return replace(out, b=leg, legs=(*out.legs, leg), t_end_mono=end)


def t38_fax_checks(fails: list[str], figures: dict[str, Any],
                   caller_late_ms: float | None) -> list[Check]:
    """The fax check of a call to a T.38 line: `fails`, the fax row's own failures
    (harness/verdict/call_types.py `fax_checks`); `figures`, the terminal's UDPTL
    figures (t38.json); `caller_late_ms`, how far the caller's agent sent its fax tones
    behind its media clock (None: not known)."""
    if not fails:
        return judged("fax", [])
    if caller_late_ms is not None and caller_late_ms > TALKER_LATE_MS:
        cause = (f"{'; '.join(fails)}, yet the harness's calling fax terminal sent its "
                 f"tones up to {caller_late_ms:.0f} ms behind its media clock (at most "
                 f"{TALKER_LATE_MS:.0f} ms): its host starved it")
        return [Check("fax", Outcome.INVALID, invalid_reason(cause), cause=cause,
                      evidence=T38_EVIDENCE)]
    path = (f"UDPTL toward the T.38 terminal: {figures.get('udptl_received', 0)} packets "
            f"received, {figures.get('ifp_recovered', 0)} IFP packets recovered from "
            f"redundancy, {figures.get('ifp_lost', 0)} lost, "
            f"{figures.get('undecodable', 0)} not UDPTL")
    return [Check("fax", Outcome.FAIL, f"{fails[0]} (the path: {path})",
                  evidence=T38_EVIDENCE), *(Check("fax", Outcome.FAIL, f) for f in fails[1:])]
