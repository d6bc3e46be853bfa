import numpy as np

from harness.media.g711 import ALAW, ULAW, decode_payload, encode_alaw, encode_ulaw


def test_decode_tables_match_g711() -> None:
    # G.711 Table 2a/2b extremes and zero codes
    assert ULAW[0xFF] == 0 and ULAW[0x7F] == 0
    assert ULAW[0x00] == -32124 and ULAW[0x80] == 32124
    assert ALAW[0xD5] == 8 and ALAW[0x55] == -8
    assert ALAW[0xAA] == 32256 and ALAW[0x2A] == -32256


def test_round_trip_error_is_within_half_a_step() -> None:
    x = np.arange(-32768, 32767, 3).astype(np.int16)
    for codec, enc in (("PCMU", encode_ulaw), ("PCMA", encode_alaw)):
        y = decode_payload(codec, enc(x)).astype(int)
        rel = np.abs(y - x.astype(int)) / (np.abs(x.astype(int)) + 64)
        assert rel.max() < 0.11, codec


def test_encoders_are_idempotent_on_their_own_output() -> None:
    codes = bytes(range(256))
    for codec, enc in (("PCMU", encode_ulaw), ("PCMA", encode_alaw)):
        pcm = decode_payload(codec, codes)
        assert np.array_equal(decode_payload(codec, enc(pcm)), pcm), codec
