"""Reference speech: real recorded English prompts joined into PESQ test material.

Built from Debian's `asterisk-core-sounds-en-wav` (8 kHz, 16-bit recordings of a
human talker), never downloaded at run time. Each reference follows ITU-T P.862.3
advice: 8-12 s long, speech 40-80 % of it, silence at both ends, speech-active level
normalised to -26 dBov.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import EnvironmentMissing, MediaError

SOUNDS_DIRS = ("/usr/share/asterisk/sounds/en_US_f_Allison", "/usr/share/asterisk/sounds/en")
TARGET_DBOV = -26.0


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
CORPUS: dict[str, list[tuple[str, float]]] = {
    "allison-a": [("vm-newuser", 0.7), ("vm-sorry", 1.0)],
    "allison-b": [("queue-callswaiting", 0.6), ("dir-usingkeypad", 1.0)],
}


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
    import shutil
    import subprocess
    import tempfile

    sox = shutil.which("sox")
    if sox is None:
        raise EnvironmentMissing("sox", "sox")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "resampled.wav"
        done = subprocess.run([sox, str(path), "-r", str(rate), str(out), "rate", "-v"],
                              capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise MediaError(f"{path}: cannot resample {have} Hz -> {rate} Hz: "
                             f"{done.stderr.strip()}")
        return read_wav(out)[0]


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


def _sounds_dir() -> Path:
    for d in SOUNDS_DIRS:
        if Path(d).is_dir():
            return Path(d)
    raise EnvironmentMissing("asterisk prompts (/usr/share/asterisk/sounds)",
                             "asterisk-core-sounds-en-wav")


def build(name: str, out_dir: Path) -> Reference:
    """Build (or reuse) the reference `name` in `out_dir`."""
    if name not in CORPUS:
        raise MediaError(f"unknown reference {name!r} (known: {', '.join(CORPUS)})")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.wav"
    if not path.exists():
        src = _sounds_dir()
        rate = 8000
        parts = [np.zeros(rate, dtype=np.int16)]
        for prompt, pause in CORPUS[name]:
            pcm, r = read_wav(src / f"{prompt}.wav")
            if r != rate:
                raise MediaError(f"{src / prompt}.wav: expected {rate} Hz, got {r}")
            parts += [pcm, np.zeros(int(pause * rate), dtype=np.int16)]
        pcm = np.concatenate(parts).astype(np.float64)
        mask = np.repeat(active_mask(pcm.astype(np.int16), rate), rate // 50)
        active = pcm[: len(mask)][mask]
        level = 20 * np.log10(np.sqrt(np.mean((active / 32768.0) ** 2)) + 1e-12)
        pcm *= 10 ** ((TARGET_DBOV - level) / 20)
        tmp = path.with_suffix(".tmp")
        write_wav(tmp, pcm, rate)
        tmp.replace(path)
    pcm, rate = read_wav(path)
    ratio = float(active_mask(pcm, rate).mean())
    return Reference(name, path, rate, len(pcm) / rate, ratio)
