"""One plan row, placed for real and measured: `CallRunner.attempt(spec)`.

Resolves who calls (a beta line, or a PSTN subscriber for an incoming DID call),
applies the dial guard, decides how whoever answers behaves, places the call through
the switch, then measures: timing (agent and wire), voice quality (both directions,
agent and wire), the switch's CDR, and the call type's own expectations (who rang,
the caller ID shown, privacy, location for 911, DTMF heard, hold).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.capture.pcap import UdpPacket
from harness.capture.rtp import STATIC_PT, rtp_from, rtp_toward, sender_lateness_ms
from harness.capture.sip import (
    Refusal,
    call_ladder,
    own_packets,
    refusals,
    t38_only,
    t38_stream,
    wire_timing,
)
from harness.cdr.reconcile import Ledger
from harness.errors import CaptureError, ConfigError, HarnessError, SipError
from harness.media import fax, reference
from harness.media.early import early_media
from harness.media.passage import damaged_in_harness, passage
from harness.model import (
    CallResult,
    CallSpec,
    CallTiming,
    CdrCheck,
    Expect,
    FarEndLeg,
    QualityScore,
    StallReport,
    Status,
    Verdict,
)
from harness.network.impair import applied, profile
from harness.network.netdelay import DelayReport
from harness.network.netloss import LossReport
from harness.numbers import canonical
from harness.party import Party
from harness.pstn.directory import TOLLFREE_NPAS, Route
from harness.pstn.voicemail import MwiSender, Summary
from harness.run.breaker import LOST_OPTIONS
from harness.run.deferred import Deferred
from harness.run.pickup import merged, pickup_call
from harness.run.scoring import (
    CallScorer,
    agent_streams,
    emodel_ratings,
    media_since,
    replay_at_s,
    talker_rtp,
)
from harness.run.t38call import T38Call, t38_fax_checks
from harness.run.voicemail import VoicemailSteps
from harness.sip.attribution import CallIdentity, IncomingInvite, may_be
from harness.sip.scenario import (
    TALKER_PAD_S,
    TURN_GAP_S,
    CallOrder,
    CallOutcome,
    FarEndPolicy,
    LegOutcome,
    Script,
)
from harness.softswitch.process import sip_options_ping
from harness.verdict.call_types import call_type_checks, fax_checks, waiting_first_call
from harness.verdict.checks import Check, Outcome, invalid_reason, judged, passed
from harness.verdict.metrics import answer_event, call_timing, decide, setup_window
from harness.verdict.secure import srtp_checks, tls_checks
from harness.verdict.thresholds import RowLimits
from harness.vocab import ANONYMOUS_ID, PRIVACY_CODE, VOICEMAIL_SEAT

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from harness.capture.dumpcap import Capture, Captures
    from harness.cdr.book import CdrBook
    from harness.config import HarnessConfig
    from harness.network.access import Crossing
    from harness.numberplan import NumberPlan
    from harness.run.guard import StallGuard
    from harness.run.hooks import TestHooks
    from harness.run.registrations import Registrations
    from harness.sip.farm import AgentFarm
    from harness.sip.scenario import TlsSession
    from harness.softswitch import Softswitch
    from harness.verdict.call_types import Promises
    from harness.verdict.thresholds import ThresholdTable


class CallEnv(Protocol):
    """What the call pipeline reads of its run, and nothing else (the session provides
    it; a test can too): the number plan and dial guard, the switch, the agents and
    their registrations, the capture, the stall guard, the limits and promises judged
    by, the CDR book, where evidence goes, and the harness's own test hooks."""

    @property
    def cfg(self) -> HarnessConfig: ...
    @property
    def plan(self) -> NumberPlan: ...
    @property
    def switch(self) -> Softswitch: ...
    @property
    def farm(self) -> AgentFarm | None: ...
    @property
    def registrations(self) -> Registrations | None: ...
    @property
    def capture(self) -> Capture | Captures | None: ...
    @property
    def guard(self) -> StallGuard: ...
    @property
    def thresholds(self) -> ThresholdTable: ...
    @property
    def promises(self) -> Promises: ...
    @property
    def cdr_book(self) -> CdrBook: ...
    @property
    def run_dir(self) -> Path: ...
    @property
    def hooks(self) -> TestHooks: ...
    @property
    def mwi(self) -> MwiSender | None: ...

    def call_dir(self, plan_id: str) -> Path: ...
    def keep_tls(self, sessions: Iterable[TlsSession]) -> None: ...
    def refs_for(self, codec: str) -> dict[str, reference.Reference]: ...
    def seat_of(self, caller: str) -> str: ...
    def first_hop(self, caller: str) -> str: ...
    def tls_hop(self, seat: str) -> str: ...
    def clocks_of(self, workers: set[str]) -> dict[str, Any]: ...
    def clock_errors(self, workers: set[str]) -> list[str]: ...
    def agent_rtp_span(self) -> tuple[int, int]: ...
    def crossing(self, spec: CallSpec, seat: str,
                 callee_number: str) -> AbstractContextManager[Crossing]: ...


TRANSFER_KINDS = ("blind", "attended")
PSTN_WORKER = "pstn"  # the simulated PSTN's agent worker (harness/run/session.py)
# the CDR's answer and end times are compared with the agents' clock readings of those
# moments within 1 s: a stall this close to one of them can have delayed its reading
CDR_READING_MARGIN_S = 1.0
CALL_BEFORE_RING_S = 2.0  # a call return row's calls before ring the line this long
# a fax call: the caller hangs up when T.30 ends, at this long after the answer at the
# latest (one page at 9600 bps, training and retrain included, takes ~40 s)
FAX_MAX_S = 90.0
FAX_PAGE = "fax-page.tif"  # the test page, in the run's reference directory
FAX_RECEIVED = "fax-received.tif"  # what the called party's terminal received
WAITING_ANSWER_S = 2.0  # a waiting call rings (presented) this long before it is taken


STATIC_PT_OF = {codec: pt for pt, (codec, _) in STATIC_PT.items()}  # RFC 3551


def _r6(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


# calls the controller measures at once. Measuring (reading the capture, aligning the
# recordings) is Python and numpy under one GIL: more threads at it measure no faster,
# they only make the stall guard's sampler wait for the GIL. Sixteen at once (a wave of
# rows ending together) delayed its wake-ups by 100+ ms and invalidated the calls still
# up; PESQ itself runs in the scoring processes (harness/media/pool.py). A busy hour's
# calls are measured in a lane of their own, so that what runs beside their measuring
# (the probes' real calls) is never queued behind 42 of them.
MEASURING_AT_ONCE = {"rows": 2, "load": 2}


@dataclass(frozen=True)
class AfterCall:
    """What after_call() sent once the call was down: the marker the capture is read up
    to, when, and whether the switch answered it."""
    marker: str
    sent_wall: float
    switch_alive: bool


@dataclass(frozen=True, slots=True)
class FarEndRefused:
    """A far end of the harness's refused what the switch sent it: who, why, and whose
    the outcome is (the switch's fail, or the harness's error when its far end cannot
    take what a switch may legitimately send)."""

    who: str
    why: str
    outcome: Outcome = Outcome.FAIL


def judge_refusal(spec: CallSpec, r: Refusal, who: str, t38_line: bool = False,
                  ) -> FarEndRefused:
    """Why `who`, a far end of the harness's, refused the INVITE the switch sent it for
    `spec`'s call, and whose that is. The switch's fail, except an offer of T.38 alone
    to a fax row's terminal: a switch may legitimately carry fax as T.38 only, and the
    harness's terminals, G.711 pass-through ones (pjsua2 takes no m=image stream),
    cannot take it: the row is not measured, the harness's error. `t38_line`: `who` is
    the harness's T.38 terminal on a T.38 line (numbers.t38_lines), which takes T.38
    only: an offer without it is the switch's fail."""
    why = f"{who} answered {r.code} {r.phrase}".rstrip() + \
        (f" (Warning: {r.warning})" if r.warning else "")
    if t38_line and not t38_stream(r.offered):
        return FarEndRefused(who, f"{why} — {who} is a T.38 fax line (numbers.t38_lines) "
                                  "and the switch offered it no T.38 stream "
                                  f"({'; '.join(r.offered) or 'no SDP'})")
    if t38 := t38_only(r.offered):
        if spec.fax:
            return FarEndRefused(who, (
                f"the switch offered {who}'s fax terminal T.38 only (m={t38}, no audio "
                f"stream), and it answered {r.code}: {who} is a G.711 fax line here, its "
                "terminal a G.711 pass-through one, so this fax path is not measured; a "
                "line the switch serves with T.38 belongs in numbers.t38_lines, where the "
                "harness's T.38 terminal answers it (docs/external-switch.md, fax)"),
                Outcome.ERROR)
        return FarEndRefused(who, f"{why} — the offer it received was T.38 only (m={t38}), "
                                  "no audio, on a voice call")
    pt = STATIC_PT_OF.get(spec.codec)
    if r.offered_pts is not None and pt is not None and pt not in r.offered_pts:
        why += (f" — the offer it received carried payload types "
                f"{', '.join(map(str, r.offered_pts)) or 'none'}, not {spec.codec} "
                f"(PT {pt}) as the caller offered: the switch removed {spec.codec}")
    return FarEndRefused(who, why)


def t38_reinvites_refused(refused: Iterable[Refusal], since: float) -> list[str]:
    """Each re-INVITE to T.38 among the refusals of the harness's far ends, as a fax
    failure names it (`since`: the call's media start, epoch s)."""
    return [f"the switch re-INVITEd to T.38 (m={t38}) {r.ts - since:.1f} s into the call, "
            f"refused {r.code} by the harness's G.711 fax terminal: the call must go on "
            "unchanged on G.711 (RFC 3261 §14.1)"
            for r in refused if r.reinvite and (t38 := t38_stream(r.offered))]


class CallRunner:
    def __init__(self, session: CallEnv) -> None:
        self.scorer = CallScorer(session.refs_for, session.run_dir / "reference",
                                 session.cfg.capture.enabled, session.cfg.media.jb_init_ms)
        self.s = session
        self._measuring = {lane: threading.BoundedSemaphore(n)
                           for lane, n in MEASURING_AT_ONCE.items()}
        self._fax_lock = threading.Lock()

    # -- placing the call --------------------------------------------------------------
    def resolve(self, spec: CallSpec) -> tuple[str, str, Route, str]:
        """(calling seat, target URI, route, calling number); raises DialGuardError."""
        plan = self.s.plan
        dial = plan.resolve_dial(spec.dial)
        # the dial guard, before any SIP: on the number the call must reach (for call
        # return, the party that called the caller last: the row's own call before)
        route = plan.route(plan.resolve_dial(spec.reaches))
        if spec.transfer_kind not in TRANSFER_KINDS:
            raise ConfigError(f"plan row {spec.plan_id}", "transfer_kind", spec.transfer_kind,
                              f"expected one of {', '.join(TRANSFER_KINDS)}")
        # a transfer or 3-way target is dialled too: guarded the same way
        self.transfer_route(spec)
        self.conference_route(spec)
        seat = self.s.seat_of(spec.caller)
        number = plan.number_of(Party.parse(seat))
        self.check_apart(spec, seat, route)
        if spec.picked_up_by:  # the switch offers it, to a line of the called line's group
            plan.pickup_code()
            if spec.picked_up_by not in plan.pickup_group(spec.dial):
                raise ConfigError(f"plan row {spec.plan_id}", "picked_up_by",
                                  spec.picked_up_by,
                                  f"not in a pickup group with {spec.dial} "
                                  "(numbers.pickup_groups)")
        return seat, f"sip:{dial}@{self.s.switch.domain}", route, number

    def transfer_route(self, spec: CallSpec) -> Route | None:
        """Where the row's called party transfers the caller (dial-guarded), if it does."""
        return self.s.plan.route_dial(spec.transfer_to)

    def conference_route(self, spec: CallSpec) -> Route | None:
        """The third party a 3-way row's caller calls (dial-guarded), if it does."""
        return self.s.plan.route_dial(spec.conference_with)

    def uri(self, route: Route | None) -> str:
        """The SIP URI a further party is dialled at ('' for none)."""
        return f"sip:{route.number}@{self.s.switch.domain}" if route else ""

    def check_apart(self, spec: CallSpec, seat: str, route: Route) -> None:
        """A line that calls another from its own agent worker must not share that
        worker with it: one pjsua2 Endpoint answers a request it sent itself 482."""
        plan, farm = self.s.plan, self.s.farm
        dialled = plan.line_by_number(route.number)
        pairs = []
        if spec.transfer_to:  # attended: the called party dials; blind: the caller
            caller = dialled.name if spec.transfer_kind == "attended" and dialled else seat
            pairs.append((caller, self.transfer_route(spec)))
        if spec.conference_with:
            pairs.append((seat, self.conference_route(spec)))
        if spec.picked_up_by:  # its call may come to the caller (INVITE with Replaces)
            pairs.append((spec.picked_up_by, plan.route(plan.resolve_dial(spec.caller))))
        for who, target in pairs:
            line = plan.line_by_number(target.number) if target else None
            if farm is None or line is None or Party.parse(who).is_pstn:
                continue
            if farm.worker_of(who) == farm.worker_of(line.name):
                raise SipError(f"plan row {spec.plan_id}: {who} calls {line.name} from agent "
                               f"worker {farm.worker_of(who)}, which hosts both (one pjsua2 "
                               "Endpoint answers its own INVITE 482): pick lines that "
                               "agents.lines_per_worker deals to different workers")

    def identity(self, spec: CallSpec, route: Route, number: str) -> CallIdentity:
        """What the call's far ends may know it by: its calling numbers (the caller's,
        and the transferor's for an attended transfer's consultation call) and the far
        ends it may ring."""
        plan = self.s.plan
        dialled = plan.line_by_number(route.number)
        callers = [number]
        if spec.transfer_kind == "attended" and dialled is not None:
            callers.append(dialled.number)  # the consultation call comes from it
        return CallIdentity(tuple(canonical(n, plan.home_npa) for n in callers if n),
                            plan.far_ends(spec.reaches, *spec.before_dials,
                                          spec.transfer_to, spec.conference_with),
                            plan.home_npa)

    def far_end(self, spec: CallSpec, call_dir: Path, route: Route,
                number: str = "") -> FarEndPolicy:
        """How whoever the switch rings behaves: the dialled line as the row says, a line
        the call is forwarded to answers, PSTN numbers as the PSTN directory says. The
        third party of an attended transfer or a 3-way call talks with a voice of its
        own. The far ends recognise the call by its calling numbers (the caller's, and
        the transferor's for its consultation call) and who may ring."""
        plan = self.s.plan
        dialled = plan.line_by_number(route.number)
        third = self.scorer.third_ref(spec).path if self.scorer.has_third_party(spec) else None
        identity = self.identity(spec, route, number)
        if spec.retrieves:  # the voicemail platform plays the message on the digits
            return FarEndPolicy(None, play_wav=Path(spec.retrieves), identity=identity,
                                play_on_dtmf=plan.voicemail_retrieve)
        return FarEndPolicy(
            dialled.name if dialled else None, spec.callee_behaviour, spec.answer_after_s,
            plan.pstn,
            self.s.refs_for(spec.codec)["b"].path, call_dir / "recorded_a_to_b.wav",
            third_play_wav=third, identity=identity, announcement=reference.announcement(),
            transfer_seat=self.seat_dialled(self.transfer_route(spec)),
            conference_seat=self.seat_dialled(self.conference_route(spec)),
            busy_lines=spec.busy_lines)

    def seat_dialled(self, route: Route | None) -> str:
        """The seat a further call rings: a line's name, "pstn:" for the PSTN, ''."""
        if route is None:
            return ""
        line = self.s.plan.line_by_number(route.number)
        return line.name if line else (str(Party.pstn()) if route.trunk else "")

    def attempt(self, spec: CallSpec, on_down: Callable[[], None] | None = None,
                lane: str = "rows") -> CallResult:
        """Place `spec`'s call once and measure it (in `lane`: "rows" or a busy hour's
        "load"); `on_down` is called once the call is down, before the measuring."""
        started_wall = time.time()
        s = self.s
        hooks = s.hooks  # the harness's own test faults, read once for the call
        call_dir = s.call_dir(spec.plan_id)
        try:
            seat, target, route, number = self.resolve(spec)
            limits = s.thresholds.compile(spec.expect, call_class(spec, route), spec.codec,
                                          spec.profile, spec.plan_id)
            spec = replace(spec, expect=limits.applied_to(spec.expect))  # as judged
            impairment = profile(spec.profile or "clean")
            assert s.registrations is not None
            secure = s.registrations.secure_call(spec, route.number)  # TLS + SRTP rows
            crossing = s.crossing(spec, seat, route.number)  # rows under a profile
        except HarnessError as exc:
            if on_down is not None:
                on_down()
            return error_result(spec, str(exc), started_wall)
        before = self.calls_before(spec)
        if any(not c.passed for c in before):  # the switch's memory is not the row's
            if on_down is not None:
                on_down()
            return replace(error_result(spec, "", started_wall),
                           verdict=Verdict.of(before))
        refs = s.refs_for(spec.codec)
        third = self.scorer.third_ref(spec) if self.scorer.has_third_party(spec) else None
        script = script_for(spec, refs, third, call_dir, s.cfg.media.tail_pad_s,
                            self.uri(self.transfer_route(spec)),
                            self.uri(self.conference_route(spec)), hooks.agent_faults)
        if spec.fax:  # fax machines at both ends: the page, and where it is received
            script = replace(script, talk_s=max(script.talk_s, FAX_MAX_S),
                             fax_page=self.fax_page(), fax_receive=call_dir / FAX_RECEIVED)
        t38 = self.t38_call(spec, route, call_dir)  # a fax row to a T.38 line
        order = CallOrder(uuid.uuid4().hex, seat, target, script,
                          self.far_end(spec, call_dir, route, number),
                          hooks.codec_override or spec.codec,
                          secure=spec.transport == "tls" and not Party.parse(seat).is_pstn)
        assert s.farm is not None
        line_moved = nullcontext() if t38 is None else t38.registered(
            s.registrations.move, s.registrations.contact(t38.line))
        with secure, crossing as links, line_moved, \
                applied(impairment, *s.agent_rtp_span(), interfaces=links.interfaces,
                        lanes=links.lanes,
                        stall_threshold_ms=1000 * s.cfg.guard.stall_threshold_s) as network:
            # behind its access link, if it crossed
            caller_addr = s.registrations.caller_addr(seat)
            store_mark = s.switch.cdr_store_errors()[0]  # its own CDR store's failures
            waiting = self.waiting_call(spec)
            picking = self.pickup_call(spec, order, call_dir)
            out = s.farm.place(order)
            waited = waiting.result() if waiting is not None else None
            if picking is not None:  # one call: the caller, and the line that picked it up
                out = merged(out, *picking.result())
            if t38 is not None:  # the T.38 terminal's side: the far end
                out = t38.outcome(out, call_dir)
        if on_down is not None:
            on_down()
        s.keep_tls(out.a.tls_sessions)
        after = self.after_call(out)  # before any wait for a measuring lane
        try:
            with self._measuring[lane]:
                result = self.measure(spec, limits, out, call_dir, started_wall, caller_addr,
                                      route, number, after, store_mark,
                                      hooks.before_cdr_fetch, t38)
            if before:
                result = replace(result, verdict=Verdict.of((*result.verdict.checks,
                                                             *before)))
            if waited is not None:
                result = replace(result, verdict=Verdict.of((
                    *result.verdict.checks, *self.waiting_checks(spec, out, waited))))
            if spec.voicemail:  # after the measuring: the retrieval is a call of its own
                checks, heard = self.voicemail_checks(spec, out, call_dir)
                steps = call_dir / "voicemail.json"
                result = replace(result, quality=(*result.quality, *heard),
                                 verdict=Verdict.of((*result.verdict.checks, *checks)),
                                 artifacts=(*result.artifacts, *(
                                     [("voicemail", str(steps.relative_to(s.run_dir)))]
                                     if steps.exists() else [])))
            return self.with_delay_stage(result, network.delay, call_dir, network.loss)
        except HarnessError as exc:  # the call happened: keep what is known, say why
            return replace(error_result(spec, f"measurement failed: {exc}", started_wall),
                           call_id=out.a.call_id, final_code=out.a.final_code,
                           events=out.events)

    def calls_before(self, spec: CallSpec) -> list[Check]:
        """Call return's calls before (`spec.calls_before`), placed and measured one
        after another as calls of their own: each rings the row's caller, which does not
        answer, and gives up (487), and has its CDR (reconciled, in the run's billing
        like any call). Their verdicts, as the row's checks ("call return.
        before"): a call that did not ring the line leaves the switch's memory of who
        called it last unknown, and the call return is then not placed."""
        checks: list[Check] = []
        for i, party in enumerate(spec.calls_before, 1):
            withheld = spec.withheld_before
            before = CallSpec(f"{spec.plan_id}.before{i}", f"{spec.call_type}: call before",
                              party,
                              f"{PRIVACY_CODE}{spec.caller}" if withheld else spec.caller,
                              callee_behaviour="no_answer",
                              cancel_after_s=CALL_BEFORE_RING_S,
                              expect=Expect(final_code=487, mos_lqo_min=None,
                                            rings=spec.caller,
                                            caller_id=ANONYMOUS_ID if withheld else None),
                              description=f"{party} rings {spec.caller}"
                                          f"{' withholding its number' if withheld else ''}, "
                                          "unanswered")
            checks += part_of_row(f"call return.before{i}", f"call return: the call "
                                  f"before from {party} to {spec.caller}", self.attempt(before))
        return checks

    def fax_page(self) -> Path:
        """The test page fax rows send, written once per run beside the references."""
        with self._fax_lock:
            path = self.scorer.reference_dir / FAX_PAGE
            if not path.exists():
                fax.write_test_page(path)
            return path

    def fax_verdict(self, out: CallOutcome, packets: list[UdpPacket], call_dir: Path,
                    ) -> list[Check]:
        """The fax row's checks; a damaged page or a broken T.30 session over a path that
        passed both directions unchanged (harness/media/passage.py, the comparison kept
        as fax_passage.json on every fax call) is the harness's invalid measurement,
        re-placed."""
        fails = self.fax_checks(out)
        if out.b is None:
            return judged("fax", fails)
        since = media_since(out)
        legs = [out.a, out.b]
        passages = [passage(direction, talker_rtp(packets, legs, receiver, since),
                            rtp_toward(packets, receiver.stats.local_rtp, since)
                            if receiver.stats and receiver.stats.local_rtp else [])
                    for direction, receiver in (("a_to_b", out.b), ("b_to_a", out.a))]
        t38 = self.t38_refused(packets, since)
        (call_dir / "fax_passage.json").write_text(json.dumps(
            [{**asdict(p), "altered": p.altered(), "t38_refused": t38} for p in passages],
            indent=2))
        why = damaged_in_harness(passages, self.s.cfg.media.jb_init_ms) if fails else ""
        if not why:  # the path's: what it did to the signal, beside the damage
            did = [d for p in passages if (d := p.altered())]
            if fails and t38:
                did.append("; ".join(t38))
            return judged("fax", [f"{fails[0]} (the path: {'; '.join(did)})" if did
                                  else fails[0], *fails[1:]] if fails else [])
        cause = f"{'; '.join(fails)}, yet {why}"
        return [Check("fax", Outcome.INVALID, invalid_reason(cause), cause=cause,
                      evidence="fax_passage.json")]

    def t38_call(self, spec: CallSpec, route: Route, call_dir: Path) -> T38Call | None:
        """A fax row whose called line is a T.38 line (numbers.t38_lines): that line's
        T.38 terminal for the call; None for any other row."""
        if not spec.fax:
            return None
        line = self.s.plan.line_by_number(route.number)
        if line is None or line not in self.s.plan.t38_lines:
            return None
        return T38Call(line, call_dir / FAX_RECEIVED)

    def t38_fax_verdict(self, out: CallOutcome, packets: list[UdpPacket], t38: T38Call,
                        ) -> list[Check]:
        """A fax row to a T.38 line: the page and both T.30 sessions, and whose a failure
        is (harness/run/t38call.py)."""
        since = media_since(out)
        local = out.a.stats.local_rtp if out.a.stats else ""
        sent = rtp_from(packets, local, since) if local else []  # the caller's fax tones
        late = sender_lateness_ms(sent) if sent else None
        return t38_fax_checks(self.fax_checks(out), t38.figures, late)

    def t38_refused(self, packets: list[UdpPacket], since: float) -> list[str]:
        """The T.38 re-INVITEs the harness's fax terminals refused during the call: a
        switch's T.38 gateway may re-INVITE a fax call to T.38 once it hears the fax
        tones; the harness's terminals, G.711 pass-through ones, refuse it (488), and the
        call must then go on as it was (RFC 3261 §14.1): what the page then suffered is
        still the path's."""
        return t38_reinvites_refused(refusals(packets, set(self.far_end_addresses()),
                                              since), since)

    def far_end_addresses(self) -> dict[str, str]:
        """Every agent worker's SIP address (ip:port) -> the worker: where the harness's
        far ends answer what the switch sends them."""
        farm = self.s.farm
        if farm is None:
            return {}
        return {f"{farm.specs[w].address}:{port}": w for w, port in farm.ports.items()}

    def fax_checks(self, out: CallOutcome) -> list[str]:
        """A fax row: both terminals' T.30 sessions, and the page received, read from
        the called party's file, against the page sent."""
        b = out.b
        received = b.fax.file if b is not None and b.fax is not None else None
        rows = fax.read_page_rows(received) if received is not None else None
        return fax_checks(out.a.fax, b.fax if b is not None else None,
                          fax.test_page_rows(), rows)

    def waiting_call(self, spec: CallSpec) -> Deferred[CallResult] | None:
        """Call waiting: the row's `waiting_caller` calls the called line, placed
        `answer_after_s + waiting_at_s` from now (the row's call is being placed) and
        measured as a call of its own (a thread of its own while the row's call is up)."""
        if not spec.waiting_caller:
            return None
        second = CallSpec(f"{spec.plan_id}.waiting", f"{spec.call_type}: the second call",
                          spec.waiting_caller, spec.dial, answer_after_s=WAITING_ANSWER_S,
                          talk_s=3.0, codec=spec.codec,
                          expect=Expect(rings=spec.expect.rings),
                          description=f"{spec.waiting_caller} calls {spec.dial} while it is "
                                      "on the row's call")
        return Deferred(lambda: self.attempt(second), spec.answer_after_s + spec.waiting_at_s,
                        "waiting-call", lambda why: error_result(second, why, time.time()))

    def pickup_call(self, spec: CallSpec, row: CallOrder, call_dir: Path,
                    ) -> Deferred[tuple[CallOutcome | None, str]] | None:
        """Call pickup: the row's `picked_up_by` dials the switch's pickup code
        `pickup_at_s` after the row's call was placed (a thread of its own), talking with
        the called party's voice and recording what it hears as the called party would;
        it hangs up when the caller does. No far end is expected for it: the switch
        answers it, or hands it to the caller's phone (harness/run/pickup.py)."""
        if not spec.picked_up_by:
            return None
        s = self.s
        assert s.farm is not None
        farm = s.farm
        script = Script(row.script.talk_s + 10.0, hangup_by="callee",
                        a_play=row.far_end.play_wav, a_record=call_dir / "recorded_a_to_b.wav")
        order = CallOrder(uuid.uuid4().hex, s.seat_of(spec.picked_up_by),
                          f"sip:{s.plan.pickup_code()}@{s.switch.domain}", script,
                          FarEndPolicy(None, identity=CallIdentity((), (), s.plan.home_npa)),
                          row.codec)
        return pickup_call(lambda: farm.place(order), spec.pickup_at_s)

    def voicemail_checks(self, spec: CallSpec, out: CallOutcome, call_dir: Path,
                         ) -> tuple[list[Check], tuple[QualityScore, ...]]:
        """A voicemail row after its call, the deposit (harness/run/voicemail.py): whose
        mailbox, the line told a message waits, the line hearing it (a further call,
        "voicemail.retrieval", whose scores join the row's as direction
        "retrieval.b_to_a"), the line told none waits any more."""
        s = self.s
        if s.mwi is None or s.farm is None:
            return [Check("voicemail", Outcome.ERROR, "voicemail: the lab's voicemail "
                          "platform is not running (an external switch is given its ports: "
                          "sut.pstn_trunk_ports vm=PORT and sut.voicemail_mwi_port, "
                          "docs/external-switch.md)")], ()
        steps = VoicemailSteps(s.plan, s.mwi, s.farm, spec)
        try:
            box, message, fails = steps.deposit(out)
            if message is None:
                return judged("voicemail", fails), ()
            fails += steps.told(box, Summary(waiting=True, new=1, old=0))
            assert out.b is not None  # the platform's leg, which recorded the message
            heard = self.attempt(steps.retrieval(box, message, out.b.record_s))
            fails += steps.told(box, Summary(waiting=False, new=0, old=1))
        finally:
            steps.write(call_dir)
        return judged("voicemail", fails) + part_of_row(
            "voicemail.retrieval", f"voicemail: {box} hearing its message", heard), \
            tuple(replace(q, direction=f"retrieval.{q.direction}") for q in heard.quality)

    def waiting_checks(self, spec: CallSpec, out: CallOutcome, second: CallResult,
                       ) -> list[Check]:
        """The second call's verdict ("call waiting.second call"), and the first call's
        part: the line held it to take the second, resumed it once the second was down,
        and it stayed up to its end."""
        return part_of_row("call waiting.second call",
                           f"call waiting: the second call from {spec.waiting_caller}",
                           second) + judged("call waiting", waiting_first_call(out))

    @staticmethod
    def with_delay_stage(result: CallResult, delay: DelayReport | None,
                         call_dir: Path, loss: LossReport | None = None) -> CallResult:
        """The impairment stage's own timing beside the call (delay_stage.json) and, for
        a loss profile, what it dropped per flow (loss_stage.json); a stage that
        stalled, died or was bypassed makes the call's figures invalid: the impairment
        was not the one the profile names."""
        if loss is not None:
            applied = asdict(loss)
            (call_dir / "loss_stage.json").write_text(json.dumps(applied, indent=2))
            result = replace(result, loss_stage=applied)
        if delay is None:
            return result
        (call_dir / "delay_stage.json").write_text(json.dumps(asdict(delay), indent=2))
        if delay.valid:
            return result
        cause = f"delay stage: {'; '.join(delay.problems)}"
        verdict = Verdict.of((Check("harness.delay_stage", Outcome.ERROR, invalid_reason(cause),
                                    cause=cause), *result.verdict.checks))
        return replace(result, verdict=replace(verdict, invalid_measurement=True))

    # -- measuring it ------------------------------------------------------------------
    def after_call(self, out: CallOutcome) -> AfterCall:
        """The post-call marker, sent as soon as the call is down: an OPTIONS ping to the
        switch (is it alive after the call? its packet in the loopback capture says
        dumpcap has written everything before it) and the same marker through every
        access link. Sent before the call waits for a measuring lane, so that a wave of
        calls ending together (the busy hour's 42) does not wait for dumpcap's next
        flush one call at a time."""
        s = self.s
        marker = f"sync-{uuid.uuid4().hex}"
        sent_wall = time.time()
        alive = sip_options_ping(s.switch.sip_host, s.switch.sip_port, 2.0, marker) == 200
        if s.capture is not None and out.events:
            s.capture.mark(marker.encode())  # through the access links too
        return AfterCall(marker, sent_wall, alive)

    def measure(self, spec: CallSpec, limits: RowLimits, out: CallOutcome, call_dir: Path,
                started_wall: float, caller_addr: str, route: Route, number: str,
                after: AfterCall, store_mark: int = 0,
                before_cdr: tuple[Callable[[str], None], ...] = (),
                t38: T38Call | None = None) -> CallResult:
        s = self.s
        # each real-time figure is judged on the stalls of its own window: a 61 s call
        # is not re-placed for a pause in the silence after its scored speech
        stall = s.guard.report(out.t_start_mono, out.t_end_mono)
        window = setup_window(out.a.events)
        setup_stall = s.guard.report(*window) if window else stall
        speech = self.scorer.speech_window(spec, out, s.cfg.media.tail_pad_s)
        speech_stall = s.guard.report(*speech) if speech else stall
        alive = after.switch_alive
        packets = self.packets(out, call_dir, after.marker, after.sent_wall)
        timing = self.timing(spec, out, packets, setup_stall, caller_addr, call_dir)
        quality, streams = self.scorer.quality(spec, out, call_dir, speech_stall, packets,
                                               stall)
        ratings = emodel_ratings(out, streams, s.cfg.media.jb_init_ms)
        # a call whose INVITE never left the caller's agent (the harness's error) has no
        # record to find: not handed to billing, where it would count against the switch
        sent = out.a.first("INVITE_SENT") is not None
        cdr = self.cdr(spec, out, route, number, store_mark, before_cdr) \
            if spec.expect.cdr and sent else None
        early = early_media(out.a, packets)
        refused = self.refused(spec, out, packets, self.identity(spec, route, number), t38)
        verdict = decide(spec.expect, limits, out.a.final_code, timing, quality, cdr, stall,
                         refused.why if refused else "", streams,
                         cdr_stall=clock_readings_stall(s.guard, out, stall),
                         sent=self.scorer.sent_streams(spec, out, packets),
                         refused_outcome=refused.outcome if refused else Outcome.FAIL)
        extra = call_type_checks(spec, out, cdr, packets, number, s.promises, early,
                                 refused.who if refused else "", route)
        extra += self.secure_checks(spec, out, packets)
        if spec.expect.cdr:
            extra += judged("cdr.further", self.further_cdrs(spec, out, number))
        if spec.expect.conferenced is not None:
            extra += judged("3-way.audio",
                            self.scorer.conference_audio(spec, out, packets, call_dir))
        if spec.fax and out.a.final_code == 200:
            extra += self.fax_verdict(out, packets, call_dir) if t38 is None else \
                self.t38_fax_verdict(out, packets, t38)
        workers = {leg.worker for leg in (out.a, *out.legs, *out.other_legs)}
        # a host whose clock drifted beyond the tolerance: figures across it (a far
        # end's answer, the CDR's times) cannot be put in one clock; the harness's error
        errors = [e for e in (out.error, *unattributed(out), "" if alive else
                              f"{LOST_OPTIONS} after the call",
                              *(f"figures across agent hosts not trusted: {why}"
                                for why in s.clock_errors(workers))) if e]
        verdict = Verdict.of((*verdict.checks, *extra,
                              *(Check("harness", Outcome.ERROR, e) for e in errors)))
        stream_doc = {**{k: ({**asdict(v), **ratings.get(k, {})} if v else None)
                         for k, v in streams.items()}, **agent_streams(out)}
        (call_dir / "streams.json").write_text(json.dumps(stream_doc, indent=2))
        if verdict.status is Status.PASS:  # derived evidence: call.pcap re-decodes it
            for decoded in call_dir.glob("wire_*.wav"):
                decoded.unlink()
        artifacts = tuple((p.stem, str(p.relative_to(s.run_dir)))
                          for p in sorted(call_dir.iterdir())
                          if p.suffix in (".wav", ".pcap", ".json", ".tif"))
        return CallResult(spec, out.a.call_id, out.a.final_code, timing, quality, cdr, stall,
                          verdict, tuple(sorted(out.all_events, key=lambda e: e.t_mono)),
                          artifacts,
                          started_wall, "; ".join(errors), far_ends(out), early, out.a.worker,
                          stream_doc, clocks=s.clocks_of(workers))

    def refused(self, spec: CallSpec, out: CallOutcome, packets: list[UdpPacket],
                identity: CallIdentity, t38: T38Call | None = None) -> FarEndRefused | None:
        """Who refused and why, when the call did not end as the row expects because one
        of the harness's far ends refused what the switch sent it (not because the row
        asked it to): read from the wire, whatever Call-ID the switch gave that leg, for
        an INVITE that may have been this call's (`may_be` its `identity`: the calls up
        beside it have far ends that refuse too, a busy row's line its 486).

        The switch's fail, except a fax row whose fax terminal was offered T.38 only:
        the harness's terminals are G.711 pass-through ones (pjsua2 takes no m=image
        stream) and cannot take it, so the row is not measured: the harness's error."""
        farm = self.s.farm
        if out.a.final_code == spec.expect.final_code or farm is None or not packets:
            return None
        ordered = {ev.code for leg in (*out.legs, *out.other_legs) for ev in leg.events
                   if ev.kind == "ANSWER_SENT" and ev.code and ev.code >= 300}
        where = self.far_end_addresses()
        if t38 is not None:  # the row's T.38 terminal is a far end of the harness's too
            where[t38.ua.sip_address] = t38.line.name
        for r in refusals(packets, set(where), media_since(out)):
            if r.code in ordered:
                continue  # the far end did as the row told it (busy, unassigned...)
            line = next((ln for ln in self.s.plan.lines
                         if canonical(ln.number) == canonical(r.user)), None)
            if line is not None:
                seat = who = line.name
            elif where[r.at].startswith(PSTN_WORKER):
                seat, who = str(Party.pstn()), "the simulated PSTN"
            else:
                seat, who = f"unknown:{r.user}", f"agent worker {where[r.at]}"
            invite = r.invite
            if not may_be(IncomingInvite(seat, invite.call_id, invite.phrase, invite.from_,
                                         invite.to, invite.asserted, "", 0.0, invite.ts),
                          identity):
                continue  # another call's, up beside this one
            return judge_refusal(spec, r, who, t38 is not None and r.at == t38.ua.sip_address)
        return None

    def packets(self, out: CallOutcome, call_dir: Path, marker: str,
                sent_wall: float) -> list[UdpPacket]:
        """The call's packets from the run capture (after dumpcap has flushed them)."""
        capture = self.s.capture
        if capture is None or not out.events:  # nothing was sent (e.g. the switch was gone)
            return []
        tag = marker.encode()  # sent by after_call()
        legs = [out.a, *out.legs, *out.other_legs]
        if not capture.sync(lambda p: tag in p.payload, 20.0, sent_wall,
                            self.addresses_of(legs)):
            raise CaptureError(f"{capture.path}: the post-call marker {marker} never "
                               "reached the capture (dumpcap stalled or stopped)")
        packets = capture.packets_between(min(e.t_wall for e in out.all_events) - 1.0,
                                          max(e.t_wall for e in out.all_events) + 2.0)
        # on disk: this call's own packets, not every call's in its window (a busy-hour
        # call's slice held 42 dialogs, 20 MB; its own packets are ~0.5 MB)
        media = {addr for leg in legs if leg.stats is not None
                 for addr in (leg.stats.local_rtp, leg.stats.remote_rtp) if addr}
        capture.write_slice(own_packets(packets, {leg.call_id for leg in legs if leg.call_id},
                                        media), call_dir / "call.pcap")
        return packets

    def addresses_of(self, legs: list[LegOutcome]) -> frozenset[str] | None:
        """Where the call's parties' workers are (their captures are the ones it reads);
        None, every capture, when a leg's worker is not known."""
        specs = self.s.farm.specs if self.s.farm is not None else {}
        found = [specs.get(leg.worker) for leg in legs]
        if not found or any(spec is None for spec in found):
            return None
        return frozenset(spec.address for spec in found if spec is not None)

    def timing(self, spec: CallSpec, out: CallOutcome, packets: list[UdpPacket],
               setup_stall: StallReport, caller_addr: str, call_dir: Path) -> CallTiming:
        timing = call_timing(out.a.events, setup_stall)
        if not packets or not caller_addr:
            return timing
        # the caller's INVITE: a picked-up call's is its replaced ringing dialog's
        ladder = call_ladder(packets, (out.replaced or out.a).call_id)
        switch = self.s.switch
        switch_addr = self.s.first_hop(spec.caller)
        if switch.access_address and not caller_addr.startswith(f"{switch.sip_host}:"):
            # a caller behind an access link reaches the switch at its access address
            switch_addr = f"{switch.access_address}:{switch.sip_port}"
        wire = wire_timing(ladder, caller_addr, switch_addr, spec.hangup_by == "caller")
        (call_dir / "ladder.json").write_text(json.dumps(
            {"caller": caller_addr, "switch": switch_addr,
             "callee": out.b.agent_name if out.b else "",
             "messages": [asdict(m) for m in ladder]}, indent=1))
        return replace(timing, wire_srd_s=_r6(wire.srd_s), wire_setup_s=_r6(wire.setup_s),
                       wire_sdd_s=_r6(wire.sdd_s), retransmissions=wire.retransmissions)

    def secure_checks(self, spec: CallSpec, out: CallOutcome,
                      packets: list[UdpPacket]) -> list[Check]:
        """A TLS row: the caller's TLS connection to the switch (version, verified
        certificate); an SRTP row: RTP/SAVP on both legs and no bare frame on the wire."""
        fails: list[Check] = []
        tls = self.s.switch.tls_listener()
        if spec.transport == "tls" and tls is not None and not spec.caller_party.is_pstn:
            # the caller's own connection (a PSTN caller stays on the UDP trunk)
            fails += judged("tls", tls_checks(list(out.a.tls_sessions),
                                              self.s.tls_hop(spec.caller)))
        if spec.srtp and out.b is not None and out.a.final_code == 200:
            toward = {d: rtp_toward(packets, leg.stats.local_rtp, media_since(out))
                      for d, leg in (("a_to_b", out.b), ("b_to_a", out.a))
                      if leg.stats is not None and leg.stats.local_rtp}
            fails += judged("srtp", srtp_checks(out, toward))
        return fails

    def cdr(self, spec: CallSpec, out: CallOutcome, route: Route, number: str,
            store_mark: int = 0, before: tuple[Callable[[str], None], ...] = ()) -> CdrCheck:
        """The call's CDR reconciled; a missing one the harness's own switch failed to
        write during the call (since `store_mark`) is marked as the harness's. `before`:
        the harness's own test hooks, called with the Call-ID first."""
        call_id = out.a.call_id
        for hook in before:
            hook(call_id)
        hanger = out.a if spec.hangup_by == "caller" else (out.b or out.a)
        # the callee is the line that answered a call to a group's number (a hunt
        # group's pilot, a toll-free number served to one) or a call it did not
        # dial (a forwarded-to line), else the number the call was routed on: the
        # line dialled is billed as dialled (a number ported in to it is the line's
        # public number)
        plan = self.s.plan
        answered_by = plan.line(out.b.agent_name) if out.b is not None and \
            out.b.agent_name.startswith("site") else None
        served = plan.served(route.number)
        group = served != route.number or plan.hunt(served) is not None
        callee = answered_by.number if answered_by and (
            group or answered_by != plan.line_by_number(route.number)) else route.number
        if out.b is not None and out.b.agent_name == VOICEMAIL_SEAT:  # forwarded to
            callee = plan.voicemail()  # voicemail: the platform's pilot answered
        if spec.withheld_before:  # a call return to a withheld caller calls nobody: the
            callee = plan.resolve_dial(spec.dial)  # record keeps the code dialled
        check = self.reconciled(ledger(out.a, hanger, number, callee, call_class(spec, route),
                                       (out.b, *out.legs, out.replaced)))
        if not check.matched and (lost := self.s.switch.cdr_store_errors(store_mark)[1]):
            check = replace(check, store_error=lost)
        return check

    def further_cdrs(self, spec: CallSpec, out: CallOutcome, number: str) -> list[str]:
        """The row's further calls, each a call of its own with its own CDR, reconciled
        and billed like any other: the transferred call (caller -> transfer target), an
        attended transfer's consultation call (called party -> target) and a 3-way
        call's second call (caller -> third party)."""
        xfer, third = self.transfer_route(spec), self.conference_route(spec)
        b = out.b
        transferor = self.s.plan.line(b.agent_name).number \
            if b is not None and b.agent_name.startswith("site") else ""
        calls = (("transferred call", out.transfer, out.transfer_far, number, xfer),
                 ("consultation call", out.consult if b is not None else None,
                  out.consult_far, transferor, xfer),
                 ("3-way second call", out.conference, out.conference_far, number, third))
        fails: list[str] = []
        for what, leg, far, caller, target in calls:
            if leg is None or not leg.call_id or target is None:
                continue
            check = self.reconciled(ledger(leg, leg, caller, target.number,
                                           target.call_class, (far,)))
            fails += [f"cdr ({what}): {m}" for m in check.mismatches] if check.matched \
                else [f"cdr ({what}): no record for it"]
        return fails

    def reconciled(self, ledger: Ledger) -> CdrCheck:
        """`ledger` handed to the session's CDR book, which claims the call's records
        (waiting up to cdr.wait_s: the switch writes them at the BYE), checks them in
        full (billing too) and keeps the result for the run's billing summary."""
        return self.s.cdr_book.check(ledger).check


def ledger(caller: LegOutcome, hanger: LegOutcome, number: str, callee: str,
           klass: str, far: Sequence[LegOutcome | None] = ()) -> Ledger:
    """The call as the caller's agent saw it, for CDR reconciliation: answered when,
    ended when `hanger` sent its BYE (else when the caller's leg went down); `far`:
    the legs the far ends saw (their Call-IDs differ from the caller's through a
    B2BUA, and the switch may record those)."""
    answer = answer_event(caller.events)
    end = hanger.first("BYE_SENT") or caller.first("DISCONNECTED")
    invite = caller.first("INVITE_SENT")
    return Ledger(caller.call_id, number, callee, answer is not None,
                  answer.t_wall if answer else None, end.t_wall if end else None,
                  invite.t_wall if invite else None, klass, disposition(caller.final_code),
                  tuple(dict.fromkeys(leg.call_id for leg in far if leg and leg.call_id)))


def unattributed(out: CallOutcome) -> list[str]:
    """INVITEs the harness could not attribute that may have been this call's: the
    harness's own error (the far end may have rung after all), never the switch's
    routing fault. One it was among the candidates of counts always; one no call fitted
    counts for a call that reached no far end."""
    return [s.describe() for s in out.strays if s.candidates or out.b is None]


def clock_readings_stall(guard: StallGuard, out: CallOutcome, call: StallReport,
                         ) -> StallReport:
    """The stalls that can have delayed the agents' clock readings the CDR's times are
    compared with: around the call's start and answer, and around its release
    (CDR_READING_MARGIN_S either side), not in the talk between them; `call` (the whole
    call's) where the call has no such moments, or when its real-time processes were
    starved through it: a wait for a CPU spread over the call (the agents' readings and
    the embedded switch's own, in the same group) is no pause a window around a moment
    can place (a starved run billed 15 s for 10.8 s of talk)."""
    invite, answer = out.a.first("INVITE_SENT"), answer_event(out.a.events)
    ends = [ev.t_mono for leg in (out.a, *out.legs) for ev in leg.events
            if ev.kind in ("BYE_SENT", "DISCONNECTED")]
    if invite is None or answer is None or not ends or call.starved:
        return call
    m = CDR_READING_MARGIN_S
    reports = [guard.report(invite.t_mono - m, answer.t_mono + m),
               guard.report(min(ends) - m, max(ends) + m)]
    return max(reports, key=lambda r: (not r.clean, r.stalls_over_threshold, r.max_stall_s))


def far_ends(out: CallOutcome) -> tuple[FarEndLeg, ...]:
    """Every far end's leg of the call: who rang, the Call-ID it saw, how the harness
    knew it was this call's."""
    legs = (*out.legs, *(leg for leg in (out.transfer_far, out.consult_far,
                                         out.conference_far) if leg is not None))
    return tuple(FarEndLeg(leg.agent_name, leg.call_id, leg.attributed_by, leg.worker)
                 for leg in legs)


def script_for(spec: CallSpec, refs: Mapping[str, reference.Reference],
               third: reference.Reference | None, call_dir: Path, tail_pad_s: float,
               transfer_uri: str = "", three_way_uri: str = "",
               agent_faults: Iterable[str] = ()) -> Script:
    """What the calling agent does (and its far ends pace by): a scored row talks until
    every voice of the call (`refs`, the 3-way's `third`) has been heard whole, the
    speech after a resume included; a 3-way call holds, dials, resumes and gives each
    talker a turn long enough for its whole reference (P.862)."""
    audio = spec.expect.scored and spec.expect.final_code == 200
    voices = [*refs.values(), *([third] if third is not None else [])]
    talk_s = spec.talk_s
    if audio:  # every voice of the call is heard to its end
        talk_s = max(talk_s, max(r.duration_s for r in voices) + tail_pad_s)
    replay_at = replay_at_s(spec) if audio else None
    if replay_at is not None:  # the speech after a resume is heard whole too
        talk_s = max(talk_s, replay_at + max(r.duration_s for r in refs.values())
                     + tail_pad_s)
    window_s = Script(0).talker_window_s
    if three_way_uri and audio:  # each talker's turn holds its whole reference (P.862)
        window_s = max(window_s, max(r.duration_s for r in voices) + TALKER_PAD_S)
    if three_way_uri:  # hold, dial, resume, three talkers' turns, with room to spare
        talk_s = max(talk_s, Script(0).three_way_at_s + 3 * (window_s + TURN_GAP_S) + 8.0)
    return Script(talk_s, spec.hangup_by, spec.cancel_after_s,
                  headers=spec.headers, dtmf_a=spec.dtmf_a, dtmf_b=spec.dtmf_b,
                  dtmf_at_s=spec.dtmf_at_s, hold_at_s=spec.hold_at_s,
                  resume_at_s=spec.resume_at_s, replay_at_s=replay_at,
                  a_play=refs["a"].path, a_record=call_dir / "recorded_b_to_a.wav",
                  transfer_to_uri=transfer_uri, transfer_at_s=spec.transfer_at_s,
                  transfer_kind=spec.transfer_kind, three_way_uri=three_way_uri,
                  talker_window_s=window_s, agent_faults=tuple(sorted(agent_faults)))


def call_class(spec: CallSpec, route: Route) -> str:
    """The class a call is judged and billed in: a call from the PSTN is 'incoming', or
    'tollfree_in' to a toll-free number the switch serves (billed to the site called)."""
    if not spec.caller_party.is_pstn:
        return route.call_class
    tollfree = route.call_class == "onnet" and route.number[:3] in TOLLFREE_NPAS
    return "tollfree_in" if tollfree else "incoming"


def disposition(final_code: int | None) -> str:
    """The caller's view of how the call ended, in CDR terms."""
    if final_code is not None and 200 <= final_code < 300:
        return "answered"
    return {486: "busy", 600: "busy", 487: "cancelled", 408: "no_answer",
            480: "no_answer"}.get(final_code or 0, "failed")


def part_of_row(criterion: str, what: str, call: CallResult) -> list[Check]:
    """A further call a row places (call return's calls before, call waiting's second
    call), judged as the row's: each of its checks that did not pass, as `criterion`,
    its message after `what`, its outcome and cause kept (an invalid measurement stays
    one); one passed check when all passed."""
    return [Check(criterion, c.outcome, f"{what}: {c.message}", cause=c.cause)
            for c in call.verdict.checks if not c.passed] or [passed(criterion)]


def error_result(spec: CallSpec, error: str, started_wall: float) -> CallResult:
    return CallResult(spec, "", None, CallTiming(None, None, None, None), (), None, None,
                      Verdict.of((Check("harness", Outcome.ERROR, error),)),
                      started_wall=started_wall, error=error)
