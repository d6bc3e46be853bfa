"""Refusals read from the wire (harness/capture/sip.py `refusals`): what a far end of
the harness answered the switch with an error, and whose call that INVITE may have been
(harness/sip/attribution.py `may_be`, used by the runner). Fakes only for the SIP on
the wire (pure parsing)."""

from __future__ import annotations

from harness.capture.pcap import UdpPacket
from harness.capture.sip import refusals
from harness.sip.attribution import CallIdentity, IncomingInvite, may_be

SWITCH, LINE = ("127.0.0.1", 5060), ("127.0.0.1", 15924)
AT = f"{LINE[0]}:{LINE[1]}"
HEAD = ("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK{cseq}\r\n"
        "From: <sip:+14135550105@sbc.carrier>;tag=a1\r\nTo: <sip:4135550118@127.0.0.1>{tag}"
        "\r\nCall-ID: {cid}\r\nCSeq: {cseq} {method}\r\n")


def _request(ts: float, method: str, cid: str, cseq: int = 1) -> UdpPacket:
    head = HEAD.format(cseq=cseq, tag="", cid=cid, method=method)
    raw = (f"{method} sip:4135550118@127.0.0.1:15924 SIP/2.0\r\n{head}"
           "P-Asserted-Identity: <tel:+14135550105>\r\nContent-Length: 0\r\n\r\n")
    return UdpPacket(ts, *SWITCH, *LINE, raw.encode())


def _reply(ts: float, code: int, phrase: str, cid: str, cseq: int = 1) -> UdpPacket:
    head = HEAD.format(cseq=cseq, tag=";tag=b1", cid=cid, method="INVITE")
    raw = f"SIP/2.0 {code} {phrase}\r\n{head}Content-Length: 0\r\n\r\n"
    return UdpPacket(ts, *LINE, *SWITCH, raw.encode())


def test_a_487_to_an_invite_the_switch_cancelled_is_no_refusal() -> None:
    """The caller's call timed out and the switch CANCELled the ringing leg: the line's
    487 is what RFC 3261 §9.2 asks for, not the line refusing the call."""
    cancelled = [_request(1.0, "INVITE", "leg-1"), _request(9.0, "CANCEL", "leg-1"),
                 _reply(9.01, 487, "Request Terminated", "leg-1")]
    assert refusals(cancelled, {AT}, 0.0) == []
    unasked = [_request(1.0, "INVITE", "leg-2"), _reply(1.01, 487, "Request Terminated",
                                                         "leg-2")]
    assert [r.code for r in refusals(unasked, {AT}, 0.0)] == [487]


def test_a_refusal_keeps_who_its_invite_said_it_was_from_and_for() -> None:
    found = refusals([_request(1.0, "INVITE", "leg-3"), _reply(1.01, 486, "Busy Here",
                                                                "leg-3")], {AT}, 0.0)
    assert len(found) == 1 and found[0].invite is not None
    invite = found[0].invite
    assert invite.from_ == "<sip:+14135550105@sbc.carrier>;tag=a1"
    assert invite.to == "<sip:4135550118@127.0.0.1>"
    assert invite.asserted == ("<tel:+14135550105>",)
    # read as a far end would: site2/07's INVITE from site1/05, a busy row beside a
    # pickup row (caller site2/05, ringing site3/06): not the pickup row's
    seen = IncomingInvite("site2/07", invite.call_id, invite.phrase, invite.from_,
                          invite.to, invite.asserted, "", 0.0, invite.ts)
    pickup = CallIdentity(("+14135550116",), ("site3/06",), "413")
    busy = CallIdentity(("+14135550105",), ("site2/07",), "413")
    assert not may_be(seen, pickup) and may_be(seen, busy)
