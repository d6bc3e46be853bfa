"""A switch's T.38 offers to the harness's fax terminals (harness/capture/sip.py,
harness/run/runner.py `judge_refusal`, `CallRunner.t38_refused`).

The harness's fax terminals are G.711 pass-through terminals: pjsua2 refuses an
m=image stream (488, measured: docs/external-switch.md, fax). A switch may carry fax
as T.38, so:
  * an INVITE that offers a fax row's terminal T.38 alone cannot be answered: the row
    is not measured, the harness's error, never the switch's fail;
  * the same offer to a voice line is the switch's fail, named;
  * a T.38 re-INVITE the terminal refused leaves the call as it was (RFC 3261 §14.1):
    the page is still judged, and a failure names the refused offer.
Fakes only for the SIP on the wire (pure parsing and judging)."""

from __future__ import annotations

from harness.capture.pcap import UdpPacket
from harness.capture.sip import (
    Refusal,
    SipMessage,
    parse_sip,
    refusals,
    sdp_media,
    t38_only,
    t38_stream,
)
from harness.model import CallSpec, CallTiming, Expect, Status
from harness.run.runner import judge_refusal, t38_reinvites_refused
from harness.verdict.checks import Outcome
from harness.verdict.metrics import decide
from harness.verdict.thresholds import RowLimits

SWITCH, FAX = ("127.0.0.1", 5060), ("127.0.0.1", 15924)

T38_SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           "m=image 27650 udptl t38\r\na=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\n")
AUDIO_SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
             "m=audio 14510 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n")
BOTH_SDP = AUDIO_SDP + "m=image 27652 udptl t38\r\n"

FAX_ROW = CallSpec("7.13", "fax G3 over G.711 (T.30)", "site6/12", "site7/06", fax=True,
                   expect=Expect(mos_lqo_min=None, rings="site7/06"))
VOICE_ROW = CallSpec("1.1", "on-net", "site1/01", "site2/02", expect=Expect(mos_lqo_min=None))


def _invite(ts: float, sdp: str, to_tag: str = "", cseq: int = 1) -> UdpPacket:
    to = "<sip:4135550177@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    raw = (f"INVITE sip:4135550177@127.0.0.1:15924 SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK{ts}\r\n"
           f"From: <sip:4135550172@beta.test>;tag=a1\r\nTo: {to}\r\nCall-ID: b-leg\r\n"
           f"CSeq: {cseq} INVITE\r\nContent-Type: application/sdp\r\n"
           f"Content-Length: {len(sdp)}\r\n\r\n{sdp}")
    return UdpPacket(ts, *SWITCH, *FAX, raw.encode())


def _reply(ts: float, code: int, phrase: str, cseq: int = 1) -> UdpPacket:
    raw = (f"SIP/2.0 {code} {phrase}\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n"
           f"From: <sip:4135550172@beta.test>;tag=a1\r\nTo: <sip:4135550177@127.0.0.1>;tag=b1"
           f"\r\nCall-ID: b-leg\r\nCSeq: {cseq} INVITE\r\nContent-Length: 0\r\n\r\n")
    return UdpPacket(ts, *FAX, *SWITCH, raw.encode())


def test_the_media_lines_of_an_offer_are_read_and_t38_found() -> None:
    m = parse_sip(_invite(1.0, T38_SDP))
    assert m is not None and m.media == ("image 27650 udptl t38",)
    assert t38_stream(m.media) == t38_only(m.media) == "image 27650 udptl t38"
    both = sdp_media(BOTH_SDP)
    assert both == ("audio 14510 RTP/AVP 0 101", "image 27652 udptl t38")
    assert t38_stream(both) == "image 27652 udptl t38" and t38_only(both) == ""
    # a stream at port 0 is rejected or disabled (RFC 3264 §6): no T.38 is offered,
    # and an audio stream at port 0 does not keep an offer from being T.38 only
    assert t38_stream(("audio 14510 RTP/AVP 0", "image 0 udptl t38")) == ""
    assert t38_only(("audio 0 RTP/AVP 0", "image 27650 udptl t38")) == "image 27650 udptl t38"
    assert t38_stream(("image 27650 udptl jpeg",)) == ""
    assert sdp_media("no sdp") == () and t38_only(sdp_media(AUDIO_SDP)) == ""


def test_a_refused_initial_invite_and_a_refused_reinvite_are_told_apart() -> None:
    packets = [_invite(10.0, T38_SDP), _reply(10.01, 488, "Not Acceptable Here"),
               _invite(20.0, T38_SDP, to_tag="b1", cseq=2),
               _reply(20.01, 488, "Not Acceptable Here", cseq=2)]
    found = refusals(packets, {f"{FAX[0]}:{FAX[1]}"}, 0.0)
    assert [(r.code, r.reinvite, r.ts) for r in found] == [(488, False, 10.01),
                                                           (488, True, 20.01)]
    assert all(r.offered == ("image 27650 udptl t38",) for r in found)
    # the fax check names the re-INVITE (the call went on: the page is still judged),
    # not the initial INVITE (that one is the row's final code)
    assert t38_reinvites_refused(found, 5.0) == [
        "the switch re-INVITEd to T.38 (m=image 27650 udptl t38) 15.0 s into the call, "
        "refused 488 by the harness's G.711 fax terminal: the call must go on unchanged "
        "on G.711 (RFC 3261 §14.1)"]
    # a refused re-INVITE that offered no T.38 (a hold, say) is not named
    hold = refusals([_invite(30.0, AUDIO_SDP, to_tag="b1", cseq=3),
                     _reply(30.01, 488, "Not Acceptable Here", cseq=3)],
                    {f"{FAX[0]}:{FAX[1]}"}, 0.0)
    assert [r.reinvite for r in hold] == [True] and t38_reinvites_refused(hold, 0.0) == []


def _refusal(media: tuple[str, ...], pts: tuple[int, ...] | None = ()) -> Refusal:
    invite = SipMessage(0.0, "127.0.0.1:5060", "127.0.0.1:15924", "INVITE", None, "b-leg", 1,
                        "z9hG4bK1", "sip:4135550177@127.0.0.1:15924", audio_pts=pts,
                        media=media)
    return Refusal("127.0.0.1:15924", 488, "Not Acceptable Here", "", 0.0, invite)


def test_t38_alone_offered_to_a_fax_terminal_is_the_harness_error_not_measured() -> None:
    judged = judge_refusal(FAX_ROW, _refusal(("image 27650 udptl t38",)), "site7/06")
    assert judged.outcome is Outcome.ERROR
    assert "the switch offered site7/06's fax terminal T.38 only (m=image 27650 udptl t38" \
           in judged.why and "not measured" in judged.why
    verdict = decide(FAX_ROW.expect, RowLimits(), 488, _timing(), (), None,
                     refused=judged.why, refused_outcome=judged.outcome)
    assert verdict.status is Status.ERROR, verdict.reasons
    assert verdict.reasons[0].startswith("final_code: expected 200, got 488: the switch "
                                         "offered site7/06's fax terminal T.38 only")


def test_t38_alone_offered_to_a_voice_line_is_the_switch_fail_named() -> None:
    judged = judge_refusal(VOICE_ROW, _refusal(("image 27650 udptl t38",)), "site2/02")
    assert judged.outcome is Outcome.FAIL
    assert judged.why == ("site2/02 answered 488 Not Acceptable Here — the offer it "
                          "received was T.38 only (m=image 27650 udptl t38), no audio, on "
                          "a voice call")
    verdict = decide(VOICE_ROW.expect, RowLimits(), 488, _timing(), (), None,
                     refused=judged.why, refused_outcome=judged.outcome)
    assert verdict.status is Status.FAIL, verdict.reasons


def test_a_fax_offer_with_audio_beside_t38_refused_is_the_switch_fail() -> None:
    """Audio was offered too: the terminal could have taken it; its refusal is about
    the audio (here the codec the caller offered was removed), the switch's."""
    judged = judge_refusal(FAX_ROW, _refusal(("audio 14510 RTP/AVP 8", "image 27652 udptl t38"),
                                             pts=(8,)), "site7/06")
    assert judged.outcome is Outcome.FAIL
    assert "carried payload types 8, not PCMU (PT 0)" in judged.why


def _timing() -> CallTiming:
    return CallTiming(None, None, None, None)
