"""Mid-call features that involve a third party, run inside an agent worker's pump
(`harness/sip/worker.py`): a 3-way call (the caller's part) and an attended transfer
(the transferor's part). Every PJSIP action here runs on the worker's pump thread:
timed steps go through `SipStack.at`, state is polled by `progress()` from the
worker's tick.

3-way call: the caller holds the first call, calls the third party from its own line
(a second call, leg "a3"), resumes the first call and connects both in its
conference bridge, which passes each call's audio to the other (B <-> C) and the
caller's own reference to both. Then each party talks alone in turn, for
`talker_window_s`: the caller's reference into both calls, then the called party,
then the third party, each cued by an RFC 4733 '#' the caller sends on its call
with it. Each turn is marked on the talker's leg (PLAY_START / PLAY_STOP), so the
listeners' audio can be searched for the talker in that window
(`harness/media/heard.py`).

Attended transfer (RFC 5589 §7): the called party holds the caller, calls the
transfer target from its own line (the consultation call, leg "b2"), talks
`consult_s`, then REFERs the caller with Replaces (RFC 3891) naming the consultation
call; the caller's INVITE with Replaces takes that call over at the target, and the
transferor leaves when the NOTIFY reports the outcome (RFC 3515 §2.4.5).
"""

from __future__ import annotations

import time
from typing import Any

from harness.errors import SipError
from harness.sip.agent import Leg, LineAgent, wav_seconds
from harness.sip.scenario import TURN_GAP_S, CallOrder, Script
from harness.sip.stack import SipStack

CALL_HEADER = "X-Harness-Call"
RESUME_WAIT_S = 5.0  # the held call's media must be back within this after the resume
CUE = "#"  # the RFC 4733 digit that gives a 3-way party the floor


class ThreeWay:
    """The caller's side of a 3-way call: hold, second call, resume, bridge, turns."""

    def __init__(self, stack: SipStack, order: CallOrder, agent: LineAgent, first: Leg) -> None:
        self.stack, self.order, self.agent, self.first = stack, order, agent, first
        self.script: Script = order.script
        self.leg: Leg | None = None  # the second call ("a3")
        self.phase = ""  # "" -> dialled -> resuming -> bridged -> ended
        self.resumed_at = 0.0
        self._player: Any = None

    def start(self) -> None:
        """Hold the first call and call the third party (the call's own codec)."""
        if self.first.disconnected or self.phase:
            return
        rec = self.first.record_wav
        self.leg = Leg("a3", agent_name=self.order.caller,
                       record_wav=rec.with_name(f"{rec.stem}-3way.wav") if rec else None)
        self.phase = "dialled"
        self.stack.set_codec(self.order.codec)
        try:
            self.first.hold()
            self.agent.dial(self.script.three_way_uri, self.leg,
                            ((CALL_HEADER, self.order.key),))
        finally:
            self.stack.set_codec(None)

    def progress(self) -> None:
        """Resume the first call once the third party answered; bridge once its media
        is back. Raises SipError (the call then ends with the reason)."""
        leg = self.leg
        if leg is None or self.phase in ("", "bridged", "ended"):
            return
        if leg.disconnected or self.first.disconnected:
            self.phase = "ended"
            who = "third party" if leg.disconnected else "first call"
            raise SipError(f"3-way: the {who} ended before the conference "
                           f"({leg.last_code or self.first.last_code})")
        if self.phase == "dialled" and leg.state == "CONFIRMED":
            self.phase, self.resumed_at = "resuming", time.monotonic()
            self.stack.set_codec(self.order.codec)
            try:
                self.first.resume()
            finally:
                self.stack.set_codec(None)
        elif self.phase == "resuming" and leg.media_active:
            back = any(ev.kind == "MEDIA_UPDATE" and ev.t_mono >= self.resumed_at
                       for ev in self.first.events)
            if back:
                self._bridge()
            elif time.monotonic() - self.resumed_at > RESUME_WAIT_S:
                raise SipError(f"3-way: the held call's media did not resume within "
                               f"{RESUME_WAIT_S:.0f} s")

    def _bridge(self) -> None:
        """Connect both calls (B <-> C), then schedule the talkers' turns and the end."""
        assert self.leg is not None
        self.phase = "bridged"
        b_to_c = "bridge_no_b_to_c" not in self.script.agent_faults
        self.first.bridge(self.leg, (b_to_c, True))
        turn = self.script.talker_window_s + TURN_GAP_S
        first, third = self.first, self.leg
        self.stack.at(0.5, self._caller_turn)
        self.stack.at(0.5 + turn, lambda: first.send_dtmf(CUE))
        self.stack.at(0.5 + 2 * turn, lambda: third.send_dtmf(CUE))
        self.stack.at(0.5 + 3 * turn, self.hang_up)

    def _caller_turn(self) -> None:
        assert self.leg is not None
        self.first.play([self.first, self.leg], self.script.talker_window_s)
        self.stack.at(self.script.talker_window_s, self.first.stop_playing)

    def hang_up(self) -> None:
        self.phase = "ended"
        for leg in (self.first, self.leg):
            if leg is not None and not leg.disconnected:
                leg.hangup()

    @staticmethod
    def talk_on_cue(stack: SipStack, leg: Leg, digit: str, window_s: float) -> None:
        """A called party of a 3-way call: on the cue, play its reference for
        `window_s` into its own call (once)."""
        if digit != CUE or leg.disconnected or any(ev.kind == "PLAY_START" for ev in leg.events):
            return
        leg.play([leg], window_s)
        stack.at(window_s, leg.stop_playing)


class Consultation:
    """The transferor's side of an attended transfer (the called party, "b")."""

    def __init__(self, stack: SipStack, key: str, script: Script, agent: LineAgent,
                 transferor: Leg) -> None:
        self.stack, self.key, self.script, self.agent = stack, key, script, agent
        self.transferor = transferor  # the called party's leg of the caller's call
        self.leg = Leg("b2", agent_name=transferor.agent_name, play_wav=transferor.play_wav)
        self.referred = False
        self.notified = False
        self.counted = False  # the dialling account counts this call as active

    def start(self) -> None:
        """Hold the caller and call the transfer target (through the switch)."""
        self.transferor.hold()
        self.agent.dial(self.script.transfer_to_uri, self.leg, ((CALL_HEADER, self.key),))
        self.agent.active_legs += 1
        self.counted = True

    def release(self) -> None:
        """Drop the consultation call's pjsua2 references (after it is down)."""
        self.leg.release()
        if self.counted:
            self.counted = False
            self.agent.active_legs -= 1

    def progress(self) -> None:
        """REFER with Replaces `consult_s` after the target answered; once the NOTIFY
        says how the transfer ended, the consultation call is let go of too (the
        target ends it itself when its call is replaced)."""
        if self.leg.state == "CONFIRMED" and not self.referred:
            self.referred = True
            self.stack.at(self.script.consult_s, self._refer)
        final = [ev for ev in self.transferor.events
                 if ev.kind == "XFER_NOTIFY" and (ev.code or 0) >= 200]
        if final and not self.notified:
            self.notified = True
            self.stack.at(2.0, self._let_go)

    def _refer(self) -> None:
        if self.leg.disconnected or self.transferor.disconnected:
            return
        self.transferor.transfer_replacing(self.leg)

    def _let_go(self) -> None:
        if not self.leg.disconnected:
            self.leg.hangup()


def play_message(stack: SipStack, leg: Leg, digits: str) -> None:
    """The lab's voicemail platform answering a retrieval: once the caller has sent
    `digits` (RFC 4733), it plays the message (`leg.play_wav`) into the call, once."""
    if leg.disconnected or not leg.dtmf_rx.endswith(digits) or leg.play_wav is None or \
            any(ev.kind == "PLAY_START" for ev in leg.events):
        return
    length_s = wav_seconds(leg.play_wav)
    leg.play([leg], length_s)
    stack.at(length_s + 0.2, leg.stop_playing)
