"""Call-progress tones in decoded audio: North American ringback and the Special
Information Tone (SIT) an intercept plays before its announcement.

* Audible ringing (Telcordia GR-506; ITU-T E.180 Suppl. 2, NANP): 440 Hz + 480 Hz,
  2 s on, 4 s off.
* SIT (ITU-T E.180 §2.6; Telcordia SR-2275): three tones in rising order, 913.8 or
  985.2 Hz, then 1370.6 or 1428.5 Hz, then 1776.7 Hz, 274–380 ms each.

The audio is cut in 50 ms frames (20 Hz resolution at 8 kHz: 440 and 480 Hz fall on
their own DFT bins), and each frame's power at a frequency is taken relative to the
frame's energy: 1.0 for a pure tone at that frequency, 0.5 each for two equal tones,
near 0 for speech or noise.
"""

from __future__ import annotations

import numpy as np

FRAME_S = 0.05
RINGBACK_HZ = (440.0, 480.0)
SIT_HZ = ((913.8, 985.2), (1370.6, 1428.5), (1776.7,))
_SILENT_RMS = 30.0  # int16 samples: below this a frame carries no tone


def _frames(pcm: np.ndarray, rate: int) -> np.ndarray:
    n = int(rate * FRAME_S)
    count = len(pcm) // n
    return pcm[: count * n].astype(np.float64).reshape(count, n)


def share(pcm: np.ndarray, rate: int, freq: float) -> np.ndarray:
    """Per 50 ms frame, the share of the frame's energy at `freq` (0..~1)."""
    frames = _frames(pcm, rate)
    if not len(frames):
        return np.zeros(0)
    n = frames.shape[1]
    basis = np.exp(-2j * np.pi * freq * np.arange(n) / rate)
    power = np.abs(frames @ basis) ** 2
    energy = (frames ** 2).sum(axis=1) * n / 2
    loud = np.sqrt((frames ** 2).mean(axis=1)) >= _SILENT_RMS
    out: np.ndarray = np.where(loud & (energy > 0), power / np.maximum(energy, 1e-9), 0.0)
    return out


def ringback_s(pcm: np.ndarray, rate: int) -> float:
    """Seconds of audible ringing (440 + 480 Hz together) in `pcm`."""
    low, high = (share(pcm, rate, f) for f in RINGBACK_HZ)
    ringing = (low >= 0.2) & (high >= 0.2) & (low + high >= 0.7)
    return float(ringing.sum()) * FRAME_S


def sit_found(pcm: np.ndarray, rate: int, min_s: float = 0.15) -> bool:
    """True when the three SIT segments follow each other in rising order, each at
    least `min_s` long (a gap of up to 100 ms between them allowed)."""
    shares = [np.max([share(pcm, rate, f) for f in options], axis=0) for options in SIT_HZ]
    if not len(shares[0]):
        return False
    label = np.full(len(shares[0]), -1)
    for seg, values in enumerate(shares):
        label[values >= 0.6] = seg
    need, gap_max = int(round(min_s / FRAME_S)), int(round(0.1 / FRAME_S))
    want, run, gap = 0, 0, 0
    for value in label:
        if value == want:
            run, gap = run + 1, 0
            if run >= need:
                want, run = want + 1, 0
                if want == len(SIT_HZ):
                    return True
        elif want and value == want - 1:
            gap = 0  # still the previous segment
        else:
            gap += 1
            if gap > gap_max:
                want, run, gap = 0, 0, 0
    return False
