"""The test number plan: the beta lines, the simulated PSTN's numbers, the dial guard.

Deny by default: a dial string is classified (`harness.pstn.directory.classify`) and
must land on a configured beta line, on a number of the simulated PSTN, or on a test
string the configuration declares (unassigned, incomplete); 911 only when the route
ends at the simulated PSAP. Anything else raises `DialGuardError` before any SIP
leaves the harness.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace

from harness.config import (
    DEFAULT_ANONYMOUS_REJECTION,
    DEFAULT_FORWARDING,
    DEFAULT_T38_LINES,
    DEFAULT_TOLL_RESTRICTED,
    ForwardRule,
    NumbersConfig,
    parse_forwarding,
    parse_hunt_groups,
    parse_lines,
    parse_numbers,
    parse_pickup_groups,
    parse_ported_in,
    parse_toll_free_in,
)
from harness.errors import ConfigError, DialGuardError
from harness.model import Line
from harness.numbers import canonical
from harness.party import Party
from harness.pstn.directory import DEFAULT_PSTN, DEFAULT_PSTN_CALLERS, PstnNumber, Route, classify
from harness.sip.attribution import pstn_seat
from harness.vocab import CALL_RETURN, VOICEMAIL, VOICEMAIL_SEAT, ForwardKind

_LINE_NAME = re.compile(r"^site(\d+)/(\d+)$")


def _csv(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


@dataclass(frozen=True, slots=True)
class Forwarding:
    """A call-forwarding rule on a beta line (provisioned on the switch)."""

    line: str  # plan name of the forwarding line
    number: str
    target: str  # the number calls are forwarded to
    kind: ForwardKind
    after_s: float = 4.0  # no_answer: ring this long first


@dataclass(frozen=True, slots=True)
class Hunt:
    """A hunt group provisioned on the switch: its pilot number and its lines (plan
    names) in hunting order."""

    pilot: str
    members: tuple[str, ...]
    overflow: str | None = None  # the line rung when every member was tried


@dataclass(frozen=True, slots=True)
class NumberPlan:
    home_npa: str
    lines: tuple[Line, ...]
    intralata_npas: tuple[str, ...] = ("978",)
    onnet_first: str = "4135550100"
    onnet_size: int = 90
    unassigned: tuple[str, ...] = ()
    incomplete: tuple[str, ...] = ()
    pstn: tuple[PstnNumber, ...] = DEFAULT_PSTN
    pstn_callers: tuple[str, ...] = DEFAULT_PSTN_CALLERS
    psap_is_simulated: bool = True
    forwarding: tuple[Forwarding, ...] = ()
    # lines provisioned with anonymous call rejection (numbers.anonymous_rejection)
    anonymous_rejection: tuple[Line, ...] = ()
    # lines whose class of service bars premium-rate calls (numbers.toll_restricted)
    toll_restricted: tuple[Line, ...] = ()
    # lines whose fax machine speaks T.38 (numbers.t38_lines): the switch carries fax to
    # them as T.38; a fax row to one has the harness's T.38 terminal answer it
    t38_lines: tuple[Line, ...] = ()
    # the CIC a line may dial around its own carrier with (numbers.dial_around_cic)
    dial_around_cic: str = ""
    # the LNP table: numbers of the on-net block ported out to another carrier, and
    # other carriers' numbers ported in to a beta line (number -> line name)
    ported_out: tuple[str, ...] = ()
    ported_in: tuple[tuple[str, str], ...] = ()
    # hunt groups: a pilot number rings its lines in order (numbers.hunt_groups)
    hunt_groups: tuple[Hunt, ...] = ()
    # toll-free numbers this switch serves (numbers.toll_free_in): number -> the on-net
    # number it reaches (a line's or a hunt group's pilot)
    toll_free_in: tuple[tuple[str, str], ...] = ()
    # the switch's call return code (numbers.call_return; plans dial "*69"); "": none
    call_return: str = CALL_RETURN
    # call pickup groups (numbers.pickup_groups: line names) and the code a line of a
    # group dials to answer a call ringing at another (numbers.call_pickup); "": none
    pickup_groups: tuple[tuple[str, ...], ...] = ()
    call_pickup: str = ""
    # voicemail (numbers.voicemail_*): the platform's pilot ("": none), the lines with a
    # mailbox (forwarded there on busy and after `voicemail_after_s` unanswered), and
    # the digits a line sends the platform to hear its message
    voicemail_pilot: str = ""
    voicemail_boxes: tuple[str, ...] = ()
    voicemail_after_s: float = 4.0
    voicemail_retrieve: str = "1"

    @classmethod
    def from_config(cls, cfg: NumbersConfig) -> NumberPlan:
        password = cfg.line_password or secrets.token_hex(8)
        base = int(cfg.first_line)
        lines = []
        for site in range(1, cfg.sites + 1):
            for idx in range(1, cfg.lines_per_site + 1):
                offset = (site - 1) * cfg.lines_per_site + (idx - 1)
                lines.append(Line(site, idx, f"{base + offset:010d}", password))
        plan = cls(cfg.home_npa, tuple(lines), _csv(cfg.intralata_npas), cfg.first_line,
                   max(cfg.onnet_block_size, len(lines)), _csv(cfg.unassigned_test_numbers),
                   _csv(cfg.incomplete_test_numbers),
                   psap_is_simulated=cfg.emergency_to_simulated_psap,
                   dial_around_cic=cfg.dial_around_cic, call_return=cfg.call_return,
                   call_pickup=cfg.call_pickup)
        plan = replace(plan, pstn=(*plan.pstn, *plan._called_back()))
        out_text, in_text = cfg.porting()
        ported_out = parse_numbers(out_text, "<config>", "numbers.ported_out")
        plan = replace(plan, ported_out=ported_out,
                       pstn=(*plan.pstn, *(PstnNumber(n, "local") for n in ported_out)),
                       ported_in=tuple((n, str(line)) for n, line in
                                       parse_ported_in(in_text)))
        plan = replace(plan, hunt_groups=plan._hunting(cfg.hunting(),
                                                       cfg.hunt_groups == "default"))
        plan = replace(plan, toll_free_in=parse_toll_free_in(cfg.toll_free()))
        plan = replace(plan, pickup_groups=tuple(
            tuple(plan.line(str(m)).name for m in group)
            for group in parse_pickup_groups(cfg.pickup())))
        pilot, boxes = cfg.voicemail()  # "default" resolved there, for this plan
        plan = replace(plan, voicemail_pilot=pilot, voicemail_after_s=cfg.voicemail_after_s,
                       voicemail_retrieve=cfg.voicemail_retrieve,
                       voicemail_boxes=tuple(line.name for line in plan._provisioned(
                           boxes, "", "numbers.voicemail_boxes")))
        plan = replace(plan, anonymous_rejection=plan._provisioned(
            cfg.anonymous_rejection, DEFAULT_ANONYMOUS_REJECTION,
            "numbers.anonymous_rejection"),
            toll_restricted=plan._provisioned(cfg.toll_restricted, DEFAULT_TOLL_RESTRICTED,
                                              "numbers.toll_restricted"),
            t38_lines=plan._provisioned(cfg.t38_lines, DEFAULT_T38_LINES, "numbers.t38_lines"))
        if cfg.forwarding == "default":  # ours: only where the lines it names exist
            try:
                return replace(plan, forwarding=plan._forwarding(
                    parse_forwarding(DEFAULT_FORWARDING)))
            except ConfigError:
                return plan
        return replace(plan, forwarding=plan._forwarding(parse_forwarding(cfg.forwarding)))

    def _called_back(self) -> tuple[PstnNumber, ...]:
        """The PSTN subscribers that call the beta lines answer when called back (call
        return): in the directory, with the class their number has from here."""
        known = {p.number for p in self.pstn}
        back = []
        for number in self.pstn_callers:
            route = classify(number, self.home_npa, self.intralata_npas, frozenset())
            if route is not None and route.number not in known:
                back.append(PstnNumber(route.number, route.call_class, answer_after_s=2.0))
        return tuple(back)

    def _provisioned(self, text: str, default: str, field: str) -> tuple[Line, ...]:
        """The lines a feature is provisioned on ("default": ours, where they exist)."""
        lines = []
        for party in parse_lines(default if text == "default" else text, "<config>", field):
            try:
                lines.append(self.line(str(party)))
            except DialGuardError as exc:
                if text != "default":
                    raise ConfigError("<config>", field, str(party), str(exc)) from exc
        return tuple(lines)

    def _hunting(self, text: str, default: bool) -> tuple[Hunt, ...]:
        """The hunt groups on this plan's lines (ours, by default, only where its lines
        exist)."""
        out = []
        for group in parse_hunt_groups(text):
            try:
                members = tuple(self.line(str(m)).name for m in group.members)
                overflow = self.line(str(group.overflow)).name if group.overflow else None
            except DialGuardError as exc:
                if default:
                    continue
                raise ConfigError("<config>", "numbers.hunt_groups", group.pilot,
                                  str(exc)) from exc
            out.append(Hunt(group.pilot, members, overflow))
        return tuple(out)

    def pickup_group(self, line: str) -> tuple[str, ...]:
        """The call pickup group `line` (a line's name) belongs to; () for none."""
        return next((g for g in self.pickup_groups if line in g), ())

    def pickup_code(self) -> str:
        """What a line dials to pick up a call ringing in its group; DialGuardError when
        the switch offers no call pickup (numbers.call_pickup is "")."""
        if not self.call_pickup:
            raise DialGuardError("call pickup", "the switch offers no call pickup "
                                                "(numbers.call_pickup is \"\")")
        return self.call_pickup

    def voicemail(self) -> str:
        """The voicemail platform's pilot; DialGuardError when there is none
        (numbers.voicemail_pilot is "")."""
        if not self.voicemail_pilot:
            raise DialGuardError(VOICEMAIL, "the switch offers no voicemail "
                                            "(numbers.voicemail_pilot is \"\")")
        return self.voicemail_pilot

    def hunt(self, number: str) -> Hunt | None:
        """The hunt group `number` is the pilot of, if any."""
        return next((h for h in self.hunt_groups if h.pilot == number), None)

    def _forwarding(self, rules: tuple[ForwardRule, ...]) -> tuple[Forwarding, ...]:
        """The rules (parsed at config load) on this plan's lines."""
        out = []
        for rule in rules:
            try:
                line, to = self.line(str(rule.line)), self.line(str(rule.target))
            except DialGuardError as exc:
                raise ConfigError("<config>", "numbers.forwarding",
                                  f"{rule.line}>{rule.target}:{rule.kind}", str(exc)) from exc
            out.append(Forwarding(line.name, line.number, to.number, rule.kind, rule.after_s))
        return tuple(out)

    # -- lines -----------------------------------------------------------------------
    def line(self, name: str) -> Line:
        """Look a line up by its plan name, e.g. 'site1/01'."""
        m = _LINE_NAME.match(name)
        if m:
            site, idx = int(m.group(1)), int(m.group(2))
            for line in self.lines:
                if line.site == site and line.index == idx:
                    return line
        raise DialGuardError(name, "no such beta line (expected siteN/NN within the plan)")

    def number_of(self, party: Party) -> str:
        """A calling party's number: a beta line's, or a PSTN subscriber's own."""
        return party.tag if party.is_pstn else self.line(str(party)).number

    def served(self, number: str) -> str:
        """The on-net number a toll-free number this switch serves reaches; any other
        number as it is."""
        return next((target for n, target in self.toll_free_in if n == number), number)

    def line_by_number(self, number: str) -> Line | None:
        """The beta line `number` reaches: its own, a number ported in to it, the pilot
        of a hunt group it is the first line of, or a toll-free number served to one of
        those."""
        number = self.served(number)
        name = next((line for n, line in self.ported_in if n == number), None)
        if (hunt := self.hunt(number)) is not None:
            name = hunt.members[0]
        if name is not None:
            return self.line(name)
        return next((ln for ln in self.lines if ln.number == number), None)

    def onnet_block(self) -> tuple[int, int]:
        first = int(self.onnet_first)
        return first, first + self.onnet_size - 1

    def resolve_dial(self, dial: str) -> str:
        """A plan may dial a line by name: '*67site2/01' -> '*674135550112'; and name
        what the config provisions: 'cac:12125550123' (the dial-around carrier's access
        code, 101 + numbers.dial_around_cic, before the number), 'ported_in:site4/05'
        (the number ported in to that line), 'ported_out:1' (the first number ported out),
        'hunt:1' (the first hunt group's pilot), 'voicemail' (the voicemail platform's
        pilot), 'tollfree_in:1' (the first toll-free
        number the switch serves).

        Plans stay valid against any switch's number plan that way."""
        if dial == VOICEMAIL:
            return self.voicemail()
        if dial == CALL_RETURN:
            if not self.call_return:
                raise DialGuardError(dial, "the switch offers no call return "
                                           "(numbers.call_return is \"\")")
            return self.call_return
        prefix = "*67" if dial.startswith("*67") else ""
        rest = dial[len(prefix):]
        kind, _, arg = rest.partition(":")
        if kind == "cac" and arg:
            if not self.dial_around_cic:
                raise DialGuardError(dial, "no dial-around carrier is configured "
                                           "(numbers.dial_around_cic)")
            return f"{prefix}101{self.dial_around_cic}{arg}"
        if kind == "ported_in" and arg:
            number = next((n for n, line in self.ported_in if line == arg), None)
            if number is None:
                raise DialGuardError(dial, f"no number is ported in to {arg} "
                                           "(numbers.ported_in)")
            return prefix + number
        if kind == "hunt" and arg:
            index = int(arg) if arg.isdigit() else 0
            if not 1 <= index <= len(self.hunt_groups):
                raise DialGuardError(dial, f"numbers.hunt_groups has {len(self.hunt_groups)} "
                                           "group(s)")
            return prefix + self.hunt_groups[index - 1].pilot
        if kind == "tollfree_in" and arg:
            index = int(arg) if arg.isdigit() else 0
            if not 1 <= index <= len(self.toll_free_in):
                raise DialGuardError(dial, f"numbers.toll_free_in has {len(self.toll_free_in)}"
                                           " number(s)")
            return prefix + self.toll_free_in[index - 1][0]
        if kind == "ported_out" and arg:
            index = int(arg) if arg.isdigit() else 0
            if not 1 <= index <= len(self.ported_out):
                raise DialGuardError(dial, f"numbers.ported_out has {len(self.ported_out)} "
                                           "number(s)")
            return prefix + self.ported_out[index - 1]
        return prefix + self.line(rest).number if _LINE_NAME.match(rest) else dial

    def pstn_number(self, number: str) -> PstnNumber | None:
        return next((p for p in self.pstn if p.number == number), None)

    def ali(self) -> dict[str, int]:
        """The simulated PSAP's ALI table: each beta line's number (canonical) -> its
        site, where a legacy E911 PSAP finds a caller by its callback number."""
        return {canonical(line.number, self.home_npa): line.site for line in self.lines}

    def far_ends(self, *dials: str) -> tuple[str, ...]:
        """Every far end calls to `dials` may ring: the line dialled and the lines its
        forwarding leads to (its mailbox's voicemail platform), or the PSTN number
        (`pstn_seat`), or the voicemail platform for its pilot. A dial string the guard
        refuses rings nobody (no call is placed)."""
        seats: list[str] = []
        for dial in dials:
            try:
                route = self.route_dial(dial)
            except DialGuardError:
                continue
            line = self.line_by_number(route.number) if route else None
            if route is not None and line is None and route.trunk is not None:
                seats.append(pstn_seat(route.number, self.home_npa))
            if route is not None and (hunt := self.hunt(self.served(route.number))) is not None:
                seats += [m for m in (*hunt.members[1:], *([hunt.overflow] if hunt.overflow
                                                             else [])) if m not in seats]
            if route is not None and route.number == self.voicemail_pilot:
                seats.append(VOICEMAIL_SEAT)
            while line is not None and line.name not in seats:
                seats.append(line.name)
                if line.name in self.voicemail_boxes and VOICEMAIL_SEAT not in seats:
                    seats.append(VOICEMAIL_SEAT)  # forwarded to its mailbox
                rule = next((r for r in self.forwarding if r.line == line.name), None)
                line = self.line_by_number(rule.target) if rule else None
        return tuple(seats)

    # -- the dial guard ------------------------------------------------------------------
    def route_dial(self, dial: str) -> Route | None:
        """A dial string as a plan row writes it (a line's name or a number), resolved
        and guarded like the row's own dial; None for none ('')."""
        return self.route(self.resolve_dial(dial)) if dial else None

    def route(self, dial: str) -> Route:
        """Classify and guard a dial string (deny by default)."""
        lo, hi = self.onnet_block()
        onnet = frozenset(ln.number for ln in self.lines) | frozenset(
            n for n in self.unassigned if lo <= int(n) <= hi) | frozenset(
            n for n, _ in self.ported_in) | frozenset(h.pilot for h in self.hunt_groups) | \
            frozenset([self.voicemail_pilot] if self.voicemail_pilot else [])
        route = classify(dial, self.home_npa, self.intralata_npas, onnet)
        if route is not None and route.call_class == "tollfree" and \
                self.served(route.number) != route.number:
            # a toll-free number this switch serves: routed on-net, to what it reaches
            return replace(route, call_class="onnet")
        if route is None:
            if re.sub(r"\D", "", dial) in self.incomplete:
                return Route(dial, re.sub(r"\D", "", dial), "incomplete")
            raise DialGuardError(dial, "not a dialable number (and not a declared "
                                       "incomplete-number test string)")
        if route.call_class == "onnet":
            return route
        if route.carrier and route.carrier != self.dial_around_cic:
            raise DialGuardError(dial, f"carrier access code 101{route.carrier}: not the "
                                       "second carrier of the test plan (numbers."
                                       f"dial_around_cic: {self.dial_around_cic or 'none'})")
        if route.call_class == "local" and lo <= int(route.number) <= hi and \
                route.number not in self.ported_out:
            raise DialGuardError(dial, f"normalised to {route.number}: inside the on-net block "
                                       "but neither a beta line nor a declared unassigned number")
        if route.call_class == "emergency" and not self.psap_is_simulated:
            raise DialGuardError(dial, "911 is dialled only when the switch routes it to the "
                                       "simulated PSAP (numbers.emergency_to_simulated_psap)")
        if self.pstn_number(route.number) is None:
            raise DialGuardError(dial, f"normalised to {route.number} ({route.call_class}), "
                                       "outside the test number plan (not a number of the "
                                       "simulated PSTN)")
        return route

    def normalise(self, dial: str) -> str:
        return self.route(dial).number

    def check_dial(self, dial: str) -> Line:
        """Guard for a call that must reach a beta line."""
        route = self.route(dial)
        line = self.line_by_number(route.number)
        if line is None:
            first, last = self.lines[0].number, self.lines[-1].number
            raise DialGuardError(dial, f"normalised to {route.number}, not an on-net beta line "
                                       f"({first}..{last})")
        return line
