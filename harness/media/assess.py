"""Voice quality of one direction of a call, from two sources.

* `agent`: the audio the receiving agent recorded (end to end, what a user hears);
  it depends on the receiver's media clock, so it is valid only when the stall guard
  saw no stall while the speech scored was heard, and when it covers the time the
  recorder was connected (within `RECORDING_TOLERANCE`): the recorder takes a frame
  per tick of the agent's clock whatever arrives (silence when nothing does), so a
  shorter recording is a clock its host starved, even where the guard saw no stall.
* the talker: its speech as the capture saw it leave the talking agent must be on
  the agent's own clock (`TALKER_LATE_MS`), else both sources are invalid.
* `wire`: the RTP that reached the receiver, taken from the capture and decoded in
  RTP-timestamp order; a late sender (host stall) does not shorten it.

Defects that no host stall explains are hard reasons on their own: no RTP toward the
receiver, silence, a codec other than the one the plan row asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from harness.capture.rtp import (
    RtpPacket,
    StreamStats,
    decode_stream,
    sender_lateness_ms,
    stream_stats,
)
from harness.errors import MediaError
from harness.media.reference import (
    Reference,
    band_for,
    rate_for,
    read_wav,
    read_wav_at,
    resample,
    write_wav,
)
from harness.media.score import codec_ceiling, pesq_score
from harness.model import QualityScore, StallReport
from harness.verdict.checks import invalid_reason

RECORDING_TOLERANCE = 0.02  # recording length within 2 % of the connected time


@dataclass(frozen=True, slots=True)
class DirectionInput:
    direction: str  # "a_to_b" | "b_to_a"
    reference: Reference
    codec_expected: str
    codec_negotiated: str
    agent_wav: Path | None
    agent_connected_s: float  # how long the receiving recorder was connected
    wire_rtp: list[RtpPacket]
    wire_wav_out: Path | None  # where to keep the decoded wire audio (evidence)
    # the talker's RTP of the speech scored, as it left the talking agent (before the
    # switch); empty: not in the capture, its timing not judged
    talker_rtp: Sequence[RtpPacket] = ()


def stall_reasons(stall: StallReport | None) -> tuple[str, ...]:
    """The invalid_measurement reason a stall inside the call gives, or ()."""
    if stall is None or stall.clean:
        return ()
    return (invalid_reason(stall.describe()),)


def assess(d: DirectionInput, stall: StallReport | None,
           call_stall: StallReport | None = None,
           ) -> tuple[QualityScore, QualityScore, StreamStats | None]:
    """Both sources' scores of one direction. `stall`: the guard's report for the
    window of the speech scored (a stall in it makes both scores invalid);
    `call_stall`: for the whole time the recorder was connected, when longer (a stall
    in it, even in silence after the speech, shortens the recording by its length, so
    the recording's length is then not judged). Defaults to `stall`. A talker that fell
    behind its own clock (`talker_late`) makes both scores invalid too."""
    agent, wire, stats = _assess(d, stall, call_stall)
    late_ms = sender_lateness_ms(list(d.talker_rtp)) if d.talker_rtp else None
    why = talker_late(late_ms)
    scores = [replace(q, talker_late_ms=None if late_ms is None else round(late_ms, 1),
                      valid=q.valid and not why, reasons=(*q.reasons, *why))
              for q in (agent, wire)]
    return scores[0], scores[1], stats


# a talking agent that left its speech more than this behind its own media clock was
# starved by its host: the switch was fed speech no phone sends (a gap, then the rest
# late), and both the receiver's recording and the wire after the switch carry it.
# Healthy agents: 1-5 ms (measured, docs/voice-quality.md).
TALKER_LATE_MS = 100.0


def talker_late(late_ms: float | None) -> tuple[str, ...]:
    """The invalid_measurement reason a starved talking agent gives, or ()."""
    if late_ms is None or late_ms <= TALKER_LATE_MS:
        return ()
    return (invalid_reason(
        f"the harness's talking agent sent this speech up to {late_ms:.0f} ms behind "
        f"its own media clock, as it left the agent before the switch (a healthy agent: "
        f"a few ms; at most {TALKER_LATE_MS:.0f} ms): its host starved it"),)


def _assess(d: DirectionInput, stall: StallReport | None,
            call_stall: StallReport | None = None,
            ) -> tuple[QualityScore, QualityScore, StreamStats | None]:
    call_stall = stall if call_stall is None else call_stall
    band = band_for(d.codec_expected)  # P.862.2 for G.722, P.862.1 for G.711
    rate = rate_for(band)
    if d.reference.rate < rate:
        raise MediaError(f"{d.reference.name}: a {d.reference.rate} Hz reference cannot "
                         f"score {d.codec_expected} ({band}, {rate} Hz): play a wideband "
                         "reference (harness.media.reference.references_for)")
    ref = read_wav_at(d.reference.path, rate)
    ceiling = codec_ceiling(str(d.reference.path), ref, rate, d.codec_expected)
    codec_reasons: tuple[str, ...] = ()
    if d.codec_negotiated and d.codec_negotiated.upper() != d.codec_expected.upper():
        codec_reasons = (f"wrong codec: negotiated {d.codec_negotiated}, "
                         f"plan asks for {d.codec_expected}",)
    invalid = stall_reasons(stall)

    # -- the receiving agent's recording -------------------------------------------------
    reasons: list[str] = list(codec_reasons)
    if d.agent_wav is None or not d.agent_wav.exists():
        agent = QualityScore(d.direction, "agent", None, band, False,
                             ("no recording from the receiving agent",), 0.0,
                             d.agent_connected_s, ceiling_mos_lqo=ceiling)
    else:
        pcm = read_wav_at(d.agent_wav, rate)  # the bridge may run at another rate
        out = pesq_score(ref, pcm, rate, band)
        received = len(pcm) / rate
        if out.problem:
            reasons.append(out.problem)
        recorded_rate = read_wav(d.agent_wav)[1]
        if recorded_rate < rate:  # e.g. G.722 through an 8 kHz conference bridge
            reasons.append(f"recording at {recorded_rate} Hz: the agents' bridge "
                           f"(media.clock_rate) cannot carry {band} audio ({rate} Hz)")
        own: tuple[str, ...] = ()
        if not invalid and not stall_reasons(call_stall) and d.agent_connected_s > 0 and \
                abs(received / d.agent_connected_s - 1.0) > RECORDING_TOLERANCE:
            own = (invalid_reason(
                f"the receiving agent recorded {received:.2f} s of the "
                f"{d.agent_connected_s:.2f} s it was connected "
                f"({100 * received / d.agent_connected_s:.0f} %): its media clock lost "
                "time, the harness host's (a switch that sends nothing leaves silence "
                "in the recording, not a shorter one)"),)
        agent = QualityScore(d.direction, "agent", out.mos_lqo, band, not (invalid or own),
                             tuple(reasons) + invalid + own, received, d.agent_connected_s,
                             out.active_ratio, out.delay_s, ceiling)

    # -- the RTP on the wire toward the receiver -----------------------------------------
    reasons = list(codec_reasons)
    stats = stream_stats(d.wire_rtp)
    if not d.wire_rtp:
        reasons.append("no RTP toward the receiver on the wire (one-way audio)")
        wire = QualityScore(d.direction, "wire", None, band, not invalid,
                            tuple(reasons) + invalid, 0.0, d.agent_connected_s,
                            ceiling_mos_lqo=ceiling)
        return agent, wire, stats
    pcm_w, _codec, wrate = decode_stream(d.wire_rtp)
    if d.wire_wav_out is not None:
        write_wav(d.wire_wav_out, pcm_w, wrate)
    # a wrong codec's audio is still scored, at the band the plan row asks for
    out = pesq_score(ref, resample(pcm_w, wrate, rate), rate, band)
    if out.problem:
        reasons.append(out.problem)
    wire = QualityScore(d.direction, "wire", out.mos_lqo, band, not invalid,
                        tuple(reasons) + invalid, out.received_s, d.agent_connected_s,
                        out.active_ratio, out.delay_s, ceiling)
    return agent, wire, stats


# the wire delivered a stream the receiving agent could not have lost anything from:
# no loss, no duplicate or reordered packet, and inter-arrival jitter (RFC 3550 A.8)
# well inside the agent's jitter buffer (agents.jb_init_ms, 60 ms)
CLEAN_WIRE_JITTER_MS = 20.0
AGENT_BELOW_WIRE = 0.1  # MOS: a gap this large between the two sources is not noise
SWITCH_ADDED_JITTER_MS = 5.0  # the switch's leg added no more jitter than this


def lost_in_agent(agent: QualityScore, wire: QualityScore, stats: StreamStats | None,
                  floor: float, sent: StreamStats | None = None) -> str:
    """Why `agent`'s score below `floor` is the harness's own (an invalid measurement,
    re-placed like a stall), or '' when it stands against the path.

    It is the harness's when the wire toward the receiver scored at or above the floor
    and clearly above the agent, on a stream with clean timing: nothing the switch or the
    network did reached the agent differently from the wire, so the loss happened
    inside the harness's host (scheduling of the agent's jitter buffer or recorder).
    Loss on the wire excuses nothing: both sources lack the same packets (the capture
    sees what reaches the agent), and the agent conceals them where the wire decode
    leaves silence. A stream with jitter, duplicates or reordering on the wire is the
    path's (a late packet the wire decode places by its timestamp can still be the
    agent's real loss), and so is silence;
    unless `sent`, the same talker's stream on its way into the switch, already had
    that jitter: then the harness's own talking agent sent it unevenly (its host was
    busy), and the switch added no more than SWITCH_ADDED_JITTER_MS."""
    if agent.mos_lqo is None or wire.mos_lqo is None or not (agent.valid and wire.valid):
        return ""
    if agent.mos_lqo >= floor or wire.mos_lqo < floor or \
            wire.mos_lqo - agent.mos_lqo < AGENT_BELOW_WIRE or stats is None:
        return ""
    if stats.duplicates or stats.out_of_order:
        return ""
    own_jitter = sent is not None and not sent.lost and \
        stats.max_jitter_ms - sent.max_jitter_ms <= SWITCH_ADDED_JITTER_MS
    if stats.max_jitter_ms > CLEAN_WIRE_JITTER_MS and not own_jitter:
        return ""
    how = (f"jitter max {stats.max_jitter_ms:.1f} ms, {sent.max_jitter_ms:.1f} ms already "
           "as the harness's talking agent sent it" if own_jitter and sent is not None and
           stats.max_jitter_ms > CLEAN_WIRE_JITTER_MS else
           f"jitter max {stats.max_jitter_ms:.1f} ms")
    return invalid_reason(f"the receiving agent scored {agent.mos_lqo:.2f}, the wire "
                          f"toward it {wire.mos_lqo:.2f} on a clean stream (no loss, {how}): "
                          "lost inside the harness's own agents, not on the path")


# a receiving agent's jitter buffer holds its initial delay, and grows with the path's
# jitter (clean: 60 ms; 50 +- 20 ms of jitter, RFC 3550 J 11-14 ms: 51-75 ms, measured).
# Held beyond its initial delay + JB_JITTER_FACTOR x J + JB_MARGIN_MS, it grew because
# the agent itself ran late (its host starved it: 414-424 ms held on a 0.3 ms path),
# and that delay is the harness host's, not the path's.
JB_JITTER_FACTOR = 8.0
JB_MARGIN_MS = 60.0


def jb_explained_ms(jb_init_ms: float, wire_jitter_ms: float) -> float:
    """The most a receiving agent's jitter buffer holds for the path's own jitter."""
    return jb_init_ms + JB_JITTER_FACTOR * wire_jitter_ms + JB_MARGIN_MS


def held_in_agent(agent: QualityScore, floor: float, jb_ms: float | None,
                  wire_jitter_ms: float | None, jb_init_ms: float) -> str:
    """Why `agent`'s score below `floor` is the harness's own (an invalid measurement,
    re-placed like a stall), or '' when it stands against the path: the receiving
    agent's jitter buffer held more than the jitter on the wire toward it explains
    (`jb_explained_ms`), so the agent ran late, starved by its host, and played out
    and recorded what its own lateness did to the speech. A path with jitter grows the
    buffer within the bound, and its score stands."""
    if agent.mos_lqo is None or not agent.valid or agent.mos_lqo >= floor or \
            jb_ms is None or wire_jitter_ms is None:
        return ""
    explained = jb_explained_ms(jb_init_ms, wire_jitter_ms)
    if jb_ms <= explained:
        return ""
    return invalid_reason(
        f"the receiving agent scored {agent.mos_lqo:.2f} with its jitter buffer holding "
        f"{jb_ms:.0f} ms against {wire_jitter_ms:.1f} ms of jitter on the wire toward it "
        f"(at most {explained:.0f} ms explained): the agent ran late, its host starved "
        "it; not the path")


# packets the wire lost beyond what the receiving agent itself counted lost: a few may
# fall between the two counts' windows (the wire's from the INVITE, the agent's from
# its stream's start)
CAPTURE_LOSS_SLACK = 2


def unseen_by_capture(wire_packets: int, rx_packets: int | None, connected_s: float,
                      ptime_s: float = 0.02) -> str:
    """Why the wire cannot score a direction whose receiving agent got its stream, or
    '': no capture saw a packet toward the receiver, yet its own RTP session counted at
    least half of the call's packets. The media took a path that crosses none of the
    harness's capture points (direct media between two lines of one agent host): the
    wire is not scored, the agent's recording is. A switch that sends nothing leaves
    the agent's count at 0, and that stays one-way audio."""
    if wire_packets or not rx_packets or connected_s <= 0 or \
            rx_packets < 0.5 * connected_s / ptime_s:
        return ""
    return (f"not scored: the receiving agent's RTP session got {rx_packets} packets and "
            "no capture of the harness saw one (the media crossed none of its capture "
            "points: direct media between lines of one agent host); its recording is "
            "scored")


def lost_in_capture(wire: StreamStats | None, rx_packets: int | None,
                    rx_loss: int | None) -> str:
    """Why the wire's figures toward a receiver are the capture's own (an invalid
    measurement), or '': the wire lacks packets that the receiving agent got (it counted
    `rx_loss` lost of `rx_packets` + `rx_loss`, RFC 3550, its own RTP session). The
    packets reached the agent, so the switch sent them: the capture (the harness's
    dumpcap, starved or overrun) dropped them, and the wire's decode and loss describe
    the capture, not the path."""
    if wire is None or rx_packets is None or rx_loss is None or rx_packets == 0:
        return ""
    missing = wire.lost - rx_loss
    if missing <= CAPTURE_LOSS_SLACK:
        return ""
    return invalid_reason(
        f"the capture lacks {missing} packet(s) the receiving agent got (the wire "
        f"{wire.lost} lost of {wire.expected}, the agent {rx_loss} of "
        f"{rx_packets + rx_loss}): the harness's capture dropped them")
