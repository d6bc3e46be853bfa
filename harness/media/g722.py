"""ITU-T G.722 (11/88, SB-ADPCM) at 64 kbit/s (mode 1): decoder and encoder, numpy.

Used to decode G.722 RTP captured on the wire and to compute the codec's ceiling (a
reference passed through the codec alone). Block names follow G.722 §3 (encoder) and
§4 (decoder): QMF analysis/synthesis (§3.1/§4.4, 24-tap filter of Table 1), QUANTL /
QUANTH (§3.4/§3.6), INVQAL / INVQBL / INVQAH, LOGSCL / SCALEL / LOGSCH / SCALEH
(scale factor adaptation, §3.5), and the adaptive predictor UPPOL1, UPPOL2, UPZERO,
FILTEP, FILTEZ, PREDIC (§3.6, identical in both sub-bands). Arithmetic is the
standard's 16-bit fixed point, so the output is bit-exact with a conforming codec.

The two ADPCM sub-band loops are sequential by nature (each step's prediction depends
on the previous one); they run in plain Python on ints. Everything linear around
them (QMF filters, the 6-bit inverse quantiser of the output, saturation) is
vectorised. One codeword (octet) carries one low-band and one high-band sample, i.e.
two 16 kHz output samples; on RTP the clock nevertheless counts 8000 per second
(RFC 3551 §4.5.2), so a 20 ms packet holds 160 octets and advances the timestamp 160.

PCM level: G.722 codes 14-bit uniform PCM. Like pjmedia (PJMEDIA_G722_DEFAULT_PCM_SHIFT
= 2), 16-bit input is shifted right by 2 before encoding and the decoded 14-bit
samples are shifted left by 2, so the decoded wire audio has the level the receiving
agent plays out.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

import numpy as np

PCM_SHIFT = 2  # 16-bit <-> the codec's 14-bit samples

# QMF coefficients, G.722 Table 1 (h0..h23)
QMF = np.array([3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876,
                3876, 951, -805, -210, 362, 32, -156, 12, 53, -11, -11, 3], dtype=np.int64)
# inverse quantisers: 6-bit output (Table 6, QM6), 4-bit feedback (QM4), high band (QM2)
QM6 = np.array([-136, -136, -136, -136, -24808, -21904, -19008, -16704,
                -14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
                -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576,
                -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728,
                24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192,
                10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
                4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032,
                1688, 1360, 1040, 728, 432, 136, -432, -136], dtype=np.int64)
_QM4 = (0, -20456, -12896, -8968, -6288, -4240, -2584, -1200,
        20456, 12896, 8968, 6288, 4240, 2584, 1200, 0)
_QM2 = (-7408, -1616, 7408, 1616)
# scale factor adaptation: log-domain increments per code (WL via RIL4, WH via RIH2)
_WL = (-60, -30, 58, 172, 334, 538, 1198, 3042)
_RL42 = (0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0)
_WH = (0, -214, 798)
_RH2 = (2, 1, 2, 1)
_ILB = (2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656,
        2714, 2774, 2834, 2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520,
        3597, 3676, 3756, 3838, 3922, 4008)
# QUANTL decision levels (Table 5, Q6) and the codes per interval, negative / positive
_Q6 = (35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786,
       858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919)
_ILN = (0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15,
        14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 0)
_ILP = (0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43,
        42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 0)
_Q2 = (564,)
_IHN = (0, 1, 0)
_IHP = (0, 3, 2)


class _Band:
    """The tables that make one ADPCM loop a low-band or a high-band coder."""

    feedback: tuple[int, ...]
    log_step: tuple[int, ...]
    levels: tuple[int, ...]
    neg: tuple[int, ...]
    pos: tuple[int, ...]

    def __init__(self, low: bool) -> None:
        if low:  # 6-bit codes; the predictor is fed the 4-bit truncation (INVQAL)
            self.feedback = tuple(_QM4[c >> 2] for c in range(64))
            self.log_step = tuple(_WL[_RL42[c >> 2]] for c in range(64))
            self.nb_max, self.exp_base, self.det0 = 18432, 8, 32
            self.levels, self.neg, self.pos = _Q6, _ILN, _ILP
        else:
            self.feedback = _QM2
            self.log_step = tuple(_WH[_RH2[c]] for c in range(4))
            self.nb_max, self.exp_base, self.det0 = 22528, 10, 8
            self.levels, self.neg, self.pos = _Q2, _IHN, _IHP


LOW, HIGH = _Band(low=True), _Band(low=False)


def _adpcm(band: _Band, codes: Sequence[int] | None, x: Sequence[int] | None,
           ) -> tuple[list[int], list[int], list[int]]:
    """One sub-band's ADPCM loop (G.722 §3.5-§3.6 / §4): decodes `codes`, or encodes
    `x` when codes is None. Returns (codes, predicted signal s, scale factor det), s
    and det being the values in force when each codeword was (de)coded."""
    feedback, log_step, nb_max, base = band.feedback, band.log_step, band.nb_max, \
        band.exp_base
    levels, neg, pos = band.levels, band.neg, band.pos
    n = len(codes) if codes is not None else len(x or ())
    out_c = list(codes) if codes is not None else [0] * n
    out_s, out_det = [0] * n, [0] * n
    det, nb, s, sz = band.det0, 0, 0, 0
    r1 = r2 = p1 = p2 = a1 = a2 = 0
    d1 = d2 = d3 = d4 = d5 = d6 = 0
    b1 = b2 = b3 = b4 = b5 = b6 = 0
    for i in range(n):
        out_s[i], out_det[i] = s, det
        if codes is None:  # SUBTRA + QUANTL/QUANTH
            assert x is not None
            e = x[i] - s
            e = 32767 if e > 32767 else (-32768 if e < -32768 else e)
            wd = e if e >= 0 else (32767 - e) & 32767
            m = 1 + bisect_right(levels, (((wd + 1) << 12) - 1) // det)
            c = neg[m] if e < 0 else pos[m]
            out_c[i] = c
        else:
            c = out_c[i]
        d = (det * feedback[c]) >> 15  # INVQAL / INVQAH
        # LOGSCL/LOGSCH + SCALEL/SCALEH: the next scale factor
        nb = ((nb * 32512) >> 15) + log_step[c]
        nb = 0 if nb < 0 else (nb_max if nb > nb_max else nb)
        e2 = (nb >> 11) - base
        m1 = _ILB[(nb >> 6) & 31]
        det = ((m1 << e2) if e2 >= 0 else (m1 >> -e2)) << 2
        # RECONS, PARREC
        r0 = s + d
        r0 = 32767 if r0 > 32767 else (-32768 if r0 < -32768 else r0)
        p0 = d + sz
        p0 = 32767 if p0 > 32767 else (-32768 if p0 < -32768 else p0)
        # UPPOL2
        neg0 = p0 < 0
        same1 = neg0 == (p1 < 0)
        w = a1 << 2
        w = 32767 if w > 32767 else (-32768 if w < -32768 else w)
        w = -w if same1 else w
        w = (32767 if w > 32767 else w) >> 7
        ap2 = w + (128 if neg0 == (p2 < 0) else -128) + ((a2 * 32512) >> 15)
        ap2 = 12288 if ap2 > 12288 else (-12288 if ap2 < -12288 else ap2)
        # UPPOL1
        ap1 = (192 if same1 else -192) + ((a1 * 32640) >> 15)
        lim = 15360 - ap2
        ap1 = lim if ap1 > lim else (-lim if ap1 < -lim else ap1)
        # UPZERO (|b| stays within 16 bits: no saturation needed)
        if d == 0:
            b1 = (b1 * 32640) >> 15
            b2 = (b2 * 32640) >> 15
            b3 = (b3 * 32640) >> 15
            b4 = (b4 * 32640) >> 15
            b5 = (b5 * 32640) >> 15
            b6 = (b6 * 32640) >> 15
        else:
            dn = d < 0
            b1 = (128 if (d1 < 0) == dn else -128) + ((b1 * 32640) >> 15)
            b2 = (128 if (d2 < 0) == dn else -128) + ((b2 * 32640) >> 15)
            b3 = (128 if (d3 < 0) == dn else -128) + ((b3 * 32640) >> 15)
            b4 = (128 if (d4 < 0) == dn else -128) + ((b4 * 32640) >> 15)
            b5 = (128 if (d5 < 0) == dn else -128) + ((b5 * 32640) >> 15)
            b6 = (128 if (d6 < 0) == dn else -128) + ((b6 * 32640) >> 15)
        # DELAYA
        d6, d5, d4, d3, d2, d1 = d5, d4, d3, d2, d1, d
        r2, r1, p2, p1, a2, a1 = r1, r0, p1, p0, ap2, ap1
        # FILTEP
        w1 = r1 << 1
        w1 = 32767 if w1 > 32767 else (-32768 if w1 < -32768 else w1)
        w2 = r2 << 1
        w2 = 32767 if w2 > 32767 else (-32768 if w2 < -32768 else w2)
        sp = ((a1 * w1) >> 15) + ((a2 * w2) >> 15)
        sp = 32767 if sp > 32767 else (-32768 if sp < -32768 else sp)
        # FILTEZ: accumulated from the oldest tap, saturating at each step
        sz = 0
        for bk, dk in ((b6, d6), (b5, d5), (b4, d4), (b3, d3), (b2, d2), (b1, d1)):
            if dk:
                w = dk << 1
                w = 32767 if w > 32767 else (-32768 if w < -32768 else w)
                sz += (bk * w) >> 15
                sz = 32767 if sz > 32767 else (-32768 if sz < -32768 else sz)
        # PREDIC
        s = sp + sz
        s = 32767 if s > 32767 else (-32768 if s < -32768 else s)
    return out_c, out_s, out_det


def decode(payload: bytes) -> np.ndarray:
    """G.722 mode-1 octets (high band in the two top bits) -> 16 kHz int16 PCM,
    2 samples per octet, the decoder starting from its reset state (§4)."""
    octets = np.frombuffer(payload, dtype=np.uint8)
    if len(octets) == 0:
        return np.zeros(0, dtype=np.int16)
    il = (octets & 63).astype(np.int64)
    ih = (octets >> 6).astype(np.int64)
    _, sl, detl = _adpcm(LOW, il.tolist(), None)
    _, sh, deth = _adpcm(HIGH, ih.tolist(), None)
    # INVQBL (6-bit) + RECONS + LIMIT (block 5L/6L); INVQAH + RECONS + LIMIT (5H)
    yl = np.clip(np.asarray(sl) + ((np.asarray(detl) * QM6[il]) >> 15), -32768, 32767)
    rl = np.clip(yl, -16384, 16383)
    qm2 = np.asarray(_QM2, dtype=np.int64)
    rh = np.clip(((np.asarray(deth) * qm2[ih]) >> 15) + np.asarray(sh), -16384, 16383)
    return _synthesis(rl, rh)


def _synthesis(rl: np.ndarray, rh: np.ndarray) -> np.ndarray:
    """Receive QMF (§4.4): two 16 kHz samples per sub-band pair, then to 16-bit PCM."""
    n = len(rl)
    xd = np.clip(rl - rh, -16384, 16383)
    xs = np.clip(rl + rh, -16384, 16383)
    out1 = np.clip(np.convolve(xd, QMF[0::2])[:n] >> 12, -16384, 16383)
    out2 = np.clip(np.convolve(xs, QMF[1::2])[:n] >> 12, -16384, 16383)
    pcm = np.empty(2 * n, dtype=np.int64)
    pcm[0::2], pcm[1::2] = out1, out2
    # the 16-bit range holds 14 bits shifted by 2: clip first, as pjmedia does
    limit = 1 << (15 - PCM_SHIFT)
    return (np.clip(pcm, -limit, limit - 1) << PCM_SHIFT).astype(np.int16)


def encode(pcm: np.ndarray) -> bytes:
    """16 kHz int16 PCM -> G.722 mode-1 octets, encoder from its reset state (§3).
    An odd trailing sample is dropped."""
    x = pcm.astype(np.int64)[: len(pcm) // 2 * 2] >> PCM_SHIFT
    if len(x) == 0:
        return b""
    n = len(x) // 2
    # transmit QMF (§3.1): even taps on the odd input samples, odd taps on the even
    s_even = np.convolve(x[1::2], QMF[0::2])[:n]
    s_odd = np.convolve(x[0::2], QMF[1::2])[:n]
    xl = np.clip((s_even + s_odd) >> 13, -16384, 16383)
    xh = np.clip((s_even - s_odd) >> 13, -16383, 16383)
    il, _, _ = _adpcm(LOW, None, xl.tolist())
    ih, _, _ = _adpcm(HIGH, None, xh.tolist())
    return bytes(((np.asarray(ih, dtype=np.int64) << 6) | np.asarray(il)).astype(np.uint8))
