"""The words a plan row chooses from: one `Literal` per choice, checked when the row is
built (`harness.model.CallSpec.__post_init__`).

A misspelt choice used to run: `callee_behaviour="bussy"` rang and never answered,
`transfer_kind="atended"` failed only when its row was placed. Each choice is a
`Literal` (mypy checks a plan's literal strings against it) and `choice_problem`
names any other value at construction — the field, the value and the words allowed —
for `harness.model.PlanRowError`, which `pytest --collect-only testplans` reports
with the plan file.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal, get_args

# how a called beta line behaves (harness/sip/scenario.py FarEndPolicy)
CalleeBehaviour = Literal["answer", "busy", "no_answer"]
HangupBy = Literal["caller", "callee"]
# "blind": REFER at once; "attended": consult the target first, REFER with Replaces
# (RFC 5589 §7)
TransferKind = Literal["blind", "attended"]
Transport = Literal["udp", "tls"]  # signalling transport of a row's phones (RFC 3261 §18)
Codec = Literal["PCMU", "PCMA", "G722"]  # what the agents offer (harness/sip/stack.py)
# early media the caller must hear (RFC 3960): audible ringing, or an intercept's SIT
EarlyMediaKind = Literal["ringback", "sit"]
# the classes a dial string is routed in (harness/pstn/directory.py classify), plus
# "incomplete" (a declared too-short test string), "incoming" (a call from the PSTN) and
# "tollfree_in" (a call from the PSTN to a toll-free number the switch serves: billed
# to the site called)
CallClass = Literal["onnet", "local", "ld_intralata", "ld_interlata", "international",
                    "tollfree", "directory", "operator", "n11", "emergency", "incomplete",
                    "incoming", "tollfree_in"]
# trunk groups of the simulated PSTN (harness/pstn/directory.py TRUNKS), and the lab's
# voicemail platform's ("vm", VOICEMAIL_TRUNK): "pstn:<trunk>"
Trunk = Literal["local", "ld", "intl", "tollfree", "operator", "n11", "psap", "ld2", "vm"]
# call forwarding kinds a beta line can be provisioned with (numbers.forwarding)
ForwardKind = Literal["unconditional", "busy", "no_answer"]

ANONYMOUS_ID = "anonymous"  # Expect.caller_id of a withheld calling number
NOBODY = "none"  # Expect.rings: no far end may ring
# the NANP vertical service code for call return ("*69"): a plan row dials it after its
# `calls_before`; a switch that uses another code is told in numbers.call_return
CALL_RETURN = "*69"
# what a plan row dials for the voicemail platform's pilot (numbers.voicemail_pilot), and
# the far end that answers for it: the lab's voicemail platform, reached on a trunk group
# of its own (harness/pstn/voicemail.py)
VOICEMAIL = "voicemail"
VOICEMAIL_SEAT = "pstn:vm"
VOICEMAIL_TRUNK = "vm"
# the NANP vertical service code a caller dials before a number to withhold its own
# (plans dial "*67site2/01"; numberplan.py resolves the line after it)
PRIVACY_CODE = "*67"


def allowed(choice: Any) -> tuple[str, ...]:
    """The words of a `Literal` choice (or a `StrEnum`'s values), in declared order."""
    if isinstance(choice, type) and issubclass(choice, Enum):
        return tuple(str(m.value) for m in choice)
    return tuple(get_args(choice))


def in_choice(value: object, choice: Any) -> bool:
    return isinstance(value, str) and value in allowed(choice)


def choice_problem(field: str, value: object, choice: Any, none_ok: bool = False
                   ) -> list[str]:
    """[] when `value` is one of the words of `choice` (or None, when `none_ok`); else
    the problem, naming the field, the value and every word allowed."""
    if (value is None and none_ok) or in_choice(value, choice):
        return []
    words = ((None,) if none_ok else ()) + allowed(choice)
    return [f"{field} = {value!r}: must be one of {', '.join(map(repr, words))}"]
