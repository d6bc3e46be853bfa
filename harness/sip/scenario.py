"""A two-party call driven through the event pump: ring, answer, talk, hang up.

Returns `TwoPartyOutcome`, plain data with each leg's SIP timeline, stream counters
and recording; no pjsua2 object leaves this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import SipError
from harness.model import SipEvent
from harness.sip.agent import Leg, LineAgent, StreamSnapshot, wav_finalised, wav_seconds
from harness.sip.stack import SipStack


@dataclass(frozen=True, slots=True)
class LegOutcome:
    party: str
    call_id: str
    events: tuple[SipEvent, ...]
    final_code: int | None
    stats: StreamSnapshot | None
    record_wav: Path | None
    record_s: float  # seconds of audio in the finalised recording
    record_span_s: float  # monotonic seconds the recorder was connected
    play_start_mono: float | None

    def first(self, kind: str, code_prefix: str = "") -> SipEvent | None:
        for ev in self.events:
            if ev.kind == kind and (not code_prefix or str(ev.code).startswith(code_prefix)):
                return ev
        return None


@dataclass(frozen=True, slots=True)
class TwoPartyOutcome:
    a: LegOutcome
    b: LegOutcome | None
    t_start_mono: float
    t_end_mono: float
    error: str = ""


@dataclass(frozen=True, slots=True)
class Media:
    a_play: Path | None
    a_record: Path | None
    b_play: Path | None
    b_record: Path | None


def _outcome(leg: Leg) -> LegOutcome:
    final = None
    for ev in leg.events:
        if ev.kind in ("CONFIRMED", "DISCONNECTED", "CONNECTING") and ev.code and ev.code >= 200:
            final = ev.code
            break
    if final is None:
        disc = leg.first("DISCONNECTED")
        final = disc.code if disc else None
    span = 0.0
    if leg.record_start_mono is not None and leg.record_stop_mono is not None:
        span = leg.record_stop_mono - leg.record_start_mono
    rec_s = wav_seconds(leg.record_wav) if leg.record_wav else 0.0
    return LegOutcome(leg.party, leg.call_id, tuple(leg.events), final, leg.stats,
                      leg.record_wav, rec_s, span, leg.play_start_mono)


def run_two_party(stack: SipStack, caller: LineAgent, callee: LineAgent, target_uri: str,
                  media: Media, answer_after_s: float, talk_s: float,
                  hangup_by: str = "caller", ring_timeout_s: float = 30.0,
                  headers: tuple[tuple[str, str], ...] = ()) -> TwoPartyOutcome:
    import time

    leg_a = Leg("a", play_wav=media.a_play, record_wav=media.a_record)
    holder: dict[str, Leg] = {}

    def on_incoming(agent: LineAgent, leg: Leg) -> None:
        if "b" in holder:  # a second INVITE (fork, retry): refuse it
            leg.answer(486)
            return
        leg.play_wav, leg.record_wav = media.b_play, media.b_record
        holder["b"] = leg
        leg.answer(180)
        stack.at(answer_after_s, lambda: None if leg.disconnected else leg.answer(200))

    callee.incoming = on_incoming
    t_start = time.monotonic()
    error = ""
    try:
        caller.dial(target_uri, leg_a, headers)
        stack.run_until(lambda: leg_a.state in ("CONFIRMED", "DISCONNECTED"),
                        ring_timeout_s + answer_after_s, f"answer of {target_uri}")
        if leg_a.state == "CONFIRMED":
            hanger = leg_a if hangup_by == "caller" else holder.get("b", leg_a)
            stack.at(talk_s, hanger.hangup)
        legs = [leg_a, *holder.values()]
        stack.run_until(lambda: all(leg.disconnected for leg in legs), talk_s + 30.0,
                        "both legs to disconnect")
    except SipError as exc:
        error = str(exc)
        for leg in [leg_a, *holder.values()]:
            if not leg.disconnected:
                try:
                    leg.hangup()
                except SipError:
                    pass
        try:
            stack.run_until(lambda: all(leg.disconnected or leg.call is None
                                        for leg in [leg_a, *holder.values()]), 10.0, "teardown")
        except SipError:
            pass
    finally:
        callee.incoming = None
        for leg in [leg_a, *holder.values()]:
            leg.release()
    t_end = time.monotonic()
    recordings = [p for p in (media.a_record, media.b_record) if p is not None and p.exists()]
    try:
        stack.run_until(lambda: all(wav_finalised(p) for p in recordings), 5.0,
                        "recordings to be finalised")
    except SipError as exc:
        error = error or str(exc)
    b = holder.get("b")
    return TwoPartyOutcome(_outcome(leg_a), _outcome(b) if b else None, t_start, t_end, error)
