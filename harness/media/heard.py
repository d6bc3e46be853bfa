"""Whether a talker was heard: its reference found in what a listener received.

Used where several parties talk on one call (a 3-way call, an attended transfer):
each talker plays its own reference (distinct talkers, `reference.THIRD`) alone, in
a window of its own, and each listener's received audio in that window is searched
for it. The search is a normalised cross-correlation (the sample correlation
coefficient of two equal-length segments, maximised over the lag) of 1 s chunks of
the received audio against the whole reference: G.711 keeps the waveform, so a
chunk of the talker's own speech correlates near 1.0 with its place in the
reference (1.0 measured), another talker's speech or silence stays low (at most
0.43 measured between the two narrowband references: one talker, other prompts).
A chunk rather than the whole window: a host stall that drops frames only breaks
the chunk it falls in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.media.reference import active_mask

CHUNK_S = 1.0
MIN_ACTIVE = 0.3  # a chunk is searched when this share of its 20 ms frames is speech
HEARD_MIN = 0.7  # the correlation a chunk needs to count as the talker heard


@dataclass(frozen=True, slots=True)
class Match:
    """How well a listener's audio in a window matched one reference."""

    score: float  # the best chunk's correlation (0.0: nothing searched)
    chunks: int  # active chunks searched
    matched: int  # chunks correlating at HEARD_MIN or more

    @property
    def heard(self) -> bool:
        return self.matched > 0


def _xcorr_max(chunk: np.ndarray, ref: np.ndarray) -> float:
    """max over lags of corr(chunk, ref[lag:lag+n]) for a zero-mean chunk (FFT)."""
    n = len(chunk)
    if len(ref) < n:
        return 0.0
    size = 1 << int(np.ceil(np.log2(len(ref) + n)))
    num = np.fft.irfft(np.fft.rfft(ref, size) * np.conj(np.fft.rfft(chunk, size)), size)
    num = num[: len(ref) - n + 1]
    c2 = np.concatenate(([0.0], np.cumsum(ref * ref)))
    c1 = np.concatenate(([0.0], np.cumsum(ref)))
    seg_sum = c1[n:] - c1[:-n]
    seg_var = (c2[n:] - c2[:-n]) - seg_sum * seg_sum / n  # energy about the segment mean
    denom = np.sqrt(np.maximum(seg_var, 1e-9)) * float(np.sqrt(np.sum(chunk * chunk)))
    return float(np.max(num / np.maximum(denom, 1e-9)))


def match(received: np.ndarray, ref: np.ndarray, rate: int) -> Match:
    """How well `received` (the listener's audio in the talker's window) matches the
    talker's reference `ref` (both int16 at `rate`)."""
    n = int(CHUNK_S * rate)
    x = received.astype(np.float64)
    r = ref.astype(np.float64)
    best, searched, matched = 0.0, 0, 0
    for start in range(0, max(0, len(x) - n) + 1, n // 2):
        piece = x[start: start + n]
        if len(piece) < n or active_mask(received[start: start + n], rate).mean() < MIN_ACTIVE:
            continue
        searched += 1
        score = _xcorr_max(piece - piece.mean(), r)
        matched += score >= HEARD_MIN
        best = max(best, score)
    return Match(round(best, 3), searched, matched)
