"""One validated, frozen configuration (YAML file + environment).

Every section is a frozen dataclass; a YAML file may override any field. Unknown
keys, wrong types and out-of-range values raise `ConfigError` naming the file, the
dotted field and the value. The mini-languages inside strings (the tariff, the
thresholds, call forwarding, the lab's test faults) are parsed at load too
(`HarnessConfig.parsed()` gives them as typed values): a misspelt class, metric or
fault name fails there, not when the run closes. Secrets (`*password*`, `*secret*`) are redacted by
`redacted()`, which is what reports print.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError
from harness.numbers import PROMISABLE
from harness.party import Party, PartyError
from harness.pstn.directory import DEFAULT_PSTN, TOLLFREE_NPAS, TRUNKS
from harness.vocab import VOICEMAIL_TRUNK, CallClass, ForwardKind, allowed, in_choice

if TYPE_CHECKING:
    from harness.cdr.billing import Tariff
    from harness.verdict.thresholds import ThresholdTable


@dataclass(frozen=True, slots=True)
class SutConfig:
    kind: str = "embedded-kamailio"  # or "external": a switch the user runs (docs)
    domain: str = "beta.test"
    sip_host: str = "127.0.0.1"  # external: where the switch listens (UDP)
    sip_port: int = 0  # 0 = choose a free port on 127.0.0.1 (embedded only)
    pstn_port: int = 0  # the simulated PSTN gateway's port; external: where the switch
    # sends off-net calls and where incoming DID calls come from (0: free, embedded only)
    pstn_trunk_groups: bool = True  # the switch names the trunk group (;tgrp=) per class
    # external: trunk groups the switch routes to a gateway port of their own, as
    # "ld=5072, intl=5073" (a trunk group's own gateway: who rang is its trunk group,
    # with or without ;tgrp=). The embedded switch gives every trunk group its own
    pstn_trunk_ports: str = ""
    # external: the port on 127.0.0.1 the lab's voicemail platform sends its NOTIFYs
    # from (your switch trusts it, as it trusts the trunks); with "vm=PORT" in
    # pstn_trunk_ports (where your switch routes the voicemail pilot), the voicemail row
    # runs against your switch (docs/external-switch.md item 16). 0: none. The embedded
    # switch gets both on its own
    voicemail_mwi_port: int = 0
    cdr_uri: str = ""  # external: the switch's CDRs (sqlite://, asterisk-csv://, ...)
    allow_remote: bool = False  # external switch off this host: off in tests and CI
    circuit_breaker: int = 3  # stop dialling after this many calls in a row lost the switch
    rtp_port_min: int = 0  # 0 = choose a free range
    kamailio_children: int = 1  # see docs/configuration.md: SQLite acc and concurrent writers
    no_answer_timeout_s: float = 8.0  # the switch gives up ringing (then 408, or CFNA)
    # faults the embedded switch can be rendered with, for the harness's own tests:
    # comma-separated, e.g. "misroute_ld_to_local,ignore_privacy"
    test_faults: str = ""
    # TLS signalling + SRTP media (docs/tls-srtp.md): the embedded switch also listens
    # on tls:127.0.0.1:tls_port with a certificate from the run's test CA. Unset: on for
    # the embedded switch (the plan's TLS row runs), off for an external one
    tls: bool | None = None
    tls_port: int = 0  # 0 = a free TCP port
    # behaviours of a B2BUA-fronted switch the embedded Kamailio can be rendered with
    # (docs/b2bua-lab.md): comma-separated names of `Behaviour`, "b2bua" = all three
    behaviours: str = ""
    # a third-party B2BUA between the embedded switch and the simulated PSTN gateway,
    # both ways ("" | "sippy"; docs/b2bua-lab.md). It drops the R-URI's ;tgrp=, so it
    # makes pstn_trunk_groups false (validate())
    pstn_b2bua: str = ""

    def trunk_ports(self) -> dict[str, int]:
        """`pstn_trunk_ports` as trunk group -> port (validated at load)."""
        return parse_trunk_ports(self.pstn_trunk_ports, "<config>")

    def behaviour_set(self) -> frozenset[Behaviour]:
        """`behaviours` as a set (validated at load: unknown names never get here)."""
        return parse_behaviours(self.behaviours, "<config>")

    def fault_set(self) -> frozenset[str]:
        """`test_faults` as a set (validated at load: unknown names never get here)."""
        return parse_faults(self.test_faults, SWITCH_FAULTS, "<config>", "sut.test_faults")


class Behaviour(StrEnum):
    """Legitimate behaviours of a carrier switch (not faults): those of one fronted by a
    B2BUA, and a T.38 gateway."""

    TOPOLOGY_HIDING = "topology_hiding"  # the far end sees another Call-ID (Kamailio topoh)
    STRIP_PRIVATE_HEADERS = "strip_private_headers"  # no X- header reaches the far end
    E164_CALLER_ID = "e164_caller_id"  # From user and PAI as +1NPANXXXXXX
    # a T.38 gateway in the switch's media path: every call's audio offer is turned into
    # a T.38 offer (m=image udptl t38) toward the called party, and the gateway converts
    # between the caller's G.711 fax tones and T.38 (rtpengine T.38=force). Not a B2BUA
    # trait: not in the `b2bua` shorthand.
    T38_GATEWAY = "t38_gateway"


ALL_BEHAVIOURS = "b2bua"  # shorthand: every B2BUA behaviour (B2BUA_BEHAVIOURS)
B2BUA_BEHAVIOURS = frozenset({Behaviour.TOPOLOGY_HIDING, Behaviour.STRIP_PRIVATE_HEADERS,
                              Behaviour.E164_CALLER_ID})
PSTN_B2BUAS = ("sippy",)  # sut.pstn_b2bua values besides ""


def parse_behaviours(text: str, file: str) -> frozenset[Behaviour]:
    """'topology_hiding, e164_caller_id' -> the set; 'b2bua' -> all; unknown -> ConfigError."""
    names = {n.strip() for n in text.split(",") if n.strip()}
    if ALL_BEHAVIOURS in names:
        names = (names - {ALL_BEHAVIOURS}) | {b.value for b in B2BUA_BEHAVIOURS}
    known = {b.value for b in Behaviour}
    unknown = sorted(names - known)
    if unknown:
        raise ConfigError(file, "sut.behaviours", text, f"unknown behaviour(s) {unknown} "
                          f"(known: {sorted(known | {ALL_BEHAVIOURS})})")
    return frozenset(Behaviour(n) for n in names)


def parse_trunk_ports(text: str, file: str) -> dict[str, int]:
    """'ld=5072, intl=5073' -> {'ld': 5072, 'intl': 5073}; anything else -> ConfigError."""
    out: dict[str, int] = {}
    for item in (i.strip() for i in text.split(",") if i.strip()):
        trunk, _, port = (x.strip() for x in item.partition("="))
        if trunk not in (*TRUNKS, VOICEMAIL_TRUNK) or trunk in out:
            raise ConfigError(file, "sut.pstn_trunk_ports", text,
                              f"{trunk!r}: {'named twice' if trunk in out else 'not a trunk group'}"
                              f" (trunk groups: {', '.join(TRUNKS)}; {VOICEMAIL_TRUNK}: the "
                              "lab's voicemail platform)")
        if not port.isdigit() or not 1024 <= int(port) <= 65535:
            raise ConfigError(file, "sut.pstn_trunk_ports", text,
                              f"{trunk}={port}: expected a UDP port 1024..65535")
        out[trunk] = int(port)
    return out


# faults the embedded switch can be rendered with (harness/softswitch/kamailio.cfg.j2;
# tls_*: harness/softswitch/tlsca.py), for the harness's own tests
SWITCH_FAULTS = frozenset({"misroute_ld_to_local", "ignore_privacy", "refuse_refer",
                           "strip_pcma", "delay_header", "tls_foreign_ca", "tls_wrong_name",
                           "open_relay", "ignore_anonymous_rejection",
                           "ignore_toll_restriction", "ignore_dial_around",
                           "bill_dial_around_to_own_carrier", "ignore_lnp",
                           "swallow_bye", "hunt_stops_at_busy",
                           "bill_toll_free_as_incoming", "truncate_intl_caller_id",
                           "hunt_no_overflow", "call_return_first_caller",
                           "call_return_discloses_withheld", "no_call_waiting",
                           "pickup_billed_to_picker", "mwi_never_sent",
                           "forward_to_voicemail_anonymously", "no_t38_to_t38_lines"})
# (ignore_toll_restriction: a line barred from premium rate reaches the 900 trunk anyway;
# ignore_dial_around: a 101XXXX call goes to the line's own LD carrier's trunk group;
# bill_dial_around_to_own_carrier: it reaches the chosen carrier, the CDR names none;
# ignore_lnp: no number-portability table, ported numbers routed by their block;
# hunt_stops_at_busy: a hunt group rings its first line only (a busy one: the caller
# hears busy while the group's other lines are free); hunt_no_overflow: a hunt group
# whose lines are all busy gives the caller busy instead of its overflow line;
# bill_toll_free_as_incoming: a call to a site's toll-free number is recorded as an
# ordinary incoming call (the site is not charged for it);
# truncate_intl_caller_id: an international calling number from the PSTN is cut to
# its last 10 digits, as if it were a NANP number;
# call_return_first_caller: call return (*69) reaches the first caller the line ever
# had, not the last (who called last is never updated); call_return_discloses_withheld:
# call return calls back a caller that withheld its number (*67) instead of refusing
# 403; no_call_waiting: a line on a
# call is busy (486) to a second caller; pickup_billed_to_picker: a picked-up call is
# recorded as the picking line's call, not the caller's; mwi_never_sent: the
# voicemail platform's NOTIFY message-summary is answered 200 and never passed to the
# line; forward_to_voicemail_anonymously: a call forwarded to voicemail carries neither
# Diversion nor a target (the platform cannot tell whose mailbox);
# no_t38_to_t38_lines: a call to a T.38 fax line (numbers.t38_lines) is offered audio
# only, as to any line;
# swallow_bye: in a call whose INVITE carries X-Harness-Hung, the BYE is answered 200
# and never relayed (a hung far end);
# open_relay: unauthenticated off-net INVITEs pass; ignore_anonymous_rejection: a line
# provisioned with anonymous call rejection rings for a withheld caller)
# faults the embedded other carrier can be rendered with (pstn.test_faults)
CARRIER_FAULTS = frozenset({"deliver_ld_to_local"})


def parse_faults(text: str, known: frozenset[str], file: str, field: str) -> frozenset[str]:
    """'a, b' -> {'a', 'b'}; a name not in `known` -> ConfigError."""
    names = frozenset(n.strip() for n in text.split(",") if n.strip())
    unknown = sorted(names - known)
    if unknown:
        raise ConfigError(file, field, text, f"unknown fault(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(known))})")
    return names


# the plan's forwarding row (7.3) needs this rule; a plan without site 6 has none
DEFAULT_FORWARDING = ("site6/06>site6/07:unconditional; site6/08>site6/09:busy; "
                      "site6/10>site6/11:no_answer:4")
FORWARDING_FORM = "expected 'siteN/NN>siteN/NN:unconditional|busy|no_answer[:seconds]'"
# the plan's anonymous-call-rejection rows (6.5, 6.6) need this line provisioned with it
DEFAULT_ANONYMOUS_REJECTION = "site2/12"
# the plan's toll-restriction rows (2.8-2.10) need this line's class of service to bar
# premium-rate calls (NANP 900, NXX 976)
DEFAULT_TOLL_RESTRICTED = "site7/08"
DEFAULT_T38_LINES = "site7/09"
# the plan's voicemail row (7.14) calls this line's mailbox
DEFAULT_VOICEMAIL_BOX = "site5/05"


def parse_lines(text: str, file: str, field: str) -> tuple[Party, ...]:
    """'site2/12, site3/10' -> the beta lines; anything else -> ConfigError."""
    out = []
    for item in (x.strip() for x in text.split(",") if x.strip()):
        try:
            party = Party.parse(item)
        except PartyError:
            party = None
        if party is None or not party.is_line:
            raise ConfigError(file, field, item, "expected beta lines 'siteN/NN', "
                              "comma-separated")
        out.append(party)
    return tuple(out)


_NANP10 = re.compile(r"[2-9]\d{2}[2-9]\d{6}")


def parse_numbers(text: str, file: str, field: str) -> tuple[str, ...]:
    """'4135550186, 4135550187' -> the 10-digit NANP numbers; else ConfigError."""
    out = tuple(x.strip() for x in text.split(",") if x.strip())
    for number in out:
        if not _NANP10.fullmatch(number):
            raise ConfigError(file, field, number, "expected 10-digit NANP numbers "
                              "(NPA-NXX-XXXX), comma-separated")
    return out


def parse_ported_in(text: str, file: str = "<config>",
                    field: str = "numbers.ported_in") -> tuple[tuple[str, Party], ...]:
    """'4135550195>site4/05' -> ((number, line), ...); else ConfigError."""
    out = []
    for item in (x.strip() for x in text.split(",") if x.strip()):
        number, _, name = (p.strip() for p in item.partition(">"))
        try:
            party: Party | None = Party.parse(name)
        except PartyError:
            party = None
        if not _NANP10.fullmatch(number) or party is None or not party.is_line:
            raise ConfigError(file, field, item, "expected 'NPA-NXX-XXXX>siteN/NN' (a "
                              "10-digit number and the beta line it is ported in to), "
                              "comma-separated")
        out.append((number, party))
    return tuple(out)


def parse_toll_free_in(text: str, file: str = "<config>",
                       field: str = "numbers.toll_free_in") -> tuple[tuple[str, str], ...]:
    """'8665550184>4135550184' -> ((toll-free number, the number it reaches), ...); else
    ConfigError."""
    out = []
    for item in (x.strip() for x in text.split(",") if x.strip()):
        number, _, target = (p.strip() for p in item.partition(">"))
        if not (_NANP10.fullmatch(number) and number[:3] in TOLLFREE_NPAS
                and _NANP10.fullmatch(target)):
            raise ConfigError(file, field, item, "expected '8XX-NXX-XXXX>NPA-NXX-XXXX' (a "
                              f"toll-free number, NPA {'/'.join(TOLLFREE_NPAS)}, and the "
                              "number of the on-net block it reaches: a beta line's or a "
                              "hunt group's pilot), comma-separated")
        out.append((number, target))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class ForwardRule:
    """One rule of numbers.forwarding: calls to `line` are forwarded to `target`."""

    line: Party
    target: Party
    kind: ForwardKind
    after_s: float = 4.0  # no_answer: ring this long first


def parse_forwarding(text: str, file: str = "<config>",
                     field: str = "numbers.forwarding") -> tuple[ForwardRule, ...]:
    """'site6/06>site6/07:unconditional; site6/10>site6/11:no_answer:4' -> rules.
    Whether the lines exist is the number plan's to say (harness/numberplan.py)."""
    rules = []
    for item in (x.strip() for x in text.split(";") if x.strip()):
        head, _, rest = item.partition(">")
        target, _, spec = rest.partition(":")
        kind, _, after = spec.partition(":")
        try:
            line, to = Party.parse(head.strip()), Party.parse(target.strip())
            if not line.is_line:  # (a 'pstn:' target cannot be written: ':' ends it)
                raise ValueError("a beta line forwards, not the PSTN")
            if not in_choice(kind, ForwardKind):
                raise ValueError(f"kind {kind!r}: must be one of {', '.join(allowed(ForwardKind))}")
            seconds = float(after) if after else 4.0
            if not (math.isfinite(seconds) and seconds >= 0):
                raise ValueError(f"{after!r} seconds: must be 0 or more")
        except (PartyError, ValueError) as exc:
            raise ConfigError(file, field, item, f"{FORWARDING_FORM} ({exc})") from None
        rules.append(ForwardRule(line, to, kind, seconds))  # type: ignore[arg-type]
    return tuple(rules)


@dataclass(frozen=True, slots=True)
class HuntGroup:
    """One hunt group of numbers.hunt_groups: a call to `pilot` rings `members` one
    after another, in that order, skipping one that is busy or does not answer."""

    pilot: str
    members: tuple[Party, ...]
    overflow: Party | None = None  # rung when every member was busy or did not answer


HUNT_FORM = ("expected 'NPA-NXX-XXXX>siteN/NN,siteN/NN[,...][>siteN/NN]' (a pilot number, "
             "two or more beta lines in hunting order, and optionally the line calls "
             "overflow to when every one of them is busy or does not answer), ';'-separated")


def parse_hunt_groups(text: str, file: str = "<config>",
                      field: str = "numbers.hunt_groups") -> tuple[HuntGroup, ...]:
    """'4135550184>site3/08,site3/09,site3/12>site7/04' -> hunt groups; else
    ConfigError."""
    groups = []
    for item in (x.strip() for x in text.split(";") if x.strip()):
        pilot, _, rest = (p.strip() for p in item.partition(">"))
        rest, over, overflow_text = (p.strip() for p in rest.partition(">"))
        try:
            members = tuple(Party.parse(m.strip()) for m in rest.split(",") if m.strip())
            overflow = Party.parse(overflow_text) if over else None
        except PartyError:
            members, overflow = (), None
        lines = (*members, *([overflow] if overflow else []))
        if not _NANP10.fullmatch(pilot) or len(members) < 2 or (over and overflow is None) or \
                not all(m.is_line for m in lines) or len(set(lines)) != len(lines):
            raise ConfigError(file, field, item, HUNT_FORM)
        groups.append(HuntGroup(pilot, members, overflow))
    return tuple(groups)


PICKUP_FORM = ("expected groups of two or more beta lines 'siteN/NN,siteN/NN[,...]', "
               "';'-separated, each line in one group at most")


def parse_pickup_groups(text: str, file: str = "<config>",
                        field: str = "numbers.pickup_groups") -> tuple[tuple[Party, ...], ...]:
    """'site3/05,site3/06,site3/07; site4/01,site4/02' -> the call pickup groups: any
    line of a group answers a call ringing at another (numbers.call_pickup); else
    ConfigError naming the group."""
    groups: list[tuple[Party, ...]] = []
    seen: set[Party] = set()
    for item in (x.strip() for x in text.split(";") if x.strip()):
        try:
            members = tuple(Party.parse(m.strip()) for m in item.split(",") if m.strip())
        except PartyError:
            members = ()
        if len(members) < 2 or not all(m.is_line for m in members) or \
                len(set(members)) != len(members) or seen & set(members):
            raise ConfigError(file, field, item, PICKUP_FORM)
        seen.update(members)
        groups.append(members)
    return tuple(groups)


@dataclass(frozen=True, slots=True)
class NumbersConfig:
    """The test number plan. Defaults are fictional (NPA 413, 555-01XX)."""

    home_npa: str = "413"
    first_line: str = "4135550100"
    sites: int = 7
    lines_per_site: int = 12
    line_password: str = ""  # "" = a random secret per run (embedded switch)
    intralata_npas: str = "978"  # comma-separated NPAs reached as LD intraLATA
    onnet_block_size: int = 90  # the carrier's on-net block from first_line (lines + spare)
    unassigned_test_numbers: str = "4135550189"  # on-net, unassigned: the switch intercepts
    incomplete_test_numbers: str = "55501"  # too short: the switch answers 484
    # 911 is dialled only when the switch routes it to the harness's simulated PSAP
    emergency_to_simulated_psap: bool = True
    # call forwarding provisioned on the switch: line>target:kind[:after_s], ";"-separated
    # (kind: unconditional | busy | no_answer)
    forwarding: str = "default"  # "default": DEFAULT_FORWARDING where those lines exist
    # lines provisioned with anonymous call rejection (RFC 5079: a call whose caller
    # withholds its identity is refused 433), comma-separated; "default": ours
    anonymous_rejection: str = "default"
    # lines whose class of service bars premium-rate calls (1-900, NXX 976): the switch
    # refuses them at once (an intercept: no trunk reached, nothing billed),
    # comma-separated; "default": ours
    toll_restricted: str = "default"
    # lines whose fax machine sits behind a T.38 device: the switch must carry fax to
    # them as T.38 (an offer of m=image udptl t38), converting a G.711 fax caller's
    # tones with a T.38 gateway; comma-separated; "default": ours; "": none
    t38_lines: str = "default"
    # the carrier identification code (CIC) of the second long-distance carrier the
    # switch offers: a line dials 101XXXX + 1 + NPA-NXX-XXXX (or + 011 ...) to have the
    # call carried, and billed, by that carrier (trunk group ld2); "": none offered
    dial_around_cic: str = "0555"
    # number portability: the switch's LNP table. `ported_out`: numbers of the on-net
    # block ported to another carrier (the switch routes them to the PSTN, where the
    # simulated PSTN answers them), comma-separated; `ported_in`: numbers of another
    # carrier ported in to a beta line ('NPA-NXX-XXXX>siteN/NN', comma-separated), which
    # the switch routes to that line, whoever calls. "default": first_line + 86 ported
    # out, first_line + 95 ported in to site4/05 (4135550186, 4135550195 with ours),
    # where the block and the line allow; "": none
    ported_out: str = "default"
    ported_in: str = "default"
    # hunt groups: a pilot number of the on-net block (no line's own) whose calls the
    # switch hunts serially over beta lines, skipping a busy one or one that does not
    # answer, and when every one was tried, its overflow line if it names one
    # ('NPA-NXX-XXXX>siteN/NN,siteN/NN[,...][>siteN/NN]', ';'-separated). "default":
    # first_line + 84 over site3/08, site3/09, site3/12, overflowing to site7/04 (the
    # branch office; 4135550184 with ours), where the block and the lines allow; "": none
    hunt_groups: str = "default"
    # the sites' toll-free numbers, served by this switch for callers on the PSTN: each
    # reaches a number of the on-net block, a beta line's or a hunt group's pilot (a
    # site's main number), '8XX-NXX-XXXX>NPA-NXX-XXXX', comma-separated; the call is
    # billed to the site (call class tollfree_in). "default": 866 + the first hunt
    # group's pilot's last 7 digits, to that pilot (8665550184>4135550184 with ours),
    # where there is one; "": none
    toll_free_in: str = "default"
    # the vertical service code a line dials for call return (the switch calls back
    # whoever called the line last): plan rows dial "*69" and the harness dials this
    # code instead; "": the switch offers none (such a row is an error, not placed)
    call_return: str = "*69"
    # call pickup groups: a line of a group that dials `call_pickup` answers a call
    # ringing at another line of its group ('siteN/NN,siteN/NN[,...]', ';'-separated).
    # "default": site3/05, site3/06, site3/07 where site 3 has 7 lines; "": none
    pickup_groups: str = "default"
    # the vertical service code for group call pickup ("*8", as most switches have it);
    # "": the switch offers none (a call pickup row is then an error, not placed)
    call_pickup: str = "*8"
    # voicemail: the platform's pilot number, a number of the on-net block that is no
    # line's. A call to a line with a mailbox that is busy, or unanswered for
    # `voicemail_after_s`, is forwarded there and leaves a message; the platform tells
    # the line (SIP NOTIFY message-summary, RFC 3842); the line dials the pilot and
    # sends `voicemail_retrieve` (RFC 4733 digits) to hear it. "default": first_line + 88
    # (4135550188 with ours) where the block allows; "": no voicemail
    voicemail_pilot: str = "default"
    # lines with a mailbox, comma-separated; "default": site5/05 where it exists
    voicemail_boxes: str = "default"
    voicemail_after_s: float = 4.0
    voicemail_retrieve: str = "1"

    def voicemail(self) -> tuple[str, str]:
        """(numbers.voicemail_pilot, numbers.voicemail_boxes) as written, or their
        defaults for this number plan."""
        lines, block = self.ranges()
        pilot = self.voicemail_pilot
        if pilot == "default":
            number = block.start + 88
            pilot = f"{number:010d}" if lines.stop <= number < block.stop else ""
        boxes = self.voicemail_boxes
        if boxes == "default":
            boxes = DEFAULT_VOICEMAIL_BOX if pilot and self.sites >= 5 and \
                self.lines_per_site >= 5 else ""
        return pilot, boxes

    def pickup(self) -> str:
        """numbers.pickup_groups as written, or its default for this number plan."""
        if self.pickup_groups != "default":
            return self.pickup_groups
        return "site3/05,site3/06,site3/07" if self.sites >= 3 and \
            self.lines_per_site >= 7 else ""

    def ranges(self) -> tuple[range, range]:
        """(the beta lines' numbers, the on-net block they lie in), as integers."""
        first = int(self.first_line) if self.first_line.isdigit() else 0
        lines = self.sites * self.lines_per_site
        return (range(first, first + lines),
                range(first, first + max(self.onnet_block_size, lines)))

    def hunting(self) -> str:
        """numbers.hunt_groups as written, or its default for this number plan."""
        if self.hunt_groups != "default":
            return self.hunt_groups
        lines, block = self.ranges()
        pilot = block.start + 84
        fits = lines.stop <= pilot < block.stop and self.sites >= 3 and \
            self.lines_per_site >= 12
        overflow = ">site7/04" if self.sites >= 7 else ""  # the branch office's attendant
        return f"{pilot:010d}>site3/08,site3/09,site3/12{overflow}" if fits else ""

    def toll_free(self) -> str:
        """numbers.toll_free_in as written, or its default for this number plan."""
        if self.toll_free_in != "default":
            return self.toll_free_in
        pilot = next((g.pilot for g in parse_hunt_groups(self.hunting())), "")
        return f"866{pilot[3:]}>{pilot}" if pilot else ""

    def porting(self) -> tuple[str, str]:
        """(ported_out, ported_in) as written, or their defaults for this number plan."""
        lines, block = self.ranges()
        out = f"{block.start + 86:010d}" if lines.stop <= block.start + 86 < block.stop \
            else ""
        into = f"{block.start + 95:010d}>site4/05" if block.stop <= block.start + 95 and \
            self.sites >= 4 and self.lines_per_site >= 5 else ""
        return (out if self.ported_out == "default" else self.ported_out,
                into if self.ported_in == "default" else self.ported_in)
    # the form the carrier promises to deliver a calling number in, per interface (to
    # the beta lines' phones; to the PSTN trunk): any | national | nanp11 | e164. "any"
    # accepts every form of the right number; another is checked (docs/configuration.md)
    caller_id_form_onnet: str = "any"
    caller_id_form_pstn: str = "any"
    # how a 911 call's location reaches the PSAP: "geolocation" (RFC 6442 header),
    # "callback" (the callback number, looked up in the simulated PSAP's ALI table of
    # the beta lines' sites: legacy E911), or "either"
    emergency_location: str = "geolocation"


@dataclass(frozen=True, slots=True)
class MediaConfig:
    clock_rate: int = 16000  # G.722 needs it; G.711 measured at its ceiling through it
    jb_init_ms: int = 60
    tail_pad_s: float = 1.5  # talk time beyond the reference length


@dataclass(frozen=True, slots=True)
class AgentsConfig:
    """The agent farm (harness/sip/worker.py) and how many calls run at once."""

    # lines per worker process: the pjsua2 wheel holds 4 calls per process (PJSUA_MAX_CALLS,
    # measured: the 5th is refused PJ_ETOOMANY whatever uaConfig.maxCalls says)
    lines_per_worker: int = 4
    concurrent_calls: int = 18  # plan rows placed at once (1: one after another)
    # rows under an impairment profile run with their lines behind access links:
    # network namespaces + veth to the switch (harness/network/netns.py; embedded switch, root)
    access_links: bool = True
    # the customer sites whose lines run on an agent host (docs/agent-hosts.md):
    # "site1=ssh:root@10.1.1.5; site2=ssh:beta@10.1.2.5:2222", or "=lab" for the lab's own
    # namespaced SSH host; "" (every line on this machine) or "local" for a site: here;
    # "pstn=lab" / "pstn=ssh:..." the simulated PSTN's gateways on a host of their own
    hosts: str = ""
    host_python: str = "python3"  # the agent hosts' Python, with the project installed
    host_dir: str = ""  # where the project lies on an agent host ("" : the login's home)
    ssh_config: str = ""  # an ssh_config for the agent hosts (ssh -F), "" : ssh's own
    # the most a host's clock offset may be uncertain (half the least round trip of the
    # NTP-style exchange at start); a host over it is refused
    clock_tolerance_ms: float = 10.0
    # how often each host's clock offsets are measured again during the run; one that
    # moved beyond the tolerance makes every later call across that host an error
    clock_check_s: float = 30.0
    # each agent host captures its own traffic (dumpcap there; it needs the capability
    # to capture), copied into the run's evidence and read with the run's captures
    host_capture: bool = True


@dataclass(frozen=True, slots=True)
class GuardConfig:
    stall_threshold_s: float = 0.1
    tick_s: float = 0.01
    retries_on_stall: int = 2  # re-place a call whose real-time figures were invalid
    # the most of a window during which one of the harness's real-time processes
    # (agents, embedded switch) may wait for a CPU, % (PSI `some` of their cgroup,
    # harness/cpuwait.py); 0: not judged, and no group made. Measured: 8-25 % over a
    # full plan's calls on a busy 2-core host (58 % once, around a call of 10 ms), 92 %
    # where two CPU hogs starved the agents and the switch (INVITEs answered 4.2 s late)
    rt_wait_limit_pct: float = 80.0


@dataclass(frozen=True, slots=True)
class CdrConfig:
    time_tolerance_s: float = 1.0
    duration_tolerance_s: float = 1.0
    wait_s: float = 5.0  # how long to wait for the switch to write a CDR
    # the tariff billing is checked against: class=rate-per-minute [first/next increment]
    tariff: str = ("onnet=0 1/1; incoming=0 1/1; tollfree_in=0.0450 6/6; local=0.0100 60/60; "
                   "ld_intralata=0.0500 6/6; ld_interlata=0.0700 6/6; "
                   "international=0.2500 30/6; tollfree=0 1/1; directory=0.9900 60/60; "
                   "operator=1.5000 60/60; n11=0 1/1; emergency=0 1/1")


@dataclass(frozen=True, slots=True)
class CaptureConfig:
    enabled: bool = True
    interface: str = "lo"
    # run directories kept under the reports folder: older ones are deleted when a run
    # starts (their rows stay in results.db); 0 keeps every run
    keep_runs: int = 30


@dataclass(frozen=True, slots=True)
class LoadConfig:
    """Background signalling load (SIPp): docs/load.md. Signalling only, no RTP."""

    rate_cps: float = 10.0  # new calls per second the SIPp UAC offers
    max_calls: int = 20  # concurrent calls at most (SIPp -l)
    hold_s: float = 5.0  # each call's length, 200 OK to BYE (SIPp -d)
    timeout_s: float = 10.0  # a load call with no answer (or BYE unanswered) this long fails
    caller: str = "4135550198"  # the load generator's account (From user, digest username)
    target: str = "4135550199"  # the number every load call dials (routed to the sink)
    password: str = ""  # digest password of `caller`; "" = embedded: a random one per run
    sink: bool = True  # the harness answers `target` with a SIPp UAS (the "load sink")
    sink_port: int = 0  # where the switch sends `target`; 0 = a free port (embedded only)


@dataclass(frozen=True, slots=True)
class PstnConfig:
    """Where the PSTN far end of an off-net call is (docs/other-carrier.md).

    "gateway": the simulated PSTN gateway, at a port the switch routes to by trunk
    group. "carrier": the simulated PSTN's numbers are DIDs the harness owns at
    another SIP network (registered with digest auth, reached by dialling them through
    the switch under test); `embedded` starts the lab's own other carrier."""

    mode: str = "gateway"  # gateway | carrier
    embedded: bool = True  # carrier: the harness starts the lab's other carrier
    carrier_host: str = "127.0.0.1"  # carrier: its SIP address (the DIDs' outbound proxy)
    carrier_port: int = 0  # 0 = a free port (embedded only)
    carrier_domain: str = "carrier.test"  # the DIDs' domain (digest realm)
    did_password: str = ""  # digest password of every DID; "" = random per run (embedded)
    # faults the embedded other carrier is rendered with, for the harness's own tests:
    # "deliver_ld_to_local" (calls to the LD DIDs ring the local DID 4135550190)
    test_faults: str = ""

    def fault_set(self) -> frozenset[str]:
        """`test_faults` as a set (validated at load: unknown names never get here)."""
        return parse_faults(self.test_faults, CARRIER_FAULTS, "<config>", "pstn.test_faults")


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    """Beta plan §12, the security probes (docs/security.md). Every probe goes to the
    switch under test only, to numbers of the test plan only, bounded in count."""

    # the switch refuses a line's valid credentials from another source address than
    # the one the line registered from: the replayed-credentials rows apply
    binds_lines_to_addresses: bool = False
    flood_count: int = 100  # INVITEs of the flood row (1..1000)
    flood_rate_cps: float = 20.0  # ... sent at this rate (0.5..200 per second)
    # the probes' own source address: not the lines' (a switch that bans an attacking
    # address must not ban the beta lines with it); loopback for a loopback switch
    probe_source: str = "127.0.0.2"
    probe_wait_s: float = 4.0  # how long a probe waits for a final response (1..30)
    torture: bool = False  # the RFC 4475 replay row (opt-in)


@dataclass(frozen=True, slots=True)
class HarnessConfig:
    sut: SutConfig = field(default_factory=SutConfig)
    numbers: NumbersConfig = field(default_factory=NumbersConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    agents: AgentsConfig = field(default_factory=AgentsConfig)
    guard: GuardConfig = field(default_factory=GuardConfig)
    cdr: CdrConfig = field(default_factory=CdrConfig)
    capture: CaptureConfig = field(default_factory=CaptureConfig)
    load: LoadConfig = field(default_factory=LoadConfig)
    pstn: PstnConfig = field(default_factory=PstnConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    # per call class / codec, over the defaults of harness/verdict/thresholds.py, e.g.
    # "international: srd_s <= 6.0; G711: mos_lqo >= 4.1, loss_pct < 0.5"
    thresholds: str = ""
    source: str = "<defaults>"

    def parsed(self) -> TypedConfig:
        """The tariff, thresholds, forwarding rules and faults as typed values. validate()
        parsed them at load, so on a loaded config this does not fail; they are derived
        from the text each time, so a section replaced later (a test's fault) agrees."""
        return _typed(self)

    def redacted(self) -> dict[str, Any]:
        def walk(obj: Any) -> Any:
            if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
                return {f.name: (_mask(f.name, getattr(obj, f.name))
                                 if not dataclasses.is_dataclass(getattr(obj, f.name))
                                 else walk(getattr(obj, f.name)))
                        for f in dataclasses.fields(obj)}
            return obj
        out: dict[str, Any] = walk(self)
        return out


@dataclass(frozen=True, slots=True)
class TypedConfig:
    """The configuration's mini-languages, parsed once when it is loaded."""

    tariff: Tariff  # cdr.tariff
    thresholds: ThresholdTable  # thresholds, over the defaults of harness/verdict/thresholds.py
    forwarding: tuple[ForwardRule, ...]  # numbers.forwarding ("default": ours)
    switch_faults: frozenset[str]  # sut.test_faults
    carrier_faults: frozenset[str]  # pstn.test_faults


def _mask(name: str, value: Any) -> Any:
    if any(k in name for k in ("password", "secret", "token")) and value:
        return "***"
    return value


def _build(cls: type[Any], data: Any, file: str, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(file, prefix or "<top>", data, "expected a mapping")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if key not in known:
            raise ConfigError(file, dotted, value,
                              f"unknown key (known: {', '.join(sorted(known))})")
        kwargs[key] = _coerce(hints[key], _expand(value, file, dotted), file, dotted)
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, file: str, dotted: str) -> Any:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, file, dotted)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        hint = next(o for o in options if o is not type(None))
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return str(value)
    raise ConfigError(file, dotted, value, f"expected {getattr(hint, '__name__', hint)}")


def _validate_sut(cfg: HarnessConfig) -> None:
    f, sut = cfg.source, cfg.sut
    if sut.kind not in ("embedded-kamailio", "external"):
        raise ConfigError(f, "sut.kind", sut.kind, "expected 'embedded-kamailio' or 'external'")
    parse_behaviours(sut.behaviours, f)
    if sut.pstn_b2bua not in ("", *PSTN_B2BUAS):
        raise ConfigError(f, "sut.pstn_b2bua", sut.pstn_b2bua,
                          f"expected '' or one of {list(PSTN_B2BUAS)}")
    ports = parse_trunk_ports(sut.pstn_trunk_ports, f)
    if sut.kind != "external":
        if ports:
            raise ConfigError(f, "sut.pstn_trunk_ports", sut.pstn_trunk_ports, "for an "
                              "external switch: the embedded one gives every trunk group a "
                              "gateway of its own")
        if sut.voicemail_mwi_port:
            raise ConfigError(f, "sut.voicemail_mwi_port", sut.voicemail_mwi_port, "for an "
                              "external switch: the embedded one has its own")
        return
    if bool(sut.voicemail_mwi_port) != (VOICEMAIL_TRUNK in ports):
        raise ConfigError(f, "sut.voicemail_mwi_port", sut.voicemail_mwi_port,
                          "the lab's voicemail platform needs both its trunk's port "
                          f"(\"{VOICEMAIL_TRUNK}=PORT\" in sut.pstn_trunk_ports) and this one")
    if sut.voicemail_mwi_port and (not 1024 <= sut.voicemail_mwi_port <= 65535 or
                                   sut.voicemail_mwi_port in (sut.pstn_port, *ports.values())):
        raise ConfigError(f, "sut.voicemail_mwi_port", sut.voicemail_mwi_port,
                          "expected a UDP port 1024..65535 of its own (no gateway's)")
    if sut.pstn_port in ports.values():
        raise ConfigError(f, "sut.pstn_trunk_ports", sut.pstn_trunk_ports,
                          f"port {sut.pstn_port} is sut.pstn_port (the main gateway's)")
    if len(set(ports.values())) < len(ports):
        raise ConfigError(f, "sut.pstn_trunk_ports", sut.pstn_trunk_ports,
                          "two trunk groups on one port")
    for name in ("behaviours", "pstn_b2bua"):
        if getattr(sut, name):
            raise ConfigError(f, f"sut.{name}", getattr(sut, name), "the embedded switch's "
                              "lab option (docs/b2bua-lab.md): not for an external switch")
    if sut.tls:
        raise ConfigError(f, "sut.tls", sut.tls, "TLS + SRTP calls are supported with the "
                          "embedded switch only (docs/tls-srtp.md)")
    for name in ("sip_port", "pstn_port"):
        if not getattr(sut, name):
            raise ConfigError(f, f"sut.{name}", getattr(sut, name),
                              "an external switch needs it set (1024..65535)")
    if not sut.cdr_uri:
        raise ConfigError(f, "sut.cdr_uri", sut.cdr_uri, "an external switch needs the URI "
                          "of its CDRs (e.g. sqlite:////var/lib/kamailio/acc.db)")
    if not _loopback(sut.sip_host) and not sut.allow_remote:
        raise ConfigError(f, "sut.sip_host", sut.sip_host, "not a loopback address: set "
                          "sut.allow_remote: true to call a switch on another host")


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: Any, file: str, dotted: str) -> Any:
    """${NAME} in a string is the environment variable NAME (for secrets)."""
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in os.environ:
            raise ConfigError(file, dotted, value, f"environment variable {m.group(1)} is "
                                                   "not set")
        return os.environ[m.group(1)]
    return _ENV.sub(sub, value)


def load_config(path: str | os.PathLike[str] | None = None) -> HarnessConfig:
    """Defaults, overridden by the YAML file at `path` (if given)."""
    if path is None:
        return validate(HarnessConfig())
    import yaml  # lazily: only a config file needs it

    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(file, "<file>", file, f"cannot read: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(file, "<file>", file, f"not valid YAML: {exc}") from exc
    cfg = _build(HarnessConfig, data, file, "")
    return validate(dataclasses.replace(cfg, source=file))


def validate(cfg: HarnessConfig) -> HarnessConfig:
    f = cfg.source
    n = cfg.numbers
    if not (n.first_line.isdigit() and len(n.first_line) == 10):
        raise ConfigError(f, "numbers.first_line", n.first_line,
                          "expected 10 digits (NPA-NXX-XXXX)")
    if not (n.home_npa.isdigit() and len(n.home_npa) == 3):
        raise ConfigError(f, "numbers.home_npa", n.home_npa, "expected 3 digits")
    if n.dial_around_cic and not (n.dial_around_cic.isdigit() and len(n.dial_around_cic) == 4):
        raise ConfigError(f, "numbers.dial_around_cic", n.dial_around_cic,
                          "expected a 4-digit carrier identification code (dialled as "
                          "101XXXX), or \"\" for none")
    if n.call_return and not re.fullmatch(r"\*[0-9]{2,3}|#[0-9]{2,3}", n.call_return):
        raise ConfigError(f, "numbers.call_return", n.call_return,
                          "expected a vertical service code (* or # and 2-3 digits, "
                          "as *69), or \"\" for none")
    if n.call_pickup and (not re.fullmatch(r"\*[0-9]{1,3}|#[0-9]{1,3}", n.call_pickup)
                          or n.call_pickup == n.call_return):
        raise ConfigError(f, "numbers.call_pickup", n.call_pickup,
                          "expected a vertical service code (* or # and 1-3 digits, as "
                          "*8) other than numbers.call_return, or \"\" for none")
    for name in ("sites", "lines_per_site"):
        if getattr(n, name) < 1:
            raise ConfigError(f, f"numbers.{name}", getattr(n, name), "must be >= 1")
    if n.emergency_location not in ("geolocation", "callback", "either"):
        raise ConfigError(f, "numbers.emergency_location", n.emergency_location,
                          "expected one of geolocation, callback, either")
    for name in ("caller_id_form_onnet", "caller_id_form_pstn"):
        if getattr(n, name) not in PROMISABLE:
            raise ConfigError(f, f"numbers.{name}", getattr(n, name),
                              f"expected one of {', '.join(PROMISABLE)}")
    if cfg.sut.tls is None:
        cfg = dataclasses.replace(cfg, sut=dataclasses.replace(
            cfg.sut, tls=cfg.sut.kind != "external"))
    _validate_sut(cfg)
    if cfg.sut.pstn_b2bua and cfg.sut.pstn_trunk_groups:
        # the one place the trunk group is declared lost: a B2BUA before the gateway
        # builds a new R-URI without ;tgrp= (docs/b2bua-lab.md)
        cfg = dataclasses.replace(cfg, sut=dataclasses.replace(cfg.sut, pstn_trunk_groups=False))
    if cfg.media.clock_rate not in (8000, 16000):
        raise ConfigError(f, "media.clock_rate", cfg.media.clock_rate, "must be 8000 or 16000")
    if not 1 <= cfg.agents.lines_per_worker <= 4:
        raise ConfigError(f, "agents.lines_per_worker", cfg.agents.lines_per_worker,
                          "must be 1..4 (a pjsua2 process holds 4 calls)")
    hosts = parse_hosts(cfg.agents.hosts, cfg.numbers.sites, f)
    if hosts.pstn is not None and cfg.pstn.mode == "carrier":
        raise ConfigError(f, "agents.hosts", cfg.agents.hosts,
                          "pstn= places the simulated PSTN's gateways; with pstn.mode "
                          "carrier the PSTN's numbers are DIDs at another carrier")
    if hosts.pstn is not None and cfg.sut.pstn_b2bua:
        raise ConfigError(f, "agents.hosts", cfg.agents.hosts,
                          "pstn= with sut.pstn_b2bua: the lab's B2BUA relays to this "
                          "machine's loopback")
    if not 1 <= cfg.agents.clock_check_s <= 3600:
        raise ConfigError(f, "agents.clock_check_s", cfg.agents.clock_check_s,
                          "must be 1..3600 (seconds)")
    if not 0 < cfg.agents.clock_tolerance_ms <= 1000:
        raise ConfigError(f, "agents.clock_tolerance_ms", cfg.agents.clock_tolerance_ms,
                          "must be > 0 and at most 1000")
    if not 1 <= cfg.agents.concurrent_calls <= 84:
        raise ConfigError(f, "agents.concurrent_calls", cfg.agents.concurrent_calls,
                          "must be 1..84")
    if cfg.capture.keep_runs < 0:
        raise ConfigError(f, "capture.keep_runs", cfg.capture.keep_runs,
                          "must be >= 0 (0 keeps every run)")
    if cfg.guard.stall_threshold_s <= 0:
        raise ConfigError(f, "guard.stall_threshold_s", cfg.guard.stall_threshold_s,
                          "must be > 0")
    if not 0 <= cfg.guard.rt_wait_limit_pct <= 100:
        raise ConfigError(f, "guard.rt_wait_limit_pct", cfg.guard.rt_wait_limit_pct,
                          "must be 0 (not judged) or a percentage up to 100")
    for name in ("sip_port", "rtp_port_min", "tls_port"):
        port = getattr(cfg.sut, name)
        if port and not 1024 <= port <= 65535:
            raise ConfigError(f, f"sut.{name}", port, "must be 0 (auto) or 1024..65535")
    _validate_load(cfg)
    _validate_security(cfg)
    cfg = _validate_pstn(cfg)
    _typed(cfg)  # the mini-languages: a bad one fails here, naming file, field and value
    return cfg


def _typed(cfg: HarnessConfig) -> TypedConfig:
    """Every mini-language of `cfg`, parsed: ConfigError naming file, field and value."""
    from harness.verdict.thresholds import ThresholdTable  # lazily: config is imported first

    f, n = cfg.source, cfg.numbers
    forwarding = parse_forwarding(DEFAULT_FORWARDING if n.forwarding == "default"
                                  else n.forwarding, f)
    if n.forwarding != "default":
        _within(n, f, "numbers.forwarding",
                [p for rule in forwarding for p in (rule.line, rule.target)])
    for name in ("anonymous_rejection", "toll_restricted", "t38_lines"):
        if getattr(n, name) != "default":
            _within(n, f, f"numbers.{name}",
                    parse_lines(getattr(n, name), f, f"numbers.{name}"))
    _porting(n, f)
    _hunting(n, f)
    for group in parse_pickup_groups(n.pickup(), f):
        _within(n, f, "numbers.pickup_groups", group)
    _toll_free_in(n, f)
    _voicemail(n, f)
    return TypedConfig(
        parse_tariff_table(cfg.cdr.tariff, f),
        ThresholdTable.build(parse_thresholds(cfg.thresholds, f), f),
        forwarding, parse_faults(cfg.sut.test_faults, SWITCH_FAULTS, f, "sut.test_faults"),
        parse_faults(cfg.pstn.test_faults, CARRIER_FAULTS, f, "pstn.test_faults"))


@dataclass(frozen=True, slots=True)
class HostTarget:
    """Where a customer site's lines run (agents.hosts): the lab's namespaced SSH host
    (`kind` "lab"), or a machine reached over SSH as `user@address` (port 22 unless
    given)."""

    kind: str  # "lab" | "ssh"
    login: str = ""  # user@address
    port: int = 22

    @property
    def address(self) -> str:
        return self.login.rsplit("@", 1)[-1]


_SSH_TARGET = re.compile(r"^ssh:([A-Za-z0-9._-]+)@([A-Za-z0-9.:-]+?)(?::(\d{1,5}))?$")


@dataclass(frozen=True, slots=True)
class HostTargets:
    """agents.hosts parsed: the customer sites on agent hosts (by site number), and the
    simulated PSTN's host (`pstn=`; None: this machine)."""

    sites: dict[int, HostTarget] = field(default_factory=dict)
    pstn: HostTarget | None = None

    def __bool__(self) -> bool:
        return bool(self.sites) or self.pstn is not None


def parse_hosts(text: str, sites: int, file: str = "<config>") -> HostTargets:
    """agents.hosts: `siteN=lab`, `siteN=ssh:user@host[:port]` or `siteN=local`, `;`
    between; `pstn=` the same for the simulated PSTN's gateways and subscribers; every
    other site on this machine."""
    field_ = "agents.hosts"
    out: dict[int, HostTarget] = {}
    pstn: HostTarget | None = None
    seen: set[str] = set()
    for part in filter(None, (p.strip() for p in text.split(";"))):
        site, sep, target = (x.strip() for x in part.partition("="))
        m = re.fullmatch(r"site(\d+)", site)
        if not sep or (m is None and site != "pstn"):
            raise ConfigError(file, field_, part, "expected siteN=lab, siteN=ssh:user@host"
                              "[:port], siteN=local or pstn=...")
        if m is not None and not 1 <= int(m.group(1)) <= sites:
            raise ConfigError(file, field_, part, f"no site {m.group(1)} (numbers.sites: "
                              f"{sites})")
        if site in seen:
            raise ConfigError(file, field_, part, f"{site} is given twice")
        seen.add(site)
        if target == "local":
            continue
        if target == "lab":
            host = HostTarget("lab")
        else:
            ssh = _SSH_TARGET.fullmatch(target)
            if ssh is None:
                raise ConfigError(file, field_, part,
                                  "expected lab, local or ssh:user@host[:port]")
            port = int(ssh.group(3) or 22)
            if not 1 <= port <= 65535:
                raise ConfigError(file, field_, part, f"port {port} is not 1..65535")
            host = HostTarget("ssh", f"{ssh.group(1)}@{ssh.group(2)}", port)
        if m is None:
            pstn = host
        else:
            out[int(m.group(1))] = host
    return HostTargets(out, pstn)


def _porting(n: NumbersConfig, file: str) -> None:
    """A ported-out number lies in the on-net block on no line and is no test string;
    a ported-in one lies outside it, is no number of the simulated PSTN, and goes to a
    beta line."""
    lines, block = n.ranges()
    reserved = {*n.unassigned_test_numbers.replace(" ", "").split(","),
                *(p.number for p in DEFAULT_PSTN)}
    ported_out, ported_in_text = n.porting()
    for number in parse_numbers(ported_out, file, "numbers.ported_out"):
        why = ("not in the on-net block "
               f"({block.start:010d}..{block.stop - 1:010d})" if int(number) not in block
               else "a beta line's own number" if int(number) in lines
               else "a declared test number" if number in reserved else "")
        if why:
            raise ConfigError(file, "numbers.ported_out", number, f"cannot be ported out: {why}")
    ported_in = parse_ported_in(ported_in_text, file)
    _within(n, file, "numbers.ported_in", [line for _, line in ported_in])
    for number, _ in ported_in:
        if int(number) in block or number in reserved:
            raise ConfigError(file, "numbers.ported_in", number,
                              "cannot be ported in: it is "
                              + ("in the on-net block already" if int(number) in block
                                 else "a number of the simulated PSTN or a test number"))


def _hunting(n: NumbersConfig, file: str) -> None:
    """A hunt group's pilot lies in the on-net block on no line, is no test string and
    no number ported out, and is one group's only; its members are beta lines."""
    lines, block = n.ranges()
    taken = {*n.unassigned_test_numbers.replace(" ", "").split(","),
             *(p.number for p in DEFAULT_PSTN),
             *parse_numbers(n.porting()[0], file, "numbers.ported_out")}
    seen: set[str] = set()
    for group in parse_hunt_groups(n.hunting(), file):
        why = ("not in the on-net block "
               f"({block.start:010d}..{block.stop - 1:010d})" if int(group.pilot) not in block
               else "a beta line's own number" if int(group.pilot) in lines
               else "a test number or a number ported out" if group.pilot in taken
               else "the pilot of another hunt group" if group.pilot in seen else "")
        if why:
            raise ConfigError(file, "numbers.hunt_groups", group.pilot,
                              f"cannot be a hunt group's pilot: {why}")
        seen.add(group.pilot)
        _within(n, file, "numbers.hunt_groups",
                (*group.members, *([group.overflow] if group.overflow else [])))


def _voicemail(n: NumbersConfig, file: str) -> None:
    """The voicemail pilot lies in the on-net block on no line and is no other number
    the config gives a meaning; its mailboxes are beta lines; the retrieval digits are
    RFC 4733 digits."""
    pilot, boxes = n.voicemail()
    if not pilot:
        if n.voicemail_boxes not in ("default", ""):
            raise ConfigError(file, "numbers.voicemail_boxes", n.voicemail_boxes,
                              "mailboxes need a voicemail platform (numbers.voicemail_pilot "
                              "is \"\")")
        return
    lines, block = n.ranges()
    taken = {*n.unassigned_test_numbers.replace(" ", "").split(","),
             *(p.number for p in DEFAULT_PSTN),
             *parse_numbers(n.porting()[0], file, "numbers.ported_out"),
             *(number for number, _ in parse_ported_in(n.porting()[1], file)),
             *(g.pilot for g in parse_hunt_groups(n.hunting(), file)),
             *(number for pair in parse_toll_free_in(n.toll_free(), file) for number in pair)}
    why = ("expected 10 digits (NPA-NXX-XXXX)" if not _NANP10.fullmatch(pilot)
           else f"not in the on-net block ({block.start:010d}..{block.stop - 1:010d})"
           if int(pilot) not in block else "a beta line's own number" if int(pilot) in lines
           else "a number the config gives another meaning (a test number, a number "
                "ported, a hunt group's pilot, a toll-free number's)" if pilot in taken
           else "")
    if why:
        raise ConfigError(file, "numbers.voicemail_pilot", pilot,
                          f"cannot be the voicemail pilot: {why}")
    _within(n, file, "numbers.voicemail_boxes", parse_lines(boxes, file,
                                                            "numbers.voicemail_boxes"))
    if not 1.0 <= n.voicemail_after_s <= 60.0:
        raise ConfigError(file, "numbers.voicemail_after_s", n.voicemail_after_s,
                          "must be 1..60 (seconds a mailbox's line rings first)")
    if not re.fullmatch(r"[0-9*#]{1,16}", n.voicemail_retrieve):
        raise ConfigError(file, "numbers.voicemail_retrieve", n.voicemail_retrieve,
                          "expected 1-16 RFC 4733 digits (0-9 * #)")


def _toll_free_in(n: NumbersConfig, file: str) -> None:
    """A toll-free number served here is no toll-free number of the simulated PSTN and
    is served once; it reaches a beta line's number or a hunt group's pilot."""
    lines, _ = n.ranges()
    pilots = {g.pilot for g in parse_hunt_groups(n.hunting(), file)}
    pstn = {p.number for p in DEFAULT_PSTN}
    seen: set[str] = set()
    for number, target in parse_toll_free_in(n.toll_free(), file):
        why = ("a toll-free number of the simulated PSTN (an outgoing call's far end)"
               if number in pstn else "served twice" if number in seen else "")
        if why:
            raise ConfigError(file, "numbers.toll_free_in", number, f"cannot be served: {why}")
        if int(target) not in lines and target not in pilots:
            raise ConfigError(file, "numbers.toll_free_in", f"{number}>{target}",
                              f"{target} is neither a beta line's number "
                              f"({lines.start:010d}..{lines.stop - 1:010d}) nor a hunt "
                              "group's pilot (numbers.hunt_groups)")
        seen.add(number)


def _within(n: NumbersConfig, file: str, field: str, parties: Iterable[Party]) -> None:
    """Every party a beta line of the configured sites (a line the config names)."""
    for party in parties:
        if not (1 <= party.site <= n.sites and 1 <= party.index <= n.lines_per_site):
            raise ConfigError(file, field, str(party), "no such beta line "
                              f"(sites 1..{n.sites}, lines 01..{n.lines_per_site:02d})")


def _validate_security(cfg: HarnessConfig) -> None:
    """Bounded probes (never a flood without a limit), from an address literal that
    is loopback when the switch is."""
    f, sec = cfg.source, cfg.security
    for name, lo, hi in (("flood_count", 1, 1000), ("flood_rate_cps", 0.5, 200.0),
                         ("probe_wait_s", 1.0, 30.0)):
        if not lo <= getattr(sec, name) <= hi:
            raise ConfigError(f, f"security.{name}", getattr(sec, name), f"must be {lo}..{hi}")
    try:
        source = ipaddress.ip_address(sec.probe_source)
    except ValueError:
        raise ConfigError(f, "security.probe_source", sec.probe_source,
                          "expected an IPv4 address literal of this host") from None
    if source.version != 4:
        raise ConfigError(f, "security.probe_source", sec.probe_source, "expected IPv4")
    if not source.is_loopback and not cfg.sut.allow_remote:
        raise ConfigError(f, "security.probe_source", sec.probe_source, "not a loopback "
                          "address: probes leave the host only with sut.allow_remote: true")


def _validate_load(cfg: HarnessConfig) -> None:
    """The load section: figures in range, numbers 10 digits and apart from each other
    and from the beta lines' on-net block (the load never dials a probe's number)."""
    f, ld = cfg.source, cfg.load
    for name, lo, hi in (("rate_cps", 0.1, 500.0), ("max_calls", 1, 2000),
                         ("hold_s", 0.0, 3600.0), ("timeout_s", 1.0, 300.0)):
        value = getattr(ld, name)
        if not lo <= value <= hi:
            raise ConfigError(f, f"load.{name}", value, f"must be {lo}..{hi}")
    first = int(cfg.numbers.first_line) if cfg.numbers.first_line.isdigit() else 0
    block = (first, first + max(cfg.numbers.onnet_block_size,
                                cfg.numbers.sites * cfg.numbers.lines_per_site) - 1)
    for name in ("caller", "target"):
        number = getattr(ld, name)
        if not (number.isdigit() and len(number) == 10):
            raise ConfigError(f, f"load.{name}", number, "expected 10 digits (NPA-NXX-XXXX)")
        if block[0] <= int(number) <= block[1]:
            raise ConfigError(f, f"load.{name}", number, "inside the beta lines' on-net block "
                              f"{block[0]:010d}..{block[1]:010d}: load must not ring a line")
    if ld.caller == ld.target:
        raise ConfigError(f, "load.target", ld.target, "must differ from load.caller")
    if ld.sink_port and not 1024 <= ld.sink_port <= 65535:
        raise ConfigError(f, "load.sink_port", ld.sink_port, "must be 0 (auto) or 1024..65535")
    # what only a run with load needs of an external switch (password, sink port) is
    # checked when the load starts (harness.load.sipp.LoadTarget.resolve)


def _validate_pstn(cfg: HarnessConfig) -> HarnessConfig:
    """The pstn section. In carrier mode no trunk group crosses the carrier boundary:
    `sut.pstn_trunk_groups` is off (routing is judged by which DID rang)."""
    f, p = cfg.source, cfg.pstn
    if p.mode not in ("gateway", "carrier"):
        raise ConfigError(f, "pstn.mode", p.mode, "expected 'gateway' or 'carrier'")
    if p.mode == "gateway":
        return cfg
    if p.carrier_port and not 1024 <= p.carrier_port <= 65535:
        raise ConfigError(f, "pstn.carrier_port", p.carrier_port,
                          "must be 0 (auto, embedded only) or 1024..65535")
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", p.carrier_domain):
        raise ConfigError(f, "pstn.carrier_domain", p.carrier_domain, "expected a domain name")
    parse_faults(p.test_faults, CARRIER_FAULTS, f, "pstn.test_faults")
    if not p.embedded:
        if p.test_faults:
            raise ConfigError(f, "pstn.test_faults", p.test_faults,
                              "faults are rendered into the embedded other carrier only")
        for name in ("carrier_port", "did_password"):
            if not getattr(p, name):
                raise ConfigError(f, f"pstn.{name}", getattr(p, name),
                                  "a carrier the harness does not run needs it set")
        if not _loopback(p.carrier_host) and not cfg.sut.allow_remote:
            raise ConfigError(f, "pstn.carrier_host", p.carrier_host, "not a loopback "
                              "address: set sut.allow_remote: true to use another host")
    elif not _loopback(p.carrier_host):
        raise ConfigError(f, "pstn.carrier_host", p.carrier_host,
                          "the embedded other carrier runs on a loopback address")
    if cfg.sut.kind != "external" and p.carrier_host != "127.0.0.1":
        raise ConfigError(f, "pstn.carrier_host", p.carrier_host, "the embedded switch "
                          "reaches the other carrier's trunk on 127.0.0.1")
    return dataclasses.replace(cfg, sut=dataclasses.replace(cfg.sut, pstn_trunk_groups=False))


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def parse_tariff(text: str, file: str = "<defaults>") -> dict[str, str]:
    """'local=0.01 60/60; international=0.25 30/6' -> {class: 'rate increment'}."""
    out: dict[str, str] = {}
    for item in (x.strip() for x in text.split(";")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ConfigError(file, "cdr.tariff", item, "expected 'class=rate [FIRST/NEXT]'")
        out[name.strip()] = value.strip()
    return out


def parse_tariff_table(text: str, file: str = "<defaults>") -> Tariff:
    """cdr.tariff as a `Tariff` (harness/cdr/billing.py): every class a call class,
    every rate and increment well formed."""
    from harness.cdr.billing import Tariff  # lazily: config is imported first

    table = parse_tariff(text, file)
    for name in table:
        if not in_choice(name, CallClass):
            raise ConfigError(file, "cdr.tariff", name, "not a call class (known: "
                              f"{', '.join(allowed(CallClass))})")
    try:
        return Tariff.parse(table)
    except ConfigError as exc:  # names the class and its rate: say where it came from
        raise ConfigError(file, "cdr.tariff", f"{exc.field}={table.get(exc.field, exc.value)}",
                          exc.problem) from None


def parse_thresholds(text: str, file: str = "<defaults>") -> dict[str, list[str]]:
    """'class: check, check; codec: check' -> {key: [check, ...]}; a key is a call
    class or a codec of harness/verdict/thresholds.py (the checks themselves are parsed by
    `ThresholdTable.build`)."""
    from harness.verdict.thresholds import CODEC_ALIASES, CODEC_DEFAULTS

    codecs = (*CODEC_DEFAULTS, *CODEC_ALIASES)
    out: dict[str, list[str]] = {}
    for item in (x.strip() for x in text.split(";")):
        if item:
            key, sep, checks = item.partition(":")
            key = key.strip()
            if not sep:
                raise ConfigError(file, "thresholds", item, "expected 'class or codec: "
                                  "check, check' (e.g. 'international: srd_s <= 6.0')")
            if not in_choice(key.lower(), CallClass) and key.upper() not in codecs:
                raise ConfigError(file, "thresholds", key, "not a call class or codec "
                                  f"(known: {', '.join((*allowed(CallClass), *codecs))})")
            out[key] = [c.strip() for c in checks.split(",") if c.strip()]
            _check_metrics(out[key], key.upper() in codecs, file, f"thresholds.{key}")
    return out


def _check_metrics(checks: list[str], codec: bool, file: str, field: str) -> None:
    """A class's checks name the metrics the class defaults judge (set-up), a codec's
    those of the codec defaults (media): any other would never be measured."""
    from harness.verdict.thresholds import CLASS_METRICS, CODEC_METRICS, Threshold

    known = sorted(CODEC_METRICS if codec else CLASS_METRICS)
    for i, text in enumerate(checks):
        metric = Threshold.parse(text, file, f"{field}[{i}]").metric
        if metric not in known:
            raise ConfigError(file, f"{field}[{i}]", text, f"metric {metric!r} is not judged "
                              f"for a {'codec' if codec else 'call class'} (known: "
                              f"{', '.join(known)})")
