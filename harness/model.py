"""Plain data the whole harness speaks: nothing here knows about pjsua2 or Kamailio.

Units live in the names (`srd_s`, `mos_lqo`, `duration_s`); monotonic clocks measure
durations, wall clock (`*_wall`, seconds since the epoch) is kept only to compare with
a switch's own timestamps.

A plan row is checked when it is built (`CallSpec.__post_init__`): every choice is
one of its words (`harness.vocab`), every party parses (`harness.party.Party`), and a
bad row raises `PlanRowError` naming the row, each bad field, its value and what is
allowed; `pytest --collect-only testplans` reports it with the plan file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeAlias

from harness.errors import HarnessError
from harness.party import Party, PartyError
from harness.verdict.checks import Check, Outcome
from harness.vocab import (
    ANONYMOUS_ID,
    CALL_RETURN,
    NOBODY,
    CallClass,
    CalleeBehaviour,
    Codec,
    EarlyMediaKind,
    HangupBy,
    TransferKind,
    Transport,
    Trunk,
    allowed,
    choice_problem,
    in_choice,
)


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Line:
    """One on-net beta line (a SIP account on the switch)."""

    site: int
    index: int
    number: str
    password: str

    @property
    def name(self) -> str:
        return f"site{self.site}/{self.index:02d}"


class FromTable(StrEnum):
    """A limit a plan row leaves to the threshold table: its call class's (srd_s,
    setup_s) or its codec's (mos_lqo), harness/verdict/thresholds.py over the config's
    `thresholds` (like httpx's USE_CLIENT_DEFAULT: 'the default', told from None)."""

    TABLE = "table"


TABLE = FromTable.TABLE
Limit: TypeAlias = float | None | FromTable  # a row's own limit, not checked (None), or the table's


@dataclass(frozen=True, slots=True)
class Expect:
    """What a plan row expects; None means 'not checked for this row'.

    The three limits (srd_s_max, setup_s_max, mos_lqo_min) come from the threshold
    table unless the row gives its own, which then replaces the table's for this row
    (`ThresholdTable.compile`): one limit per figure, and where it came from."""

    final_code: int = 200
    srd_s_max: Limit = TABLE
    setup_s_max: Limit = TABLE
    mos_lqo_min: Limit = TABLE  # None: voice quality not scored for this row
    cdr: bool = True
    rings: str | None = None  # who must ring: "site2/01", "pstn:ld", "pstn:psap", "none"
    call_class: CallClass | None = None  # the class the switch must record in the CDR
    # the carrier (CIC) the CDR must bill the call to: a dial-around row's, or
    # "dialled": the CIC of the carrier access code dialled (101XXXX)
    carrier: str | None = None
    caller_id: str | None = None  # what the far end is shown: a number or "anonymous"
    location: bool = False  # the far end must receive the caller's location (911)
    audio: bool = True  # an answered call carries RTP both ways (checked on the wire)
    forwarded_from: str | None = None  # the line that rang first and forwarded the call
    transferred_to: str | None = None  # the line the caller talks to after a transfer
    # a 3-way call's third party: two calls from the caller, every party heard by
    # every other (six directed paths, each in its talker's turn)
    conferenced: str | None = None
    # early media the caller must hear before the final response: "ringback" (audible
    # ringing before the answer) | "sit" (an intercept's Special Information Tone)
    early_media: EarlyMediaKind | None = None

    @property
    def scored(self) -> bool:
        """The row asks for voice quality (a floor of its own or its codec's)."""
        return self.mos_lqo_min is not None

    @property
    def mos_floor(self) -> float | None:
        """The row's MOS-LQO floor once compiled with the threshold table."""
        return _compiled("mos_lqo_min", self.mos_lqo_min)

    @property
    def rings_party(self) -> Party | None:
        """Who must ring as a party; None when nobody may ring or it is not checked."""
        return None if self.rings is None else Party.of_seat(self.rings)


def _compiled(name: str, value: Limit) -> float | None:
    if isinstance(value, FromTable):
        raise TypeError(f"expect.{name} is the table's: compile the row's limits first "
                        "(ThresholdTable.compile)")
    return value


@dataclass(frozen=True, slots=True)
class CallSpec:
    """One beta-plan row: who calls what, how long it rings and talks."""

    plan_id: str
    call_type: str
    caller: str
    dial: str
    expect: Expect = field(default_factory=Expect)
    answer_after_s: float = 1.0
    talk_s: float = 8.0
    hangup_by: HangupBy = "caller"
    codec: Codec = "PCMU"
    description: str = ""
    headers: tuple[tuple[str, str], ...] = ()  # extra SIP headers on the INVITE
    callee_behaviour: CalleeBehaviour = "answer"  # a called beta line: answer | busy | no_answer
    # further beta lines that are busy (486) if the switch rings them during this call:
    # a hunt group's other lines, to show it overflows
    busy_lines: tuple[str, ...] = ()
    cancel_after_s: float | None = None  # the caller gives up ringing after this
    dtmf_a: str = ""  # digits the caller sends after the answer (RFC 4733)
    dtmf_b: str = ""  # digits the called party sends back
    # when the caller's digits start (s after the answer; the called party's 1.5 s
    # later): a scored row sends them after its speech, so the reference is heard whole
    dtmf_at_s: float = 1.0
    hold_at_s: float | None = None  # the caller holds the call (s after the answer)
    resume_at_s: float | None = None
    # network impairment on the media path (harness.network.impair); a named profile ("clean"
    # included) runs the row's lines behind access links (harness.network.access); "": none
    profile: str = ""
    transfer_to: str = ""  # the called party transfers the caller here (REFER)
    transfer_at_s: float = 2.0  # ... this long after the answer
    # "blind" (REFER at once) | "attended" (the called party holds the caller, calls
    # `transfer_to` first, then REFERs with Replaces: RFC 5589 §7)
    transfer_kind: TransferKind = "blind"
    conference_with: str = ""  # 3-way: the caller also calls this party and bridges both
    # signalling transport of both parties' phones: "udp" | "tls" (docs/tls-srtp.md);
    # srtp: media encrypted (RTP/SAVP, SDES keys) on both legs. A "tls" row needs sut.tls
    transport: Transport = "udp"
    srtp: bool = False
    # call return (dial "*69"): these parties (a beta line, or a PSTN subscriber
    # 'pstn:<number>') call the row's caller first, one after another; each rings it
    # and gives up unanswered. The call return must reach the last of them.
    calls_before: tuple[str, ...] = ()
    # ... each withholding its number (*67 before the line's number): the call return
    # must then be refused (403), the withheld caller neither called nor disclosed
    withheld_before: bool = False
    # call waiting: this party (a beta line, or a PSTN subscriber 'pstn:<number>') calls
    # the called line `waiting_at_s` after the row's call was answered, while it is up;
    # the line is presented the second call (180), holds the first, answers the second,
    # talks, and resumes the first when the second ends
    waiting_caller: str = ""
    waiting_at_s: float = 14.0
    # call pickup: the row's call rings its called line unanswered; this beta line of
    # the same pickup group (numbers.pickup_groups) dials the switch's pickup code
    # (numbers.call_pickup) `pickup_at_s` after the row's call was placed, and the
    # caller must then talk to it (the called line stops ringing)
    picked_up_by: str = ""
    pickup_at_s: float = 3.0
    # a fax call: both parties are G3 fax terminals (ITU-T T.30 over the call's G.711
    # audio); the caller sends the harness's test page, the called party receives it,
    # and the page received is compared with it bit for bit (harness/media/fax.py)
    fax: bool = False
    # voicemail: the row's call is to a line with a mailbox (numbers.voicemail_boxes) that
    # does not answer; the switch forwards it to the voicemail platform, where the caller
    # leaves its speech as a message (PESQ both ways: the greeting, the message as
    # deposited); the platform must reach the line with a NOTIFY message-summary (RFC
    # 3842) saying a message waits; the line then calls the pilot, sends the retrieval
    # digits and hears the message (PESQ against the caller's speech); and is told, again
    # by NOTIFY, that none waits any more
    voicemail: bool = False
    # a retrieval call (the row's further call, placed by the harness): the voicemail
    # platform plays this recording, the message, once the line sent its digits
    retrieves: str = ""

    def __post_init__(self) -> None:
        """A row is checked when it is written: a misspelt choice ("bussy") would
        otherwise ring and never answer, and be blamed on the switch."""
        problems = [p for name, value, choice, none_ok in self._choices()
                    for p in choice_problem(name, value, choice, none_ok)]
        for name in ("answer_after_s", "talk_s", "transfer_at_s", "dtmf_at_s", "waiting_at_s",
                     "pickup_at_s"):
            if not getattr(self, name) >= 0:
                problems.append(f"{name} = {getattr(self, name)!r}: must be 0 or more")
        if self.hold_at_s is not None and self.resume_at_s is not None and \
                not self.resume_at_s > self.hold_at_s:
            problems.append(f"resume_at_s = {self.resume_at_s!r}: must come after "
                            f"hold_at_s = {self.hold_at_s!r}")
        if self.transfer_kind == "attended" and not self.transfer_to:
            problems.append("transfer_kind = 'attended': needs transfer_to")
        problems += _caller_problems("caller", self.caller) + _profile_problems(self.profile)
        for i, line in enumerate(self.busy_lines):
            problems += _line_problems(f"busy_lines[{i}]", line)
        problems += self._call_return_problems() + self._waiting_problems()
        problems += self._pickup_problems()
        if self.fax and (self.codec not in ("PCMU", "PCMA") or self.expect.mos_lqo_min
                         is not None or self.callee_behaviour != "answer"):
            problems.append("fax: a G.711 call (codec PCMU or PCMA), answered, with no "
                            "voice to score (expect.mos_lqo_min None: the page received "
                            "is compared bit for bit instead)")
        problems += _expect_problems(self.expect)
        if self.profile not in ("", "clean") and self.expect.final_code == 200 and \
                isinstance(self.expect.mos_lqo_min, FromTable):
            problems.append(f"expect.mos_lqo_min = TABLE under profile {self.profile!r}: "
                            "the codec's floor is for a clean path; give the row's own "
                            "floor (or None: not scored)")
        if problems:
            raise PlanRowError(self.plan_id, problems)

    def _choices(self) -> tuple[tuple[str, object, object, bool], ...]:
        """(field, value, its Literal choice, None allowed) of every word of the row."""
        e = self.expect
        return (("callee_behaviour", self.callee_behaviour, CalleeBehaviour, False),
                ("hangup_by", self.hangup_by, HangupBy, False),
                ("transfer_kind", self.transfer_kind, TransferKind, False),
                ("transport", self.transport, Transport, False),
                ("codec", self.codec, Codec, False),
                ("expect.call_class", e.call_class, CallClass, True),
                ("expect.early_media", e.early_media, EarlyMediaKind, True))

    def _call_return_problems(self) -> list[str]:
        if self.dial != CALL_RETURN and not self.calls_before:
            return []
        if not self.calls_before:
            return [f"dial = {self.dial!r} (call return): needs calls_before, the parties "
                    "that call the caller first (the last is the one it must reach)"]
        problems = [] if self.dial == CALL_RETURN else [
            f"calls_before = {self.calls_before!r}: only for a call return row "
            f"(dial {CALL_RETURN!r})"]
        if self.withheld_before and any(Party.in_pstn(p) for p in self.calls_before):
            problems.append(f"withheld_before with calls_before = {self.calls_before!r}: "
                            "a PSTN subscriber's privacy is not the plan's to set (beta "
                            "lines only)")
        if not isinstance(self.calls_before, tuple):
            return [*problems, f"calls_before = {self.calls_before!r}: must be a tuple"]
        problems += _line_problems("caller", self.caller) if not problems else []
        for i, party in enumerate(self.calls_before):
            problems += _caller_problems(f"calls_before[{i}]", party)
        if self.caller in self.calls_before:
            problems.append(f"calls_before = {self.calls_before!r}: the caller cannot "
                            "call itself")
        return problems

    def _waiting_problems(self) -> list[str]:
        if not self.waiting_caller:
            return []
        problems = _caller_problems("waiting_caller", self.waiting_caller)
        if self.waiting_caller in (self.caller, self.dial):
            problems.append(f"waiting_caller = {self.waiting_caller!r}: another party than "
                            "the row's caller and called line")
        if self.expect.final_code != 200 or self.callee_behaviour != "answer":
            problems.append("waiting_caller: the row's call must be answered "
                            "(expect.final_code 200, callee_behaviour 'answer')")
        return problems

    def _pickup_problems(self) -> list[str]:
        if not self.picked_up_by:
            return []
        problems = _line_problems("picked_up_by", self.picked_up_by) + \
            _line_problems("dial", self.dial)
        if self.picked_up_by in (self.caller, self.dial):
            problems.append(f"picked_up_by = {self.picked_up_by!r}: another line than the "
                            "row's caller and called line")
        if self.callee_behaviour != "no_answer" or self.expect.final_code != 200:
            problems.append("picked_up_by: the called line must ring unanswered "
                            "(callee_behaviour 'no_answer') and the call be answered by "
                            "the picking line (expect.final_code 200)")
        if self.transfer_to or self.conference_with or self.waiting_caller or \
                self.hold_at_s is not None:
            problems.append("picked_up_by: not with a transfer, a 3-way call, call "
                            "waiting or a hold in the same row")
        return problems

    @property
    def caller_party(self) -> Party:
        """The row's caller: a beta line, or a PSTN subscriber (checked when built)."""
        return Party.parse(self.caller)

    @property
    def reaches(self) -> str:
        """The dial string of the party this row's call must reach, for the dial guard
        and the far ends: the row's dial, or for call return (*69) the last of
        `calls_before` (a line by name, a PSTN subscriber by number)."""
        if self.dial != CALL_RETURN or not self.calls_before:
            return self.dial
        return self.before_dials[-1]

    @property
    def before_dials(self) -> tuple[str, ...]:
        """Each of `calls_before` as a dial string: a line by name, a PSTN subscriber by
        number (who a call return may reach, right or wrong)."""
        return tuple(p.removeprefix("pstn:") for p in self.calls_before)


CALLEE_BEHAVIOURS = allowed(CalleeBehaviour)  # a called beta line's
CODECS = allowed(Codec)  # what the agents offer (harness/sip/stack.py)


class PlanRowError(HarnessError, ValueError):
    """A plan row that cannot be what its author meant: its id and every field that
    is wrong, with the value and what it may be."""

    def __init__(self, plan_id: str, problems: list[str]) -> None:
        self.plan_id, self.problems = plan_id, tuple(problems)
        super().__init__(f"plan row {plan_id}: " + "; ".join(problems))


def _party_problems(field: str, text: object, want: str = "") -> tuple[Party | None, list[str]]:
    """(the party `text` names, []) or (None, [its problem])."""
    try:
        return Party.parse(text), []  # type: ignore[arg-type]  # a plan may pass anything
    except PartyError:
        return None, [f"{field} = {text!r}: must be "
                      f"{want or 'a beta line (siteN/NN) or pstn:<trunk group or number>'}"]


def _caller_problems(field: str, text: object) -> list[str]:
    """A beta line, or a PSTN subscriber by number ('pstn:2125550188')."""
    want = "a beta line (siteN/NN) or a PSTN subscriber (pstn:<its number>)"
    party, problems = _party_problems(field, text, want)
    if party is not None and party.is_pstn and not _is_number(party.tag):
        problems = [f"{field} = {text!r}: must be {want}"]
    return problems


def _line_problems(field: str, text: object) -> list[str]:
    want = "a beta line (siteN/NN)"
    party, problems = _party_problems(field, text, want)
    return [f"{field} = {text!r}: must be {want}"] if party is not None and \
        not party.is_line else problems


def _is_number(text: str) -> bool:
    return text.removeprefix("+").isdigit()


def _profile_problems(profile: str) -> list[str]:
    """'' or a network profile of harness/network/impair.py."""
    from harness.network.impair import PROFILES  # lazily: the rest of the model needs no netem

    if not profile or profile in PROFILES:
        return []
    return [f"profile = {profile!r}: must be one of {', '.join(map(repr, ('', *PROFILES)))}"]


def _expect_problems(exp: Expect) -> list[str]:
    """An expectation's parties and caller ID (`expect.<field>` in the message)."""
    problems: list[str] = []
    for name in ("srd_s_max", "setup_s_max", "mos_lqo_min"):
        value = getattr(exp, name)
        if not (value is None or isinstance(value, FromTable) or (
                isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value) and value >= 0)):
            problems.append(f"expect.{name} = {value!r}: must be a number (0 or more), "
                            "None (not checked) or TABLE (the threshold table's)")
    if exp.rings not in (None, NOBODY):
        want = (f"a beta line (siteN/NN), pstn:<{'|'.join(allowed(Trunk))}> (the trunk "
                f"group the PSTN rings on) or {NOBODY!r}")
        party, problems = _party_problems("expect.rings", exp.rings, want)
        if party is not None and party.is_pstn and not in_choice(party.tag, Trunk):
            problems = [f"expect.rings = {exp.rings!r}: must be {want}"]
    for name in ("forwarded_from", "transferred_to", "conferenced"):
        if getattr(exp, name) is not None:
            problems += _line_problems(f"expect.{name}", getattr(exp, name))
    if exp.carrier is not None and exp.carrier != "dialled" and \
            not (exp.carrier.isdigit() and len(exp.carrier) == 4):
        problems.append(f"expect.carrier = {exp.carrier!r}: must be a 4-digit carrier "
                        "identification code (CIC) or 'dialled'")
    if exp.caller_id is not None and exp.caller_id != ANONYMOUS_ID and \
            not _is_number(exp.caller_id):
        problems.append(f"expect.caller_id = {exp.caller_id!r}: must be a number or "
                        f"{ANONYMOUS_ID!r}")
    return problems


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """A plan row that loads the network: `calls` simultaneous calls pairing the beta
    lines (84 lines: 42 calls), judged on RFC 6076 aggregates and the MOS-LQO median
    (see harness/run/busyhour.py)."""

    plan_id: str
    call_type: str
    calls: int = 42
    talk_s: float = 8.0  # a scored call talks at least the reference length
    score: bool = True  # PESQ both directions, both sources, every call
    ser_pct_min: float = 100.0
    srd_s_p95_max: float = 3.0
    mos_lqo_median_min: float = 4.2
    mos_lqo_call_min: float = 4.0  # each call's own floor
    description: str = ""


@dataclass(frozen=True, slots=True)
class SipEvent:
    """A SIP event seen by an agent. `t_mono` is time.monotonic() at the callback."""

    party: str  # "a" (caller) or "b" (callee)
    kind: str  # INVITE_SENT, RESPONSE, INCOMING, CONFIRMED, BYE_SENT, DISCONNECTED...
    t_mono: float
    t_wall: float
    code: int | None = None


def first_event(events: tuple[SipEvent, ...], kind: str,
                code_prefix: str = "") -> SipEvent | None:
    """The first event of `kind` (whose code starts with `code_prefix`, if given)."""
    for ev in events:
        if ev.kind == kind and (not code_prefix or str(ev.code).startswith(code_prefix)):
            return ev
    return None


@dataclass(frozen=True, slots=True)
class CallTiming:
    """RFC 6076 set-up and disconnect figures as measured by the agents.

    srd_s   Session Request Delay (RFC 6076 §4.3): INVITE sent -> first 18x/2xx.
    setup_s INVITE sent -> 200 OK received (session establishment time).
    sdt_s   Session Duration Time (RFC 6076 §4.5): 200 OK -> BYE sent.
    sdd_s   Session Disconnect Delay (RFC 6076 §4.4): BYE sent -> its final response.
    """

    srd_s: float | None
    setup_s: float | None
    sdt_s: float | None
    sdd_s: float | None
    valid: bool = True
    invalid_reason: str = ""
    # the same figures from the capture (caller's leg on the wire), and how often a
    # SIP message was retransmitted on it (RFC 3261 §17)
    wire_srd_s: float | None = None
    wire_setup_s: float | None = None
    wire_sdd_s: float | None = None
    retransmissions: int | None = None

    def diff_ms(self, name: str) -> float | None:
        """Agent minus wire for `srd_s`, `setup_s` or `sdd_s`, in milliseconds."""
        agent, wire = getattr(self, name), getattr(self, "wire_" + name)
        return None if agent is None or wire is None else round((agent - wire) * 1000, 3)


@dataclass(frozen=True, slots=True)
class StallReport:
    """What the host-stall guard saw during a window of the harness's own life."""

    window_s: float
    max_stall_s: float
    stalls_over_threshold: int
    threshold_s: float
    samples: int
    cpu_steal_pct: float | None = None
    cpu_pressure_pct: float | None = None
    # the controller's own late wake-ups over the threshold that no agent worker saw
    # (its sampler waiting for the GIL): in no call's media or timing, so not counted
    # above; kept as evidence (harness/run/guard.py)
    controller_only: int = 0
    controller_max_s: float = 0.0
    # how much of the window the harness's real-time processes (agents, embedded
    # switch) waited for a CPU, % (PSI of their group, harness/cpuwait.py; None: no
    # group), and the most that leaves their figures valid (None: not judged)
    rt_wait_pct: float | None = None
    rt_wait_limit_pct: float | None = None
    # who saw the largest stall counted: "agent worker w3", "the harness's own sampler"
    # ('' unknown): evidence of where the host's time went
    max_stall_by: str = ""

    @property
    def starved(self) -> bool:
        """The real-time processes waited for a CPU more than the limit allows."""
        return self.rt_wait_pct is not None and self.rt_wait_limit_pct is not None and \
            self.rt_wait_pct > self.rt_wait_limit_pct

    @property
    def clean(self) -> bool:
        return self.stalls_over_threshold == 0 and not self.starved

    def describe(self) -> str:
        stalled = (f"host stalled {self.max_stall_s * 1000:.0f} ms (threshold "
                   f"{self.threshold_s * 1000:.0f} ms, {self.stalls_over_threshold} "
                   f"stall(s) in {self.window_s:.1f} s)" +
                   (f", the largest seen by {self.max_stall_by}" if self.max_stall_by else ""))
        if not self.starved:
            return stalled
        starved = (f"host starved the harness's real-time processes: they waited for a "
                   f"CPU {self.rt_wait_pct:.0f} % of {self.window_s:.1f} s (at most "
                   f"{self.rt_wait_limit_pct:.0f} %)")
        return f"{stalled}; {starved}" if self.stalls_over_threshold else starved


@dataclass(frozen=True, slots=True)
class QualityScore:
    """One PESQ score (ITU-T P.862, mapped to MOS-LQO by P.862.1 NB / P.862.2 WB)."""

    direction: str  # "a_to_b" | "b_to_a"
    source: str  # "agent" (the receiving agent's recording) | "wire" (RTP toward it)
    mos_lqo: float | None
    band: str  # "nb" | "wb"
    valid: bool
    reasons: tuple[str, ...] = ()
    received_s: float = 0.0  # seconds of audio that reached the scorer
    expected_s: float = 0.0  # seconds the receiving side was connected
    active_speech_ratio: float = 0.0
    delay_s: float | None = None  # alignment offset found by cross-correlation
    ceiling_mos_lqo: float | None = None  # the codec alone on this reference (no path)
    # why this source is not scored on this call by design (not a defect), e.g. the wire
    # of an SRTP call: "not decodable: SRTP"; such a score is not judged
    note: str = ""
    # a floor of this score's own below the row's, and why (a 3-way path: its talker's
    # material cannot score higher through the codec alone); None: the row's floor
    floor_mos_lqo: float | None = None
    floor_why: str = ""
    # how far the talking agent fell behind its own media clock while it talked this
    # speech, ms, as the capture saw it leave (harness.capture.rtp.sender_lateness_ms);
    # None: not measured (no stream from the talker in the capture)
    talker_late_ms: float | None = None

    def floor_for(self, row_floor: float) -> float:
        return row_floor if self.floor_mos_lqo is None else min(row_floor, self.floor_mos_lqo)


@dataclass(frozen=True, slots=True)
class CdrRecord:
    """One call detail record, normalised from whatever the switch writes."""

    call_id: str
    caller: str
    callee: str
    answer_wall: float | None
    end_wall: float | None
    duration_s: float | None
    disposition: str = ""
    sip_code: int | None = None
    source: str = ""
    raw: tuple[tuple[str, str], ...] = ()
    # optional: what richer sources carry (Asterisk, FreeSWITCH, a rating system's export)
    call_class: str = ""  # the class the switch rated the call in ("local", "international")
    start_wall: float | None = None  # call set-up began (INVITE at the switch), epoch s
    billed_s: float | None = None  # billable seconds after the rating increment, if rated
    charge: Decimal | None = None  # rated charge in the tariff's currency, if rated
    # the interexchange carrier the call was handed to and billed by (its CIC); "": the
    # record names none (the line's own carrier); None: the source records no carrier
    carrier: str | None = None


@dataclass(frozen=True, slots=True)
class Mismatch:
    field: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"{self.field}: expected {self.expected}, got {self.actual}"


@dataclass(frozen=True, slots=True)
class CdrCheck:
    matched: bool
    mismatches: tuple[Mismatch, ...] = ()
    record: CdrRecord | None = None
    rows_found: int = 0
    # no record, and the harness's own switch says it failed to write one: the loss is
    # the harness's (an invalid measurement, re-placed), not the switch under test's
    store_error: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """A call's verdict: its checks (harness/verdict/checks.py), passed ones included,
    and what follows from them: the status and the reasons (the messages of the checks
    that did not pass: the harness's errors first, then failures, then figures
    measured during a host stall)."""

    status: Status
    reasons: tuple[str, ...] = ()
    invalid_measurement: bool = False
    checks: tuple[Check, ...] = ()

    @classmethod
    def of(cls, checks: Iterable[Check]) -> Verdict:
        """ERROR when the harness could not carry the call (or only invalid figures
        stand against it), FAIL when a criterion failed, else PASS."""
        checks = tuple(checks)
        by = {o: [c for c in checks if c.outcome is o] for o in Outcome}
        invalid = bool(by[Outcome.INVALID])
        reasons = tuple(c.message for o in (Outcome.ERROR, Outcome.FAIL, Outcome.INVALID,
                                             Outcome.NOT_RUN) for c in by[o])
        if by[Outcome.ERROR]:
            status = Status.ERROR
        elif by[Outcome.FAIL] or by[Outcome.NOT_RUN]:
            status = Status.FAIL
        elif invalid:
            status = Status.ERROR
        else:
            status = Status.PASS
        return cls(status, reasons, invalid, checks)


@dataclass(frozen=True, slots=True)
class EarlyMedia:
    """What flowed toward the caller before the final response (183 with SDP, RFC
    3960): seconds of RTP on the wire, and the call-progress tones found in it."""

    rtp_s: float
    ringback_s: float  # audible ringing, 440 + 480 Hz
    sit: bool  # a Special Information Tone (an intercept)


@dataclass(frozen=True, slots=True)
class FarEndLeg:
    """A far end's leg of a call: who rang, the Call-ID it saw (a B2BUA gives each leg
    its own), and how the harness attributed its INVITE to the call."""

    seat: str
    call_id: str
    attributed_by: str  # "header" | "number+seat" | "number" | "seat"
    worker: str = ""  # the agent worker process that hosted it (its pjsua-<worker>.log)


@dataclass(frozen=True, slots=True)
class CallResult:
    spec: CallSpec
    call_id: str
    final_code: int | None
    timing: CallTiming
    quality: tuple[QualityScore, ...]
    cdr: CdrCheck | None
    stall: StallReport | None
    verdict: Verdict
    events: tuple[SipEvent, ...] = ()
    artifacts: tuple[tuple[str, str], ...] = ()  # (label, path relative to run dir)
    started_wall: float = 0.0
    error: str = ""
    far_ends: tuple[FarEndLeg, ...] = ()
    early_media: EarlyMedia | None = None  # None: no early media reached the caller
    caller_worker: str = ""  # the agent worker that hosted the caller
    # per-direction RTP figures (RFC 3550) and E-model ratings, as streams.json keeps
    # them; a loss profile's applied pattern (loss_stage.json): carried in memory to
    # the result store, the files are evidence for people
    streams: Mapping[str, Any] | None = None
    loss_stage: Mapping[str, Any] | None = None
    # when each earlier placing of the row started (re-placed after a host stall): the
    # row's time on the run's timeline begins at the first
    earlier_walls: tuple[float, ...] = ()
    # the agent hosts whose times this call's figures use, and the clock offsets moved
    # out of them (harness/sip/hosts.py): host -> ClockOffset.as_dict(); empty when every
    # party was on the controller's machine
    clocks: Mapping[str, Any] | None = None

    def score(self, direction: str, source: str) -> QualityScore | None:
        for q in self.quality:
            if q.direction == direction and q.source == source:
                return q
        return None


class ProbeKind(StrEnum):
    """What a security probe of beta plan §12 tries (docs/security.md)."""

    UNAUTHENTICATED_INVITE = "unauthenticated_invite"  # no credentials at all
    WRONG_PASSWORD_INVITE = "wrong_password_invite"  # a line's name, a wrong password
    # a line's valid credentials from another source address (switches that bind a
    # line to the address it registered from; security.binds_lines_to_addresses)
    REPLAYED_CREDENTIALS_INVITE = "replayed_credentials_invite"
    WRONG_PASSWORD_REGISTER = "wrong_password_register"
    REGISTER_HIJACK = "register_hijack"  # a line's contact, without its credentials
    INVITE_FLOOD = "invite_flood"  # a bounded burst while a real call is placed
    TORTURE = "torture"  # the RFC 4475 replay (opt-in: security.torture)


@dataclass(frozen=True, slots=True)
class ProbeExpect:
    """What a correct switch does with a probe. Whatever it answers, nothing the probe
    sent may reach a far end of the harness (the simulated PSTN, a line)."""

    # final codes that count as refused; () = any non-2xx final, or silence
    codes: tuple[int, ...] = ()
    # the real call placed during (flood) or after (hijack) the probe: its set-up limit
    setup_s_max: float = 5.0


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """A beta-plan row that attacks the switch instead of placing a call (§12)."""

    plan_id: str
    call_type: str
    kind: ProbeKind
    target: str = ""  # the dial string the probe sends (dial-guarded), or a line's name
    line: str = ""  # the beta line whose identity (and credentials) the probe uses
    expect: ProbeExpect = field(default_factory=ProbeExpect)
    # the real call placed during a flood, after a hijack attempt or after the torture
    # replay: who calls what ("" for none); it must pass like a plan row
    real_caller: str = ""
    real_dial: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        """Checked when written, like a call row (`PlanRowError`)."""
        problems = choice_problem("kind", self.kind, ProbeKind)
        if not problems and not isinstance(self.kind, ProbeKind):
            object.__setattr__(self, "kind", ProbeKind(self.kind))  # a plan wrote the word
        problems += _line_problems("line", self.line) if self.line else []
        problems += _caller_problems("real_caller", self.real_caller) \
            if self.real_caller else []
        if problems:
            raise PlanRowError(self.plan_id, problems)
