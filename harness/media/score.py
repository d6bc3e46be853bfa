"""Objective speech quality: time alignment + PESQ (ITU-T P.862).

`pesq` returns MOS-LQO already mapped: P.862.1 for narrowband ('nb'), P.862.2 for
wideband ('wb'). Before scoring, the degraded signal is aligned to the reference by
cross-correlation (agent recordings start with 0.3-1 s of leading silence) and cut
to the reference length; level normalisation is PESQ's own (P.862 §10.2.1).

A degraded signal that carries no speech is not scored (PESQ would either fail or
return a meaningless floor): it is reported as silence, a defect of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.media.pool import pesq_mos
from harness.media.reference import active_mask

SILENCE_DBOV = -55.0


@dataclass(frozen=True, slots=True)
class PesqOutcome:
    mos_lqo: float | None
    delay_s: float | None
    received_s: float
    active_ratio: float
    problem: str = ""  # "" when scored; otherwise why not


def level_dbov(pcm: np.ndarray) -> float:
    if len(pcm) == 0:
        return -120.0
    x = pcm.astype(np.float64) / 32768.0
    return float(20 * np.log10(np.sqrt(np.mean(x * x)) + 1e-12))


def align(ref: np.ndarray, deg: np.ndarray, rate: int,
          max_lag_s: float = 3.0) -> tuple[np.ndarray, int]:
    """Shift `deg` so that the reference starts at its sample 0; cut/pad to len(ref).

    Returns the aligned signal and the lag in samples (positive: deg is late).
    """
    n = len(ref) + len(deg)
    size = 1 << (n - 1).bit_length()
    r = np.fft.rfft(ref.astype(np.float64), size)
    d = np.fft.rfft(deg.astype(np.float64), size)
    xc = np.fft.irfft(d * np.conj(r), size)
    max_lag = int(max_lag_s * rate)
    lags = np.concatenate([np.arange(0, min(max_lag, len(deg))),
                           np.arange(-min(max_lag, len(ref)) + 1, 0)])
    values = np.concatenate([xc[: min(max_lag, len(deg))],
                             xc[size - min(max_lag, len(ref)) + 1:]])
    lag = int(lags[int(np.argmax(values))]) if len(values) else 0
    out = np.zeros(len(ref), dtype=np.int16)
    if lag >= 0:
        seg = deg[lag: lag + len(ref)]
        out[: len(seg)] = seg
    else:
        seg = deg[: len(ref) + lag]
        out[-lag: -lag + len(seg)] = seg
    return out, lag


def pesq_score(ref: np.ndarray, deg: np.ndarray, rate: int, band: str = "nb") -> PesqOutcome:
    received_s = len(deg) / rate
    if len(deg) == 0:
        return PesqOutcome(None, None, 0.0, 0.0, "no audio received")
    if level_dbov(deg) < SILENCE_DBOV:
        return PesqOutcome(None, None, received_s, 0.0,
                           f"silence: received level {level_dbov(deg):.0f} dBov")
    aligned, lag = align(ref, deg, rate)
    ratio = float(active_mask(aligned, rate).mean()) if len(aligned) else 0.0
    try:
        mos = pesq_mos(rate, ref, aligned, band)  # in the scoring pool (media/pool.py)
    except Exception as exc:  # noqa: BLE001 - pesq raises bare Exception subclasses
        return PesqOutcome(None, lag / rate, received_s, ratio, f"PESQ failed: {exc}")
    return PesqOutcome(round(mos, 3), lag / rate, received_s, ratio)


_CEILINGS: dict[tuple[str, int, str], float | None] = {}


def codec_roundtrip(pcm: np.ndarray, rate: int, codec: str) -> np.ndarray | None:
    """`pcm` encoded and decoded by `codec` alone, as the agents' codec does it (G.711
    at 8 kHz, G.722 at 16 kHz); None for a codec the harness cannot model or a
    rate the codec does not run at."""
    from harness.media import g711, g722

    if codec == "PCMU" and rate == 8000:
        return g711.decode_payload("PCMU", g711.encode_ulaw(pcm))
    if codec == "PCMA" and rate == 8000:
        return g711.decode_payload("PCMA", g711.encode_alaw(pcm))
    if codec == "G722" and rate == 16000:
        return g722.decode(g722.encode(pcm))
    return None


def codec_ceiling(ref_path: str, ref: np.ndarray, rate: int, codec: str) -> float | None:
    """PESQ of the reference passed through the codec alone (no network, no agent):
    the best score any path can reach with this material, in the codec's band
    (P.862.1 for G.711, P.862.2 for G.722). Cached per reference, rate and codec."""
    key = (ref_path, rate, codec)
    if key not in _CEILINGS:
        coded = codec_roundtrip(ref, rate, codec)
        _CEILINGS[key] = None if coded is None else \
            pesq_score(ref, coded, rate, "wb" if rate == 16000 else "nb").mos_lqo
    return _CEILINGS[key]
