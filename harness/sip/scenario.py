"""One call driven through the event pump: dial, ring, answer (or not), talk, DTMF,
hold, hang up.

Whichever agent the INVITE reaches becomes leg "b"; a `far_end` policy decides how
it behaves (answer, busy, never answer, reject). The result is plain data:
`CallOutcome` with each leg's SIP timeline, stream counters, recording, the INVITE as
the far end received it, and the DTMF digits each side heard. No pjsua2 object
leaves this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.errors import SipError
from harness.model import SipEvent, first_event
from harness.sip.agent import Leg, LineAgent, StreamSnapshot, wav_finalised, wav_seconds
from harness.sip.stack import SipStack


@dataclass(frozen=True, slots=True)
class FarEnd:
    """How the called party behaves."""

    kind: str = "answer"  # answer | busy | no_answer | reject
    code: int = 200  # the final response for `reject`
    answer_after_s: float = 1.0
    play_wav: Path | None = None
    record_wav: Path | None = None


@dataclass(frozen=True, slots=True)
class Script:
    """What the caller does (times in seconds after the answer unless said)."""

    talk_s: float
    hangup_by: str = "caller"  # caller | callee
    cancel_after_s: float | None = None  # after the INVITE: the caller gives up (CANCEL)
    ring_timeout_s: float = 30.0
    headers: tuple[tuple[str, str], ...] = ()
    dtmf_a: str = ""  # digits the caller sends (RFC 4733), 1 s after the answer
    dtmf_b: str = ""  # digits the called party sends, 2.5 s after the answer
    hold_at_s: float | None = None  # the caller puts the call on hold
    resume_at_s: float | None = None
    a_play: Path | None = None
    a_record: Path | None = None


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

    def first(self, kind: str, code_prefix: str = "") -> SipEvent | None:
        return first_event(self.events, kind, code_prefix)

    def header(self, name: str) -> str:
        return dict(self.request).get(name.lower(), "")


@dataclass(frozen=True, slots=True)
class CallOutcome:
    a: LegOutcome
    b: LegOutcome | None
    t_start_mono: float
    t_end_mono: float
    error: str = ""
    also_rang: tuple[str, ...] = ()  # agents that got a second INVITE for this call
    forwarded_from: tuple[str, ...] = ()  # far ends that rang first, then let it go

    @property
    def events(self) -> tuple[SipEvent, ...]:
        """Both legs' events (the far end's only if an INVITE reached one)."""
        return self.a.events + (self.b.events if self.b else ())


def _outcome(leg: Leg) -> LegOutcome:
    final = None
    for ev in leg.events:
        if ev.kind in ("CONFIRMED", "DISCONNECTED", "CONNECTING") and ev.code and ev.code >= 200:
            final = ev.code
            break
    span = 0.0
    if leg.record_start_mono is not None and leg.record_stop_mono is not None:
        span = leg.record_stop_mono - leg.record_start_mono
    rec_s = wav_seconds(leg.record_wav) if leg.record_wav else 0.0
    return LegOutcome(leg.party, leg.agent_name, leg.call_id, tuple(leg.events), final,
                      leg.stats, leg.record_wav, rec_s, span, tuple(leg.request.items()),
                      leg.dtmf_rx)


def _answer(stack_at: Callable[[float, Callable[[], None]], None], leg: Leg,
            far: FarEnd) -> None:
    if far.kind == "busy":
        leg.answer(486)
    elif far.kind == "reject":
        leg.answer(far.code)
    else:
        leg.play_wav, leg.record_wav = far.play_wav, far.record_wav
        leg.answer(180)
        if far.kind == "answer":
            stack_at(far.answer_after_s, lambda: None if leg.disconnected else leg.answer(200))


def run_call(stack: SipStack, caller: LineAgent, target_uri: str, script: Script,
             far_end: Callable[[LineAgent, Leg], FarEnd]) -> CallOutcome:
    leg_a = Leg("a", play_wav=script.a_play, record_wav=script.a_record,
                agent_name=caller.name)
    holder: dict[str, Leg] = {}
    also: list[str] = []
    earlier: list[Leg] = []  # far ends the switch moved on from (call forwarding)

    def on_incoming(agent: LineAgent, leg: Leg) -> None:
        prior = holder.get("b")
        if prior is not None and prior.state == "CONFIRMED":
            also.append(leg.agent_name)  # a second INVITE for an answered call
            leg.answer(486)
            return
        if prior is not None:  # busy, or still ringing: forwarded (serially forked)
            earlier.append(prior)
        holder["b"] = leg
        _answer(stack.at, leg, far_end(agent, leg))

    caller.board.handler = on_incoming
    t_start = time.monotonic()
    error = ""

    def legs() -> list[Leg]:
        return [leg_a, *earlier, *holder.values()]

    try:
        caller.dial(target_uri, leg_a, script.headers)
        if script.cancel_after_s is not None:
            stack.at(script.cancel_after_s,
                     lambda: leg_a.hangup() if leg_a.state != "CONFIRMED" else None)
        stack.run_until(lambda: leg_a.state in ("CONFIRMED", "DISCONNECTED"),
                        script.ring_timeout_s + 10.0, f"an answer from {target_uri}")
        if leg_a.state == "CONFIRMED":
            _schedule_talk(stack, leg_a, holder, script)
        stack.run_until(lambda: all(leg.disconnected for leg in legs()),
                        script.talk_s + 30.0, "both legs to disconnect")
    except SipError as exc:
        error = str(exc)
        _tear_down(stack, legs())
    finally:
        caller.board.handler = None
        for leg in legs():
            leg.release()
    t_end = time.monotonic()
    recordings = [p for p in (script.a_record, holder["b"].record_wav if "b" in holder
                              else None) if p is not None and p.exists()]
    try:
        stack.run_until(lambda: all(wav_finalised(p) for p in recordings), 5.0,
                        "recordings to be finalised")
    except SipError as exc:
        error = error or str(exc)
    b = holder.get("b")
    return CallOutcome(_outcome(leg_a), _outcome(b) if b else None, t_start, t_end, error,
                       tuple(also), tuple(leg.agent_name for leg in earlier))


def _schedule_talk(stack: SipStack, leg_a: Leg, holder: dict[str, Leg],
                   script: Script) -> None:
    leg_b = holder.get("b")
    if script.dtmf_a:
        stack.at(1.0, lambda: leg_a.send_dtmf(script.dtmf_a))
    if script.dtmf_b and leg_b is not None:
        stack.at(2.5, lambda: leg_b.send_dtmf(script.dtmf_b))
    if script.hold_at_s is not None:
        stack.at(script.hold_at_s, leg_a.hold)
    if script.resume_at_s is not None:
        stack.at(script.resume_at_s, leg_a.resume)
    hanger = leg_a if script.hangup_by == "caller" or leg_b is None else leg_b
    stack.at(script.talk_s, hanger.hangup)


def _tear_down(stack: SipStack, legs: list[Leg]) -> None:
    for leg in legs:
        if not leg.disconnected:
            try:
                leg.hangup()
            except SipError:
                pass
    try:
        stack.run_until(lambda: all(leg.disconnected or leg.call is None for leg in legs),
                        10.0, "teardown")
    except SipError:
        pass
