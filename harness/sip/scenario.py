"""What a call is asked to be and what it turned out to be: plain, picklable data.

The harness's agents live in worker processes (`harness/sip/worker.py`, one pjsua2
Endpoint each); the controller (`harness/sip/farm.py`) sends a worker a `CallOrder`
and gets back a `CallOutcome`. Nothing here imports pjsua2.

A call has a caller leg ("a"), placed by the worker hosting the calling line, and
callee legs ("b"), one per INVITE the switch sends to an agent for it (forwarding
sends more than one). How a called party behaves is a `FarEndPolicy`: which line
was dialled and how it behaves, how the simulated PSTN numbers behave, what is
played and recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.media.fax import FaxResult
from harness.model import Line, SipEvent, first_event
from harness.numbers import canonical
from harness.party import Party
from harness.pstn.directory import PstnNumber
from harness.sip.attribution import CallIdentity, Stray
from harness.vocab import VOICEMAIL_SEAT


@dataclass(frozen=True, slots=True)
class StreamSnapshot:
    """pjsua2's own RTP/RTCP counters for one leg (RFC 3550 receiver figures)."""

    codec: str
    local_rtp: str
    remote_rtp: str
    rx_packets: int
    rx_loss: int
    rx_discard: int
    rx_jitter_mean_ms: float
    rx_jitter_max_ms: float
    tx_packets: int
    rtt_mean_ms: float
    jb_avg_delay_ms: float
    jb_lost: int
    jb_discard: int
    jb_empty: int
    media_profile: str = ""  # the SDP transport the stream runs: "RTP/AVP" | "RTP/SAVP"


@dataclass(frozen=True, slots=True)
class TlsSession:
    """One TLS connection of an agent worker as PJSIP saw it (onTransportState): the
    protocol version and cipher negotiated, and the peer certificate's verification."""

    t_wall: float
    state: str  # "connected" | "disconnected"
    local: str
    remote: str
    protocol: str  # "TLSv1.2" ...
    cipher: str
    verified: bool  # the peer's certificate chain and name checked out
    verify_msgs: tuple[str, ...]
    peer_subject: str
    error: str = ""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """What a worker's TLS transport needs (docs/tls-srtp.md): the CA it verifies the
    switch against, its own certificate and key, and the switch's TLS proxy URI."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    proxy: str


@dataclass(frozen=True, slots=True)
class FarEnd:
    """How the called party behaves."""

    kind: str = "answer"  # answer | busy | no_answer | reject
    code: int = 200  # the final response for `reject`
    answer_after_s: float = 1.0  # reject: after this long (its early media)
    play_wav: Path | None = None
    record_wav: Path | None = None
    # early media (183 with SDP) before the final response: "ringback" (audible
    # ringing, then the answer) | "intercept" (SIT + announcement, then `code`) | ""
    early: str = ""
    # the voicemail platform's retrieval: `play_wav` (the message) is played once the
    # caller has sent these RFC 4733 digits ("" : played from the answer)
    play_on_dtmf: str = ""


@dataclass(frozen=True, slots=True)
class FarEndPolicy:
    """How whoever the switch rings for a call behaves, as data a worker can apply.

    The dialled line behaves as the plan row says; a line the call is forwarded to
    answers. A simulated PSTN number behaves as the PSTN directory says; a number the
    directory does not know is unassigned (404).
    """

    dialled_line: str | None  # the beta line dialled, if any
    behaviour: str = "answer"
    answer_after_s: float = 1.0
    pstn: tuple[PstnNumber, ...] = ()  # the simulated PSTN's numbers
    play_wav: Path | None = None
    record_wav: Path | None = None
    third_play_wav: Path | None = None  # a line other than the dialled one plays this
    announcement: Path | None = None  # a vacant PSTN number's intercept announcement
    # what the call's far ends recognise it by (harness/sip/attribution.py)
    identity: CallIdentity = CallIdentity((), ())
    # who the row's further calls ring: a line's seat name, "pstn:" for the PSTN, ""
    transfer_seat: str = ""  # the transfer target (the caller's call after the REFER)
    conference_seat: str = ""  # a 3-way call's third party
    busy_lines: tuple[str, ...] = ()  # further lines that answer busy (CallSpec.busy_lines)
    # the lab's voicemail platform (VOICEMAIL_SEAT) answering a retrieval: it plays
    # `play_wav`, the message, once these digits arrived (FarEnd.play_on_dtmf)
    play_on_dtmf: str = ""

    def decide(self, agent_name: str, dialled_user: str) -> FarEnd:
        play = self.play_wav
        if agent_name == VOICEMAIL_SEAT:  # the platform answers whatever reaches it:
            # a deposit (a call forwarded to it: its greeting is `play_wav`) or a retrieval
            return FarEnd("answer", 200, VOICEMAIL_ANSWER_S, play, self.record_wav,
                          play_on_dtmf=self.play_on_dtmf)
        if self.third_play_wav is not None and self.dialled_line is not None and \
                agent_name != self.dialled_line:
            play = self.third_play_wav
        if not Party.in_pstn(agent_name):
            kind = self.behaviour if self.dialled_line is None or \
                agent_name == self.dialled_line else "answer"
            if agent_name in self.busy_lines:
                kind = "busy"
            return FarEnd(kind, 200, self.answer_after_s, play, self.record_wav)
        home = self.identity.home_npa
        for number in self.pstn:
            if canonical(number.number, home) == canonical(dialled_user, home):
                if number.behaviour == "unassigned":
                    break
                return FarEnd(number.behaviour, 200, number.answer_after_s, play,
                              self.record_wav, number.early)
        return FarEnd("reject", 404, INTERCEPT_S, early="intercept")  # a vacant number


VOICEMAIL_ANSWER_S = 0.5  # the lab's voicemail platform answers this long after the INVITE
TURN_GAP_S = 1.0  # a 3-way call: silence between two talkers' turns
TALKER_PAD_S = 0.3  # a scored 3-way call: a turn is its reference and this much more
INTERCEPT_S = 4.0  # a vacant PSTN number: SIT + announcement this long, then 404


# the agents' own faults, for the harness's tests (Script.agent_faults):
# "refuse_replaces" the transfer target answers an INVITE with Replaces 481;
# "bridge_no_b_to_c" the 3-way bridge does not pass the called party's audio to C
AGENT_FAULTS = frozenset({"refuse_replaces", "bridge_no_b_to_c"})


@dataclass(frozen=True, slots=True)
class Script:
    """What the parties do (times in seconds after the answer unless said)."""

    talk_s: float
    hangup_by: str = "caller"  # caller | callee
    cancel_after_s: float | None = None  # after the INVITE: the caller gives up (CANCEL)
    ring_timeout_s: float = 30.0
    headers: tuple[tuple[str, str], ...] = ()
    dtmf_a: str = ""  # digits the caller sends (RFC 4733), 1 s after the answer
    dtmf_b: str = ""  # digits the called party sends, 1.5 s after the caller's
    dtmf_at_s: float = 1.0  # the caller's digits start this long after the answer
    hold_at_s: float | None = None  # the caller puts the call on hold
    resume_at_s: float | None = None
    # both parties talk their reference again (a scored hold/resume row: the speech
    # after the resume is scored on its own)
    replay_at_s: float | None = None
    a_play: Path | None = None
    a_record: Path | None = None
    transfer_to_uri: str = ""  # the called party transfers the caller here (REFER)
    transfer_at_s: float = 2.0
    # "attended": the called party holds the caller, calls the target first (a
    # consultation call), then REFERs the caller with Replaces (RFC 5589 §7)
    transfer_kind: str = "blind"
    consult_s: float = 2.0  # attended: how long the consultation call talks first
    three_way_uri: str = ""  # the caller holds the call, calls here and conferences both
    three_way_at_s: float = 1.5  # ... this long after the answer
    talker_window_s: float = 4.5  # 3-way: each party talks alone this long, in turn
    # fault-injection for the harness's own tests (harness/run/hooks.py): one of
    # AGENT_FAULTS
    agent_faults: tuple[str, ...] = ()
    # a fax call: the caller's fax terminal sends this page (TIFF-F) and the called
    # party's receives into `fax_receive`; the caller hangs up once T.30 has ended
    # (or at `talk_s`)
    fax_page: Path | None = None
    fax_receive: Path | None = None


@dataclass(frozen=True, slots=True)
class CallOrder:
    """One call for the agent farm: `caller` is a seat name ('site1/01', 'pstn:…')."""

    key: str  # sent in the INVITE (X-Harness-Call) so the far end's worker knows the call
    caller: str
    target_uri: str
    script: Script
    far_end: FarEndPolicy
    codec: str = "PCMU"
    secure: bool = False  # dial over the worker's TLS transport, SRTP required


@dataclass(frozen=True, slots=True)
class Seat:
    """A party an agent worker hosts: a beta line or a simulated PSTN subscriber."""

    line: Line
    name: str
    rtp_port: int  # first RTP port of its dialling account
    static: bool = False  # a trusted peer (the PSTN) that needs no digest credentials


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """Everything a worker process needs to start its Endpoint and its seats."""

    name: str
    log_path: Path
    domain: str
    proxy: str
    seats: tuple[Seat, ...]
    rtp_ports_per_seat: int
    receiver_rtp: tuple[int, int]  # (first port, count) of the account answering calls
    sip_port: int = 0  # 0: any free port; the PSTN gateway's is reserved beforehand
    gateway: bool = False  # the simulated PSTN gateway: INVITEs to its port are trunk calls
    # the PSTN's far ends are DIDs at another carrier (pstn.mode: carrier): who rang is
    # the DID in the R-URI ("pstn:<number>"), not a trunk group
    pstn_by_did: bool = False
    # a trunk group's own gateway: every INVITE reaching it arrived on that trunk group
    # ("pstn:<trunk>", whatever ;tgrp= the R-URI names or lacks)
    trunk: str = ""
    clock_rate: int = 8000
    jb_init_ms: int = 60
    max_dial_accounts: int = 7  # the wheel allows 8 accounts: the receiver + 7
    tls: TlsFiles | None = None  # a TLS transport beside the UDP one (sut.tls)
    address: str = "127.0.0.1"  # SIP and RTP bind here
    # an access worker: enters this network namespace first (harness/network/netns.py)
    netns: str = ""
    # the session's real-time cgroup the worker joins (harness/cpuwait.py; "" none):
    # given here, not by the environment, which a forked worker takes from the fork
    # server that was started with the first session
    cpu_group: str = ""


@dataclass(frozen=True, slots=True)
class LegOutcome:
    party: str
    agent_name: str
    call_id: str
    events: tuple[SipEvent, ...]
    final_code: int | None
    stats: StreamSnapshot | None
    record_wav: Path | None
    record_s: float  # seconds of audio in the finalised recording
    record_span_s: float  # monotonic seconds the recorder was connected
    request: tuple[tuple[str, str], ...] = ()  # the INVITE as the far end received it
    dtmf_rx: str = ""
    worker: str = ""  # the agent worker that hosted the leg
    tls_sessions: tuple[TlsSession, ...] = ()  # a secure caller's TLS connections
    # a far end's leg: how its INVITE was attributed to the call (attribution.py)
    attributed_by: str = ""
    # a held and resumed call: what the leg heard after the resume (its own recording,
    # started when the media came back) and how long that recorder was connected
    resumed_wav: Path | None = None
    resumed_span_s: float = 0.0
    fax: FaxResult | None = None  # a fax leg: what its terminal did (harness/media/fax.py)

    def first(self, kind: str, code_prefix: str = "") -> SipEvent | None:
        return first_event(self.events, kind, code_prefix)

    def header(self, name: str) -> str:
        return dict(self.request).get(name.lower(), "")

    @property
    def answered(self) -> bool:
        return self.first("CONFIRMED") is not None


@dataclass(frozen=True, slots=True)
class CallOutcome:
    a: LegOutcome
    b: LegOutcome | None
    t_start_mono: float
    t_end_mono: float
    error: str = ""
    also_rang: tuple[str, ...] = ()  # agents that got a second INVITE for this call
    forwarded_from: tuple[str, ...] = ()  # far ends that rang first, then let it go
    legs: tuple[LegOutcome, ...] = field(default=())  # every callee leg, in arrival order
    transfer: LegOutcome | None = None  # the caller's new call after a REFER ("a2")
    transfer_far: LegOutcome | None = None  # who answered that call
    consult: LegOutcome | None = None  # attended transfer: the called party's call to C ("b2")
    consult_far: LegOutcome | None = None  # ... as C answered it ("c")
    conference: LegOutcome | None = None  # 3-way: the caller's second call ("a3")
    conference_far: LegOutcome | None = None  # ... as the third party answered it ("c")
    # INVITEs that reached a far end while the call was up and could not be attributed
    # to a call: those that may have been this call's (or, none fitting, any in its time)
    strays: tuple[Stray, ...] = ()
    # call pickup by an INVITE with Replaces naming the caller's ringing call: the
    # caller's call that took over ("ap", as the worker reports it); once the call is
    # merged for the checks (harness/run/pickup.py), the ringing call it replaced ("a0")
    picked: LegOutcome | None = None
    replaced: LegOutcome | None = None

    @property
    def events(self) -> tuple[SipEvent, ...]:
        """Both legs' events (the far end's only if an INVITE reached one)."""
        return self.a.events + (self.b.events if self.b else ())

    @property
    def all_events(self) -> tuple[SipEvent, ...]:
        """Every leg's events, a transfer's included (the call's time on the wire)."""
        return self.events + tuple(ev for leg in self.other_legs for ev in leg.events)

    @property
    def other_legs(self) -> tuple[LegOutcome, ...]:
        """The legs of the call's other dialogs: transferred, consultation, 3-way."""
        return tuple(leg for leg in (self.transfer, self.transfer_far, self.consult,
                                     self.consult_far, self.conference, self.conference_far,
                                     self.picked, self.replaced)
                     if leg is not None)


def as_party(leg: LegOutcome | None, party: str) -> LegOutcome | None:
    """`leg` relabelled (its events too): a third party's legs are "c" in the ladder."""
    if leg is None:
        return None
    return replace(leg, party=party, events=tuple(replace(ev, party=party)
                                                  for ev in leg.events))


def _answering(legs: list[LegOutcome], of: LegOutcome | None,
               target: str) -> LegOutcome | None:
    """The callee leg of the dialog `of` placed: the same Call-ID where the switch kept
    it (a proxy), else the first leg at the seat it dialled (`target`; "pstn:" for the
    PSTN) that arrived after its INVITE left (a B2BUA gives the far end a Call-ID of
    its own). One host, one monotonic clock: the workers' times compare."""
    if of is None:
        return None
    same = [leg for leg in legs if of.call_id and leg.call_id == of.call_id and leg is not of]
    if same:
        return same[0]
    sent = of.first("INVITE_SENT")
    if sent is None or not target:
        return None
    want = Party.of_seat(target)
    later = [leg for leg in legs if leg.events and leg.events[0].t_mono >= sent.t_mono and
             (leg.agent_name == target or (want is not None and want.covers(leg.agent_name)))]
    return min(later, key=lambda leg: leg.events[0].t_mono, default=None)


def assemble(a: LegOutcome, callee_legs: list[LegOutcome], t_start: float, t_end: float,
             error: str, caller_legs: tuple[LegOutcome, ...] = (),
             policy: FarEndPolicy | None = None, strays: tuple[Stray, ...] = ()
             ) -> CallOutcome:
    """The call from its caller leg and every callee leg the workers reported.

    The far end ("b") is the leg that answered; if none did, the last one rung. Legs
    that rang before it were forwarded from (the switch moved on: busy, no answer);
    legs after an answered "b" are INVITEs that should not have come (also rang).
    `caller_legs` are the caller's other calls: "a2" after a REFER, "a3" a 3-way
    call's second call; a called party's consultation call ("b2") comes among the
    callee legs. Each of those dialogs is taken out with the leg that answered it
    (`policy` names the seats they dial)."""
    legs = sorted(callee_legs, key=lambda leg: leg.events[0].t_mono if leg.events else 0.0)
    a2 = next((leg for leg in caller_legs if leg.party == "a2"), None)
    a3 = next((leg for leg in caller_legs if leg.party == "a3"), None)
    picked = next((leg for leg in caller_legs if leg.party == "ap"), None)
    consult = next((leg for leg in legs if leg.party == "b2"), None)
    transfer_seat = policy.transfer_seat if policy else ""
    conference_seat = policy.conference_seat if policy else ""
    found: list[LegOutcome | None] = []
    for of, target in ((consult, transfer_seat), (a2, transfer_seat), (a3, conference_seat)):
        free = [leg for leg in legs if leg is not consult and all(leg is not x for x in found)]
        found.append(_answering(free, of, target))
    k_far, far, c_far = found
    taken = (far, c_far, k_far, consult)
    legs = [leg for leg in legs if all(leg is not x for x in taken)]
    if consult is not None:
        far = as_party(far, "c")  # attended: the transfer target is a third party
    b, end = None, t_end
    also: tuple[str, ...] = ()
    forwarded: tuple[str, ...] = ()
    if legs:
        idx = next((i for i, leg in enumerate(legs) if leg.answered), len(legs) - 1)
        b = legs[idx]
        end = max([t_end, *(ev.t_mono for leg in legs for ev in leg.events[-1:])])
        also = tuple(leg.agent_name for leg in legs[idx + 1:])
        forwarded = tuple(leg.agent_name for leg in legs[:idx])
    return CallOutcome(a, b, t_start, end, error, also, forwarded, tuple(legs), a2, far,
                       consult, as_party(k_far, "c"), a3, as_party(c_far, "c"), strays,
                       picked)
