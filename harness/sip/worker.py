"""An agent worker: one process, one pjsua2 Endpoint, a share of the beta lines.

Why processes: the PJSIP 2.15 wheel allows 8 accounts, 8 transports and 4 calls
per process, and every line in one Endpoint is one user agent, so a call the switch
forwards from one line to another reaches that agent twice with the same Call-ID,
From tag and CSeq: a merged request, answered 482 (RFC 3261 §8.2.2.2). A farm of
workers, each hosting four lines on its own UDP transport, places 42 concurrent
calls and lets forwarding, busy lines and no-answer behave as separate phones do.

A worker runs its own event pump (`threadCnt=0`) and talks to the controller over
a pipe. It places the calls it is ordered to (the caller leg, "a") and answers the
INVITEs the switch sends its seats (callee legs, "b") as the call's `FarEndPolicy`
says. Which call an incoming INVITE belongs to is decided from what any switch
delivers — the calling number and who rang (`harness.sip.attribution`); the
`X-Harness-Call` header the caller adds is a hint when it survives. An INVITE no call
fits is refused and reported ("stray"). Every message it sends is plain data
(`harness.sip.scenario`).

Messages in:  ("expect", key, policy, script) -> ("expected", key)
              ("dial", CallOrder)             -> ("a_done", key, LegOutcome, error, t0, t1,
                                                  (the caller's other calls' LegOutcomes:
                                                   "a2" transferred, "a3" 3-way))
              ("finish", key)                 -> ("finished", key, [LegOutcome, ...])
              ("abort", why)                  tears every call down, each with `why`
              ("adopt", Seat)                 -> ("adopted", name, error): host the seat
                                                  from now on (an access worker, for a row)
              ("drop", name)                  -> ("dropped", name, error): no longer
              ("stop",)                       -> ("stopped",)
Messages out, unasked: ("stalls", [(end_mono, late_s), ...]) — the worker's own
scheduling lateness, for the controller's stall guard (a worker starved of CPU must
be flagged even when the controller was not); ("stray", Stray) — an INVITE that no
call in progress could be attributed to.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection

from harness.cpuwait import join
from harness.errors import HarnessError, SipError
from harness.model import Line
from harness.network import netns
from harness.party import Party
from harness.sip.agent import Leg, LineAgent, Switchboard, wav_finalised
from harness.sip.attribution import IncomingInvite, Stray, attribute
from harness.sip.message import ruri_parts
from harness.sip.messages import (
    Abort,
    ADone,
    Adopt,
    Adopted,
    Dial,
    Drop,
    Dropped,
    Expect,
    Expected,
    Failed,
    Finish,
    Finished,
    Notified,
    Order,
    Ready,
    Stalls,
    Stop,
    Stopped,
    StrayInvite,
)
from harness.sip.midcall import CALL_HEADER, Consultation, ThreeWay, play_message
from harness.sip.scenario import CallOrder, FarEndPolicy, Script, WorkerSpec
from harness.sip.seats import Seats
from harness.sip.stack import SipStack
from harness.softswitch.process import AGENT_NICENESS, exit_with_parent

PUMP_MS = 10  # the event pump's longest wait while calls are up
IDLE_PUMP_MS = 50  # ... and with none (SIP wakes it at once; orders wait up to this)
LATE_FLOOR_S = 0.005  # pump lateness below this is scheduler noise
FINALISE_S = 5.0  # how long a finished leg may wait for its recording's WAV header


@dataclass
class _Outgoing:
    order: CallOrder
    agent: LineAgent
    leg: Leg
    t_start: float
    error: str = ""
    talking: bool = False
    released_at: float | None = None
    transfer: Leg | None = None  # the call a REFER asked the caller to place
    transfer_talking: bool = False
    three_way: ThreeWay | None = None  # a 3-way call: the second call and the bridge
    # call pickup through a switch that hands the picking line's call to the caller with
    # Replaces naming the caller's ringing call (RFC 3891 early-only): the call taking over
    picked: Leg | None = None

    def legs(self) -> list[Leg]:
        more = [self.transfer, self.three_way.leg if self.three_way else None, self.picked]
        return [self.leg, *(leg for leg in more if leg is not None)]


@dataclass
class _Expected:
    """A call this worker may be rung for, and the legs it answered for it."""

    key: str
    policy: FarEndPolicy
    script: Script
    since: float = field(default_factory=time.monotonic)  # the order reached the worker
    legs: list[Leg] = field(default_factory=list)
    talking: set[int] = field(default_factory=set)
    finish_by: float | None = None  # set by "finish": report by then
    hung_up: bool = False
    released: bool = False
    consult: Consultation | None = None  # attended transfer: the called party's call to C

    def all_legs(self) -> list[Leg]:
        """The legs answered here and the consultation call placed from here."""
        return [*self.legs, *([self.consult.leg] if self.consult else [])]


class Worker:
    def __init__(self, spec: WorkerSpec, conn: Connection) -> None:
        self.spec = spec
        self.conn = conn
        self.stack = SipStack(spec.log_path, spec.clock_rate, spec.jb_init_ms)
        self.board = Switchboard()
        self.seats = Seats(spec, self.board)
        self.receiver: LineAgent | None = None
        self.tls_transport: tuple[int, int] | None = None
        self.outgoing: dict[str, _Outgoing] = {}
        self.expected: dict[str, _Expected] = {}
        # call waiting: a leg answered while its line was on a call, and the calls it
        # held (resumed when it is down)
        self.waiting: list[tuple[Leg, list[Leg]]] = []
        self.lates: list[tuple[float, float]] = []
        self.running = True

    # -- start and stop ------------------------------------------------------------------
    def start(self) -> tuple[int, int]:
        """Endpoint, transports, the answering account, the seats; (UDP, TLS) ports."""
        spec = self.spec
        self.stack.start()
        transport = self.stack.add_udp_transport(spec.sip_port, spec.address)
        port = transport[1]
        if spec.tls is not None:  # after the UDP one: PJSIP answers from its first transport
            self.tls_transport = self.stack.add_tls_transport(
                spec.tls.ca_file, spec.tls.cert_file, spec.tls.key_file,
                address=spec.address)
        self.seats.transports(transport, self.tls_transport)
        self.receiver = LineAgent(Line(0, 0, "receiver", ""), spec.domain, spec.proxy,
                                  spec.receiver_rtp[0], spec.receiver_rtp[1], transport,
                                  self.board, f"{spec.name}:receiver", static=True,
                                  accept_srtp=spec.tls is not None, address=spec.address,
                                  prack=spec.gateway)
        self.receiver.ensure_account(make_default=True)
        for seat in spec.seats:
            self.seats.add(seat)
        if spec.gateway:
            self.board.pstn = self.receiver
            self.board.pstn_by_did = spec.pstn_by_did
            self.board.trunk = spec.trunk
        self.board.handler = self._on_incoming
        self.board.on_mwi = lambda seat, message: self.conn.send(
            Notified(seat, time.time(), message))
        return port, self.tls_transport[1] if self.tls_transport else 0

    def close(self) -> None:
        for out in self.outgoing.values():
            out.leg.release()
        for exp in self.expected.values():
            for leg in exp.all_legs():
                leg.release()
        self.outgoing.clear()
        self.expected.clear()
        self.seats.release()
        if self.receiver is not None:
            self.receiver.release()
        self.receiver = None
        self.stack.run_for(0.2)
        self.stack.close()

    # -- the loop --------------------------------------------------------------------------
    def serve(self) -> None:
        last_flush = prev = time.monotonic()
        while self.running:
            while self.running and self.conn.poll():
                self._handle(self.conn.recv())
            if not self.running:
                break
            wait_ms = PUMP_MS if self.outgoing or self.expected else IDLE_PUMP_MS
            self.stack.pump(wait_ms)
            self._tick()
            now = time.monotonic()
            late = now - prev - wait_ms / 1000.0
            prev = now
            if late >= LATE_FLOOR_S:
                self.lates.append((now, late))
            if self.lates and now - last_flush > 0.5:
                self.conn.send(Stalls(tuple(self.lates)))
                self.lates, last_flush = [], now

    def _handle(self, msg: Order) -> None:
        match msg:
            case Expect(key, policy, script):
                self.expected[key] = _Expected(key, policy, script)
                self.conn.send(Expected(key))
            case Dial(order):
                self._dial(order)
            case Finish(key):
                exp = self.expected.get(key)
                if exp is None:
                    self.conn.send(Finished(key, ()))
                else:
                    exp.finish_by = time.monotonic() + 10.0
            case Abort(why):
                self._abort(why)
            case Adopt(seat):
                self.conn.send(Adopted(seat.name, self.seats.adopt(seat)))
            case Drop(name):
                self.conn.send(Dropped(name, self.seats.drop(name)))
            case Stop():
                self.running = False
            case _:
                raise SipError(f"agent worker {self.spec.name}: unknown message {msg!r}")

    # -- placing calls -------------------------------------------------------------------
    def _dial(self, order: CallOrder) -> None:
        script = order.script
        leg = Leg("a", play_wav=script.a_play, record_wav=script.a_record,
                  agent_name=order.caller, play_on_cue=bool(script.three_way_uri))
        if script.fax_page is not None:  # a fax machine, not a voice
            leg.fax_role, leg.fax_path = "send", script.fax_page
        t_start = time.monotonic()
        try:
            agent = self.seats.dialler(order.caller, order.secure)
            self.stack.set_codec(order.codec)
            try:
                agent.dial(order.target_uri, leg, (*script.headers, (CALL_HEADER, order.key)))
            finally:
                self.stack.set_codec(None)
        except SipError as exc:
            leg.release()
            self.conn.send(ADone(order.key, leg.outcome(self.spec.name), str(exc),
                                 t_start, time.monotonic()))
            return
        agent.active_legs += 1
        out = _Outgoing(order, agent, leg, t_start)
        leg.on_transfer = lambda uri: self._transferred(out, uri)
        leg.on_replaced = lambda request: self._picked_up(out, request)
        self.outgoing[order.key] = out
        if script.cancel_after_s is not None:
            self.stack.at(script.cancel_after_s, lambda: self._safely(
                out, lambda: None if leg.state == "CONFIRMED" else leg.hangup()))
        ring_s = script.ring_timeout_s + 10.0
        self.stack.at(ring_s, lambda: self._timeout(out, "CONFIRMED", ring_s,
                                                    f"an answer from {order.target_uri}"))

    def _transferred(self, out: _Outgoing, uri: str) -> Leg:
        """A REFER reached the caller: the new call is a leg of this call ("a2"),
        playing the caller's reference and recording what comes back."""
        rec = out.leg.record_wav
        out.transfer = Leg("a2", play_wav=out.leg.play_wav, agent_name=out.order.caller,
                           record_wav=rec.with_name(f"{rec.stem}-transfer.wav") if rec else None)
        return out.transfer

    def _picked_up(self, out: _Outgoing, request: dict[str, str]) -> Leg:
        """An INVITE with Replaces named the caller's call while it rang (call pickup, by
        a switch that hands the picking line's call to the caller: RFC 3891 early-only;
        pjsua answers it and cancels the ringing call). The call taking over is the
        caller's ("ap"): it talks and records as the caller did, into a file of its own."""
        rec = out.leg.record_wav
        out.picked = Leg("ap", play_wav=out.leg.play_wav, agent_name=out.order.caller,
                         request=request, attributed_by="replaces",
                         record_wav=rec.with_name(f"{rec.stem}-picked.wav") if rec else None)
        return out.picked

    def _timeout(self, out: _Outgoing, reached: str, after_s: float, what: str) -> None:
        legs = out.legs()
        picked = out.picked is not None and out.picked.state == reached
        if all(leg.disconnected for leg in legs) or out.leg.state == reached or picked or \
                out.released_at is not None:
            return
        out.error = out.error or f"timed out after {after_s:.0f} s waiting for {what}"
        for leg in legs:
            self._hang_up(leg)

    def _talk(self, out: _Outgoing, answered: Leg | None = None) -> None:
        """The caller's part once the call is answered: on `answered`, the caller's own
        call or the one that took it over by a pickup (an INVITE with Replaces)."""
        leg, script = answered or out.leg, out.order.script
        out.talking = True
        if script.dtmf_a:
            self.stack.at(script.dtmf_at_s,
                          lambda: self._safely(out, lambda: leg.send_dtmf(script.dtmf_a)))
        # a re-INVITE's offer is built from the codec priorities of the moment: offer
        # the call's own codec again, not every codec an idle agent accepts
        if script.hold_at_s is not None:
            self.stack.at(script.hold_at_s,
                          lambda: self._safely(out, leg.hold, out.order.codec))
        if script.resume_at_s is not None:
            self.stack.at(script.resume_at_s,
                          lambda: self._safely(out, leg.resume, out.order.codec))
        if script.replay_at_s is not None:
            self.stack.at(script.replay_at_s, lambda: self._safely(out, leg.replay))
        if script.three_way_uri:  # hold, call the third party, conference, then hang up
            out.three_way = ThreeWay(self.stack, out.order, out.agent, leg)
            self.stack.at(script.three_way_at_s, lambda: self._safely(
                out, lambda: out.three_way.start() if out.three_way else None))
        elif script.fax_page is not None:  # the fax machine hangs up when T.30 ends
            self._fax_hangup(out, time.monotonic() + script.talk_s)
        elif script.hangup_by == "caller":
            self.stack.at(script.talk_s, lambda: self._safely(out, leg.hangup))
        end_s = script.talk_s + 30.0
        self.stack.at(end_s, lambda: self._timeout(out, "", end_s, "both legs to disconnect"))

    def _fax_hangup(self, out: _Outgoing, by: float) -> None:
        """A fax caller hangs up half a second after its T.30 session ended (phase E:
        the page sent, or given up), at `by` (monotonic) at the latest."""
        leg = out.leg
        if leg.disconnected:
            return
        if leg.fax_done or time.monotonic() >= by:
            self.stack.at(0.5, lambda: self._safely(out, leg.hangup))
            return
        self.stack.at(0.2, lambda: self._fax_hangup(out, by))

    def _safely(self, out: _Outgoing, action: Callable[[], None], codec: str = "") -> None:
        """A caller action; one that fails ends the call with the reason."""
        try:
            if codec:
                self.stack.set_codec(codec)
            action()
        except SipError as exc:
            out.error = out.error or str(exc)
            for leg in out.legs():
                self._hang_up(leg)
        finally:
            if codec:
                self.stack.set_codec(None)

    # -- answering calls -----------------------------------------------------------------
    def _on_incoming(self, agent: LineAgent, leg: Leg) -> None:
        dialled = ruri_parts(leg.request.get("request-line", ""))[0]
        first = leg.events[0] if leg.events else None
        invite = IncomingInvite.parse(leg.agent_name, leg.request, CALL_HEADER,
                                      first.t_mono if first else time.monotonic(),
                                      first.t_wall if first else time.time())
        found = attribute(invite, {k: (e.policy.identity, e.since)
                                   for k, e in self.expected.items()})
        exp = self.expected.get(found.key)
        if exp is None:  # nobody here expects it: refused, and said so
            self.board.reject(leg, 486)
            self.conn.send(StrayInvite(Stray(self.spec.name, invite, found.why,
                                             found.candidates)))
            return
        leg.attributed_by = found.how
        if any(other.state == "CONFIRMED" for other in exp.legs):
            exp.legs.append(leg)
            leg.answer(486)  # a second INVITE for a call this worker already answered
            return
        far = exp.policy.decide(leg.agent_name, dialled)
        dialled_line = exp.policy.dialled_line
        if far.record_wav is not None and dialled_line and leg.agent_name != dialled_line:
            # a far end the call reached later (forwarded, transferred): its own file
            far = replace(far, record_wav=far.record_wav.with_name(
                f"{far.record_wav.stem}-{leg.agent_name.replace('/', '-')}.wav"))
        exp.legs.append(leg)
        leg.early_tone, leg.announcement = far.early, exp.policy.announcement
        if far.kind == "busy":
            leg.answer(486)
        elif far.kind == "reject" and far.early:  # an intercept: SIT, announcement, code
            leg.answer(183)
            self.stack.at(1.2, lambda: self._quietly(leg.announce))
            self.stack.at(far.answer_after_s, lambda: self._quietly(
                lambda: None if leg.disconnected else leg.answer(far.code)))
        elif far.kind == "reject":
            leg.answer(far.code)
        else:
            leg.play_wav, leg.record_wav = far.play_wav, far.record_wav
            self._midcall_far_end(exp, leg)
            if far.play_on_dtmf:  # the voicemail platform: the message on the digits
                leg.play_on_cue = True
                leg.on_dtmf = lambda _digit: self._quietly(
                    lambda: play_message(self.stack, leg, far.play_on_dtmf))
            leg.answer(183 if far.early else 180)
            if far.kind == "answer":
                self.stack.at(far.answer_after_s, lambda: self._quietly(
                    lambda: self._answer(leg)))

    def _answer(self, leg: Leg) -> None:
        """Answer `leg`. A beta line already on a call (call waiting) holds that call
        first, as a phone does when its user takes the waiting call, and resumes it once
        this one is down (`_tick`). A gateway of the simulated PSTN is a trunk: its
        calls never hold each other."""
        if leg.disconnected:
            return
        party = Party.of_seat(leg.agent_name)
        others = [o for e in self.expected.values() for o in e.legs
                  if o is not leg and o.agent_name == leg.agent_name
                  and o.state == "CONFIRMED" and not o.disconnected] \
            if party is not None and party.is_line else []
        for other in others:
            other.hold()
        if others:
            self.waiting.append((leg, others))
        leg.answer(200)

    def _midcall_far_end(self, exp: _Expected, leg: Leg) -> None:
        """A party of a 3-way call talks when cued (RFC 4733 '#'); a transfer target
        follows an INVITE with Replaces that takes over its call (attended transfer)."""
        script = exp.script
        if script.fax_page is not None and script.fax_receive is not None:
            leg.fax_role, leg.fax_path = "receive", script.fax_receive  # a fax machine
        if script.three_way_uri:
            leg.play_on_cue = True
            leg.on_dtmf = lambda digit: self._quietly(
                lambda: ThreeWay.talk_on_cue(self.stack, leg, digit, script.talker_window_s))
        if script.transfer_kind == "attended":
            leg.replace_code = 481 if "refuse_replaces" in script.agent_faults else 200
            leg.on_replaced = lambda request: self._replacing(exp, leg, request)

    def _replacing(self, exp: _Expected, old: Leg, request: dict[str, str]) -> Leg:
        """The leg that takes over `old` (an INVITE with Replaces, RFC 3891): it plays
        and records as `old` did, into a file of its own."""
        rec = old.record_wav
        new = Leg("b", play_wav=old.play_wav, agent_name=old.agent_name, request=request,
                  record_wav=rec.with_name(f"{rec.stem}-replaced.wav") if rec else None,
                  attributed_by="replaces")  # the call it replaces is known (RFC 3891)
        exp.legs.append(new)
        return new

    def _callee_talk(self, exp: _Expected, leg: Leg) -> None:
        script = exp.script
        if script.transfer_kind == "attended" and leg.agent_name == exp.policy.dialled_line:
            # the dialled party consults the target, then transfers with Replaces
            self.stack.at(script.transfer_at_s, lambda: self._consult(exp, leg))
        elif script.transfer_to_uri and leg.agent_name == exp.policy.dialled_line:
            # the dialled party transfers (not the party it transfers to)
            target = f"<{script.transfer_to_uri}?{CALL_HEADER}={exp.key}>"
            self.stack.at(script.transfer_at_s,
                          lambda: self._quietly(lambda: leg.transfer(target)))
        if script.dtmf_b:
            self.stack.at(script.dtmf_at_s + 1.5,
                          lambda: self._quietly(lambda: leg.send_dtmf(script.dtmf_b)))
        if script.replay_at_s is not None:
            self.stack.at(script.replay_at_s, lambda: self._quietly(leg.replay))
        # attended transfer: the transferor leaves on the NOTIFY and the consulted call
        # ends when replaced; only the call that replaced it hangs up by the script
        consulting = script.transfer_kind == "attended" and leg.on_replaced is not None
        if script.hangup_by == "callee" and not consulting:
            self.stack.at(script.talk_s, lambda: self._quietly(leg.hangup))
        # a far end never outlives its call by much: stuck legs are torn down
        self.stack.at(script.talk_s + 40.0, lambda: self._quietly(leg.hangup))

    def _consult(self, exp: _Expected, leg: Leg) -> None:
        """Attended transfer, the transferor's part: hold the caller, call the target
        from this line (the consultation call), REFER the caller with Replaces."""
        if leg.disconnected or exp.consult is not None:
            return
        try:
            agent = self.seats.dialler(leg.agent_name)
        except SipError:
            return  # no account free: the caller's side reports no transfer
        exp.consult = Consultation(self.stack, exp.key, exp.script, agent, leg)
        self._quietly(exp.consult.start)

    @staticmethod
    def _quietly(action: Callable[[], None]) -> None:
        try:
            action()
        except SipError:
            pass  # the caller's side reports the call's fate

    # -- progress ------------------------------------------------------------------------
    def _tick(self) -> None:
        now = time.monotonic()
        self.board.sweep()
        for key, out in list(self.outgoing.items()):
            if out.leg.state == "CONFIRMED" and not out.talking:
                self._talk(out)
            if out.three_way is not None and out.released_at is None:
                self._safely(out, out.three_way.progress)
            xfer = out.transfer
            if xfer is not None and xfer.state == "CONFIRMED" and not out.transfer_talking:
                out.transfer_talking = True  # the transferred call talks, then hangs up
                self.stack.at(out.order.script.talk_s,
                              lambda x=xfer: self._quietly(x.hangup))  # type: ignore[misc]
            picked = out.picked
            if picked is not None and picked.state == "CONFIRMED" and not out.talking:
                self._talk(out, picked)
            legs = out.legs()
            if out.released_at is None and all(leg.disconnected for leg in legs):
                for leg in legs:
                    leg.release()
                out.released_at = now
                out.agent.active_legs -= 1
            if out.released_at is not None:
                self._report_caller(key, out, now)
        for taken, held in list(self.waiting):
            if taken.disconnected:
                self.waiting.remove((taken, held))
                for leg in held:
                    self._quietly(leg.resume)
        for key, exp in list(self.expected.items()):
            for leg in exp.legs:
                if leg.state == "CONFIRMED" and id(leg) not in exp.talking:
                    exp.talking.add(id(leg))
                    self._callee_talk(exp, leg)
                notify = leg.events[-1] if leg.events else None
                if notify is not None and notify.kind == "XFER_NOTIFY" and \
                        (notify.code or 0) >= 200 and not leg.disconnected:
                    self._quietly(leg.hangup)  # transferred: the transferor leaves
            if exp.consult is not None:
                self._quietly(exp.consult.progress)
            if exp.finish_by is not None and self._finished(exp, now):
                self.conn.send(Finished(key, tuple(leg.outcome(self.spec.name)
                                                   for leg in exp.all_legs())))
                del self.expected[key]

    def _report_caller(self, key: str, out: _Outgoing, now: float) -> None:
        """Once its recordings are written (or FINALISE_S passed): the caller's legs
        to the controller."""
        assert out.released_at is not None
        wavs = [leg.record_wav for leg in out.legs()
                if leg.record_wav is not None and leg.record_wav.exists()]
        ready = all(wav_finalised(w) for w in wavs)
        if not ready and now - out.released_at <= FINALISE_S:
            return
        error = out.error or ("" if ready else f"timed out after {FINALISE_S:.0f} s waiting "
                                                "for recordings to be finalised")
        done = out.leg.outcome(self.spec.name)
        if out.order.secure:
            done = replace(done, tls_sessions=tuple(self.stack.tls_sessions))
        more = tuple(leg.outcome(self.spec.name) for leg in out.legs()[1:])
        self.conn.send(ADone(key, done, error, out.t_start, out.released_at, more))
        del self.outgoing[key]

    def _finished(self, exp: _Expected, now: float) -> bool:
        """True once every leg of the call here is down and its recording written."""
        assert exp.finish_by is not None
        if not all(leg.disconnected or leg.call is None for leg in exp.all_legs()):
            if now < exp.finish_by:
                return False
            if not exp.hung_up:  # the caller is gone: a stuck far end is torn down
                exp.hung_up = True
                exp.finish_by = now + FINALISE_S
                for leg in exp.all_legs():
                    self._hang_up(leg)
                return False
        if not exp.released:
            exp.released = True
            for leg in exp.all_legs():
                leg.release()
            if exp.consult is not None:
                exp.consult.release()
        wavs = [leg.record_wav for leg in exp.all_legs()
                if leg.record_wav is not None and leg.record_wav.exists()]
        return all(wav_finalised(w) for w in wavs) or now > exp.finish_by + FINALISE_S

    def _abort(self, why: str) -> None:
        """The switch failed: every call here ends now, with the reason."""
        for out in self.outgoing.values():
            if out.released_at is None:
                what = "both legs to disconnect" if out.talking else \
                    f"an answer from {out.order.target_uri}"
                out.error = out.error or f"{why} while waiting for {what}"
                for leg in out.legs():
                    self._hang_up(leg)
                    if not leg.disconnected:  # nobody will answer the BYE: let it go
                        leg.disconnected = True
        for exp in self.expected.values():
            for leg in exp.all_legs():
                self._hang_up(leg)
                leg.disconnected = True

    def _hang_up(self, leg: Leg) -> None:
        if leg.disconnected or leg.call is None:
            return
        try:
            leg.hangup()
        except SipError:
            pass


def main(spec: WorkerSpec, conn: Connection) -> None:
    """The worker process's main: start, say ready (with the SIP port), serve, stop.

    It dies with the controller (PR_SET_PDEATHSIG) and ignores Ctrl-C, which the
    controller handles by stopping its workers in order."""
    exit_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if spec.cpu_group:  # the session's real-time group (harness/cpuwait.py)
        join(spec.cpu_group)
    if os.geteuid() == 0:  # before pjsua2's threads start: they inherit it
        with contextlib.suppress(OSError):  # no CAP_SYS_NICE: at the controller's
            os.setpriority(os.PRIO_PROCESS, 0, AGENT_NICENESS)
    if spec.netns:  # an access worker: every socket it opens lives behind its access link
        try:
            netns.enter(spec.netns)
        except HarnessError as exc:
            conn.send(Failed(f"agent worker {spec.name} did not start: {exc}"))
            return
    # pjlib prints its banner before the log config applies: into the worker's log
    out = os.open(spec.log_path.with_suffix(".out"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    worker = Worker(spec, conn)
    try:
        port, tls_port = worker.start()
    except (HarnessError, OSError) as exc:
        conn.send(Failed(f"agent worker {spec.name} did not start: {exc}"))
        return
    conn.send(Ready(port, tls_port))
    try:
        worker.serve()
    except Exception as exc:  # noqa: BLE001 - said to the controller, then the worker ends
        conn.send(Failed(f"agent worker {spec.name} crashed: {exc}\n"
                         f"{traceback.format_exc()}"))
    finally:
        worker.close()
        used = resource.getrusage(resource.RUSAGE_SELF)
        conn.send(Stopped(used.ru_utime + used.ru_stime))
