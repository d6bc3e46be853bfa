"""Reference speech: a small multi-talker corpus joined into PESQ test material.

Built on the machine from Debian packages, never downloaded at run time:

* narrowband (8 kHz): real recorded English prompts of one human talker ("allison")
  from `asterisk-core-sounds-en-wav`;
* wideband (16 kHz): three talkers of `flite` (CMU voices: `kal16` male diphone,
  `rms` male and `slt` female unit selection, both concatenating real 16 kHz
  recordings of the CMU ARCTIC talkers) reading IEEE "Harvard" sentences (IEEE
  Recommended Practice for Speech Quality Measurements, 1969). Their 8 kHz versions
  are the same audio resampled (sox, very high quality); an 8 kHz talker is never
  offered at 16 kHz (upsampling adds no band).

Each reference follows ITU-T P.862.3 advice: 8-12 s long, speech 40-80 % of it,
silence at both ends and between sentences, speech-active level normalised to
-26 dBov. Which pair of references a call plays depends on its codec's band
(`references_for`).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import EnvironmentMissing, MediaError

SOUNDS_DIRS = ("/usr/share/asterisk/sounds/en_US_f_Allison", "/usr/share/asterisk/sounds/en")
TARGET_DBOV = -26.0
LEAD_S = 1.0  # silence before the first utterance (P.862.3)


@dataclass(frozen=True, slots=True)
class Reference:
    name: str
    path: Path
    rate: int
    duration_s: float
    speech_ratio: float


# (name, [(prompt, pause after in s)]); leading silence 1.0 s for every reference.
# Material selection: G.711 itself costs PESQ 0.1-0.8 depending on the material (the
# median over the package's prompts, encoded by the reference G.711 encoder, is
# 4.14). These prompts keep the codec-only score ("ceiling") high, so that a
# threshold near 4.2 judges the path rather than the material; every score is stored
# beside its reference's ceiling (see `codec_ceiling`).
#
# Each entry: (source, [(prompt file or sentence, pause after in s)]). Source
# "asterisk" is the 8 kHz prompt package; "flite:<voice>" synthesises at 16 kHz.
# The wideband talkers' sentences were chosen, like the prompts, for a high G.722
# ceiling (docs/media.md has the measured figures).
CORPUS: dict[str, tuple[str, list[tuple[str, float]]]] = {
    "allison-a": ("asterisk", [("vm-newuser", 0.7), ("vm-sorry", 1.0)]),
    "allison-b": ("asterisk", [("queue-callswaiting", 0.6), ("dir-usingkeypad", 1.0)]),
    "allison-c": ("asterisk", [("vm-repeat", 0.7), ("queue-quantity2", 1.0)]),
    "kal-a": ("flite:kal16", [("These days a chicken leg is a rare dish.", 0.8),
                              ("Rice is often served in round bowls.", 0.8),
                              ("The juice of lemons makes fine punch.", 1.0)]),
    "rms-b": ("flite:rms", [("The box was thrown beside the parked truck.", 0.8),
                            ("Four hours of steady work faced us.", 0.8),
                            ("A large size in stockings is hard to sell.", 1.0)]),
    "slt-c": ("flite:slt", [("The hogs were fed chopped corn and garbage.", 0.8),
                            ("Four hours of steady work faced us.", 0.8),
                            ("A large size in stockings is hard to sell.", 1.0)]),
}
NATIVE_RATE = {"asterisk": 8000, "flite": 16000}
# the pair of references a call plays (caller's "a", called party's "b"), per band
# (narrowband: a human talker one way, a synthetic one the other, both with a G.711
# ceiling above 4.3; docs/media.md has how they were chosen)
PAIRS = {"nb": ("allison-c", "kal-a"), "wb": ("kal-a", "rms-b")}
WIDEBAND_CODECS = frozenset({"G722"})
# a third party's reference (3-way call, transfer target): another talker, so that
# each party's speech can be told apart in what the others heard
THIRD = {"nb": "slt-c", "wb": "slt-c"}


def band_for(codec: str) -> str:
    """"wb" (PESQ P.862.2, 16 kHz) for a wideband codec, else "nb" (P.862.1, 8 kHz)."""
    return "wb" if codec.strip().upper().replace(".", "") in WIDEBAND_CODECS else "nb"


def rate_for(band: str) -> int:
    return 16000 if band == "wb" else 8000


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                raise MediaError(f"{path}: expected 16-bit mono PCM, got "
                                 f"{w.getsampwidth() * 8}-bit x{w.getnchannels()}")
            frames = w.readframes(w.getnframes())
            return np.frombuffer(frames, dtype="<i2").copy(), w.getframerate()
    except (wave.Error, EOFError) as exc:
        raise MediaError(f"{path}: not a readable WAV file: {exc}") from exc
    except FileNotFoundError as exc:
        raise MediaError(f"{path}: WAV file missing") from exc


def read_wav_at(path: Path, rate: int) -> np.ndarray:
    """A WAV's samples at `rate`: resampled with sox (very high quality) when the file
    is at another rate, e.g. an agent recording made by a 16 kHz conference bridge
    scored against an 8 kHz reference."""
    pcm, have = read_wav(path)
    if have == rate:
        return pcm
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "resampled.wav"
        _sox(path, out, rate)
        return read_wav(out)[0]


def resample(pcm: np.ndarray, have: int, rate: int) -> np.ndarray:
    """`pcm` at `have` Hz -> `rate` Hz (sox, very high quality); e.g. narrowband wire
    audio (a wrong codec) scored against a wideband reference."""
    if have == rate or len(pcm) == 0:
        return pcm
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        write_wav(src, pcm, have)
        _sox(src, out, rate)
        return read_wav(out)[0]


def _sox(src: Path, out: Path, rate: int) -> None:
    sox = shutil.which("sox")
    if sox is None:
        raise EnvironmentMissing("sox", "sox")
    done = subprocess.run([sox, str(src), "-r", str(rate), str(out), "rate", "-v"],
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise MediaError(f"{src}: cannot resample to {rate} Hz: {done.stderr.strip()}")


def write_wav(path: Path, pcm: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.clip(pcm, -32768, 32767).astype("<i2").tobytes())


def active_mask(pcm: np.ndarray, rate: int, floor_dbov: float = -45.0) -> np.ndarray:
    """Per-20 ms-frame speech activity (energy above a floor): a simple P.56 stand-in."""
    frame = rate // 50
    n = len(pcm) // frame
    if n == 0:
        return np.zeros(0, dtype=bool)
    x = pcm[: n * frame].astype(np.float64).reshape(n, frame) / 32768.0
    rms = np.sqrt(np.mean(x * x, axis=1)) + 1e-12
    mask: np.ndarray = 20 * np.log10(rms) > floor_dbov
    return mask


def announcement() -> Path | None:
    """A recorded intercept announcement ("the number you have dialled is not in
    service"), for a vacant PSTN number's early media; None where it is not installed."""
    for d in SOUNDS_DIRS:
        path = Path(d) / "ss-noservice.wav"
        if path.is_file():
            return path
    return None


def _sounds_dir() -> Path:
    for d in SOUNDS_DIRS:
        if Path(d).is_dir():
            return Path(d)
    raise EnvironmentMissing("asterisk prompts (/usr/share/asterisk/sounds)",
                             "asterisk-core-sounds-en-wav")


def _flite(voice: str, text: str, out: Path) -> np.ndarray:
    """One sentence from flite at 16 kHz, trimmed to its speech (+10/20 ms)."""
    flite = shutil.which("flite")
    if flite is None:
        raise EnvironmentMissing("flite", "flite")
    done = subprocess.run([flite, "-voice", voice, "-t", text, "-o", str(out)],
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise MediaError(f"flite -voice {voice}: {done.stderr.strip() or done.returncode}")
    pcm, rate = read_wav(out)
    if rate != 16000:
        raise MediaError(f"flite -voice {voice}: expected 16000 Hz, got {rate}")
    active = np.nonzero(np.repeat(active_mask(pcm, rate, -50.0), rate // 50))[0]
    if len(active) == 0:
        raise MediaError(f"flite -voice {voice}: no speech for {text!r}")
    return pcm[max(0, int(active[0]) - rate // 100): int(active[-1]) + rate // 50 + 1]


def _utterances(name: str, work: Path) -> tuple[np.ndarray, int]:
    """The reference `name` at its native rate, before level normalisation."""
    source, items = CORPUS[name]
    kind, _, voice = source.partition(":")
    rate = NATIVE_RATE[kind]
    parts = [np.zeros(int(LEAD_S * rate), dtype=np.int16)]
    for i, (item, pause) in enumerate(items):
        if kind == "asterisk":
            src = _sounds_dir() / f"{item}.wav"
            pcm, r = read_wav(src)
            if r != rate:
                raise MediaError(f"{src}: expected {rate} Hz, got {r}")
        else:
            pcm = _flite(voice, item, work / f"{name}.{i}.wav")
        parts += [pcm, np.zeros(int(pause * rate), dtype=np.int16)]
    return np.concatenate(parts), rate


def _normalise(pcm: np.ndarray, rate: int) -> np.ndarray:
    """Speech-active level to TARGET_DBOV (20 ms frames above the activity floor)."""
    x = pcm.astype(np.float64)
    mask = np.repeat(active_mask(pcm, rate), rate // 50)
    active = x[: len(mask)][mask]
    level = 20 * np.log10(np.sqrt(np.mean((active / 32768.0) ** 2)) + 1e-12)
    out: np.ndarray = x * 10 ** ((TARGET_DBOV - level) / 20)
    return out


def native_rate(name: str) -> int:
    if name not in CORPUS:
        raise MediaError(f"unknown reference {name!r} (known: {', '.join(CORPUS)})")
    return NATIVE_RATE[CORPUS[name][0].partition(":")[0]]


def build(name: str, out_dir: Path, rate: int | None = None) -> Reference:
    """Build (or reuse) the reference `name` in `out_dir`, at `rate` (default: the
    talker's native rate; a 16 kHz talker may be asked for at 8 kHz, not the reverse)."""
    native = native_rate(name)
    rate = native if rate is None else rate
    if rate > native:
        raise MediaError(f"reference {name!r} is {native} Hz material: not offered at "
                         f"{rate} Hz (upsampling adds no band)")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / (f"{name}.wav" if rate == native else f"{name}-{rate // 1000}k.wav")
    if not path.exists():
        with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
            pcm, have = _utterances(name, Path(tmp))
            pcm = resample(pcm, have, rate)
            tmp_wav = Path(tmp) / "ref.wav"
            write_wav(tmp_wav, _normalise(pcm, rate), rate)
            tmp_wav.replace(path)
    pcm, have = read_wav(path)
    ratio = float(active_mask(pcm, have).mean())
    return Reference(name, path, have, len(pcm) / have, ratio)


def references_for(codec: str, out_dir: Path) -> dict[str, Reference]:
    """The caller's ("a") and the called party's ("b") references for a call in
    `codec`: wideband talkers at 16 kHz for G.722, narrowband at 8 kHz otherwise."""
    band = band_for(codec)
    a, b = PAIRS[band]
    rate = rate_for(band)
    return {"a": build(a, out_dir, rate), "b": build(b, out_dir, rate)}


def third_for(codec: str, out_dir: Path) -> Reference:
    """The third party's reference ("c") for a call in `codec`, built on first use."""
    band = band_for(codec)
    return build(THIRD[band], out_dir, rate_for(band))
