"""G.722 codec speed (pure Python ADPCM loops + numpy QMF): CPU seconds to decode and
to encode 12 s of 16 kHz speech, the longest reference.

    .venv/bin/python bench/g722_speed.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from harness.media import g722
from harness.media.reference import build, read_wav


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ref = build("rms-b", Path(tmp))
        pcm, rate = read_wav(ref.path)
    for _ in range(3):
        t0 = time.process_time()
        coded = g722.encode(pcm)
        t1 = time.process_time()
        g722.decode(coded)
        t2 = time.process_time()
        print(f"{len(pcm) / rate:.2f} s of {rate} Hz speech: encode {t1 - t0:.3f} s, "
              f"decode {t2 - t1:.3f} s CPU")


if __name__ == "__main__":
    main()
