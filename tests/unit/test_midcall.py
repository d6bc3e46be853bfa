"""Attended transfer and 3-way calls, the pure half: how the legs of the three dialogs
are put together, what the checks say about them, and the talker detector (fakes of
the legs, synthesised G.711 audio; the real calls are in tests/integration)."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from harness.capture.pcap import UdpPacket
from harness.media import reference
from harness.media.conference import conference_paths
from harness.media.g711 import decode_payload, encode_ulaw
from harness.media.heard import HEARD_MIN, match
from harness.model import CallSpec, Expect, SipEvent
from harness.run.runner import ledger
from harness.sip.scenario import FarEndPolicy, LegOutcome, StreamSnapshot, assemble
from harness.verdict.call_types import call_type_checks
from harness.verdict.checks import reasons


def _ev(party: str, kind: str, t: float, code: int | None = None) -> SipEvent:
    return SipEvent(party, kind, t, 1000.0 + t, code)


def _leg(party: str, name: str, call_id: str, kinds: list[tuple[str, float, int | None]],
         final: int | None = 200, request: tuple[tuple[str, str], ...] = (),
         local_rtp: str = "") -> LegOutcome:
    stats = StreamSnapshot("PCMU", local_rtp, "", 0, 0, 0, 0.0, 0.0, 0, 0.0, 0.0, 0, 0, 0) \
        if local_rtp else None
    return LegOutcome(party, name, call_id, tuple(_ev(party, k, t, c) for k, t, c in kinds),
                      final, stats, None, 0.0, 0.0, request)


OK = [("INVITE_SENT", 0.0, None), ("CONFIRMED", 1.0, 200), ("BYE_SENT", 9.0, None)]
IN_OK = [("INCOMING", 0.1, None), ("CONFIRMED", 1.0, 200)]


def _attended(notify: int = 200, replaced: bool = True) -> tuple[LegOutcome, list[LegOutcome],
                                                                 tuple[LegOutcome, ...]]:
    a = _leg("a", "site5/07", "ab", OK + [("REFER_RX", 4.0, None)])
    b = _leg("b", "site5/08", "ab", IN_OK + [("HOLD", 2.0, None), ("REFER_SENT", 4.0, None),
                                              ("XFER_NOTIFY", 4.5, notify)])
    b2 = _leg("b2", "site5/08", "bc", [("INVITE_SENT", 2.1, None), ("CONFIRMED", 2.5, 200)])
    c_consult = _leg("b", "site5/09", "bc", [("INCOMING", 2.2, None), ("CONFIRMED", 2.5, 200),
                                             *([("REPLACED", 4.4, None)] if replaced else [])])
    a2 = _leg("a2", "site5/07", "ac", [("INVITE_SENT", 4.2, None), ("CONFIRMED", 4.4, 200)],
              200 if replaced else 481)
    c_new = _leg("b", "site5/09", "ac", [("INCOMING", 4.3, None), ("CONFIRMED", 4.4, 200)],
                 request=(("from", "<sip:4135550155@beta.test>"),))
    return a, [b, c_consult, b2, *([c_new] if replaced else [])], (a2,)


def test_attended_transfer_legs_are_three_dialogs_the_target_in_a_column_of_its_own() -> None:
    a, callee, more = _attended()
    out = assemble(a, callee, 0.0, 10.0, "", more)
    assert out.b is not None and out.b.agent_name == "site5/08" and out.also_rang == ()
    assert out.consult is not None and out.consult.call_id == "bc"
    assert out.consult_far is not None and out.consult_far.party == "c"
    assert out.transfer is not None and out.transfer_far is not None
    assert out.transfer_far.call_id == "ac" and out.transfer_far.party == "c"
    assert {ev.party for ev in out.all_events} == {"a", "b", "b2", "c", "a2"}


def test_attended_checks_pass_a_complete_transfer_and_name_what_is_missing() -> None:
    spec = CallSpec("7.7", "attended", "site5/07", "site5/08", transfer_to="site5/09",
                    transfer_kind="attended",
                    expect=Expect(mos_lqo_min=None, audio=False, transferred_to="site5/09"))
    a, callee, more = _attended()
    checks = call_type_checks(spec, assemble(a, callee, 0.0, 10.0, "", more), None, [],
                              "4135550155")
    attended = [c for c in checks if c.criterion == "transfer.attended"]
    assert len(attended) == 1 and attended[0].passed, checks  # (no RTP given: audio fails)
    a, callee, more = _attended(notify=481, replaced=False)
    checks = call_type_checks(spec, assemble(a, callee, 0.0, 10.0, "", more), None, [],
                              "4135550155")
    fails = reasons(checks)
    assert {c.criterion for c in checks if not c.passed} == {"transfer.attended", "transfer"}
    assert "attended transfer: the transferor was told 481 (REFER response, NOTIFY " \
        "sipfrag), expected a NOTIFY of 200" in fails
    assert "attended transfer: the consultation call at site5/09 was not replaced by the " \
        "caller's call" in fails
    assert "transfer: the transferred call to site5/09 ended 481" in fails


def test_each_dialog_has_its_own_ledger() -> None:
    a, callee, more = _attended()
    out = assemble(a, callee, 0.0, 10.0, "", more)
    assert out.consult is not None and out.transfer is not None
    k = ledger(out.consult, out.consult, "4135550156", "4135550157", "onnet")
    t = ledger(out.transfer, out.transfer, "4135550155", "4135550157", "onnet")
    assert (k.call_id, k.caller, k.callee, k.answered) == ("bc", "4135550156", "4135550157",
                                                           True)
    assert (t.call_id, t.answered, t.answer_wall) == ("ac", True, 1004.4)


def test_a_ledger_knows_the_far_ends_call_ids() -> None:
    """Through a B2BUA each leg has its own Call-ID, and the switch may record either."""
    a = _leg("a", "site5/07", "a-leg", OK)
    b = _leg("b", "site5/08", "b-leg", IN_OK)
    forked = _leg("b", "site5/09", "b-leg-2", [("INCOMING", 0.1, None)], final=None)
    lg = ledger(a, a, "4135550155", "4135550156", "onnet", (b, forked, b, None))
    assert (lg.call_id, lg.call_ids, lg.dialogs) == (
        "a-leg", ("b-leg", "b-leg-2"), ("a-leg", "b-leg", "b-leg-2"))
    proxied = ledger(a, a, "4135550155", "4135550156", "onnet", (replace(b, call_id="a-leg"),))
    assert proxied.dialogs == ("a-leg",)


def test_a_third_party_plays_its_own_reference() -> None:
    policy = FarEndPolicy("site5/11", play_wav=Path("b.wav"), third_play_wav=Path("c.wav"))
    assert policy.decide("site5/11", "x").play_wav == Path("b.wav")
    assert policy.decide("site7/03", "x").play_wav == Path("c.wav")


@pytest.fixture(scope="module")
def refs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    out = tmp_path_factory.mktemp("refs")
    names = {"a": "allison-a", "b": "allison-b", "c": reference.THIRD["nb"]}
    return {k: reference.read_wav(reference.build(n, out, 8000).path)[0]
            for k, n in names.items()}


def test_the_detector_finds_the_talker_and_not_the_others(refs: dict[str, np.ndarray]) -> None:
    for talker, pcm in refs.items():
        heard = decode_payload("PCMU", encode_ulaw(pcm[: 4 * 8000]))
        heard = np.concatenate([heard[:12000], heard[14400:]])  # a stall dropped 0.3 s
        mine = match(heard, pcm, 8000)
        assert mine.heard and mine.score > 0.95
        for other, ref in refs.items():
            if other != talker:
                assert match(heard, ref, 8000).score < HEARD_MIN
    assert not match(np.zeros(32000, dtype=np.int16), refs["a"], 8000).heard
    noise = np.random.default_rng(1).normal(0, 300, 32000).astype(np.int16)
    assert not match(noise, refs["a"], 8000).heard


def _rtp(dst: str, t0: float, pcm: np.ndarray, seq0: int = 0) -> list[UdpPacket]:
    out = []
    for i in range(len(pcm) // 160):
        head = bytes([0x80, 0]) + (seq0 + i).to_bytes(2, "big") + (i * 160).to_bytes(4, "big")
        host, port = dst.split(":")
        out.append(UdpPacket(t0 + i * 0.02, "127.0.0.1", 20000, host, int(port),
                             head + (7).to_bytes(4, "big")
                             + encode_ulaw(pcm[i * 160:(i + 1) * 160])))
    return out


def test_a_silent_path_of_a_3way_call_is_named(refs: dict[str, np.ndarray]) -> None:
    """Turns of 4 s: A at 10 s, B at 15 s, C at 20 s (wall, t_wall = 1000 + t). Each
    listener's stream carries the talker in its turn, except B's voice toward C."""
    w = 4 * 8000
    turn = {"a": 10.0, "b": 15.0, "c": 20.0}
    play = {k: [("PLAY_START", t, None), ("PLAY_STOP", t + 4.0, None)] for k, t in turn.items()}
    a = _leg("a", "site5/10", "ab", OK + [("HOLD", 2.0, None), ("BRIDGED", 9.0, None)]
             + play["a"], local_rtp="127.0.0.1:1")
    b = _leg("b", "site5/11", "ab", IN_OK + play["b"], local_rtp="127.0.0.1:2")
    a3 = _leg("a3", "site5/10", "ac", OK, local_rtp="127.0.0.1:3")
    c = _leg("b", "site7/03", "ac", IN_OK + play["c"], local_rtp="127.0.0.1:4")
    streams = {"a": ["127.0.0.1:2", "127.0.0.1:4"], "b": ["127.0.0.1:1", "127.0.0.1:4"],
               "c": ["127.0.0.1:3", "127.0.0.1:2"]}
    packets = []
    for talker, dsts in streams.items():
        for dst in dsts:
            silent = talker == "b" and dst == "127.0.0.1:4"  # the fault: B not heard at C
            pcm = np.zeros(w, dtype=np.int16) if silent else refs[talker][:w]
            packets += _rtp(dst, 1000.0 + turn[talker], pcm)
    out = assemble(a, [b, c], 0.0, 30.0, "", (a3,))
    doc, fails = conference_paths(out, sorted(packets, key=lambda p: p.ts), refs)
    assert fails == ["3-way: B->C (site5/11 -> site7/03) not heard: best match 0.00 < 0.70 "
                     "in site5/11's turn (0 chunks of speech searched)"]
    assert all(doc[p]["score"] > 0.95 for p in ("A->B", "A->C", "B->A", "C->A", "C->B"))
