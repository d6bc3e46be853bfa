"""Call-progress tones found in G.711 audio: ringback (440 + 480 Hz) and SIT, and
neither found in speech or in the wrong tone."""

from pathlib import Path

import numpy as np

from harness.media import reference
from harness.media.g711 import decode_payload, encode_ulaw
from harness.media.tones import ringback_s, sit_found

RATE = 8000


def tone(freqs: tuple[float, ...], seconds: float, level: float = 6000.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return sum(level / len(freqs) * np.sin(2 * np.pi * f * t) for f in freqs)


def through_g711(pcm: np.ndarray) -> np.ndarray:
    return decode_payload("PCMU", encode_ulaw(pcm.astype(np.int16)))


def test_ringback_is_measured_in_seconds() -> None:
    ring = np.concatenate([tone((440, 480), 2.0), np.zeros(RATE * 4), tone((440, 480), 1.0)])
    assert abs(ringback_s(through_g711(ring), RATE) - 3.0) <= 0.1


def test_a_single_tone_or_european_ringback_is_not_north_american_ringback() -> None:
    assert ringback_s(through_g711(tone((440,), 2.0)), RATE) == 0.0
    assert ringback_s(through_g711(tone((425,), 2.0)), RATE) == 0.0


def test_speech_is_neither_ringback_nor_sit(tmp_path: Path) -> None:
    refs = reference.references_for("PCMU", tmp_path)
    pcm = np.concatenate([reference.read_wav(r.path)[0] for r in refs.values()])
    rate = RATE
    assert ringback_s(pcm, rate) < 0.2
    assert not sit_found(pcm, rate)


def test_sit_in_rising_order_is_found() -> None:
    sit = np.concatenate([tone((913.8,), 0.274), tone((1370.6,), 0.274),
                          tone((1776.7,), 0.380), np.zeros(RATE)])
    assert sit_found(through_g711(sit), RATE)
    high_variant = np.concatenate([tone((985.2,), 0.38), tone((1428.5,), 0.274),
                                   tone((1776.7,), 0.38)])
    assert sit_found(through_g711(high_variant), RATE)


def test_sit_out_of_order_or_cut_short_is_not_sit() -> None:
    backwards = np.concatenate([tone((1776.7,), 0.38), tone((1370.6,), 0.38),
                                tone((913.8,), 0.38)])
    assert not sit_found(through_g711(backwards), RATE)
    two_only = np.concatenate([tone((913.8,), 0.38), tone((1370.6,), 0.38)])
    assert not sit_found(through_g711(two_only), RATE)
