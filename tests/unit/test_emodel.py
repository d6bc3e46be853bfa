"""E-model (ITU-T G.107) against reference points worked out by hand.

Sources of the expected figures:
- G.107 §7.7: every Table 3 default gives R = 93.2. An independent implementation of
  G.107 (06/2015) (github.com/manucorporat/e-model) prints R = 93.206208 for them.
- G.107 Annex B cubic for MOS-CQE; the G.109 category limits R 90/80/70/60/50 read
  MOS-CQE 4.34/4.03/3.60/3.10/2.58.
- G.113 Appendix I: G.711 Ie 0, Bpl 4.3 (no PLC) / 25.1 (PLC); G.729A Ie 11, Bpl 19.
- Cole & Rosenbluth, "Voice over IP performance monitoring", ACM CCR 31(2), 2001:
  Id ~ 0.024 d + 0.11 (d - 177.3) H(d - 177.3), a fit of G.107's Id against the
  one-way delay d; its knee is where the slope grows from 0.024 to 0.134 per ms.
"""

import dataclasses
import math

import pytest

from harness.capture.rtp import StreamStats
from harness.media.emodel import (
    EModelParams,
    absolute_delay_idd,
    assess,
    assess_stream,
    burst_ratio_markov,
    codec_impairment,
    effective_ie,
    mos_cqe,
    r_factor,
    rate,
)

R_DEFAULT = 93.206208  # all Table 3 defaults


def test_default_parameters_give_r_93_2_and_mos_4_41() -> None:
    res = rate(EModelParams())
    assert res.r == pytest.approx(93.2, abs=0.05)
    assert res.r == pytest.approx(R_DEFAULT, abs=1e-5)
    assert res.ro == pytest.approx(94.77, abs=0.005)
    assert res.id == pytest.approx(0.149, abs=0.001)  # Idle at WEPL 110, Tr 0
    assert res.ie_eff == 0.0
    assert res.mos_cqe == pytest.approx(4.41, abs=0.005)
    assert res.inputs == EModelParams()


def test_g711_without_loss_or_delay_is_the_default_connection() -> None:
    assert r_factor(0.0, 0.0, "PCMU") == pytest.approx(R_DEFAULT, abs=1e-5)
    assert r_factor(0.0, 0.0, "PCMA", plc=False) == pytest.approx(R_DEFAULT, abs=1e-5)
    assert r_factor(0.0, 0.0, "G.711") == pytest.approx(R_DEFAULT, abs=1e-5)


def test_codec_ie_subtracts_from_r() -> None:
    assert r_factor(0.0, 0.0, "G729A") == pytest.approx(R_DEFAULT - 11.0, abs=1e-5)
    assert r_factor(0.0, 0.0, "GSM") == pytest.approx(R_DEFAULT - 20.0, abs=1e-5)
    assert r_factor(0.0, 0.0, "GSM-EFR") == pytest.approx(R_DEFAULT - 5.0, abs=1e-5)


@pytest.mark.parametrize(("codec", "loss", "burst", "plc", "expected"), [
    ("PCMU", 1.0, 1.0, True, 95.0 / 26.1),  # 0 + 95 * 1 / (1 + 25.1)
    ("PCMU", 2.0, 1.0, True, 190.0 / 27.1),  # 95 * 2 / (2 + 25.1)
    ("PCMU", 1.0, 1.0, False, 95.0 / 5.3),  # 95 * 1 / (1 + 4.3)
    ("PCMU", 2.0, 2.0, True, 190.0 / 26.1),  # 95 * 2 / (2/2 + 25.1)
    ("G729A", 1.0, 1.0, True, 15.2),  # 11 + 84 * 1 / (1 + 19)
])
def test_ie_eff_with_loss_per_g107_formula(codec: str, loss: float, burst: float,
                                           plc: bool, expected: float) -> None:
    res = assess(0.0, loss, codec, burst_ratio=burst, plc=plc)
    assert res.ie_eff == pytest.approx(expected, rel=1e-9)
    assert res.r == pytest.approx(R_DEFAULT - expected, abs=1e-5)


def test_ie_eff_edges() -> None:
    assert effective_ie(0.0, 0.0, 4.3) == 0.0
    # total loss: Ie,eff -> Ie + (95 - Ie) * 100 / (100 + Bpl), below 95
    assert effective_ie(0.0, 100.0, 25.1) == pytest.approx(9500.0 / 125.1)
    # burstier loss at the same rate hurts more
    assert effective_ie(0.0, 3.0, 25.1, 3.0) > effective_ie(0.0, 3.0, 25.1, 1.0)
    with pytest.raises(ValueError, match="packet loss"):
        effective_ie(0.0, 101.0, 25.1)
    with pytest.raises(ValueError, match="BurstR"):
        effective_ie(0.0, 1.0, 25.1, 0.0)


def test_burst_ratio_of_a_two_state_markov_model() -> None:
    assert burst_ratio_markov(0.1, 0.4) == pytest.approx(2.0)  # 1 / (0.1 + 0.4)
    assert burst_ratio_markov(0.01, 0.99) == pytest.approx(1.0)  # random loss
    with pytest.raises(ValueError, match="transition"):
        burst_ratio_markov(0.0, 0.5)


def test_idd_is_zero_up_to_100_ms_then_g107_formula() -> None:
    assert absolute_delay_idd(0.0) == 0.0
    assert absolute_delay_idd(100.0) == 0.0
    # Ta = 200 ms: X = log2(2) = 1
    x1 = 25 * (2 ** (1 / 6) - 3 * (1 + (1 / 3) ** 6) ** (1 / 6) + 2)
    assert absolute_delay_idd(200.0) == pytest.approx(x1, rel=1e-12)
    assert absolute_delay_idd(200.0) == pytest.approx(3.0444, abs=1e-4)
    # Ta = 400 ms: X = 2
    assert absolute_delay_idd(400.0) == pytest.approx(
        25 * (65 ** (1 / 6) - 3 * (1 + (2 / 3) ** 6) ** (1 / 6) + 2), rel=1e-12)


def test_r_never_rises_with_delay_or_loss() -> None:
    by_delay = [r_factor(float(d), 0.0, "PCMU") for d in range(0, 601, 5)]
    assert all(b <= a + 1e-9 for a, b in zip(by_delay, by_delay[1:], strict=False))
    by_loss = [r_factor(50.0, loss / 4, "PCMU") for loss in range(0, 81)]
    assert all(b < a for a, b in zip(by_loss, by_loss[1:], strict=False))


def _id_rise(d_ms: float) -> float:
    return assess(d_ms, 0.0, "PCMU").id - assess(0.0, 0.0, "PCMU").id


def test_delay_impairment_knee_near_177_ms() -> None:
    # below the knee Id grows ~0.024/ms, above it ~0.134/ms (Cole & Rosenbluth)
    low_slope = _id_rise(150.0) / 150.0
    high_slope = (_id_rise(300.0) - _id_rise(200.0)) / 100.0
    assert low_slope == pytest.approx(0.024, abs=0.002)
    assert high_slope == pytest.approx(0.134, abs=0.005)
    # the two straight lines cross at the knee
    knee_ms = (_id_rise(200.0) - 200.0 * high_slope) / (low_slope - high_slope)
    assert knee_ms == pytest.approx(177.3, abs=5.0)
    # and the fit follows G.107 within 1.5 R points up to 300 ms
    for d in range(0, 301, 10):
        fit = 0.024 * d + 0.11 * max(0.0, d - 177.3)
        assert _id_rise(float(d)) == pytest.approx(fit, abs=1.5), d


@pytest.mark.parametrize(("r", "by_hand", "g109"), [
    (90.0, 1 + 3.15 + 90 * 30 * 10 * 7e-6, 4.34),  # 4.339
    (80.0, 1 + 2.80 + 80 * 20 * 20 * 7e-6, 4.03),  # 4.024 (G.109 prints 4.03)
    (70.0, 1 + 2.45 + 70 * 10 * 30 * 7e-6, 3.60),  # 3.597
    (60.0, 1 + 2.10, 3.10),
    (50.0, 1 + 1.75 - 50 * 10 * 50 * 7e-6, 2.58),  # 2.575
])
def test_mos_cqe_at_the_g109_category_limits(r: float, by_hand: float, g109: float) -> None:
    assert mos_cqe(r) == pytest.approx(by_hand, abs=1e-12)
    assert mos_cqe(r) == pytest.approx(g109, abs=0.01)


def test_mos_cqe_outside_0_100_and_the_low_dip() -> None:
    assert mos_cqe(-10.0) == 1.0
    assert mos_cqe(0.0) == 1.0
    assert mos_cqe(3.0) == 1.0  # the cubic gives 1 + 0.105 - 3*57*97*7e-6 = 0.9889
    assert mos_cqe(100.0) == pytest.approx(4.5)
    assert mos_cqe(120.0) == 4.5
    rs = [i / 2 for i in range(-20, 241)]
    assert all(mos_cqe(b) >= mos_cqe(a) for a, b in zip(rs, rs[1:], strict=False))


def test_delay_maps_to_ta_t_and_round_trip() -> None:
    res = assess(120.0, 0.5, "PCMA", burst_ratio=1.5)
    p = res.inputs
    assert (p.ta_ms, p.t_ms, p.tr_ms) == (120.0, 120.0, 240.0)
    assert (p.ie, p.bpl, p.ppl_pct, p.burst_r) == (0.0, 25.1, 0.5, 1.5)
    assert res.r == pytest.approx(res.ro - res.is_ - res.id - res.ie_eff)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.r = 1.0  # type: ignore[misc]


def test_wideband_and_unknown_codecs_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match=r"wideband.*G\.107\.1"):
        r_factor(0.0, 0.0, "G722")
    with pytest.raises(ValueError, match="no G.113 Appendix I planning values"):
        r_factor(0.0, 0.0, "speex")
    with pytest.raises(ValueError, match="no Bpl"):
        r_factor(0.0, 1.0, "GSM-FR")  # Ie known, Bpl not
    with pytest.raises(ValueError, match="without packet-loss concealment"):
        r_factor(0.0, 1.0, "G729A", plc=False)
    assert codec_impairment(" pcmu ").name == "G.711"


@pytest.mark.parametrize("delay", [-1.0, math.nan, math.inf])
def test_bad_delay_is_refused(delay: float) -> None:
    with pytest.raises(ValueError, match="delay"):
        r_factor(delay, 0.0, "PCMU")


def test_assess_stream_takes_codec_and_loss_from_rtp_stats() -> None:
    stats = StreamStats("10.0.0.1:4000", "10.0.0.2:4002", 0x1234, "PCMU", packets=495,
                        expected=500, lost=5, loss_pct=1.0, duplicates=0, out_of_order=0,
                        jitter_ms=2.0, max_jitter_ms=3.0, duration_s=10.0)
    res = assess_stream(stats, delay_ms=0.0)
    assert res.ie_eff == pytest.approx(95.0 / 26.1)
    g722 = dataclasses.replace(stats, codec="G722")
    with pytest.raises(ValueError, match="wideband"):
        assess_stream(g722, delay_ms=0.0)
