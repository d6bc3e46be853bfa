from pathlib import Path

import numpy as np
import pytest

from harness.media.g711 import decode_payload, encode_ulaw
from harness.media.reference import build, read_wav
from harness.media.score import align, codec_ceiling, pesq_score


@pytest.fixture(scope="module")
def ref(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    r = build("allison-a", tmp_path_factory.mktemp("ref"))
    assert 8.0 <= r.duration_s <= 12.0 and 0.4 <= r.speech_ratio <= 0.8  # P.862.3 advice
    pcm, rate = read_wav(r.path)
    assert rate == 8000
    return pcm


def test_align_recovers_a_known_delay(ref: np.ndarray) -> None:
    late = np.concatenate([np.zeros(2345, np.int16), ref])
    aligned, lag = align(ref, late, 8000)
    assert lag == 2345
    assert np.array_equal(aligned, ref)


def test_reference_against_itself_scores_the_p862_1_maximum(ref: np.ndarray) -> None:
    assert pesq_score(ref, ref, 8000).mos_lqo == pytest.approx(4.55, abs=0.01)


def test_scores_order_as_the_damage_does(ref: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    coded = decode_payload("PCMU", encode_ulaw(ref))
    lossy = coded.copy()
    for i in rng.choice(len(ref) // 160, size=len(ref) // 160 // 10, replace=False):
        lossy[i * 160:(i + 1) * 160] = 0  # 10 % frames lost, no concealment
    noisy = np.clip(ref + rng.normal(0, 2000, len(ref)), -32768, 32767).astype(np.int16)
    s_coded = pesq_score(ref, coded, 8000).mos_lqo
    s_lossy = pesq_score(ref, lossy, 8000).mos_lqo
    s_noisy = pesq_score(ref, noisy, 8000).mos_lqo
    assert s_coded is not None and s_lossy is not None and s_noisy is not None
    assert 4.5 > s_coded > s_lossy > s_noisy
    assert s_coded == codec_ceiling("x", ref, 8000, "PCMU")


def test_silence_is_reported_not_scored(ref: np.ndarray) -> None:
    out = pesq_score(ref, np.zeros(len(ref), np.int16), 8000)
    assert out.mos_lqo is None and out.problem.startswith("silence")
    out = pesq_score(ref, np.zeros(0, np.int16), 8000)
    assert out.mos_lqo is None and out.problem == "no audio received"


def test_truncated_wav_is_a_clear_error(tmp_path: Path) -> None:
    from harness.errors import MediaError

    bad = tmp_path / "t.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    with pytest.raises(MediaError, match=str(bad)):
        read_wav(bad)


def test_a_recording_at_another_rate_is_resampled_before_scoring(
        ref: np.ndarray, tmp_path: Path) -> None:
    import subprocess

    from harness.media.reference import read_wav_at, write_wav

    at8k = tmp_path / "ref8k.wav"
    write_wav(at8k, ref, 8000)
    at16k = tmp_path / "ref16k.wav"  # as a 16 kHz conference bridge records it
    subprocess.run(["sox", str(at8k), "-r", "16000", str(at16k)], check=True)
    back = read_wav_at(at16k, 8000)
    assert abs(len(back) - len(ref)) <= 2
    score = pesq_score(ref, back, 8000).mos_lqo
    assert score is not None and score > 4.4  # two resamplings: near transparent


def test_scoring_processes_yield_the_cpu_to_the_calls_that_are_up() -> None:
    """PESQ runs at nice 19 (harness/media/pool.py): at normal priority two scoring
    processes on a 2-CPU host delayed calls still up past the stall guard's threshold."""
    import os

    import numpy as np

    from harness.media import pool

    x = np.random.default_rng(1).standard_normal(8000 * 3)
    assert pool.pesq_mos(8000, x, x, "nb") > 4.0
    assert pool._POOL is not None
    try:
        assert pool._POOL.submit(os.nice, 0).result() == pool.SCORING_NICE
    finally:
        pool.shutdown()
