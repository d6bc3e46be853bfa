"""ITU-T G.711 µ-law and A-law codecs (table-driven, numpy).

Used to decode RTP payload captured on the wire and, in tests, to build streams
with known content. Decoding follows G.711 §2 / Tables 1a-2b.
"""

from __future__ import annotations

import numpy as np

from harness.errors import MediaError


def _ulaw_table() -> np.ndarray:
    out = np.zeros(256, dtype=np.int16)
    for i in range(256):
        u = ~i & 0xFF
        sign, exponent, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
        sample = ((mantissa << 3) + 0x84) << exponent
        sample -= 0x84
        out[i] = -sample if sign else sample
    return out


def _alaw_table() -> np.ndarray:
    out = np.zeros(256, dtype=np.int16)
    for i in range(256):
        a = i ^ 0x55
        sign, exponent, mantissa = a & 0x80, (a >> 4) & 0x07, a & 0x0F
        if exponent == 0:
            sample = (mantissa << 4) + 8
        else:
            sample = ((mantissa << 4) + 0x108) << (exponent - 1)
        out[i] = sample if sign else -sample
    return out


ULAW = _ulaw_table()
ALAW = _alaw_table()


def decode_payload(codec: str, payload: bytes) -> np.ndarray:
    idx = np.frombuffer(payload, dtype=np.uint8)
    if codec == "PCMU":
        return ULAW[idx]
    if codec == "PCMA":
        return ALAW[idx]
    raise MediaError(f"cannot decode {codec} payload on the wire (G.711 only)")


def encode_ulaw(pcm: np.ndarray) -> bytes:
    """G.711 µ-law encoder as the reference implementation does it (Sun g711.c, which
    pjmedia and sox both use): 14-bit magnitude, bias 33, segment + 4-bit mantissa,
    truncating. Its output is what a pjsua2 agent puts on the wire."""
    x = pcm.astype(np.int32) >> 2
    sign = np.where(x < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(x), 8159) + 33
    seg = np.zeros_like(mag)
    for i, edge in enumerate((0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)):
        seg = np.where((mag > edge) & (seg == i), i + 1, seg)
    code = np.where(seg >= 8, 0x7F, (seg << 4) | ((mag >> (seg + 1)) & 0x0F))
    return bytes((code ^ sign).astype(np.uint8))


def encode_alaw(pcm: np.ndarray) -> bytes:
    """G.711 A-law encoder (Sun g711.c: 13-bit magnitude, segments, XOR 0x55)."""
    x = pcm.astype(np.int32) >> 3
    mask = np.where(x >= 0, 0xD5, 0x55)
    mag = np.where(x >= 0, x, -x - 1)
    seg = np.zeros_like(mag)
    for i, edge in enumerate((0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)):
        seg = np.where((mag > edge) & (seg == i), i + 1, seg)
    mant = np.where(seg < 2, (mag >> 1) & 0x0F, (mag >> seg) & 0x0F)
    code = np.where(seg >= 8, 0x7F, (seg << 4) | mant)
    return bytes((code ^ mask).astype(np.uint8))
