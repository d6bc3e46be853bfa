"""pyshark (over tshark) reads the same SIP ladder as the harness's own fast parser."""

from pathlib import Path

import pytest

from harness.capture.pcap import read_udp
from harness.capture.sip import parse_sip

pytestmark = pytest.mark.integration
PCAP = Path(__file__).parent.parent / "data" / "onnet_call_sip.pcap"


def test_pyshark_and_the_fast_parser_agree() -> None:
    pyshark = pytest.importorskip("pyshark")
    ours = [m for m in map(parse_sip, read_udp(PCAP)[0]) if m is not None]
    cap = pyshark.FileCapture(str(PCAP), display_filter="sip", keep_packets=False,
                              decode_as={"udp.port==48987": "sip"})
    theirs = []
    try:
        for pkt in cap:
            sip = pkt.sip
            code = int(sip.status_code) if hasattr(sip, "status_code") else None
            method = sip.method if hasattr(sip, "method") else sip.cseq_method
            theirs.append((float(pkt.sniff_timestamp), code, method, sip.call_id,
                           f"{pkt.ip.src}:{pkt.udp.srcport}"))
    finally:
        cap.close()
    mine = [(m.ts, m.code, m.method, m.call_id, m.src) for m in ours]
    assert len(theirs) == len(mine) > 10
    for (t1, *rest1), (t2, *rest2) in zip(theirs, mine, strict=True):
        assert rest1 == rest2
        assert t1 == pytest.approx(t2, abs=1e-6)
