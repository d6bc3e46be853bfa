"""Did the switch pass one direction's media through unchanged? (fax rows)

A fax page damaged, or a T.30 session broken, stands against the path only if the path
did something to the signal that a fax machine behind a real gateway would not
survive. The capture sees each direction twice: as it left the sending terminal (the
talker's stream into the switch, before any impairment of its access link drops it)
and as it reached the receiving terminal (after every stage of the path).

* The signal changed (`Passage.changed`): a packet missing on either side, one
  duplicated or reordered, a sample altered beyond a G.711 law conversion's rounding
  (`same_sample`: a switch that transcodes between the laws is still transparent; one
  that suppresses silence, cancels echo or changes the level is not): the path's.
* The path added delay variation to what the sender already had: up to
  `SWITCH_ADDED_PDV_MS` it is noise; beyond `FAX_PLAYOUT_MS`, what a fax gateway's
  fixed playout buffer absorbs (ITU-T V.152 voice-band data: a fixed buffer, commonly
  set to 100-200 ms), the path's. Between the two, a real fax machine's gateway would
  have absorbed it and the harness's terminals did not: they play out through the
  agents' voice jitter buffer (agents.jb_init_ms, 60 ms fixed), so the damage is the
  harness's shallow buffer.

Damage over a path that did nothing of the path's is the harness's invalid measurement
(`damaged_in_harness`), re-placed like a host stall; never the switch's fail. Its own
sending terminal's lateness (a stalled host sends late) is in the sent stream, and so
the harness's too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.capture.rtp import (
    RtpPacket,
    audio_packets,
    decode_stream,
    sender_lateness_ms,
    stream_stats,
)

# packet delay variation the path may add to what the sender already had, ms, and be
# called unchanged (noise); and the most a fax gateway's fixed playout buffer absorbs
SWITCH_ADDED_PDV_MS = 20.0
FAX_PLAYOUT_MS = 200.0
# of the sent signal, the share the received one must cover (a call's first and last
# packets may fall outside either stream's window)
MIN_COVERAGE = 0.95
# a sample is the same after a law conversion (G.711 mu <-> A): within a step of the
# coarser law's segment (1/16 of its magnitude) and the smallest step
_REL_TOL, _ABS_TOL = 0.07, 16
_MAX_LAG_S = 2.0  # the path's delay the alignment searches


@dataclass(frozen=True, slots=True)
class Passage:
    """One direction of a call, as sent and as received."""

    direction: str
    sent_packets: int
    received_packets: int
    sent_lost: int  # sequence gaps in the stream as it left the sender
    received_lost: int
    received_duplicates: int
    received_out_of_order: int
    coverage: float  # of the sent signal, the share aligned with the received one
    samples_differing: int  # over the aligned span, beyond a law conversion's rounding
    sent_pdv_ms: float | None  # the sender's own lateness (sender_lateness_ms)
    received_pdv_ms: float | None

    @property
    def added_pdv_ms(self) -> float | None:
        if self.sent_pdv_ms is None or self.received_pdv_ms is None:
            return None
        return self.received_pdv_ms - self.sent_pdv_ms

    def changed(self) -> str:
        """What the path did to this direction's signal ('' when it delivered every
        packet, every sample as sent)."""
        if not self.sent_packets:
            return f"{self.direction}: the capture saw nothing leave the sender"
        if not self.received_packets:
            return f"{self.direction}: nothing reached the receiver"
        if self.sent_lost:
            return (f"{self.direction}: {self.sent_lost} packet(s) missing from the "
                    "stream as it left the sender")
        if self.received_lost or self.received_duplicates or self.received_out_of_order:
            return (f"{self.direction}: {self.received_lost} lost, "
                    f"{self.received_duplicates} duplicated, {self.received_out_of_order} "
                    "out of order on the way")
        if self.coverage < MIN_COVERAGE:
            return (f"{self.direction}: the received signal matches "
                    f"{100 * self.coverage:.0f} % of the signal sent")
        if self.samples_differing:
            return (f"{self.direction}: {self.samples_differing} samples changed on the "
                    "way")
        return ""

    def altered(self, tolerance_ms: float = SWITCH_ADDED_PDV_MS) -> str:
        """What the path did to this direction, its delay variation beyond
        `tolerance_ms` included ('' for nothing)."""
        if changed := self.changed():
            return changed
        added = self.added_pdv_ms
        if added is None or added > tolerance_ms:
            return (f"{self.direction}: the path added "
                    f"{'unknown' if added is None else f'{added:.0f} ms of'} delay "
                    "variation")
        return ""

    def describe(self) -> str:
        return (f"{self.direction} {self.received_packets} packets, the signal unchanged, "
                f"delay variation {self.received_pdv_ms or 0.0:.0f} ms of which "
                f"{self.sent_pdv_ms or 0.0:.0f} ms as the harness's terminal sent it")


def same_sample(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per sample: equal within a G.711 law conversion's rounding."""
    a32, b32 = a.astype(np.int32), b.astype(np.int32)
    bound = np.maximum(np.abs(a32), np.abs(b32)) * _REL_TOL + _ABS_TOL
    return np.asarray(np.abs(a32 - b32) <= bound)


def _lag(sent: np.ndarray, received: np.ndarray, rate: int) -> int:
    """Samples by which `received` starts later than `sent` (negative: earlier), by
    cross-correlation over the first seconds of both."""
    max_lag = int(_MAX_LAG_S * rate)
    span = min(len(sent), len(received), 8 * rate) + max_lag
    a, b = sent[:span].astype(np.float64), received[:span].astype(np.float64)
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n)), n)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    values = np.concatenate([corr[:max_lag + 1], corr[n - max_lag:]])
    return int(lags[int(np.argmax(values))])


def passage(direction: str, sent: list[RtpPacket], received: list[RtpPacket]) -> Passage:
    """Compare one direction's stream as it left the sender with the stream that reached
    the receiver (each the capture's RTP of the call, from the sender's address and
    toward the receiver's)."""
    s_audio, r_audio = audio_packets(sent), audio_packets(received)
    s_st, r_st = stream_stats(sent), stream_stats(received)
    coverage, differing = 0.0, 0
    if s_audio and r_audio:
        s_pcm, _, rate = decode_stream(s_audio)
        r_pcm, _, _ = decode_stream(r_audio)
        if len(s_pcm) and len(r_pcm):
            lag = _lag(s_pcm, r_pcm, rate)
            s_from, r_from = (0, lag) if lag >= 0 else (-lag, 0)
            span = min(len(s_pcm) - s_from, len(r_pcm) - r_from)
            if span > 0:
                same = same_sample(s_pcm[s_from:s_from + span], r_pcm[r_from:r_from + span])
                differing = int(span - np.count_nonzero(same))
                coverage = span / len(s_pcm)
    return Passage(direction, len(s_audio), len(r_audio), s_st.lost if s_st else 0,
                   r_st.lost if r_st else 0, r_st.duplicates if r_st else 0,
                   r_st.out_of_order if r_st else 0, round(coverage, 4), differing,
                   sender_lateness_ms(s_audio), sender_lateness_ms(r_audio))


def damaged_in_harness(passages: list[Passage], buffer_ms: float) -> str:
    """Why damage to a fax call is the harness's own (the invalid cause), or '' when it
    stands against the path: every direction it depends on arrived with its signal
    unchanged and no more delay variation added than a fax gateway's playout buffer
    absorbs (`FAX_PLAYOUT_MS`). `buffer_ms`: the harness's terminals' own playout buffer
    (agents.jb_init_ms)."""
    if not passages or any(p.altered(FAX_PLAYOUT_MS) for p in passages):
        return ""
    added = max(p.added_pdv_ms or 0.0 for p in passages)
    if added <= SWITCH_ADDED_PDV_MS:
        return ("the path passed the fax signal unchanged (" +
                "; ".join(p.describe() for p in passages) +
                "): the damage happened inside the harness's own fax terminals")
    return (f"the path passed the fax signal unchanged but for {added:.0f} ms of delay "
            f"variation, which a fax gateway's playout buffer absorbs (up to "
            f"{FAX_PLAYOUT_MS:.0f} ms) and the harness's terminals, playing out through "
            f"a {buffer_ms:.0f} ms voice jitter buffer, did not (" +
            "; ".join(p.describe() for p in passages) + ")")
