"""Call pickup (a line answers a call ringing at another line of its pickup group):
the picking line's own call, and the row's call as the caller lived it.

A switch does it one of two ways, and both are legal:
* as a B2BUA: the picking line's call to the pickup code is answered by the switch,
  which bridges it to the caller's ringing call and answers that (200 to the caller's
  INVITE), cancelling the line that rang;
* as a proxy: the switch hands the picking line's INVITE to the caller with a Replaces
  header naming the caller's ringing call (RFC 3891, `early-only`); the caller's phone
  answers it and cancels its ringing call itself.

The harness follows either: the caller's worker accepts an INVITE with Replaces for its
ringing call ("ap", harness/sip/worker.py). `merged` makes one call of it for the
checks, the scores and the CDR: the caller's side (its ringing dialog's events, then
the one that took over), and the picking line as the far end that answered it. Nothing
here depends on which way the switch chose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from harness.run.deferred import Deferred
from harness.sip.scenario import CallOutcome, as_party


def pickup_call(place: Callable[[], CallOutcome], delay_s: float,
                ) -> Deferred[tuple[CallOutcome | None, str]]:
    """The picking line's call, placed in a thread of its own `delay_s` after the row's
    call was: `place` returns its outcome (the picking line is its caller, "a"); the
    result is (its outcome, or None; why not)."""
    return Deferred(lambda: (place(), ""), delay_s, "pickup-call",
                    lambda why: (None, f"the pickup call {why}"))


def merged(out: CallOutcome, picking: CallOutcome | None, why: str = "") -> CallOutcome:
    """The row's call as one call: the caller ("a": its ringing dialog's events until it
    was replaced, then those of the dialog that took over, whose Call-ID, media and
    recording it then has), the picking line's leg as the far end that answered ("b"),
    the lines that rang for it before (`forwarded_from`) and the caller's replaced
    ringing dialog (`replaced`, "a0"). A pickup call that could not be placed is the
    harness's error (`why`)."""
    rang = out.legs
    a, replaced = out.a, None
    if out.picked is not None:
        ringing = tuple(ev for ev in out.a.events if ev.kind != "DISCONNECTED")
        taken = as_party(out.picked, "a")
        assert taken is not None
        a = replace(taken, events=(*ringing, *taken.events),
                    final_code=200 if taken.answered else out.a.final_code)
        replaced = as_party(out.a, "a0")
    b = as_party(picking.a, "b") if picking is not None else None
    error = "; ".join(e for e in (out.error, why, picking.error if picking else "") if e)
    legs = (*rang, *([b] if b is not None else []))
    end = max([out.t_end_mono, *(ev.t_mono for ev in (b.events[-1:] if b else ()))])
    return replace(out, a=a, b=b, t_end_mono=end, error=error, legs=legs,
                   forwarded_from=tuple(leg.agent_name for leg in rang), also_rang=(),
                   picked=None, replaced=replaced,
                   strays=(*out.strays, *(picking.strays if picking else ())))
