"""Capture analysis speed: the harness's own single pass (pcap read, RTP statistics
and SIP ladder per call) against one `tshark -q -z rtp,streams` pass over the same
pcap. Prints both times, the ratio, and both tools' stream figures side by side.

    .venv/bin/python bench/capture_analysis.py [reports/<run>/capture.pcap]
"""

from __future__ import annotations

import re
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
    lines = [ln for ln in out.stdout.splitlines() if " 0x" in ln]
    return time.perf_counter() - t0, lines


def tshark_payload(pcap: Path) -> tuple[float, int]:
    """What wire PESQ needs from tshark: every RTP packet's SSRC, sequence, timestamp
    and payload as text (the harness reads them from the pcap directly)."""
    t0 = time.perf_counter()
    out = subprocess.run(["tshark", "-n", "-r", str(pcap), "-o", "rtp.heuristic_rtp:TRUE",
                          "-Y", "rtp", "-T", "fields", "-e", "rtp.ssrc", "-e", "rtp.seq",
                          "-e", "rtp.timestamp", "-e", "rtp.payload"],
                         capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, out.stdout.count("\n")


def main() -> None:
    if len(sys.argv) > 1:
        pcap = Path(sys.argv[1])
    else:
        pcap = Path("reports/latest/capture.pcap").resolve()
    own_s, n, stats = ours(pcap)
    ts_s, lines = tshark(pcap)
    tp_s, tp_n = tshark_payload(pcap)
    print(f"capture: {pcap} ({pcap.stat().st_size / 1e6:.1f} MB, {n} UDP packets, "
          f"{len(stats)} RTP streams)")
    print(f"harness single pass : {own_s:8.3f} s  ({n / own_s:,.0f} packets/s)")
    print(f"tshark -z rtp,streams: {ts_s:8.3f} s  ({n / ts_s:,.0f} packets/s)")
    print(f"tshark -T fields rtp.payload: {tp_s:6.3f} s  ({tp_n} RTP packets, what wire PESQ "
          "needs)")
    print(f"ratio tshark rtp,streams / harness: {ts_s / own_s:.2f}x; "
          f"tshark payload fields / harness: {tp_s / own_s:.2f}x")
    # stream by stream: the same packets, loss and RFC 3550 max jitter from both tools
    worst_jit, mismatched, compared, events = 0.0, 0, 0, 0
    for ln in lines:
        f = ln.split()
        key = (f"{f[2]}:{f[3]}", f"{f[4]}:{f[5]}", int(f[6], 16))
        if key not in stats:
            mismatched += 1
            continue
        pk, lost, jit = stats[key]
        m = re.search(r"(\d+)\s+(-?\d+) \([-\d.]+%\)((?:\s+[\d.]+){6})", ln)
        if m is None:
            mismatched += 1
            continue
        compared += 1
        if (pk, lost) != (int(m.group(1)), int(m.group(2))):
            mismatched += 1
        if "telephone-event" in ln:  # RFC 4733 events: tshark counts them in jitter,
            events += 1  # the harness does not (their timestamp is the event's start)
            continue
        worst_jit = max(worst_jit, abs(jit - float(m.group(3).split()[-1])))
    print(f"cross-check: {compared} streams in both, {mismatched} with other packet or loss "
          f"counts; max jitter differs by at most {worst_jit:.3f} ms on the "
          f"{compared - events} streams without RFC 4733 events ({events} with events left "
          "out: tshark counts the events in jitter, the harness does not)")


if __name__ == "__main__":
    main()
