"""A verdict as data: every criterion a call is judged on is one `Check`.

A judge (metrics.decide, call_types.call_type_checks, the TLS, SRTP, 3-way and CDR
judges of the call pipeline) returns checks, passed ones included, each
naming its criterion from one dotted vocabulary, the figure measured (with its unit),
the limit and where that limit came from. The call's verdict, its reasons (the
messages of the checks that did not pass), `results.json` and the report are made
from them: nothing downstream recovers a criterion from a message's text.

Criteria (the first part names the family):

    final_code                      the final response against the row's
    timing.srd_s / timing.setup_s   RFC 6076 set-up delays against the call's limits
    quality.<direction>.<source>    PESQ MOS-LQO (P.862.1/.2) of one direction, one source
    stream.loss_pct / .jitter_ms    the wire's RFC 3550 figures against the codec's limits
    cdr / cdr.<field> / cdr.further the switch's record of the call (and of further calls)
    routing, forwarding, caller_id, location, early_media, dtmf, hold, audio,
    transfer, 3-way, tls, srtp      the call type's own expectations (harness/verdict/call_types.py)
    harness                         what the harness could not carry through (an error)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"  # the switch did not do what the row expects
    INVALID = "invalid"  # measured during a host stall: neither pass nor the switch's fault
    ERROR = "error"  # the harness could not carry the call through or attribute it
    NOT_RUN = "not-run"  # the criterion applies but could not be evaluated on this call


@dataclass(frozen=True, slots=True)
class Check:
    criterion: str
    outcome: Outcome
    message: str = ""  # one line as a person reads it (the reason, when not passed)
    measured: float | int | str | None = None
    unit: str = ""
    limit: str = ""  # e.g. "<= 3.000", ">= 4.20"
    # "plan row 2.3" (the row's own limit), "harness/verdict/thresholds.py: local" (the
    # table's), "beta.yaml: thresholds.local" (the config's), "score" (a score's own floor)
    limit_from: str = ""
    evidence: str = ""  # a file of the call's folder that shows it, when there is one
    # why the harness could not judge it (an INVALID check, or an ERROR of its own
    # measuring): the host's stall in the figure's window, a CDR write the switch's own
    # store refused, a delay stage that died. Set by the check's producer; a re-placing
    # names each cause once (harness/run/session.py: invalid_because)
    cause: str = ""

    @property
    def family(self) -> str:
        return self.criterion.split(".", 1)[0]

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS

    def as_json(self) -> dict[str, object]:
        doc: dict[str, object] = {"criterion": self.criterion, "outcome": self.outcome.value}
        for key in ("message", "measured", "unit", "limit", "limit_from", "evidence", "cause"):
            value = getattr(self, key)
            if value not in ("", None):
                doc[key] = value
        return doc


# how a score's or a timing's reasons mark one that made the figure invalid (not the
# switch's fail): "invalid_measurement: <cause>"
INVALID_MEASUREMENT = "invalid_measurement: "


def invalid_reason(cause: str) -> str:
    return INVALID_MEASUREMENT + cause


def cause_of(reason: str) -> str:
    """The cause an invalid reason names; "" for any other reason."""
    return reason.removeprefix(INVALID_MEASUREMENT) if reason.startswith(INVALID_MEASUREMENT) \
        else ""


def failed(criterion: str, messages: Iterable[str]) -> list[Check]:
    """A judge's failure messages as failed checks of `criterion`."""
    return [Check(criterion, Outcome.FAIL, m) for m in messages]


def passed(criterion: str, measured: float | int | str | None = None, unit: str = "",
           limit: str = "", limit_from: str = "") -> Check:
    return Check(criterion, Outcome.PASS, "", measured, unit, limit, limit_from)


def judged(criterion: str, messages: Iterable[str]) -> list[Check]:
    """A judge that returns failure messages only: failed checks, or one passed check
    of `criterion` when there were none."""
    out = failed(criterion, messages)
    return out or [passed(criterion)]


def reasons(checks: Iterable[Check]) -> tuple[str, ...]:
    """The messages of the checks that did not pass, in order (the verdict's reasons)."""
    return tuple(c.message for c in checks if not c.passed)
