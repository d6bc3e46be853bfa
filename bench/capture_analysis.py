"""Capture analysis speed: the harness's own single pass (pcap read, RTP statistics
and SIP ladder per call) against one `tshark -q -z rtp,streams` pass over the same
pcap. Prints both times, the ratio, and both tools' stream figures side by side.

    .venv/bin/python bench/capture_analysis.py [reports/<run>/capture.pcap]
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from harness.capture.pcap import read_udp
from harness.capture.rtp import parse_rtp, stream_stats
from harness.capture.sip import call_ladder, parse_sip


def ours(pcap: Path) -> tuple[float, int, dict[tuple[str, str, int], tuple[int, int, float]]]:
    t0 = time.perf_counter()
    packets, _ = read_udp(pcap)
    by_stream: dict[tuple[str, str, int], list] = {}  # type: ignore[type-arg]
    call_ids = set()
    for p in packets:
        r = parse_rtp(p)
        if r is not None:
            by_stream.setdefault((r.src, r.dst, r.ssrc), []).append(r)
        else:
            m = parse_sip(p)
            if m is not None and m.method == "INVITE":
                call_ids.add(m.call_id)
    stats = {}
    for key, rtp in by_stream.items():
        st = stream_stats(rtp)
        if st is not None:
            stats[key] = (st.packets, st.lost, st.max_jitter_ms)
    for cid in call_ids:
        call_ladder(packets, cid)
    return time.perf_counter() - t0, len(packets), stats


def tshark(pcap: Path) -> tuple[float, list[str]]:
    t0 = time.perf_counter()
    out = subprocess.run(["tshark", "-n", "-q", "-r", str(pcap), "-o", "rtp.heuristic_rtp:TRUE",
                          "-z", "rtp,streams"], capture_output=True, text=True, check=True)
    lines = [ln for ln in out.stdout.splitlines() if ln.strip().startswith(("127.", "Src"))
             or "ITU-T" in ln]
    return time.perf_counter() - t0, lines


def main() -> None:
    if len(sys.argv) > 1:
        pcap = Path(sys.argv[1])
    else:
        pcap = Path("reports/latest/capture.pcap").resolve()
    own_s, n, stats = ours(pcap)
    ts_s, lines = tshark(pcap)
    print(f"capture: {pcap} ({pcap.stat().st_size / 1e6:.1f} MB, {n} UDP packets, "
          f"{len(stats)} RTP streams)")
    print(f"harness single pass : {own_s:8.3f} s  ({n / own_s:,.0f} packets/s)")
    print(f"tshark -z rtp,streams: {ts_s:8.3f} s  ({n / ts_s:,.0f} packets/s)")
    print(f"ratio tshark / harness: {ts_s / own_s:.1f}x")
    print("harness streams (src -> dst ssrc: packets lost max-jitter-ms):")
    for (src, dst, ssrc), (pk, lost, jit) in sorted(stats.items()):
        print(f"  {src} -> {dst} 0x{ssrc:08X}: {pk} {lost} {jit:.3f}")
    print("tshark streams:")
    for ln in lines:
        print("  " + ln.strip())


if __name__ == "__main__":
    main()
