"""Who heard whom on a 3-way call, from the RTP on the wire.

The three parties talk in turn (`harness/sip/midcall.py`): the caller A, the called
party B, the third party C, each alone for a window its leg marks (PLAY_START /
PLAY_STOP). Each directed path is judged in its talker's window, on the stream
toward the listener's leg that carries it:

    A->B, C->B  toward B's leg            (A's bridge mixes C into the first call)
    A->C, B->C  toward C's leg            (... and B into the second)
    B->A        toward A's first call     C->A  toward A's second call

RTP rather than the agents' recordings: packets carry their own arrival time, so a
window is cut exactly even when a host stall made the recorder drop frames.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.capture.pcap import UdpPacket
from harness.capture.rtp import decode_stream, rtp_toward
from harness.media.heard import HEARD_MIN, match
from harness.model import SipEvent
from harness.sip.scenario import CallOutcome, LegOutcome

TAIL_S = 0.5  # the window runs on this long after the talker stops (path delay)


def talker_window(leg: LegOutcome | None) -> tuple[float, float] | None:
    """(start, end) wall time of the talker's turn on `leg`, if it talked."""
    if leg is None:
        return None
    start = leg.first("PLAY_START")
    stop = leg.first("PLAY_STOP") or next(
        (ev for ev in leg.events if ev.kind in ("BYE_SENT", "DISCONNECTED")), None)
    if start is None:
        return None
    end: SipEvent | None = stop if stop is not None and stop.t_wall > start.t_wall else None
    return start.t_wall, (end.t_wall if end else start.t_wall + 10.0) + TAIL_S


def received(packets: list[UdpPacket], leg: LegOutcome | None,
             window: tuple[float, float]) -> np.ndarray:
    """What arrived toward `leg` within `window`, decoded (RTP timestamp order)."""
    local = leg.stats.local_rtp if leg is not None and leg.stats else ""
    if not local:
        return np.zeros(0, dtype=np.int16)
    rtp = [r for r in rtp_toward(packets, local, window[0]) if r.ts_arrival <= window[1]]
    return decode_stream(rtp)[0]


def path_legs(out: CallOutcome) -> tuple[dict[str, LegOutcome | None],
                                          dict[tuple[str, str], LegOutcome | None]]:
    """The talkers' legs (whose PLAY_START/STOP mark each turn) and, per directed path
    (talker, listener), the leg whose inbound stream carries it."""
    talkers = {"a": out.a, "b": out.b, "c": out.conference_far}
    toward = {("a", "b"): out.b, ("a", "c"): out.conference_far, ("b", "a"): out.a,
              ("b", "c"): out.conference_far, ("c", "a"): out.conference,
              ("c", "b"): out.b}
    return talkers, toward


def conference_paths(out: CallOutcome, packets: list[UdpPacket], refs: dict[str, np.ndarray],
                     rate: int = 8000) -> tuple[dict[str, Any], list[str]]:
    """Every directed path of the 3-way call: its match figures (and those of the other
    talkers' references, the margin), and one failure reason per path not heard."""
    names = {"a": out.a.agent_name, "b": out.b.agent_name if out.b else "B",
             "c": out.conference_far.agent_name if out.conference_far else "C"}
    talkers, toward = path_legs(out)
    doc: dict[str, Any] = {"heard_min": HEARD_MIN}
    fails = []
    for (talker, listener), leg in toward.items():
        path = f"{talker.upper()}->{listener.upper()}"
        who = f"{names[talker]} -> {names[listener]}"
        window = talker_window(talkers[talker])
        if window is None:
            doc[path] = {"path": who, "talked": False}
            fails.append(f"3-way: {path} ({who}) not judged: {names[talker]} never talked")
            continue
        pcm = received(packets, leg, window)
        scores = {k: match(pcm, ref, rate) for k, ref in refs.items()}
        mine = scores[talker]
        doc[path] = {"path": who, "window": [round(w, 3) for w in window],
                     "received_s": round(len(pcm) / rate, 2), "score": mine.score,
                     "chunks": mine.chunks, "matched": mine.matched,
                     "others": {k: m.score for k, m in scores.items() if k != talker}}
        if not mine.heard:
            fails.append(f"3-way: {path} ({who}) not heard: best match {mine.score:.2f} < "
                         f"{HEARD_MIN:.2f} in {names[talker]}'s turn ({mine.chunks} chunks "
                         "of speech searched)")
    return doc, fails
