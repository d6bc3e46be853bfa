"""The harness's G.722 codec (ITU-T G.722 SB-ADPCM, 64 kbit/s) against two other
implementations: FFmpeg 5.1's (an encoded file and its decoded output, recorded once
under tests/data/g722) and PJSIP 2.15's, as a G.722 call put it on the wire and the
receiving agent recorded it."""

from pathlib import Path

import numpy as np
import pytest

from harness.capture.pcap import read_udp
from harness.capture.rtp import RtpPacket, decode_stream, rtp_toward
from harness.media import g722
from harness.media.reference import read_wav

DATA = Path(__file__).parent.parent / "data" / "g722"


def test_decoder_is_bit_exact_with_ffmpeg() -> None:
    # 2 s of 16 kHz speech encoded by FFmpeg; FFmpeg decodes to 15 bits, the codec
    # (and pjmedia) to 14 bits shifted left by 2: the same samples on one scale
    ours = g722.decode((DATA / "ffmpeg_kal.g722").read_bytes()).astype(np.int32)
    theirs = np.fromfile(DATA / "ffmpeg_kal_decoded.s16", dtype="<i2").astype(np.int32)
    assert len(ours) == len(theirs) == 32000
    assert np.array_equal(ours >> 2, theirs >> 1)


def test_wire_decode_is_the_audio_pjsip_decoded() -> None:
    """RTP of a real G.722 call (PT 9, 160 octets per 20 ms, timestamp +160) decoded by
    timestamp equals, sample for sample, what the receiving pjsua2 agent recorded."""
    packets, _ = read_udp(DATA / "pjsip_call_rtp.pcap")
    rtp = rtp_toward(packets, packets[0].dst_addr)
    assert {r.pt for r in rtp} == {9} and {len(r.payload) for r in rtp} == {160}
    steps = {(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in zip(rtp, rtp[1:], strict=False)}
    assert steps == {160}
    pcm, codec, rate = decode_stream(rtp)
    assert (codec, rate, len(pcm)) == ("G722", 16000, 320 * len(rtp))
    recorded, rec_rate = read_wav(DATA / "pjsip_call_recorded.wav")
    assert rec_rate == 16000
    # the excerpt is aligned to the first packet (the agent's fixed 60 ms jitter
    # buffer delay removed); its first 0.35 s are the receiver starting up (near
    # silence, |x| <= 40), identical from there on, through the speech
    settle = 8000
    assert len(recorded) == len(pcm) and np.abs(recorded[8000:]).max() > 4000
    assert np.array_equal(pcm[settle:], recorded[settle:])


def test_round_trip_keeps_the_signal_and_its_level() -> None:
    t = np.arange(16000) / 16000
    x = (3000 * np.sin(2 * np.pi * 440 * t) + 1500 * np.sin(2 * np.pi * 5200 * t))
    y = g722.decode(g722.encode(x.astype(np.int16))).astype(np.float64)
    assert len(y) == len(x)
    tail = slice(4000, 15000)  # after the ADPCM has adapted

    def snr(lag: int) -> float:
        err = y[tail.start + lag: tail.stop + lag] - x[tail]
        return float(10 * np.log10(np.sum(x[tail] ** 2) / np.sum(err ** 2)))

    best = max(range(40), key=snr)
    assert best == 22  # the delay of the transmit + receive QMF pair
    assert snr(best) > 20  # both sub-bands carried (the 5.2 kHz tone is the high band)


def test_decode_stream_places_g722_by_timestamp_and_runs_across_a_gap() -> None:
    payload = g722.encode(np.zeros(3200, dtype=np.int16) + 100)  # 10 packets of 20 ms
    rtp = [RtpPacket(0.02 * i, "a", "b", 7, i, 1000 + 160 * i, 9, False,
                     payload[160 * i: 160 * (i + 1)]) for i in range(10) if i != 4]
    pcm, codec, rate = decode_stream(rtp)
    assert (codec, rate, len(pcm)) == ("G722", 16000, 3200)
    assert not pcm[4 * 320: 5 * 320].any()  # the lost packet is silence where it was
    continuous = g722.decode(b"".join(r.payload for r in rtp))
    assert np.array_equal(pcm[5 * 320:], continuous[4 * 320:])


@pytest.mark.parametrize("n", [0, 1])
def test_empty_input(n: int) -> None:
    assert len(g722.decode(b"")) == 0
    assert g722.encode(np.zeros(n, dtype=np.int16)) == b""
