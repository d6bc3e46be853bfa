"""The reference corpus (ITU-T P.862.3 advice) and the band each codec is scored in."""

from pathlib import Path

import numpy as np
import pytest

from harness.errors import MediaError
from harness.media.reference import (
    CORPUS,
    PAIRS,
    active_mask,
    band_for,
    build,
    native_rate,
    read_wav,
    references_for,
)
from harness.media.score import codec_ceiling


@pytest.fixture(scope="module")
def ref_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ref")


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_reference_follows_p862_3(ref_dir: Path, name: str) -> None:
    for rate in sorted({8000, native_rate(name)}):
        ref = build(name, ref_dir, rate)
        pcm, have = read_wav(ref.path)
        assert have == rate == ref.rate
        assert 8.0 <= ref.duration_s <= 12.0
        assert 0.40 <= ref.speech_ratio <= 0.80
        active = np.nonzero(active_mask(pcm, rate))[0] * 0.02
        assert active[0] >= 0.9 and ref.duration_s - active[-1] >= 0.9  # pauses at both ends


def test_several_talkers_at_both_rates() -> None:
    talkers = {CORPUS[n][0] for n in CORPUS}
    assert len(talkers) >= 4
    assert {native_rate(n) for n in CORPUS} == {8000, 16000}


def test_narrowband_material_is_not_offered_as_wideband(ref_dir: Path) -> None:
    with pytest.raises(MediaError, match="upsampling adds no band"):
        build("allison-a", ref_dir, 16000)


def test_the_codec_decides_the_band_and_the_pair(ref_dir: Path) -> None:
    assert band_for("G722") == band_for("g.722") == "wb"
    assert band_for("PCMU") == band_for("PCMA") == "nb"
    wb, nb = references_for("G722", ref_dir), references_for("PCMU", ref_dir)
    assert (wb["a"].name, wb["b"].name) == PAIRS["wb"] and wb["a"].rate == 16000
    assert (nb["a"].name, nb["b"].name) == PAIRS["nb"] and nb["a"].rate == 8000


def test_g722_ceiling_is_wideband_pesq_of_the_codec_alone(ref_dir: Path) -> None:
    ref = build("kal-a", ref_dir)
    pcm, rate = read_wav(ref.path)
    wb = codec_ceiling(str(ref.path), pcm, rate, "G722")
    assert wb is not None and 3.85 <= wb <= 4.05  # measured 3.946 (P.862.2)
    assert codec_ceiling(str(ref.path), pcm, rate, "PCMU") is None  # G.711 runs at 8 kHz
