"""A damaged fax over a path that passed the signal unchanged is the harness's own
(harness/media/passage.py): each way a path can change a fax stream is caught as the
path's, and only the unchanged path excuses the damage."""

from __future__ import annotations

import numpy as np
import pytest

from harness.capture.rtp import RtpPacket
from harness.media.g711 import decode_payload, encode_alaw, encode_ulaw
from harness.media.passage import FAX_PLAYOUT_MS, damaged_in_harness, passage

SENDER, SWITCH_IN, SWITCH_OUT, RECEIVER = "10.9.0.2:4000", "127.0.0.1:20000", \
    "127.0.0.1:20002", "10.9.1.2:4002"
N = 500  # 10 s of 20 ms packets


def _signal(seed: int = 7) -> list[bytes]:
    """A modem-like signal: band-limited noise, each packet unlike the others."""
    rng = np.random.default_rng(seed)
    pcm = (rng.standard_normal(160 * N) * 6000).clip(-32000, 32000).astype(np.int16)
    return [encode_ulaw(pcm[160 * i:160 * (i + 1)]) for i in range(N)]


def _sent(payloads: list[bytes], late: dict[int, float] | None = None) -> list[RtpPacket]:
    """As the harness's terminal sent it: every 20 ms, `late` packets (index -> s) later
    (its host ran it late; the packets after it catch up)."""
    late = late or {}
    return [RtpPacket(100.0 + 0.02 * i + late.get(i, 0.0), SENDER, SWITCH_IN, 0x1111, i,
                      8000 + 160 * i, 0, False, p) for i, p in enumerate(payloads)]


def _relayed(sent: list[RtpPacket], transit: float = 0.004, *, seq0: int = 900,
             ts0: int = 55_000, pt: int = 0, extra: dict[int, float] | None = None,
             payloads: list[bytes] | None = None) -> list[RtpPacket]:
    """What a B2BUA relays toward the receiver: its own SSRC, sequence and timestamp
    base; `extra` delay (index -> s) on some packets."""
    extra = extra or {}
    out = []
    for i, r in enumerate(sent):
        body = payloads[i] if payloads is not None else r.payload
        out.append(RtpPacket(r.ts_arrival + transit + extra.get(i, 0.0), SWITCH_OUT,
                             RECEIVER, 0x2222, (seq0 + i) & 0xFFFF, ts0 + 160 * i, pt, False,
                             body))
    return out


def test_a_path_that_relays_the_signal_unchanged_excuses_the_damage() -> None:
    sent = _sent(_signal())
    p = passage("a_to_b", sent, _relayed(sent))
    assert p.altered() == ""
    assert p.samples_differing == 0 and p.coverage >= 0.99
    why = damaged_in_harness([p], 60)
    assert "passed the fax signal unchanged" in why and "a_to_b 500 packets" in why


def test_a_terminal_that_sent_late_is_the_harness_own_and_says_so() -> None:
    """The CI case: the sending terminal's host stalled 80 ms, its packets left late and
    the switch relayed them as they came; the receiver's 60 ms buffer ran dry."""
    late = {i: 0.08 - 0.02 * (i - 200) for i in range(200, 204)}
    sent = _sent(_signal(), late)
    p = passage("a_to_b", sent, _relayed(sent))
    assert p.altered() == ""
    assert p.sent_pdv_ms is not None and p.sent_pdv_ms >= 79
    assert "of which 80 ms as the harness's terminal sent it" in damaged_in_harness([p], 60)


def test_a_law_conversion_on_the_way_is_still_the_same_signal() -> None:
    sent = _sent(_signal())
    alaw = [encode_alaw(decode_payload("PCMU", r.payload)) for r in sent]
    p = passage("a_to_b", sent, _relayed(sent, pt=8, payloads=alaw))
    assert p.altered() == ""


@pytest.mark.parametrize(("change", "named"), [
    ("lost", "1 lost, 0 duplicated, 0 out of order"),
    ("level", "samples changed on the way"),
    ("jitter", "of delay variation"),
    ("suppressed", "samples changed on the way"),
    ("nothing", "nothing reached the receiver"),
])
def test_each_change_a_path_makes_is_the_path_own(change: str, named: str) -> None:
    payloads = _signal()
    sent = _sent(payloads)
    relayed = _relayed(sent)
    if change == "lost":
        relayed = relayed[:250] + relayed[251:]
    elif change == "level":  # an echo canceller's or a gain stage's attenuation
        quieter = [encode_ulaw((decode_payload("PCMU", p) // 2).astype(np.int16))
                   for p in payloads]
        relayed = _relayed(sent, payloads=quieter)
    elif change == "jitter":
        relayed = _relayed(sent, extra={300: (FAX_PLAYOUT_MS + 20) / 1000})
    elif change == "suppressed":  # silence suppression: comfort noise for a second
        hushed = [encode_ulaw(np.zeros(160, dtype=np.int16)) if 100 <= i < 150 else p
                  for i, p in enumerate(payloads)]
        relayed = _relayed(sent, payloads=hushed)
    elif change == "nothing":
        relayed = []
    p = passage("a_to_b", sent, relayed)
    assert named in p.altered()
    assert damaged_in_harness([passage("b_to_a", sent, _relayed(sent)), p], 60) == ""


def test_loss_before_the_capture_saw_the_sender_is_not_excused() -> None:
    """A capture point behind the loss stage sees the same gaps sent and received: the
    gap in the sender's own sequence still names the path."""
    sent = _sent(_signal())
    sent = sent[:100] + sent[101:]
    p = passage("a_to_b", sent, _relayed(sent))
    assert "1 packet(s) missing from the stream as it left the sender" in p.altered()
    assert damaged_in_harness([p], 60) == ""


def test_no_passage_excuses_nothing() -> None:
    assert damaged_in_harness([], 60) == ""


def test_delay_variation_a_fax_gateway_absorbs_is_the_harness_shallow_buffer() -> None:
    """The plan-run case: the lab's relay held one packet 70 ms (both ways), the
    harness's receiving terminal, playing out through a 60 ms voice jitter buffer,
    lost samples; a fax gateway's fixed playout buffer (100-200 ms) would not have."""
    sent = _sent(_signal())
    p = passage("a_to_b", sent, _relayed(sent, extra={300: 0.07, 301: 0.05, 302: 0.03}))
    assert "the path added 70 ms of delay variation" in p.altered()  # it is measured
    assert p.changed() == "" and p.altered(FAX_PLAYOUT_MS) == ""
    why = damaged_in_harness([p], 60)
    assert "but for 70 ms of delay variation" in why and "a 60 ms voice jitter buffer" in why
