import struct
from pathlib import Path

import numpy as np
import pytest

from harness.capture.dumpcap import Capture
from harness.capture.pcap import UdpPacket, read_udp
from harness.capture.rtp import decode_stream, rtp_toward, stream_stats
from harness.errors import CaptureError
from harness.media.g711 import encode_ulaw


def _rtp(seq: int, ts: int, payload: bytes, ssrc: int = 0x1234, pt: int = 0) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq, ts, ssrc) + payload


def _stream(n: int, lose: set[int], jitter_s: dict[int, float] | None = None,
            t0: float = 1_700_000_000.0) -> tuple[list[UdpPacket], np.ndarray]:
    pcm = (np.sin(np.arange(n * 160) / 7.0) * 8000).astype(np.int16)
    pkts = []
    for i in range(n):
        if i in lose:
            continue
        arrival = t0 + i * 0.02 + (jitter_s or {}).get(i, 0.0)
        payload = encode_ulaw(pcm[i * 160:(i + 1) * 160])
        pkts.append(UdpPacket(arrival, "127.0.0.1", 20000, "127.0.0.1", 40010,
                              _rtp(1000 + i, 5000 + 160 * i, payload)))
    return pkts, pcm


def test_pcap_round_trip_and_incremental_read(tmp_path: Path) -> None:
    pkts, _ = _stream(50, set())
    cap = Capture(tmp_path / "c.pcap", "lo", "udp")
    cap.write_slice(pkts, tmp_path / "c.pcap")
    back, offset = read_udp(tmp_path / "c.pcap")
    assert len(back) == 50
    assert back[3].payload == pkts[3].payload and back[3].dst_addr == "127.0.0.1:40010"
    assert abs(back[3].ts - pkts[3].ts) < 2e-6
    again, offset2 = read_udp(tmp_path / "c.pcap", offset)
    assert again == [] and offset2 == offset


def test_truncated_record_is_left_for_the_next_read(tmp_path: Path) -> None:
    pkts, _ = _stream(5, set())
    path = tmp_path / "c.pcap"
    Capture(path, "lo", "udp").write_slice(pkts, path)
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    got, offset = read_udp(path)
    assert len(got) == 4
    path.write_bytes(data)
    rest, _ = read_udp(path, offset)
    assert len(rest) == 1


def test_not_a_pcap_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.pcap"
    bad.write_bytes(b"hello world, this is no capture at all")
    with pytest.raises(CaptureError, match="not a pcap file"):
        read_udp(bad)


def test_loss_and_jitter_rfc3550() -> None:
    pkts, _ = _stream(200, lose={10, 11, 50})
    st = stream_stats(rtp_toward(pkts, "127.0.0.1:40010"))
    assert st is not None
    assert (st.expected, st.packets, st.lost) == (200, 197, 3)
    assert st.loss_pct == pytest.approx(1.5)
    assert st.jitter_ms == pytest.approx(0.0, abs=1e-6)
    # one packet 10 ms late: |D| = 80 samples, then 80 again as the next is on time.
    # J = 80/16 = 5, then 5 + (80 - 5)/16 = 9.6875 samples = 1.211 ms at 8 kHz
    pkts, _ = _stream(200, set(), jitter_s={100: 0.010})
    st = stream_stats(rtp_toward(pkts, "127.0.0.1:40010"))
    assert st is not None and st.max_jitter_ms == pytest.approx(9.6875 / 8, rel=1e-3)


def test_decode_places_samples_by_timestamp_even_if_reordered() -> None:
    pkts, pcm = _stream(20, lose={7})
    pkts[3], pkts[4] = pkts[4], pkts[3]  # reordered on the wire
    out, codec, rate = decode_stream(rtp_toward(pkts, "127.0.0.1:40010"))
    assert (codec, rate, len(out)) == ("PCMU", 8000, 20 * 160)
    assert np.all(out[7 * 160: 8 * 160] == 0)  # the lost packet is silence, in place
    ref = pcm.astype(int)
    good = np.r_[0:7 * 160, 8 * 160:20 * 160]
    err = np.abs(out[good].astype(int) - ref[good]) / (np.abs(ref[good]) + 64)
    assert err.max() < 0.11
