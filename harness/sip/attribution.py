"""Which call the harness placed an incoming INVITE belongs to — from what any switch
must deliver, nothing the harness added.

A carrier's switch is a B2BUA: the far end sees a new Call-ID and new tags, no
private header, the calling number in another form. So an INVITE reaching a far end
of the harness is matched to a call in progress by:

1. the harness's own `X-Harness-Call` header, when it survived — a hint, never
   required;
2. the calling number (From, P-Asserted-Identity, Remote-Party-ID; national, 1+10,
   E.164, tel: — compared canonically, `harness.numbers`) *and* who rang (the line,
   or the PSTN number in the R-URI/To) — "number+seat";
3. the calling number alone — "number" (a switch that rang the wrong far end is
   still attributed, so the misroute is reported as the switch's);
4. who rang alone — "seat" (a withheld or rewritten caller ID); the plan scheduler
   never runs two calls that one far end could confuse this way at once.

Only calls whose order reached the worker before the INVITE are candidates. Two
calls fitting equally well, or none, leave the INVITE unattributed: a `Stray` the
controller reports as the harness's own `error` for the calls it may have been,
never as a routing fault of the switch. No pjsua2 here: pure, unit-tested logic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.numbers import ANONYMOUS, canonical, user_part
from harness.party import Party

PSTN_SEAT = "pstn#"  # a far end in the simulated PSTN: "pstn#" + canonical number


def pstn_seat(number: str, home_npa: str = "") -> str:
    return PSTN_SEAT + canonical(number, home_npa)


@dataclass(frozen=True, slots=True)
class CallIdentity:
    """What a call's far ends can recognise it by."""

    callers: tuple[str, ...]  # canonical numbers of every party that places its INVITEs
    seats: tuple[str, ...]  # far ends it may ring: line seat names, pstn_seat(number)
    home_npa: str = ""


@dataclass(frozen=True, slots=True)
class IncomingInvite:
    """An INVITE as a far end of the harness received it."""

    seat: str  # who rang: a line's seat name, or "pstn:<tgrp>" at the gateway
    call_id: str
    request_uri: str
    from_: str
    to: str
    asserted: tuple[str, ...]  # P-Asserted-Identity, Remote-Party-ID (as received)
    hint: str  # the X-Harness-Call header, if it survived
    t_mono: float
    t_wall: float

    @classmethod
    def parse(cls, seat: str, request: Mapping[str, str], hint_header: str, t_mono: float,
              t_wall: float) -> IncomingInvite:
        line = request.get("request-line", "").split(" ")
        return cls(seat, request.get("call-id", ""), line[1] if len(line) > 1 else "",
                   request.get("from", ""), request.get("to", ""),
                   tuple(v for v in (request.get("p-asserted-identity", ""),
                                     request.get("remote-party-id", "")) if v),
                   request.get(hint_header.lower(), ""), t_mono, t_wall)

    def numbers(self, home_npa: str) -> frozenset[str]:
        """The calling numbers it shows, canonical (withheld ones left out)."""
        found = {canonical(v, home_npa) for v in (self.from_, *self.asserted)}
        return frozenset(n for n in found if n and n != ANONYMOUS)

    def seats(self, home_npa: str) -> frozenset[str]:
        """Who rang: the line, or at the PSTN gateway the number asked for (R-URI, To)."""
        if not Party.in_pstn(self.seat):
            return frozenset({self.seat})
        return frozenset(pstn_seat(user_part(v), home_npa) for v in (self.request_uri, self.to)
                         if user_part(v))

    def describe(self) -> str:
        shown = ", ".join(self.asserted)
        return (f"INVITE Call-ID {self.call_id or '?'} at {self.seat} (R-URI "
                f"{self.request_uri or '?'}, From {self.from_ or '?'}"
                f"{', asserted ' + shown if shown else ''})")


@dataclass(frozen=True, slots=True)
class Attribution:
    key: str  # the call's key; "" when unattributed
    how: str  # "header" | "number+seat" | "number" | "seat" | ""
    why: str = ""  # unattributed: why
    candidates: tuple[str, ...] = ()  # unattributed: the calls it may have been


@dataclass(frozen=True, slots=True)
class Stray:
    """An INVITE no call could be attributed to, as the worker that got it reports it."""

    worker: str
    invite: IncomingInvite
    why: str
    candidates: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"an {self.invite.describe()} could not be attributed to a call: {self.why}"


_TIERS = ("number+seat", "number", "seat")


def attribute(invite: IncomingInvite,
              calls: Mapping[str, tuple[CallIdentity, float]]) -> Attribution:
    """The call `invite` belongs to among `calls` (key -> identity, when its order
    reached the worker, monotonic s), by the rules of the module docstring."""
    if invite.hint and invite.hint in calls:
        return Attribution(invite.hint, "header")
    live = {k: ident for k, (ident, since) in calls.items() if since <= invite.t_mono}
    if not live:
        return Attribution("", "", "no call was in progress")
    fits: dict[str, list[str]] = {tier: [] for tier in _TIERS}
    for key, ident in live.items():
        number = bool(invite.numbers(ident.home_npa) & set(ident.callers))
        seat = bool(invite.seats(ident.home_npa) & set(ident.seats))
        if number and seat:
            fits["number+seat"].append(key)
        if number:
            fits["number"].append(key)
        if seat:
            fits["seat"].append(key)
    for tier in _TIERS:
        keys = fits[tier]
        if len(keys) == 1:
            return Attribution(keys[0], tier)
        if keys:
            return Attribution("", "", f"{len(keys)} calls in progress fit it equally "
                                       f"({tier})", tuple(sorted(keys)))
    return Attribution("", "", f"neither its calling number nor {invite.seat} fits any of "
                               f"the {len(live)} call(s) in progress")


def may_be(invite: IncomingInvite, ident: CallIdentity) -> bool:
    """Could `invite` have been the call's? For an INVITE read from the wire that no far
    end attributed (pjsua2 refuses some before its application hears of them: a media
    offer it cannot take), among the INVITEs of every call up at the time.

    Its calling number is the call's ("number": even at a far end the call should not
    have rung, a misroute); or it rang one of the call's far ends ("seat") and that far
    end is the call's alone: a line (the plan scheduler never runs two calls on one
    line), or a PSTN number the INVITE shows no calling number for (a withheld caller,
    for which the scheduler makes the number a party). A PSTN number several calls may
    ring at once, with another calling number, is another call's."""
    shown = invite.numbers(ident.home_npa)
    if shown & set(ident.callers):
        return True
    if not invite.seats(ident.home_npa) & set(ident.seats):
        return False
    return not Party.in_pstn(invite.seat) or not shown
