"""Voice quality of one direction of a call, from two sources.

* `agent`: the audio the receiving agent recorded (end to end, what a user hears);
  it depends on the receiver's media clock, so it is valid only when the stall guard
  saw no stall during the call, and must cover the time the recorder was connected
  (within `RECORDING_TOLERANCE`).
* `wire`: the RTP that reached the receiver, taken from the capture and decoded in
  RTP-timestamp order; a late sender (host stall) does not shorten it.

Defects that no host stall explains are hard reasons on their own: no RTP toward the
receiver, silence, a recording shorter than the connected time on a clean host, a
codec other than the one the plan row asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.capture.rtp import RtpPacket, StreamStats, decode_stream, stream_stats
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


def _invalid(stall: StallReport | None) -> tuple[str, ...]:
    if stall is None or stall.clean:
        return ()
    return ("invalid_measurement: " + stall.describe(),)


def assess(d: DirectionInput, stall: StallReport | None,
           ) -> tuple[QualityScore, QualityScore, StreamStats | None]:
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
    invalid = _invalid(stall)

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
        if not invalid and d.agent_connected_s > 0 and \
                abs(received / d.agent_connected_s - 1.0) > RECORDING_TOLERANCE:
            reasons.append(f"recording {received:.2f} s of {d.agent_connected_s:.2f} s "
                           f"connected ({100 * received / d.agent_connected_s:.0f} %)")
        agent = QualityScore(d.direction, "agent", out.mos_lqo, band, not invalid,
                             tuple(reasons) + invalid, received, d.agent_connected_s,
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
