"""Lines (registered accounts) and legs (calls) built on pjsua2.

pjsua2 objects stay inside this module: a `Leg` records its SIP timeline as
`SipEvent`s and hands out plain values. A pjsua2 `Call` must stay referenced while
the call lives and must be released after DISCONNECTED and before `libDestroy()`
(a Call still alive then aborts the process): `Leg.release()` does that.
"""

from __future__ import annotations

import threading
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pjsua2 as pj

from harness.errors import SipError
from harness.media.fax import FaxResult, FaxTerminal
from harness.model import Line, SipEvent
from harness.party import Party
from harness.sip.message import parse_request, ruri_parts
from harness.sip.scenario import LegOutcome, StreamSnapshot

# call-progress tones as (freq1, freq2, on ms, off ms): NANP audible ringing
# (Telcordia GR-506) and the Special Information Tone (ITU-T E.180 §2.6)
RINGBACK = ((440, 480, 2000, 4000),)
SIT = ((914, 0, 274, 0), (1371, 0, 274, 0), (1777, 0, 380, 0))

_PROFILES = {pj.PJMEDIA_TP_PROTO_RTP_AVP: "RTP/AVP", pj.PJMEDIA_TP_PROTO_RTP_SAVP: "RTP/SAVP",
             pj.PJMEDIA_TP_PROTO_RTP_AVPF: "RTP/AVPF", pj.PJMEDIA_TP_PROTO_RTP_SAVPF: "RTP/SAVPF"}


# Calls the harness let go of, kept until the library closes (`forget_released`).
# pjsua2's Call keeps its call index after DISCONNECTED, and its destructor clears the
# user data of, and hangs up, whatever call holds that index by then (pjsua2 2.15
# Call::~Call; pjsua reuses its 4 indexes round-robin). A Call object dropped after
# its index was reused cancelled that call, or declined it 603 if it was ringing here,
# and left its leg deaf (then "Invalid call_id in pjsua_call_answer()" in the log:
# tests/integration/test_call_index_reuse.py). Kept here, no destructor runs while
# calls are up.
_RELEASED: list[Any] = []  # _Call and _FaxPort objects


@contextmanager
def _pj_op(party: str, what: str) -> Iterator[None]:
    """A pjsua2 operation on leg `party`: its error as the harness's SipError, saying
    `what` went wrong and pjsua2's own words."""
    try:
        yield
    except pj.Error as exc:
        raise SipError(f"leg {party}: {what}: {exc.info()}") from exc


def forget_released() -> None:
    """Drop the calls let go of (just before libDestroy, with no call up)."""
    _RELEASED.clear()


class _Call(pj.Call):  # type: ignore[misc]
    def __init__(self, account: pj.Account, leg: Leg, call_id: int = pj.PJSUA_INVALID_ID):
        super().__init__(account, call_id)
        self.account = account
        self.leg: Leg | None = leg

    # callbacks after release() (leg is None) are for a call the harness let go of
    def onCallState(self, prm: Any) -> None:  # noqa: N802 - pjsua2 API
        if self.leg is not None:
            self.leg._on_state()

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        if self.leg is not None:
            self.leg._on_media()

    def onStreamDestroyed(self, prm: Any) -> None:  # noqa: N802
        if self.leg is not None:
            self.leg._snapshot_stats()

    def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802 - RFC 4733 events
        if self.leg is not None:
            self.leg.dtmf_rx += str(prm.digit)
            self.leg.mark("DTMF_RX")
            if self.leg.on_dtmf is not None:
                self.leg.on_dtmf(str(prm.digit))

    def onCallReplaceRequest(self, prm: Any) -> None:  # noqa: N802 - RFC 3891 Replaces
        """An INVITE with Replaces names this call (attended transfer, RFC 5589 §7):
        accepted (pjsua answers it 200 and ends this call) with a new leg the harness
        follows, unless the leg is told to refuse it."""
        leg = self.leg
        if leg is None:
            return
        leg.mark("REPLACES_RX")
        if leg.replace_code != 200:
            prm.statusCode = leg.replace_code
            prm.reason = "Call/Transaction Does Not Exist"
            leg.mark("REPLACES_REFUSED", leg.replace_code)
            return
        if leg.on_replaced is None:
            return  # pjsua2 makes a Call of its own; nobody here follows it
        new = leg.on_replaced(parse_request(str(prm.rdata.wholeMsg)))
        new.call = _Call(self.account, new)
        prm.newCall = new.call
        new.mark("INCOMING")

    def onCallReplaced(self, prm: Any) -> None:  # noqa: N802
        if self.leg is not None:
            self.leg.mark("REPLACED")

    def onCallTransferRequest(self, prm: Any) -> None:  # noqa: N802 - REFER (RFC 3515)
        """The far end asks this party to call someone else (blind transfer): accept,
        and place that call as a new leg the harness follows ("a2")."""
        leg = self.leg
        if leg is None or leg.on_transfer is None:
            prm.statusCode = 603  # nobody here follows a transfer: decline it
            return
        leg.mark("REFER_RX")
        new = leg.on_transfer(str(prm.dstUri))
        new.call = _Call(self.account, new)
        prm.newCall = new.call
        new.mark("INVITE_SENT")

    def onCallTransferStatus(self, prm: Any) -> None:  # noqa: N802 - NOTIFY (RFC 3515)
        if self.leg is not None:
            self.leg.mark("XFER_NOTIFY", int(prm.statusCode))
            prm.cont = True


class _FaxPort(pj.AudioMediaPort):  # type: ignore[misc]
    """A fax terminal as a port of the conference bridge (8 kHz, 20 ms, 16-bit): what
    the call brings is fed to it, what it sends goes on the call. Called on pjmedia's
    clock thread; the terminal is touched only there until the call ends."""

    def __init__(self, terminal: FaxTerminal) -> None:
        super().__init__()
        self.terminal: FaxTerminal | None = terminal
        self._lock = threading.Lock()  # the clock thread's use of the terminal
        self.failed = ""

    def detach(self) -> None:
        """From now on the port sends silence and hears nothing: the terminal may be
        freed. The port itself is not destroyed here: its removal from the bridge waits
        for the bridge's clock thread, which may be waiting in a callback for the GIL
        this thread holds (kept until the library closes, as released calls are)."""
        with self._lock:
            self.terminal = None
        _RELEASED.append(self)

    def onFrameRequested(self, frame: Any) -> None:  # noqa: N802 - pjsua2 API
        try:
            with self._lock:
                data = self.terminal.tx() if self.terminal is not None else bytes(320)
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            frame.buf = pj.ByteVector(data)
        except Exception as exc:  # noqa: BLE001 - must not leave a pjsua2 director
            self.failed = self.failed or f"{type(exc).__name__}: {exc}"

    def onFrameReceived(self, frame: Any) -> None:  # noqa: N802
        try:
            if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO:
                pcm = bytes(frame.buf)
                with self._lock:
                    if self.terminal is not None:
                        self.terminal.rx(pcm)
        except Exception as exc:  # noqa: BLE001
            self.failed = self.failed or f"{type(exc).__name__}: {exc}"


class Switchboard:
    """Routes every incoming INVITE of the process to the agent it is meant for.

    pjsua picks an account by the To URI (user+domain, then domain only, then the
    default account), which is wrong for trunk calls and short dialling; and the
    wheel allows 8 accounts, so most lines have none. The switch sends an INVITE to
    the Contact a line registered (its number @ its worker's transport) or to the PSTN
    gateway with the trunk group in the R-URI (`;tgrp=`, as RFC 4904) or to the port of
    the trunk group's own gateway: that decides.
    Every INVITE reaching the gateway's worker is a trunk call, whatever host and port
    its R-URI names (a B2BUA in the path may put its own).
    """

    def __init__(self) -> None:
        self.by_user: dict[str, LineAgent] = {}
        self.pstn: LineAgent | None = None
        self.pstn_by_did = False  # the PSTN's far ends are DIDs (R-URI user), not trunks
        self.trunk = ""  # the trunk group whose own gateway this is ("": the main one)
        self.handler: Callable[[LineAgent, Leg], None] | None = None
        self.rejected: list[Leg] = []  # answered with an error, not yet down
        # an unsolicited NOTIFY message-summary (RFC 3842) reached a line: (the line's
        # name, or "unknown:<user>"; the request as received). pjsua answered it 200.
        self.on_mwi: Callable[[str, str], None] | None = None

    def mwi(self, message: str) -> None:
        """A message-waiting NOTIFY, handed on with the line its Request-URI names."""
        user = ruri_parts(message)[0]
        agent = self.by_user.get(user)
        if self.on_mwi is not None:
            self.on_mwi(agent.name if agent else f"unknown:{user}", message)

    def reject(self, leg: Leg, code: int) -> None:
        """Answer `leg` with a final error, keeping its Call referenced until it is
        down (a pjsua2 Call released while alive aborts the process)."""
        self.rejected.append(leg)
        try:
            leg.answer(code)
        except SipError:
            pass

    def sweep(self) -> None:
        """Let go of rejected legs that are down."""
        for leg in [x for x in self.rejected if x.disconnected]:
            leg.release()
            self.rejected.remove(leg)

    def route(self, message: str) -> tuple[LineAgent | None, str]:
        """(agent, name to record) for an INVITE's request line."""
        user, _, params = ruri_parts(message)
        if self.pstn is not None:  # the gateway's worker hosts no line: a trunk call,
            # whatever host and port the switch (or a B2BUA before it) put in the R-URI;
            # across another carrier: the DID whose registered Contact it reached
            # on a trunk group's own gateway: that trunk group (the port it reached)
            tag = user if self.pstn_by_did else self.trunk or params.get("tgrp", "?")
            return self.pstn, str(Party.pstn(tag))
        agent = self.by_user.get(user)
        return agent, agent.name if agent else f"unknown:{user}"


class _Account(pj.Account):  # type: ignore[misc]
    def __init__(self, agent: LineAgent) -> None:
        super().__init__()
        self.agent: LineAgent | None = agent

    def onMwiInfo(self, prm: Any) -> None:  # noqa: N802 - unsolicited MWI (RFC 3842)
        if self.agent is None:
            return
        try:
            self.agent.board.mwi(str(prm.rdata.wholeMsg))
        except Exception:  # noqa: BLE001, S110 - must not leave a pjsua2 director
            pass

    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802
        if self.agent is None:
            return
        whole = str(prm.rdata.wholeMsg)
        target, name = self.agent.board.route(whole)
        leg = Leg("b", agent_name=name, request=parse_request(whole))
        leg.call = _Call(self, leg, prm.callId)
        leg.mark("INCOMING")
        handler = self.agent.board.handler
        try:
            if target is None or handler is None:
                self.agent.board.reject(leg, 404 if target is None else 486)
                return
            handler(target, leg)
        except SipError:  # an exception must not leave this callback (pjsua2 director)
            self.agent.board.reject(leg, 500)


@dataclass
class Leg:
    """One SIP dialog as seen by one agent ("a" = caller side, "b" = callee side)."""

    party: str
    play_wav: Path | None = None
    record_wav: Path | None = None
    events: list[SipEvent] = field(default_factory=list)
    call: _Call | None = None
    call_id: str = ""
    state: str = "NULL"
    last_code: int | None = None
    media_active: bool = False
    disconnected: bool = False
    record_start_mono: float | None = None
    record_stop_mono: float | None = None
    play_start_mono: float | None = None
    stats: StreamSnapshot | None = None
    request: dict[str, str] = field(default_factory=dict)  # the INVITE as received (UAS)
    agent_name: str = ""
    dtmf_rx: str = ""
    # set by a worker that follows transfers: called with the Refer-To URI, returns
    # the leg that will place the new call
    on_transfer: Callable[[str], Leg] | None = None
    # set by a worker that follows attended transfers to this party: called with the
    # INVITE with Replaces, returns the leg that takes over from this one
    on_replaced: Callable[[dict[str, str]], Leg] | None = None
    replace_code: int = 200  # the answer to an INVITE with Replaces (a test fault: 481)
    attributed_by: str = ""  # a far end's leg: how its INVITE was attributed to a call
    on_dtmf: Callable[[str], None] | None = None  # a digit received (RFC 4733)
    play_on_cue: bool = False  # the player starts on `play()`, not with the media
    # early media (183 with SDP, RFC 3960): what this far end plays before its final
    # response — "ringback" | "intercept" (SIT, then `announcement`); a leg whose media
    # starts early plays and records its speech only from the answer
    early_tone: str = ""
    announcement: Path | None = None
    _tone: Any = None
    _media_started: bool = False
    _answering: bool = False  # this side sent (or is sending) a 2xx
    _player: Any = None
    _slot: int = -1  # the call's conference bridge port its media is attached to
    _was_held: bool = False  # media went on hold since it was last attached
    _recorder: Any = None
    _resumed_recorder: Any = None
    resumed_start_mono: float | None = None
    # a G3 fax terminal on this leg instead of speech (harness/media/fax.py): "send"
    # `fax_path` (a TIFF page) or "receive" into it
    fax_role: str = ""
    fax_path: Path | None = None
    fax_result: FaxResult | None = None
    _fax: FaxTerminal | None = None
    _fax_port: Any = None

    @property
    def resumed_wav(self) -> Path | None:
        """Where the audio heard after a resume is recorded (beside `record_wav`)."""
        if self.record_wav is None:
            return None
        return self.record_wav.with_name(f"{self.record_wav.stem}-resumed.wav")

    def mark(self, kind: str, code: int | None = None) -> None:
        self.events.append(SipEvent(self.party, kind, time.monotonic(), time.time(), code))

    # -- callbacks (inside the pump) -------------------------------------------------
    def _on_state(self) -> None:
        assert self.call is not None
        info = self.call.getInfo()
        self.call_id = self.call_id or info.callIdString
        code = int(info.lastStatusCode) if info.lastStatusCode else None
        names = {pj.PJSIP_INV_STATE_CALLING: "CALLING", pj.PJSIP_INV_STATE_INCOMING: "INCOMING",
                 pj.PJSIP_INV_STATE_EARLY: "EARLY", pj.PJSIP_INV_STATE_CONNECTING: "CONNECTING",
                 pj.PJSIP_INV_STATE_CONFIRMED: "CONFIRMED",
                 pj.PJSIP_INV_STATE_DISCONNECTED: "DISCONNECTED"}
        state = names.get(info.state, str(info.state))
        if state == "EARLY" and code is not None and self.last_code == code and \
                self.state == "EARLY":
            return  # a retransmitted 18x
        self.state, self.last_code = state, code
        self.mark(state, code)
        if state in ("CONNECTING", "CONFIRMED") and self.media_active and \
                not self._media_started:  # answered after early media: talk from now
            self._tone = None
            self._start_media(self.call.getAudioMedia(-1))
        if state == "DISCONNECTED":
            self._stop_media()
            self.disconnected = True

    def _on_media(self) -> None:
        assert self.call is not None
        info = self.call.getInfo()
        for idx, mi in enumerate(info.media):
            if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                aud = self.call.getAudioMedia(idx)
                if not self.media_active:
                    self.media_active = True
                    self.mark("MEDIA_ACTIVE")
                    self._slot = aud.getPortId()
                    early = not self._answering and 100 <= int(info.lastStatusCode or 0) < 200
                    if early:  # a 183 with SDP: nobody talks before the answer
                        self.mark("EARLY_MEDIA")
                        self._play_early(aud)
                    else:
                        self._start_media(aud)
                    return
                if aud.getPortId() != self._slot or self._was_held:
                    # a re-INVITE (hold, resume) rebuilt the stream, on a new bridge port
                    # or on the same one with its connections gone (the recording then
                    # stopped at the hold): the recorder and the player follow it
                    resumed = self._was_held
                    self._slot = aud.getPortId()
                    self._was_held = False
                    self._reattach(aud, resumed)
                self.mark("MEDIA_UPDATE")
                return
            if mi.type == pj.PJMEDIA_TYPE_AUDIO and self.media_active:
                self._was_held = True  # on hold (local or remote) or inactive

    def _play_early(self, aud: Any) -> None:
        """Audible ringing (440 + 480 Hz, 2 s on 4 s off) or an intercept's SIT
        (913.8, 1370.6, 1776.7 Hz; ITU-T E.180) into the early media."""
        if not self.early_tone:
            return
        steps = RINGBACK if self.early_tone == "ringback" else SIT
        tones = pj.ToneDescVector()
        for freq1, freq2, on_ms, off_ms in steps:
            desc = pj.ToneDesc()
            desc.freq1, desc.freq2, desc.on_msec, desc.off_msec = freq1, freq2, on_ms, off_ms
            desc.volume = 0
            tones.append(desc)
        gen = pj.ToneGenerator()
        with _pj_op(self.party, f"{self.early_tone} not played"):
            gen.createToneGenerator()
            gen.play(tones, self.early_tone == "ringback")
            gen.startTransmit(aud)
        self._tone = gen
        self.mark("TONE_START")

    def announce(self) -> None:
        """An intercept's announcement after its SIT, into the early media."""
        if self.disconnected or not self.media_active or self.announcement is None or \
                self.call is None:
            return
        self._tone = None
        player = pj.AudioMediaPlayer()
        with _pj_op(self.party, f"{self.announcement} not played"):
            player.createPlayer(str(self.announcement), pj.PJMEDIA_FILE_NO_LOOP)
            player.startTransmit(self.call.getAudioMedia(-1))
        self._player = player
        self.mark("ANNOUNCEMENT")

    @property
    def fax_done(self) -> bool:
        """The fax terminal ended its T.30 session (phase E), whatever the outcome."""
        return self._fax is not None and self._fax.done

    def _start_fax(self, aud: Any) -> None:
        """The fax terminal on the call's audio, both ways: the calling party's sends
        its page, the called party's receives (T.30 over G.711)."""
        assert self.fax_path is not None
        self._fax = FaxTerminal(self.fax_role, self.fax_path, calling=self.party == "a")
        fmt = pj.MediaFormatAudio()
        fmt.type, fmt.clockRate, fmt.channelCount = pj.PJMEDIA_TYPE_AUDIO, 8000, 1
        fmt.bitsPerSample, fmt.frameTimeUsec = 16, 20000
        port = _FaxPort(self._fax)
        with _pj_op(self.party, "fax terminal not connected"):
            port.createPort(f"fax-{self.party}", fmt)
            port.startTransmit(aud)
            aud.startTransmit(port)
        self._fax_port = port
        self.mark("FAX_START")

    def _stop_fax(self) -> None:
        if self._fax is None:
            return
        if self._fax_port is not None:
            self._fax_port.detach()
            self._fax_port = None
        self.fax_result = self._fax.result()
        self._fax.close()
        self._fax = None
        self.mark("FAX_END", self.fax_result.completion)

    def _start_media(self, aud: Any) -> None:
        self._media_started = True
        if self.fax_role:
            self._start_fax(aud)
            return
        if self.record_wav is not None:
            self._recorder = pj.AudioMediaRecorder()
            self._recorder.createRecorder(str(self.record_wav))
            aud.startTransmit(self._recorder)
            self.record_start_mono = time.monotonic()
            self.mark("RECORD_START")
        if self.play_wav is not None and not self.play_on_cue:
            self._player = pj.AudioMediaPlayer()
            self._player.createPlayer(str(self.play_wav), pj.PJMEDIA_FILE_NO_LOOP)
            self._player.startTransmit(aud)
            self.play_start_mono = time.monotonic()

    def _reattach(self, aud: Any, resumed: bool) -> None:
        if self._recorder is not None:
            aud.startTransmit(self._recorder)
        if resumed and self._recorder is not None and self._resumed_recorder is None and \
                self.resumed_wav is not None:
            # what is heard after the resume, in a file of its own from this instant: a
            # bridge port that receives nothing writes no frames, so a cut placed in
            # the whole call's recording by arithmetic can land in the speech before
            # the hold when the media never comes back
            self._resumed_recorder = pj.AudioMediaRecorder()
            self._resumed_recorder.createRecorder(str(self.resumed_wav))
            aud.startTransmit(self._resumed_recorder)
            self.resumed_start_mono = time.monotonic()
            self.mark("RECORD_RESUMED")
        if self._player is not None:
            self._player.startTransmit(aud)

    def audio(self) -> Any:
        """The call's audio port in the conference bridge (pjsua2 AudioMedia)."""
        if self.call is None or self.disconnected or not self.media_active:
            raise SipError(f"leg {self.party} has no active audio")
        try:
            return self.call.getAudioMedia(-1)
        except pj.Error as exc:
            raise SipError(f"leg {self.party} has no active audio: {exc.info()}") from exc

    def replay(self) -> None:
        """Talk `play_wav` once more into the call (after a resume: the speech scored
        on its own); marked REPLAY, from which the scorer cuts the recording."""
        if self.play_wav is None or self.disconnected or not self.media_active:
            return
        ports = [self.audio()]
        player = pj.AudioMediaPlayer()
        try:
            player.createPlayer(str(self.play_wav), pj.PJMEDIA_FILE_NO_LOOP)
            player.startTransmit(ports[0])
        except pj.Error as exc:
            raise SipError(f"leg {self.party}: {self.play_wav} not replayed: "
                           f"{exc.info()}") from exc
        self._player = player
        self.mark("REPLAY")

    def play(self, to: list[Leg], seconds: float) -> Any:
        """Play `play_wav` once into every leg of `to` (a 3-way talker's turn); returns
        the player, which the caller drops (stopping it) after `seconds`."""
        if self.play_wav is None:
            raise SipError(f"leg {self.party} has nothing to play")
        ports = [leg.audio() for leg in to]
        player = pj.AudioMediaPlayer()
        try:
            player.createPlayer(str(self.play_wav), pj.PJMEDIA_FILE_NO_LOOP)
            for port in ports:
                player.startTransmit(port)
        except pj.Error as exc:
            raise SipError(f"leg {self.party}: {self.play_wav} not played: "
                           f"{exc.info()}") from exc
        self.mark("PLAY_START")
        self._player = player
        return player

    def stop_playing(self) -> None:
        if self._player is not None:
            self._player = None
            self.mark("PLAY_STOP")

    def bridge(self, other: Leg, both_ways: tuple[bool, bool] = (True, True)) -> None:
        """Connect this call's audio to `other`'s in the conference bridge (a 3-way
        call): what this leg receives is sent on `other` and, if `both_ways[1]`, the
        reverse."""
        mine, theirs = self.audio(), other.audio()
        try:
            if both_ways[0]:
                mine.startTransmit(theirs)
            if both_ways[1]:
                theirs.startTransmit(mine)
        except pj.Error as exc:
            raise SipError(f"legs {self.party} and {other.party} not bridged: "
                           f"{exc.info()}") from exc
        self.mark("BRIDGED")

    def _stop_media(self) -> None:
        self._stop_fax()
        self._tone = None
        # the recorder finalises its WAV header only when destroyed
        if self._recorder is not None:
            self.record_stop_mono = time.monotonic()
            self._recorder = None
        self._resumed_recorder = None
        self._player = None

    def _snapshot_stats(self) -> None:
        if self.call is None or self.stats is not None:
            return
        try:
            st = self.call.getStreamStat(0)
            si = self.call.getStreamInfo(0)
            ti = self.call.getMedTransportInfo(0)
        except pj.Error:
            return
        rx, tx = st.rtcp.rxStat, st.rtcp.txStat
        self.stats = StreamSnapshot(
            codec=si.codecName, local_rtp=ti.localRtpName, remote_rtp=si.remoteRtpAddress,
            rx_packets=rx.pkt, rx_loss=rx.loss, rx_discard=rx.discard,
            rx_jitter_mean_ms=rx.jitterUsec.mean / 1000.0,
            rx_jitter_max_ms=rx.jitterUsec.max / 1000.0, tx_packets=tx.pkt,
            rtt_mean_ms=st.rtcp.rttUsec.mean / 1000.0, jb_avg_delay_ms=st.jbuf.avgDelayMsec,
            jb_lost=st.jbuf.lost, jb_discard=st.jbuf.discard, jb_empty=st.jbuf.empty,
            media_profile=_PROFILES.get(si.proto, str(si.proto)))

    # -- actions ------------------------------------------------------------------------
    def answer(self, code: int) -> None:
        assert self.call is not None
        prm = pj.CallOpParam()
        prm.statusCode = code
        self._answering = self._answering or 200 <= code < 300  # media starts inside
        try:
            self.call.answer(prm)
        except pj.Error as exc:
            raise SipError(f"{code} not sent on leg {self.party}: {exc.info()}") from exc
        self.mark("ANSWER_SENT", code)

    def hangup(self) -> None:
        if self.call is None or self.disconnected:
            return
        self._snapshot_stats()
        self.mark("BYE_SENT")
        try:
            self.call.hangup(pj.CallOpParam())
        except pj.Error as exc:
            raise SipError(f"hangup failed on leg {self.party}: {exc.info()}") from exc

    def send_dtmf(self, digits: str) -> None:
        """RFC 4733 telephone-events (pjsua's default DTMF method)."""
        if self.call is None or self.disconnected:
            return
        try:
            self.call.dialDtmf(digits)
        except pj.Error as exc:
            raise SipError(f"DTMF {digits!r} not sent on leg {self.party}: {exc.info()}") from exc
        self.mark("DTMF_TX")

    def transfer(self, target: str) -> None:
        """Blind transfer (RFC 3515 REFER): ask the far end to call `target`."""
        if self.call is None or self.disconnected:
            return
        try:
            self.call.xfer(target, pj.CallOpParam(True))
        except pj.Error as exc:
            raise SipError(f"REFER to {target} not sent on leg {self.party}: "
                           f"{exc.info()}") from exc
        self.mark("REFER_SENT")

    def transfer_replacing(self, consult: Leg) -> None:
        """Attended transfer (RFC 5589 §7): REFER the far end to the party of `consult`,
        the Refer-To carrying Replaces (RFC 3891) for that call."""
        if self.call is None or self.disconnected or consult.call is None:
            return
        try:
            self.call.xferReplaces(consult.call, pj.CallOpParam(True))
        except pj.Error as exc:
            raise SipError(f"REFER with Replaces not sent on leg {self.party}: "
                           f"{exc.info()}") from exc
        self.mark("REFER_SENT")

    def hold(self) -> None:
        if self.call is not None and not self.disconnected:
            try:
                self.call.setHold(pj.CallOpParam(True))
            except pj.Error as exc:
                raise SipError(f"hold failed on leg {self.party}: {exc.info()}") from exc
            self.mark("HOLD")

    def resume(self) -> None:
        if self.call is not None and not self.disconnected:
            prm = pj.CallOpParam(True)
            prm.opt.flag = pj.PJSUA_CALL_UNHOLD
            try:
                self.call.reinvite(prm)
            except pj.Error as exc:
                raise SipError(f"resume failed on leg {self.party}: {exc.info()}") from exc
            self.mark("RESUME")

    def outcome(self, worker: str = "") -> LegOutcome:
        """The leg as plain data (its recording read once finalised)."""
        final = None
        for ev in self.events:
            if ev.kind in ("CONFIRMED", "DISCONNECTED", "CONNECTING") and ev.code and \
                    ev.code >= 200:
                final = ev.code
                break
        span = 0.0
        if self.record_start_mono is not None and self.record_stop_mono is not None:
            span = self.record_stop_mono - self.record_start_mono
        rec_s = wav_seconds(self.record_wav) if self.record_wav else 0.0
        resumed_wav, resumed_span = None, 0.0
        if self.resumed_start_mono is not None and self.record_stop_mono is not None:
            resumed_wav = self.resumed_wav
            resumed_span = self.record_stop_mono - self.resumed_start_mono
        return LegOutcome(self.party, self.agent_name, self.call_id, tuple(self.events), final,
                          self.stats, self.record_wav, rec_s, span,
                          tuple(self.request.items()), self.dtmf_rx, worker,
                          attributed_by=self.attributed_by, resumed_wav=resumed_wav,
                          resumed_span_s=resumed_span, fax=self.fax_result)

    def release(self) -> None:
        """Let go of the leg's pjsua2 call (after DISCONNECTED): its object is kept
        until the library closes (see `_RELEASED`)."""
        self._stop_media()
        if self.call is not None:
            self.call.leg = None
            _RELEASED.append(self.call)
        self.call = None


class LineAgent:
    """One beta line (or a PSTN party): places and receives calls.

    Registration is the `Registrar`'s (see `register.py`); a pjsua2 account is created
    only for dialling (`ensure_account`) and may be released again when idle.
    """

    def __init__(self, line: Line, domain: str, proxy: str, rtp_port: int,
                 rtp_range: int, transport: tuple[int, int] | None = None,
                 board: Switchboard | None = None, name: str = "",
                 static: bool = False, secure: bool = False,
                 accept_srtp: bool = False, address: str = "127.0.0.1",
                 prack: bool = False) -> None:
        self.line = line
        self.prack = prack  # reliable provisional responses when offered (RFC 3262)
        self.address = address  # RTP binds here (the worker's address)
        self.name = name or line.name
        self.domain = domain
        self.proxy = proxy
        self.rtp_port, self.rtp_range = rtp_port, rtp_range
        self.transport = transport  # (pjsua transport id, SIP port) the line lives on
        self.board = board if board is not None else Switchboard()
        self.static = static  # True: a trusted peer that needs no digest credentials
        # True: a secure phone (docs/tls-srtp.md): `transport` is a TLS transport, the
        # proxy a sip:...;transport=tls URI, media SRTP (SDES) or no call
        self.secure = secure
        self.accept_srtp = accept_srtp  # an answering account: SRTP when offered
        self.active_legs = 0
        self._acc: _Account | None = None

    @property
    def uri(self) -> str:
        return f"sip:{self.line.number}@{self.domain}"

    def ensure_account(self, make_default: bool = False) -> None:
        if self._acc is not None:
            return
        cfg = pj.AccountConfig()
        cfg.idUri = self.uri
        cfg.sipConfig.proxies.append(self.proxy)
        if self.transport is not None:
            cfg.sipConfig.transportId = self.transport[0]
        if not self.static:
            cfg.sipConfig.authCreds.append(
                pj.AuthCredInfo("digest", "*", self.line.number, 0, self.line.password))
        cfg.mediaConfig.transportConfig.port = self.rtp_port
        cfg.mediaConfig.transportConfig.portRange = self.rtp_range
        cfg.mediaConfig.transportConfig.boundAddress = self.address
        if self.prack:  # the PSTN gateway: a 183 goes reliably when the caller offers 100rel
            cfg.callConfig.prackUse = pj.PJSUA_100REL_OPTIONAL
        cfg.natConfig.iceEnabled = False
        cfg.natConfig.sdpNatRewriteUse = 0
        cfg.natConfig.viaRewriteUse = 0
        cfg.natConfig.contactRewriteUse = 0
        if self.secure:
            # SRTP with SDES keys (RFC 4568), offered as RTP/SAVP and required; the keys
            # travel in the SDP, so only over TLS (srtpSecureSignaling 1)
            cfg.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_MANDATORY
            cfg.mediaConfig.srtpSecureSignaling = 1
            cfg.mediaConfig.srtpOpt.keyings.append(pj.PJMEDIA_SRTP_KEYING_SDES)
        elif self.accept_srtp:
            cfg.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_OPTIONAL
            cfg.mediaConfig.srtpSecureSignaling = 0
            cfg.mediaConfig.srtpOpt.keyings.append(pj.PJMEDIA_SRTP_KEYING_SDES)
        acc = _Account(self)
        try:
            acc.create(cfg, make_default)
        except pj.Error as exc:
            raise SipError(f"{self.name} ({self.line.number}): account not created: "
                           f"{exc.info()}") from exc
        self._acc = acc

    def dial(self, target_uri: str, leg: Leg,
             headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.ensure_account()
        assert self._acc is not None
        leg.call = _Call(self._acc, leg)
        prm = pj.CallOpParam(True)
        for name, value in headers:
            hdr = pj.SipHeader()
            hdr.hName, hdr.hValue = name, value
            prm.txOption.headers.append(hdr)
        try:
            leg.call.makeCall(target_uri, prm)
        except pj.Error as exc:
            leg.release()
            raise SipError(f"{self.name}: INVITE to {target_uri} not sent: "
                           f"{exc.info()}") from exc
        leg.mark("INVITE_SENT")
        leg.call_id = leg.call.getInfo().callIdString

    def release(self) -> None:
        """Shut the dialling account down (no call may be up on it)."""
        if self._acc is not None:
            try:
                self._acc.shutdown()
            except pj.Error:
                pass
            self._acc.agent = None
        self._acc = None


def wav_finalised(path: Path) -> bool:
    """True once the recorder wrote its RIFF header (data size matches the file).

    PJSIP 2.14+ removes conference ports asynchronously, in the bridge's clock
    thread: the WAV is finalised a tick or more after the recorder is released.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(44)
            fh.seek(0, 2)
            size = fh.tell()
    except OSError:
        return False
    if len(head) < 44 or head[:4] != b"RIFF":
        return False
    return int.from_bytes(head[4:8], "little") == size - 8 and size > 44


def wav_seconds(path: Path) -> float:
    """Length of a finalised WAV in seconds (0.0 if missing or unfinished)."""
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / float(w.getframerate())
    except (OSError, EOFError, wave.Error):
        return 0.0
