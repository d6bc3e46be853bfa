"""The SIP ladder drawn from a call's agent events."""

import re
import xml.etree.ElementTree as ET

from harness.report.ladder import ladder_svg, steps
from harness.report.store import RunRecord

SVG = "{http://www.w3.org/2000/svg}"


def test_every_event_of_a_real_call_is_one_step_of_the_ladder(report_run: RunRecord) -> None:
    events = report_run.calls[0]["events"]
    svg = ET.fromstring(str(ladder_svg(events, "site1/01", "site2/01")))
    groups = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "step"]
    assert [(g.get("data-party"), g.get("data-kind"), g.get("data-code")) for g in groups] == \
        [(e["party"], e["kind"], str(e["code"] or "")) for e in events]
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    for column in ("A · site1/01", "switch", "B · site2/01"):
        assert column in labels
    # the caller's INVITE, the ringing, the answer, its ACK, the BYE and its 200
    flow = [(s.party, s.label, s.towards) for s in steps(events) if s.towards]
    assert flow[:3] == [("a", "INVITE", "switch"), ("b", "INVITE", "b"),
                        ("b", "180 Ringing", "switch")]
    assert ("a", "180 Ringing", "a") in flow and ("a", "200 OK", "a") in flow
    assert ("a", "ACK", "switch") in flow and ("b", "ACK", "b") in flow
    assert flow[-3:] == [("a", "BYE", "switch"), ("a", "200 OK (BYE)", "a"), ("b", "BYE", "b")]


def test_offsets_are_from_the_first_event(report_run: RunRecord) -> None:
    events = report_run.calls[0]["events"]
    text = str(ladder_svg(events))
    srd_ms = (events[6]["t_mono"] - events[0]["t_mono"]) * 1000  # the caller's 180
    assert f"+{srd_ms:.1f} ms" in text
    assert re.search(r"\+14\.34\d s", text)  # the BYE, 14.3 s after dialling


def test_a_rejected_call_shows_the_final_response_to_the_caller() -> None:
    events = [{"party": "a", "kind": "INVITE_SENT", "t_mono": 1.0, "code": None},
              {"party": "b", "kind": "INCOMING", "t_mono": 1.01, "code": None},
              {"party": "b", "kind": "ANSWER_SENT", "t_mono": 1.02, "code": 486},
              {"party": "a", "kind": "DISCONNECTED", "t_mono": 1.03, "code": 486},
              {"party": "b", "kind": "DISCONNECTED", "t_mono": 1.04, "code": 486}]
    flow = [(s.party, s.label, s.towards) for s in steps(events)]
    assert flow[2] == ("b", "486 Busy Here", "switch")
    assert flow[3] == ("a", "486 Busy Here", "a")
    assert flow[4] == ("b", "ended 486", None)
    assert "no SIP events" in str(ladder_svg([]))


def _msg(ts: float, src: str, dst: str, method: str, code: int | None = None,
         branch: str = "z9hG4bK1", text: str = "") -> dict[str, object]:
    return {"ts": ts, "src": src, "dst": dst, "method": method, "code": code,
            "call_id": "c1", "cseq": 1, "branch": branch, "text": text}


WIRE = {"caller": "127.0.0.1:5001", "switch": "127.0.0.1:5060", "messages": [
    _msg(0.000, "127.0.0.1:5001", "127.0.0.1:5060", "INVITE", text="INVITE sip:x SIP/2.0"),
    _msg(0.500, "127.0.0.1:5001", "127.0.0.1:5060", "INVITE", text="INVITE sip:x SIP/2.0"),
    _msg(0.510, "127.0.0.1:5060", "127.0.0.1:5002", "INVITE", branch="z9hG4bK2"),
    _msg(0.520, "127.0.0.1:5060", "127.0.0.1:5001", "INVITE", code=180),
]}


def test_each_captured_arrow_links_to_its_message_and_a_retransmission_is_marked() -> None:
    svg = str(ladder_svg([], "site1/01", "site2/01", WIRE))
    assert all(f'href="#sip-{i}"' in svg for i in range(4))
    assert svg.count("retransmission") == 1  # the second INVITE, same branch and CSeq
    ET.fromstring(svg)  # still well-formed


def test_the_call_page_lists_each_message_text_under_its_anchor() -> None:
    from harness.report.render import sip_messages

    msgs = sip_messages(WIRE)
    assert [m["n"] for m in msgs] == [0, 1, 2, 3]
    assert msgs[0]["text"] == "INVITE sip:x SIP/2.0" and msgs[3]["label"] == "180 (INVITE)"
    assert round(msgs[1]["offset"], 3) == 0.5
    assert sip_messages(None) == []
