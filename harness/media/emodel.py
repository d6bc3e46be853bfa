"""Narrowband E-model (ITU-T G.107): transmission rating R and MOS-CQE.

Clause numbers are those of G.107 (12/2011) and later editions, including (06/2015)
(the (03/2005) edition numbers the same clauses 3.1-3.7):

    §7.1  R = Ro - Is - Id - Ie,eff + A
    §7.2  Ro, the basic signal-to-noise ratio (circuit, room and terminal noise)
    §7.3  Is, the simultaneous impairment factor (Iolr + Ist + Iq)
    §7.4  Id, the delay impairment factor (Idte + Idle + Idd)
    §7.5  Ie,eff, the effective equipment impairment factor (codec + packet loss)
    §7.6  A, the advantage factor (0 here: a wired, expectation-neutral service)
    §7.7  default values (Table 3): R = 93.2 with every default
    Annex B  MOS-CQE from R

Codec impairments (Ie, Bpl) are the provisional planning values of ITU-T G.113
(11/2007) Appendix I, Table I.1 (Ie) and Table I.3 (Bpl). Only values that table
holds are listed; iLBC and Speex are absent on purpose (no G.113 value sourced), and
GSM-FR has an Ie but no Bpl, so it is rated without packet loss only.

Wideband codecs (G.722, AMR-WB) are out of scope: their rating needs the wideband
E-model of G.107.1 (Ie,WB on a 0-129 scale), not this narrowband R. Asking for one
raises `ValueError`.

`r_factor()` maps one mouth-to-ear delay onto the three G.107 delays: absolute delay
Ta = delay, talker-echo path T = delay (echo returns from the far end's hybrid),
four-wire loop Tr = 2 x delay. Everything else keeps its Table 3 default, so echo is
assumed well controlled (TELR 65 dB, WEPL 110 dB). Use `rate()` with your own
`EModelParams` for any other assumption.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from harness.capture.rtp import StreamStats


@dataclass(frozen=True, slots=True)
class EModelParams:
    """The G.107 §7.7 Table 3 parameters; defaults are the Recommendation's.

    `ie`/`bpl` default to G.711 without PLC (G.113 App. I: Ie 0, Bpl 4.3); Bpl has
    no effect at the default packet loss of 0 %.
    """

    slr_db: float = 8.0  # send loudness rating
    rlr_db: float = 2.0  # receive loudness rating
    stmr_db: float = 15.0  # sidetone masking rating
    lstr_db: float = 18.0  # listener sidetone rating
    ds: float = 3.0  # D-value of the telephone, send side
    telr_db: float = 65.0  # talker echo loudness rating
    wepl_db: float = 110.0  # weighted echo path loss
    t_ms: float = 0.0  # mean one-way delay of the echo path
    tr_ms: float = 0.0  # round-trip delay in a 4-wire loop
    ta_ms: float = 0.0  # absolute delay in echo-free connections (mouth to ear)
    qdu: float = 1.0  # quantizing distortion units
    ie: float = 0.0  # equipment impairment factor
    bpl: float = 4.3  # packet-loss robustness factor
    ppl_pct: float = 0.0  # random packet-loss probability, percent
    burst_r: float = 1.0  # burst ratio (1 = random loss)
    nc_dbm0p: float = -70.0  # circuit noise referred to the 0 dBr point
    nfor_dbmp: float = -64.0  # noise floor at the receive side
    ps_dba: float = 35.0  # room noise at the send side
    pr_dba: float = 35.0  # room noise at the receive side
    a: float = 0.0  # advantage factor


@dataclass(frozen=True, slots=True)
class EModelResult:
    """R and its parts. `id` and `ie_eff` are the G.107 impairment factors."""

    r: float
    mos_cqe: float
    ro: float
    is_: float
    id: float
    ie_eff: float
    inputs: EModelParams


@dataclass(frozen=True, slots=True)
class CodecImpairment:
    """G.113 (11/2007) Appendix I planning values for one narrowband codec."""

    name: str
    ie: float  # Table I.1
    bpl_plc: float | None  # Table I.3, with the codec's packet-loss concealment
    bpl_no_plc: float | None  # Table I.3, without concealment (G.711 only)
    note: str


CODECS: dict[str, CodecImpairment] = {
    "G711": CodecImpairment("G.711", 0.0, 25.1, 4.3,
                            "PLC = G.711 Appendix I; Bpl for 10 ms packets, random loss"),
    "G729A": CodecImpairment("G.729A", 11.0, 19.0, None,
                             "G.729A+VAD, 2 frames (20 ms) per packet"),
    "G723.1": CodecImpairment("G.723.1", 15.0, 16.1, None,
                              "6.3 kbit/s +VAD, 1 frame (30 ms) per packet"),
    "GSM-EFR": CodecImpairment("GSM-EFR", 5.0, 10.0, None, "GSM 06.60, 20 ms per packet"),
    "GSM-FR": CodecImpairment("GSM-FR", 20.0, None, None,
                              "GSM 06.10 RPE-LTP; no Bpl in Table I.3"),
}
_ALIASES = {"PCMU": "G711", "PCMA": "G711", "G.711": "G711", "G729": "G729A",
            "G.729A": "G729A", "G723": "G723.1", "GSM": "GSM-FR"}
_WIDEBAND = {"G722", "G.722", "G722.1", "G.722.1", "G722.2", "G.722.2", "AMR-WB", "OPUS"}


def codec_impairment(codec: str) -> CodecImpairment:
    """The table entry for an SDP-style codec name (PCMU/PCMA are G.711).

    SDP's "G729" cannot say whether Annex A is in use; it maps to G.729A, the only
    G.729 variant with a Bpl in G.113 Table I.3 (its Ie, 11, is the higher one).
    """
    key = codec.strip().upper()
    if key in _WIDEBAND:
        raise ValueError(f"codec {codec!r} is wideband: rate it with the G.107.1 wideband "
                         "E-model, not the narrowband R of G.107")
    entry = CODECS.get(_ALIASES.get(key, key))
    if entry is None:
        known = ", ".join(sorted(set(CODECS) | set(_ALIASES)))
        raise ValueError(f"codec {codec!r}: no G.113 Appendix I planning values here "
                         f"(known: {known})")
    return entry


def mos_cqe(r: float) -> float:
    """MOS-CQE from R, G.107 Annex B:

    R < 0: 1;  0 <= R <= 100: 1 + 0.035 R + R (R - 60)(100 - R) 7e-6;  R > 100: 4.5.

    The cubic falls below 1 for 0 < R < 6.5 (to 0.989 at R = 3.2); the result is
    held at 1 there, as MOS-CQE has no value below 1.
    """
    if r < 0.0:
        return 1.0
    if r > 100.0:
        return 4.5
    return max(1.0, 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6)


def _root(x: float, n: int) -> float:
    return math.pow(x, 1.0 / n)


def _power_sum_db(*levels_db: float) -> float:
    return 10.0 * math.log10(sum(10.0 ** (lv / 10.0) for lv in levels_db))


def _noise_no(p: EModelParams) -> float:
    """No, the total noise power (G.107 §7.2): Nc, Nos, Nor, Nfo power-summed."""
    olr = p.slr_db + p.rlr_db
    nos = p.ps_dba - p.slr_db - p.ds - 100.0 + 0.004 * (p.ps_dba - olr - p.ds - 14.0) ** 2
    pre = p.pr_dba + 10.0 * math.log10(1.0 + 10.0 ** ((10.0 - p.lstr_db) / 10.0))
    nor = p.rlr_db - 121.0 + pre + 0.008 * (pre - 35.0) ** 2
    nfo = p.nfor_dbmp + p.rlr_db
    return _power_sum_db(p.nc_dbm0p, nos, nor, nfo)


def basic_snr_ro(p: EModelParams) -> float:
    """Ro = 15 - 1.5 (SLR + No)  (G.107 §7.2)."""
    return 15.0 - 1.5 * (p.slr_db + _noise_no(p))


def _stmr_o(p: EModelParams) -> float:
    return -10.0 * math.log10(10.0 ** (-p.stmr_db / 10.0)
                              + math.exp(-p.t_ms / 4.0) * 10.0 ** (-p.telr_db / 10.0))


def sidetone_ist(p: EModelParams) -> float:
    """Ist, impairment by non-optimum sidetone, from STMRo (G.107 §7.3)."""
    s = _stmr_o(p)
    return (12.0 * _root(1.0 + ((s - 13.0) / 6.0) ** 8, 8)
            - 28.0 * _root(1.0 + ((s + 1.0) / 19.4) ** 35, 35)
            - 13.0 * _root(1.0 + ((s - 3.0) / 33.0) ** 13, 13) + 29.0)


def simultaneous_is(p: EModelParams) -> float:
    """Is = Iolr + Ist + Iq  (G.107 §7.3): loudness, sidetone, quantizing."""
    no = _noise_no(p)
    ro = basic_snr_ro(p)
    x = p.slr_db + p.rlr_db + 0.2 * (64.0 + no - p.rlr_db)
    iolr = 20.0 * (_root(1.0 + (x / 8.0) ** 8, 8) - x / 8.0)
    q = 37.0 - 15.0 * math.log10(p.qdu)
    g = 1.07 + 0.258 * q + 0.0602 * q * q
    y = (ro - 100.0) / 15.0 + 46.0 / 8.4 - g / 9.0
    z = 46.0 / 30.0 - g / 40.0
    iq = 15.0 * math.log10(1.0 + 10.0 ** y + 10.0 ** z)
    return iolr + sidetone_ist(p) + iq


def talker_echo_idte(p: EModelParams) -> float:
    """Idte, talker echo (G.107 §7.4), with TERVs for STMR < 9 dB and Idtes for
    STMR > 20 dB as the clause prescribes."""
    ist = sidetone_ist(p)
    t = p.t_ms
    terv = (p.telr_db - 40.0 * math.log10((1.0 + t / 10.0) / (1.0 + t / 150.0))
            + 6.0 * math.exp(-0.3 * t * t))
    if p.stmr_db < 9.0:
        terv += ist / 2.0
    roe = -1.5 * (_noise_no(p) - p.rlr_db)
    re = 80.0 + 2.5 * (terv - 14.0)
    idte = ((roe - re) / 2.0 + math.sqrt((roe - re) ** 2 / 4.0 + 100.0) - 1.0) \
        * (1.0 - math.exp(-t))
    if p.stmr_db > 20.0:
        idte = math.sqrt(idte * idte + ist * ist)
    return idte


def listener_echo_idle(p: EModelParams) -> float:
    """Idle, listener echo (G.107 §7.4): Rle = 10.5 (WEPL + 7)(Tr + 1)^-0.25."""
    ro = basic_snr_ro(p)
    rle = 10.5 * (p.wepl_db + 7.0) * math.pow(p.tr_ms + 1.0, -0.25)
    return (ro - rle) / 2.0 + math.sqrt((ro - rle) ** 2 / 4.0 + 169.0)


def absolute_delay_idd(ta_ms: float) -> float:
    """Idd, too-long absolute delay (G.107 §7.4): 0 up to Ta = 100 ms, then
    25 {(1 + X^6)^(1/6) - 3 (1 + (X/3)^6)^(1/6) + 2} with X = log2(Ta / 100)."""
    if ta_ms <= 100.0:
        return 0.0
    x = math.log10(ta_ms / 100.0) / math.log10(2.0)
    return 25.0 * (_root(1.0 + x ** 6, 6) - 3.0 * _root(1.0 + (x / 3.0) ** 6, 6) + 2.0)


def delay_id(p: EModelParams) -> float:
    """Id = Idte + Idle + Idd  (G.107 §7.4)."""
    return talker_echo_idte(p) + listener_echo_idle(p) + absolute_delay_idd(p.ta_ms)


def effective_ie(ie: float, ppl_pct: float, bpl: float, burst_r: float = 1.0) -> float:
    """Ie,eff = Ie + (95 - Ie) Ppl / (Ppl / BurstR + Bpl)  (G.107 §7.5).

    Ppl in percent; BurstR = 1 for random (Bernoulli) loss, > 1 for bursty loss.
    """
    if not 0.0 <= ppl_pct <= 100.0:
        raise ValueError(f"packet loss {ppl_pct!r} %: must be within 0..100")
    if not (burst_r > 0.0 and bpl > 0.0 and math.isfinite(burst_r + bpl + ie)):
        raise ValueError(f"BurstR {burst_r!r} and Bpl {bpl!r} must be > 0")
    return ie + (95.0 - ie) * ppl_pct / (ppl_pct / burst_r + bpl)


def burst_ratio_markov(p_loss: float, q_recover: float) -> float:
    """BurstR of a 2-state Markov loss model (G.107 §7.5): 1 / (p + q), where p is
    P(found -> lost) and q is P(lost -> found)."""
    if not (0.0 < p_loss <= 1.0 and 0.0 < q_recover <= 1.0):
        raise ValueError(f"transition probabilities p={p_loss!r}, q={q_recover!r}: "
                         "each must be within (0, 1]")
    return 1.0 / (p_loss + q_recover)


def rate(p: EModelParams) -> EModelResult:
    """R = Ro - Is - Id - Ie,eff + A  (G.107 §7.1) and its MOS-CQE (Annex B)."""
    ro = basic_snr_ro(p)
    is_ = simultaneous_is(p)
    id_ = delay_id(p)
    ie_eff = effective_ie(p.ie, p.ppl_pct, p.bpl, p.burst_r)
    r = ro - is_ - id_ - ie_eff + p.a
    return EModelResult(r, mos_cqe(r), ro, is_, id_, ie_eff, p)


def codec_params(delay_ms: float, loss_pct: float, codec: str, burst_ratio: float = 1.0,
                 plc: bool = True) -> EModelParams:
    """Table 3 defaults with this codec's Ie/Bpl, and Ta = T = delay, Tr = 2 delay."""
    if not (math.isfinite(delay_ms) and delay_ms >= 0.0):
        raise ValueError(f"mouth-to-ear delay {delay_ms!r} ms: must be >= 0")
    entry = codec_impairment(codec)
    bpl = entry.bpl_plc if plc else entry.bpl_no_plc
    if bpl is None:
        if loss_pct > 0.0:
            variant = "with" if plc else "without"
            raise ValueError(f"codec {codec!r}: G.113 Table I.3 has no Bpl {variant} "
                             f"packet-loss concealment, cannot rate {loss_pct} % loss")
        bpl = 1.0  # unused: Ie,eff = Ie at Ppl = 0
    return replace(EModelParams(), ta_ms=delay_ms, t_ms=delay_ms, tr_ms=2.0 * delay_ms,
                   ie=entry.ie, bpl=bpl, ppl_pct=loss_pct, burst_r=burst_ratio)


def assess(delay_ms: float, loss_pct: float, codec: str, burst_ratio: float = 1.0,
           plc: bool = True) -> EModelResult:
    """The full result for one mouth-to-ear delay, loss and codec (see `r_factor`)."""
    return rate(codec_params(delay_ms, loss_pct, codec, burst_ratio, plc))


def r_factor(delay_ms: float, loss_pct: float, codec: str, burst_ratio: float = 1.0,
             plc: bool = True) -> float:
    """Transmission rating R (G.107 §7.1) for a one-way mouth-to-ear delay, a packet
    loss in percent and a narrowband codec, all other parameters at their defaults."""
    return assess(delay_ms, loss_pct, codec, burst_ratio, plc).r


def assess_stream(stats: StreamStats, delay_ms: float, burst_ratio: float = 1.0,
                  plc: bool = True) -> EModelResult:
    """E-model for one received RTP stream: its codec and RFC 3550 loss. The
    mouth-to-ear delay is not on the wire (it needs both clocks): the caller gives it.
    """
    return assess(delay_ms, stats.loss_pct, stats.codec, burst_ratio, plc)
