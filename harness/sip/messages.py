"""What the controller (farm.py) and an agent worker (worker.py) say to each other over
their pipe: one frozen dataclass a message, pickled by multiprocessing. The pipe is
typed at both ends: a worker handles an `Order`, the farm a `Report`, each with one
`match` over these classes; anything else is a programming error, named.

    controller -> worker            worker -> controller
    Expect    a call may ring you   Ready     started: its SIP ports
    Dial      place this call       Failed    could not start / crashed: why
    Finish    the call is over      Stopped   stopped when asked
    Abort     the switch is gone    Stalls    its pump loop ran late (stall guard)
    Adopt     host this seat        Expected  ready for the call
    Drop      no longer host it     ADone     the caller's leg(s) of the call
    Stop      end                   Finished  the far-end legs it answered
                                    Adopted / Dropped  '' or why not
                                    StrayInvite  an INVITE no call could be attributed to
                                    Notified  a line got a message-waiting NOTIFY
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.sip.attribution import Stray
from harness.sip.scenario import CallOrder, FarEndPolicy, LegOutcome, Script, Seat


# -- controller -> worker ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Expect:
    key: str  # the call's key (CallOrder.key)
    far_end: FarEndPolicy
    script: Script


@dataclass(frozen=True, slots=True)
class Dial:
    order: CallOrder


@dataclass(frozen=True, slots=True)
class Finish:
    key: str


@dataclass(frozen=True, slots=True)
class Abort:
    why: str


@dataclass(frozen=True, slots=True)
class Adopt:
    seat: Seat


@dataclass(frozen=True, slots=True)
class Drop:
    seat: str  # the seat's name


@dataclass(frozen=True, slots=True)
class Stop:
    pass


Order = Expect | Dial | Finish | Abort | Adopt | Drop | Stop


# -- worker -> controller ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Ready:
    port: int
    tls_port: int


@dataclass(frozen=True, slots=True)
class Failed:
    why: str


@dataclass(frozen=True, slots=True)
class Stopped:
    cpu_s: float = 0.0  # user + system CPU the worker used, all its threads, to its end


@dataclass(frozen=True, slots=True)
class Stalls:
    lates: tuple[tuple[float, float], ...]  # (monotonic end, seconds late) of each pump


@dataclass(frozen=True, slots=True)
class Expected:
    key: str


@dataclass(frozen=True, slots=True)
class ADone:
    key: str
    leg: LegOutcome  # the caller's leg
    error: str
    t_start: float
    t_end: float
    more: tuple[LegOutcome, ...] = ()  # the caller's other calls (transferred, 3-way)


@dataclass(frozen=True, slots=True)
class Finished:
    key: str
    legs: tuple[LegOutcome, ...]


@dataclass(frozen=True, slots=True)
class Adopted:
    seat: str
    problem: str  # '' or why not


@dataclass(frozen=True, slots=True)
class Dropped:
    seat: str
    problem: str


@dataclass(frozen=True, slots=True)
class StrayInvite:
    stray: Stray


@dataclass(frozen=True, slots=True)
class Notified:
    """An unsolicited NOTIFY message-summary (RFC 3842) reached a line of the worker."""

    seat: str  # the line's name ("unknown:<user>" for no line of the worker)
    t_wall: float
    message: str  # the request as received


Report = Ready | Failed | Stopped | Stalls | Expected | ADone | Finished | Adopted | Dropped | \
    StrayInvite | Notified
