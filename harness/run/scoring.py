"""A call's voice quality and stream figures, from what it left: the receiving agents'
recordings, the captured RTP and the references each party talked (ITU-T P.862 PESQ
from both sources, RFC 3550 stream statistics, the G.107 E-model).

Narrow inputs: the references a codec's calls play, where the third party's voice
lives, and whether the decoded wire audio is kept; no session, no switch. Who hears
whom: a plain call's two directions; a transferred call's caller and target after
the REFER; a held and resumed call's speech before the hold and after the resume,
each scored; a 3-way call's six directed paths, each in its talker's turn."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from harness.capture.pcap import UdpPacket
from harness.capture.rtp import RtpPacket, StreamStats, rtp_from, rtp_toward, stream_stats
from harness.media import reference
from harness.media.assess import (
    DirectionInput,
    assess,
    held_in_agent,
    jb_explained_ms,
    lost_in_agent,
    lost_in_capture,
    stall_reasons,
    unseen_by_capture,
)
from harness.media.conference import conference_paths, path_legs, received, talker_window
from harness.media.emodel import assess_stream
from harness.media.score import codec_ceiling, pesq_score
from harness.model import CallSpec, QualityScore, StallReport
from harness.sip.scenario import CallOutcome, LegOutcome
from harness.verdict.metrics import answer_event
from harness.verdict.secure import wire_note


class CallScorer:
    def __init__(self, refs_for: Callable[[str], dict[str, reference.Reference]],
                 reference_dir: Path, keep_wire: bool, jb_init_ms: float = 60.0) -> None:
        self.refs_for = refs_for  # codec -> the pair a call in it plays ("a", "b")
        self.reference_dir = reference_dir  # where the third voice is made
        self.keep_wire = keep_wire  # keep each direction's decoded wire audio
        self.jb_init_ms = jb_init_ms  # the agents' jitter buffer's initial delay

    @staticmethod
    def has_third_party(spec: CallSpec) -> bool:
        """A 3-way call's third party talks with a voice of its own (each party must be
        told apart in every other's audio). A transfer target talks with the called
        party's voice: it is scored by PESQ, and the third voice's G.711 ceiling is
        3.38 (flite slt), too low for a floor any clean call meets."""
        return bool(spec.conference_with)

    def third_ref(self, spec: CallSpec) -> reference.Reference:
        return reference.third_for(spec.codec, self.reference_dir)

    def quality(self, spec: CallSpec, out: CallOutcome, call_dir: Path, stall: StallReport,
                packets: list[UdpPacket], call_stall: StallReport | None = None,
                ) -> tuple[tuple[QualityScore, ...], dict[str, StreamStats | None]]:
        """Wire stream statistics of every answered call (RFC 3550); PESQ from both
        sources when the row asks for voice quality. `stall`: the guard's report for
        the speech's window (`speech_window`); `call_stall`, for the whole call (the
        recording's length is compared with the whole connected time)."""
        if out.b is None or out.a.final_code != 200:
            return (), {}
        if spec.expect.conferenced is not None and spec.expect.scored:
            return self.conference_quality(spec, out, packets, stall), {}
        scores: list[QualityScore] = []
        streams: dict[str, StreamStats | None] = {}
        talking = self.talking(spec, out)
        receivers = [leg for leg, _ref, _since in talking.values()]
        row_floor = spec.expect.mos_floor  # compiled: the row's or its codec's
        for direction, (receiver, ref, since) in talking.items():
            local = receiver.stats.local_rtp if receiver.stats else ""
            rtp = rtp_toward(packets, local, since) if local else []
            if row_floor is None:
                streams[f"wire_{direction}"] = stream_stats(rtp)
                continue
            negotiated = receiver.stats.codec if receiver.stats else ""
            # SRTP, whether the row asked for it or the two ends agreed on it: the wire
            # is not decodable (its payload scored as G.711 is noise, ~1.1)
            encrypted = receiver.stats is not None and "SAVP" in receiver.stats.media_profile
            wire_rtp = [] if encrypted else rtp
            start = since if spec.transfer_to else speech_start(out, since)
            agent_q, wire_q, st = assess(DirectionInput(
                direction, ref, spec.codec, negotiated,
                receiver.record_wav,
                receiver.record_span_s - held_s(out), wire_rtp,
                call_dir / f"wire_{direction}.wav" if self.keep_wire and wire_rtp else None,
                talker_rtp(packets, receivers, receiver, start, ref.duration_s)),
                stall, call_stall)
            if encrypted:
                wire_q = wire_note(direction, agent_q.band, receiver.record_span_s,
                                   agent_q.ceiling_mos_lqo)
                st = stream_stats(rtp)
            elif note := unseen_by_capture(len(rtp), receiver_counts(receiver)[0],
                                           receiver.record_span_s):
                wire_q = replace(wire_note(direction, agent_q.band, receiver.record_span_s,
                                           agent_q.ceiling_mos_lqo), note=note)
            elif why := lost_in_capture(st, *receiver_counts(receiver)):
                wire_q = replace(wire_q, valid=False, reasons=(*wire_q.reasons, why))
            elif why := (lost_in_agent(agent_q, wire_q, st, agent_q.floor_for(row_floor),
                                       sent_stream(packets, receivers, receiver, since)) or
                         held_in_agent(agent_q, agent_q.floor_for(row_floor),
                                       receiver.stats.jb_avg_delay_ms if receiver.stats
                                       else None, st.jitter_ms if st else None,
                                       self.jb_init_ms)):
                agent_q = replace(agent_q, valid=False, reasons=(*agent_q.reasons, why))
            scores += [agent_q, wire_q]
            streams[f"wire_{direction}"] = st
            if replay_at_s(spec) is not None and not encrypted:
                scores += self.resumed(direction, receiver, ref, spec, out, rtp, call_dir,
                                       stall, call_stall, packets=packets)
        return tuple(scores), streams

    def sent_streams(self, spec: CallSpec, out: CallOutcome, packets: list[UdpPacket],
                     ) -> dict[str, StreamStats | None]:
        """Each direction's stream as it left its talking agent (`sent_stream`), by the
        keys of `quality`'s wire streams ("wire_a_to_b"): how evenly the harness's own
        agents sent what the wire figures are of."""
        if out.b is None or out.a.final_code != 200 or spec.expect.conferenced is not None:
            return {}
        talking = self.talking(spec, out)
        receivers = [leg for leg, _ref, _since in talking.values()]
        return {f"wire_{direction}": sent_stream(packets, receivers, receiver, since)
                for direction, (receiver, _ref, since) in talking.items()}

    def resumed(self, direction: str, receiver: LegOutcome, ref: reference.Reference,
                spec: CallSpec, out: CallOutcome, rtp: list[RtpPacket], call_dir: Path,
                stall: StallReport, call_stall: StallReport | None = None, *,
                packets: list[UdpPacket] | None = None) -> list[QualityScore]:
        """A held and resumed call: the speech after the resume, scored on its own
        (direction `<direction>.resumed`) from the receiver's recording of what it heard
        after the resume (a file of its own, started when the media came back) and the
        wire's RTP from the talker's REPLAY on; the main score covers the speech before
        the hold."""
        talker = out.a if receiver is not out.a else out.b
        name = f"{direction}.resumed"
        replay = talker.first("REPLAY") if talker is not None else None
        if replay is None:
            return [QualityScore(name, src, None, "nb", True,
                                 ("the talker did not talk again after the resume",), 0.0, 0.0)
                    for src in ("agent", "wire")]
        lead_s = 0.5  # the wire from a little before the talker's REPLAY: align() finds it
        wire = [p for p in rtp if p.ts_arrival >= replay.t_wall - lead_s]
        negotiated = receiver.stats.codec if receiver.stats else ""
        receivers = [leg for leg in (out.a, out.b) if leg is not None]
        agent_q, wire_q, st = assess(DirectionInput(
            name, ref, spec.codec, negotiated, receiver.resumed_wav, receiver.resumed_span_s,
            wire, call_dir / f"wire_{name}.wav" if self.keep_wire and wire else None,
            talker_rtp(packets or [], receivers, receiver, replay.t_wall, ref.duration_s)),
            stall, call_stall)
        if receiver.resumed_wav is None:  # no re-INVITE brought the media back to it
            agent_q = replace(agent_q, valid=not stall_reasons(stall), reasons=(
                "the receiver's media never came back after the hold",
                *stall_reasons(stall)))
        elif spec.expect.mos_floor is not None and (why := lost_in_agent(
                agent_q, wire_q, st, agent_q.floor_for(spec.expect.mos_floor))):
            # as for the speech before the hold: a clean wire the agent scored below
            agent_q = replace(agent_q, valid=False, reasons=(*agent_q.reasons, why))
        return [agent_q, wire_q]

    def conference_quality(self, spec: CallSpec, out: CallOutcome, packets: list[UdpPacket],
                           stall: StallReport) -> tuple[QualityScore, ...]:
        """A 3-way call: PESQ of each of the six directed paths (direction
        `<talker>_to_<listener>`), on the wire toward the listener in the talker's turn,
        against the talker's reference (the third party's is a voice of its own). The
        wire only: each agent's recording is its bridge's mix, not one path."""
        voices = {**self.refs_for(spec.codec), "c": self.third_ref(spec)}
        pcm = {k: reference.read_wav_at(ref.path, 8000) for k, ref in voices.items()}
        ceilings = {k: codec_ceiling(str(voices[k].path), pcm[k], 8000, spec.codec)
                    for k in voices}
        talkers, toward = path_legs(out)
        invalid = stall_reasons(stall)
        scores = []
        for (talker, listener), leg in toward.items():
            pcm_ref, ceiling = pcm[talker], ceilings[talker]
            window = talker_window(talkers[talker])
            name = f"{talker}_to_{listener}"
            if window is None:
                scores.append(QualityScore(name, "wire", None, "nb", not invalid,
                                           (f"{talker.upper()} never talked",) + invalid,
                                           ceiling_mos_lqo=ceiling))
                continue
            got = pesq_score(pcm_ref, received(packets, leg, window), 8000, "nb")
            floor, why = None, ""
            if ceiling is not None and ceiling - CEILING_ALLOWANCE < (spec.expect.mos_floor
                                                                      or 5.0):
                floor = round(ceiling - CEILING_ALLOWANCE, 2)
                why = (f"{talker.upper()}'s voice scores {ceiling:.2f} through {spec.codec} "
                       f"alone; a path may lose {CEILING_ALLOWANCE}")
            scores.append(QualityScore(
                name, "wire", got.mos_lqo, "nb", not invalid,
                ((got.problem,) if got.problem else ()) + invalid, got.received_s,
                window[1] - window[0], got.active_ratio, got.delay_s, ceiling,
                floor_mos_lqo=floor, floor_why=why))
        return tuple(scores)

    def speech_window(self, spec: CallSpec, out: CallOutcome, tail_pad_s: float,
                      ) -> tuple[float, float] | None:
        """Monotonic [INVITE sent, last scored speech heard] of a plain two-party call:
        the window in which a host stall distorts its scores. A call that talks longer
        than its speech needs (9.1's 61 s for billing) is silent after it, and a stall
        in that silence changes no score. None where the speech cannot be bounded that
        simply (a transfer, a 3-way call): the whole call is the window."""
        if out.b is None or out.a.final_code != 200 or spec.transfer_to or \
                spec.conference_with or not spec.expect.scored:
            return None
        invite, answer = out.a.first("INVITE_SENT"), answer_event(out.a.events)
        if invite is None or answer is None:
            return None
        speech_s = max(r.duration_s for r in self.refs_for(spec.codec).values()) + tail_pad_s
        end = answer.t_mono + speech_s
        replays = [ev.t_mono for leg in (out.a, out.b) for ev in leg.events
                   if ev.kind == "REPLAY"]
        if replay_at_s(spec) is not None:  # the speech after the resume: from its REPLAY
            end = max([end, *(t + speech_s for t in replays)]) if replays else out.t_end_mono
        return invite.t_mono, min(end + SPEECH_MARGIN_S, out.t_end_mono)

    def talking(self, spec: CallSpec, out: CallOutcome,
                ) -> dict[str, tuple[LegOutcome, reference.Reference, float]]:
        """Who hears whom on an answered call, per direction: (the receiving leg, the
        talker's reference, wall time its media can start). After a transfer the caller
        talks to the target (with B's voice), on the call the REFER made; before it,
        too briefly to score."""
        refs = self.refs_for(spec.codec)
        a2, c = out.transfer, out.transfer_far
        if spec.transfer_to and a2 is not None and c is not None and c.answered:
            since = a2.events[0].t_wall - 0.05 if a2.events else media_since(out)
            return {"a_to_c": (c, refs["a"], since), "c_to_a": (a2, refs["b"], since)}
        assert out.b is not None
        if spec.retrieves:  # a voicemail retrieval: the line hears the message, which
            # is the depositing caller's speech (its reference); it says nothing scored
            return {"b_to_a": (out.a, refs["a"], media_since(out))}
        return {"a_to_b": (out.b, refs["a"], media_since(out)),
                "b_to_a": (out.a, refs["b"], media_since(out))}

    def conference_audio(self, spec: CallSpec, out: CallOutcome, packets: list[UdpPacket],
                         call_dir: Path) -> list[str]:
        """A 3-way call: each of the six directed paths heard in its talker's turn
        (harness/media/heard.py); the figures kept as conference.json."""
        refs = self.refs_for(spec.codec)
        pcm = {k: reference.read_wav(refs[k].path)[0] for k in ("a", "b")}
        pcm["c"] = reference.read_wav(self.third_ref(spec).path)[0]
        paths, fails = conference_paths(out, packets, pcm)
        (call_dir / "conference.json").write_text(json.dumps(paths, indent=1))
        return fails


def emodel_ratings(out: CallOutcome, streams: dict[str, StreamStats | None],
                   jb_init_ms: int = 60) -> dict[str, dict[str, float | str]]:
    """ITU-T G.107 rating R and MOS-CQE per direction, from the wire's RFC 3550 loss and
    a mouth-to-ear delay estimate: 20 ms packetisation + RTT/2 (the receiver's RTCP)
    + the receiver's jitter-buffer delay. G.711 with packet-loss concealment. A rating
    whose jitter buffer held more than the path's jitter explains is kept with
    `r_invalid` (why): the delay in it is the harness host's."""
    out_map: dict[str, dict[str, float | str]] = {}
    for key, receiver in (("wire_a_to_b", out.b), ("wire_b_to_a", out.a)):
        st = streams.get(key)
        if st is None or receiver is None or receiver.stats is None or \
                st.codec not in ("PCMU", "PCMA"):
            continue
        jb_ms = receiver.stats.jb_avg_delay_ms
        delay_ms = 20.0 + receiver.stats.rtt_mean_ms / 2 + jb_ms
        rating = assess_stream(st, delay_ms)
        out_map[key] = {"emodel_delay_ms": round(delay_ms, 1), "r_factor": round(rating.r, 1),
                        "mos_cqe": round(rating.mos_cqe, 2)}
        explained = jb_explained_ms(jb_init_ms, st.jitter_ms)
        if jb_ms > explained:
            out_map[key]["r_invalid"] = (
                f"the receiving agent's jitter buffer held {jb_ms:.0f} ms against "
                f"{st.jitter_ms:.1f} ms of jitter on the wire (at most {explained:.0f} ms "
                "explained): it grew for the agent's own lateness, the host's")
    return out_map


def sent_stream(packets: list[UdpPacket], receivers: list[LegOutcome], receiver: LegOutcome,
                since: float) -> StreamStats | None:
    """The talker's stream on its way into the switch (the other receiver of the pair
    sends to its leg's remote RTP address): how evenly the harness's own agent sent it."""
    rtp = talker_rtp(packets, receivers, receiver, since)
    return stream_stats(rtp) if rtp else None


def talker_rtp(packets: list[UdpPacket], receivers: list[LegOutcome], receiver: LegOutcome,
               since: float, speech_s: float | None = None) -> list[RtpPacket]:
    """The talker's RTP as it left the talking agent, on its way into the switch (the
    other leg of the pair, from its own RTP socket, to wherever the switch told it to
    send), from `since` (wall time) for `speech_s` and SPEECH_MARGIN_S (None: to the
    end)."""
    talker = next((leg for leg in receivers if leg is not receiver), None)
    if talker is None or talker.stats is None or not talker.stats.local_rtp:
        return []
    rtp = rtp_from(packets, talker.stats.local_rtp, since)
    if speech_s is None:
        return rtp
    return [r for r in rtp if r.ts_arrival <= since + speech_s + SPEECH_MARGIN_S]


def receiver_counts(receiver: LegOutcome) -> tuple[int | None, int | None]:
    """What the receiving agent's own RTP session counted: (packets, lost)."""
    st = receiver.stats
    return (st.rx_packets, st.rx_loss) if st is not None else (None, None)


def speech_start(out: CallOutcome, since: float) -> float:
    """Wall time the parties start talking: the caller's answer (a called agent may
    send early media before it, and a switch's re-INVITE at the answer may restart its
    stream); `since` without one."""
    answer = answer_event(out.a.events)
    return max(since, answer.t_wall) if answer is not None else since


def held_s(out: CallOutcome) -> float:
    """How long the call was on hold (HOLD to RESUME at the holder, the caller or the
    called line taking a waiting call): a recorder gets
    no frames from a held stream, so a recording is that much shorter than the time
    its recorder was connected."""
    holder = out.a if out.a.first("HOLD") is not None or out.b is None else out.b
    hold, resume = holder.first("HOLD"), holder.first("RESUME")  # (b: call waiting)
    if hold is None:
        return 0.0
    end = resume.t_mono if resume is not None else hold.t_mono
    return max(0.0, end - hold.t_mono)


# after the last scored speech left its talker: the receiver's jitter buffer (60 ms) and
# recorder, and a talker that started a little after the caller saw the answer
SPEECH_MARGIN_S = 1.0


# a 3-way path whose talker's material scores low through the codec alone is judged
# against that ceiling less this allowance (the row's floor where that is lower)
CEILING_ALLOWANCE = 0.1


def replay_at_s(spec: CallSpec) -> float | None:
    """A scored hold/resume row: both parties talk again this long after the answer
    (half a second after the resume)."""
    if spec.resume_at_s is None or not spec.expect.scored:
        return None
    return spec.resume_at_s + 0.5


def media_since(out: CallOutcome) -> float:
    """Wall time the call's INVITE left: no RTP of this call can come earlier."""
    invite = out.a.first("INVITE_SENT")
    return invite.t_wall - 0.05 if invite else 0.0


def agent_streams(out: CallOutcome) -> dict[str, dict[str, Any]]:
    """What each receiving agent's own RTP session counted (pjsua2: RFC 3550 receiver
    figures, the RTCP round trip, the jitter buffer), per direction of an answered call,
    beside the wire's figures in streams.json: `agent_a_to_b` is B's receive side."""
    if out.b is None or out.a.final_code != 200:
        return {}
    found: dict[str, dict[str, Any]] = {}
    for direction, leg in (("a_to_b", out.b), ("b_to_a", out.a)):
        st = leg.stats
        if st is not None:
            expected = st.rx_packets + st.rx_loss
            found[f"agent_{direction}"] = {
                **asdict(st), "loss_pct": 100.0 * st.rx_loss / expected if expected else 0.0}
    return found


