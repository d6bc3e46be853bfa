"""A harness session: owns the system under test, the capture, the stall guard, the
SIP stack and the result store, and turns one `CallSpec` into one `CallResult`.

Order matters: child processes (switch, dumpcap) are started before any thread
exists; pjsua2 objects are released before `libDestroy()`; the report is written
on every exit path, with every call already measured.
"""

from __future__ import annotations

import json
import os
import platform
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from harness.capture.dumpcap import Capture
from harness.capture.pcap import UdpPacket
from harness.capture.rtp import StreamStats, rtp_toward
from harness.capture.sip import call_ladder, wire_timing
from harness.cdr.reconcile import Ledger, reconcile
from harness.config import HarnessConfig
from harness.errors import CaptureError, HarnessError, SipError
from harness.guard import StallGuard
from harness.media import reference
from harness.media.assess import DirectionInput, assess
from harness.metrics import call_timing, decide, setup_window
from harness.model import (
    CallResult,
    CallSpec,
    CallTiming,
    CdrCheck,
    Line,
    QualityScore,
    StallReport,
    Status,
    Verdict,
)
from harness.numberplan import NumberPlan
from harness.report.results import ResultStore
from harness.sip.agent import LineAgent
from harness.sip.scenario import LegOutcome, Media, TwoPartyOutcome, run_two_party
from harness.sip.stack import SipStack
from harness.softswitch import Softswitch
from harness.softswitch.process import free_udp_range, sip_options_ping

AGENT_PORTS_PER_LINE = 10


def _r6(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"


class HarnessSession:
    def __init__(self, cfg: HarnessConfig, reports_dir: Path, run_id: str | None = None,
                 switch: Softswitch | None = None) -> None:
        self.cfg = cfg
        self.run_id = run_id or new_run_id()
        self.run_dir = reports_dir.resolve() / self.run_id
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.plan = NumberPlan.from_config(cfg.numbers)
        if switch is None:
            from harness.softswitch.kamailio import EmbeddedKamailio

            switch = EmbeddedKamailio(cfg.sut, self.run_dir, cfg.numbers.home_npa)
        self.switch: Softswitch = switch
        self.guard = StallGuard(cfg.guard.stall_threshold_s, cfg.guard.tick_s)
        self.capture: Capture | None = None
        self.stack: SipStack | None = None
        self.agents: dict[str, LineAgent] = {}
        self.store: ResultStore | None = None
        self.refs = {"a": reference.build("allison-a", self.run_dir / "reference"),
                     "b": reference.build("allison-b", self.run_dir / "reference")}
        self.agent_rtp_base = 0
        # fault-injection points for the harness's own tests: called with the Call-ID
        self.before_cdr_fetch: list[Callable[[str], None]] = []
        self.started = False
        self._placed: dict[str, int] = {}  # calls placed per plan id: evidence folders

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self.store = ResultStore(self.run_dir, self.run_id, {"status": "starting"})
        try:
            self.switch.start(self.plan.lines)
            self.agent_rtp_base = free_udp_range(
                AGENT_PORTS_PER_LINE * len(self.plan.lines), 40000, 60000)
            if self.cfg.capture.enabled:
                hi = self.agent_rtp_base + AGENT_PORTS_PER_LINE * len(self.plan.lines) - 1
                bpf = (f"({self.switch.capture_filter()}) or (udp and host 127.0.0.1 and "
                       f"portrange {self.agent_rtp_base}-{hi})")
                self.capture = Capture(self.run_dir / "capture.pcap", self.cfg.capture.interface,
                                       bpf)
                self.capture.start()
            self.guard.start()
            self.stack = SipStack(self.run_dir / "pjsua.log", self.cfg.media.clock_rate,
                                  self.cfg.media.jb_init_ms)
            self.stack.start()
        except HarnessError as exc:
            self.store.add_error(str(exc))
            self.close()
            raise
        self.store.environment = self.environment()
        self.store.write()
        self.started = True

    def environment(self) -> dict[str, Any]:
        env: dict[str, Any] = {"run_id": self.run_id, "system_under_test": self.switch.name}
        env.update(self.switch.versions())
        env["pjsip"] = "2.15 (pjsua2-python)"
        env["host"] = f"{platform.node()} {platform.machine()} {os.cpu_count()} CPU, " \
                      f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        env["references"] = {k: f"{r.name} {r.duration_s:.2f} s, speech {r.speech_ratio:.0%}"
                             for k, r in self.refs.items()}
        env["config"] = json.dumps(self.cfg.redacted(), default=str)
        return env

    def close(self) -> None:
        for agent in self.agents.values():
            agent.release()
        self.agents.clear()
        if self.stack is not None:
            try:
                self.stack.run_for(0.2)
            except Exception:  # noqa: BLE001 - teardown must go on
                pass
            self.stack.close()
            self.stack = None
        self.guard.stop()
        if self.capture is not None:
            self.capture.stop()
        self.switch.stop()
        if self.store is not None and not self.store.finished:
            self.store.close()

    def __enter__(self) -> HarnessSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lines -------------------------------------------------------------------------
    def agent(self, line: Line) -> LineAgent:
        if line.name in self.agents:
            return self.agents[line.name]
        assert self.stack is not None
        idx = self.plan.lines.index(line)
        proxy = f"sip:{self.switch.sip_host}:{self.switch.sip_port};lr"
        agent = LineAgent(line, self.switch.domain, proxy,
                          self.agent_rtp_base + AGENT_PORTS_PER_LINE * idx, AGENT_PORTS_PER_LINE,
                          self.stack.add_udp_transport())
        agent.register()
        self.agents[line.name] = agent
        self.stack.run_until(lambda: agent.reg_code is not None, 10.0,
                             f"registration of {line.name}")
        if not agent.registered:
            raise SipError(f"line {line.name} ({line.number}) registration failed: "
                           f"{agent.reg_code} {agent.reg_reason}")
        return agent

    def line_rtp_ports(self, name: str) -> tuple[int, int]:
        """The RTP port range (first, last) a line's agent uses: for fault injection."""
        idx = self.plan.lines.index(self.plan.line(name))
        first = self.agent_rtp_base + AGENT_PORTS_PER_LINE * idx
        return first, first + AGENT_PORTS_PER_LINE - 1

    # -- one plan row ------------------------------------------------------------------
    def run_call(self, spec: CallSpec) -> CallResult:
        """Place the call; re-place it while the guard marks it invalid (bounded)."""
        assert self.store is not None
        attempts: list[CallResult] = []
        for attempt in range(1 + self.cfg.guard.retries_on_stall):
            result = self._attempt(spec, attempt)
            attempts.append(result)
            if not (result.verdict.status is Status.ERROR and result.verdict.invalid_measurement):
                break
        final = attempts[-1]
        if len(attempts) > 1:
            earlier = [f"attempt {i + 1} invalid ({r.stall.describe() if r.stall else '?'})"
                       for i, r in enumerate(attempts[:-1])]
            final = replace(final, verdict=replace(final.verdict,
                                                   reasons=final.verdict.reasons + tuple(earlier)))
        self.store.add(final)
        return final

    def _attempt(self, spec: CallSpec, attempt: int) -> CallResult:
        caller_line = self.plan.line(spec.caller)
        dial = self.plan.resolve_dial(spec.dial)
        callee_line = self.plan.check_dial(dial)  # the dial guard, before any SIP
        assert self.stack is not None
        started_wall = time.time()
        self._placed[spec.plan_id] = self._placed.get(spec.plan_id, 0) + 1
        call_dir = self.run_dir / "calls" / f"{spec.plan_id}-{self._placed[spec.plan_id]}"
        call_dir.mkdir(parents=True, exist_ok=True)
        try:
            caller, callee = self.agent(caller_line), self.agent(callee_line)
            self.stack.set_codec(spec.codec)
        except HarnessError as exc:
            return self._error_result(spec, str(exc), started_wall)
        talk_s = max(spec.talk_s, max(r.duration_s for r in self.refs.values())
                     + self.cfg.media.tail_pad_s)
        # A plays reference a and records what B sends (direction b_to_a); B mirrors it
        media = Media(self.refs["a"].path, call_dir / "recorded_b_to_a.wav",
                      self.refs["b"].path, call_dir / "recorded_a_to_b.wav")
        out = run_two_party(self.stack, caller, callee, f"sip:{dial}@{self.switch.domain}",
                            media, spec.answer_after_s, talk_s, spec.hangup_by,
                            headers=spec.headers)
        try:
            return self._measure(spec, out, call_dir, started_wall, caller.sip_addr)
        except HarnessError as exc:  # the call happened: keep what is known, say why
            return replace(self._error_result(spec, f"measurement failed: {exc}", started_wall),
                           call_id=out.a.call_id, final_code=out.a.final_code,
                           events=out.a.events + (out.b.events if out.b else ()))

    def _error_result(self, spec: CallSpec, error: str, started_wall: float) -> CallResult:
        return CallResult(spec, "", None, CallTiming(None, None, None, None), (), None, None,
                          Verdict(Status.ERROR, (error,)), started_wall=started_wall,
                          error=error)

    def _measure(self, spec: CallSpec, out: TwoPartyOutcome, call_dir: Path,
                 started_wall: float, caller_addr: str) -> CallResult:
        stall = self.guard.report(out.t_start_mono, out.t_end_mono)
        window = setup_window(out.a.events)
        setup_stall = self.guard.report(*window) if window else stall
        # liveness of the switch, and the marker that tells us dumpcap has flushed
        marker = f"sync-{uuid.uuid4().hex}"
        alive = sip_options_ping(self.switch.sip_host, self.switch.sip_port, 2.0,
                                 marker) == 200
        packets = self._call_packets(out, call_dir, marker)
        timing = self._timing(spec, out, packets, setup_stall, caller_addr, call_dir)
        quality, streams, artifacts = self._quality(spec, out, call_dir, stall, packets)
        cdr = self._cdr(spec, out) if spec.expect.cdr else None
        verdict = decide(spec.expect, out.a.final_code, timing, quality, cdr, stall)
        errors = [e for e in (out.error, "" if alive else "switch did not answer OPTIONS "
                              "after the call") if e]
        if errors:
            verdict = Verdict(Status.ERROR if verdict.status is not Status.FAIL else Status.FAIL,
                              verdict.reasons + tuple(errors), verdict.invalid_measurement)
        (call_dir / "streams.json").write_text(json.dumps(
            {k: asdict(v) if v else None for k, v in streams.items()}, indent=2))
        events = out.a.events + (out.b.events if out.b else ())
        return CallResult(spec, out.a.call_id, out.a.final_code, timing, quality, cdr, stall,
                          verdict, tuple(sorted(events, key=lambda e: e.t_mono)),
                          tuple(artifacts), started_wall, "; ".join(errors))

    def _call_packets(self, out: TwoPartyOutcome, call_dir: Path,
                      marker: str) -> list[UdpPacket]:
        """The call's packets from the run capture (after dumpcap has flushed them)."""
        if self.capture is None:
            return []
        tag = marker.encode()
        if not self.capture.sync(lambda p: tag in p.payload, 5.0):
            raise CaptureError(f"{self.capture.path}: the post-call marker {marker} never "
                               "reached the capture (dumpcap stalled or stopped)")
        events = out.a.events + (out.b.events if out.b else ())
        t0 = min(e.t_wall for e in events) - 1.0
        t1 = max(e.t_wall for e in events) + 2.0
        packets = self.capture.packets_between(t0, t1)
        self.capture.write_slice(packets, call_dir / "call.pcap")
        return packets

    def _timing(self, spec: CallSpec, out: TwoPartyOutcome, packets: list[UdpPacket],
                setup_stall: StallReport, caller_addr: str, call_dir: Path) -> CallTiming:
        timing = call_timing(out.a.events, setup_stall)
        if not packets or not caller_addr:
            return timing
        ladder = call_ladder(packets, out.a.call_id)
        switch_addr = f"{self.switch.sip_host}:{self.switch.sip_port}"
        wire = wire_timing(ladder, caller_addr, switch_addr, spec.hangup_by == "caller")
        (call_dir / "ladder.json").write_text(json.dumps(
            {"caller": caller_addr, "switch": switch_addr,
             "messages": [asdict(m) for m in ladder]}, indent=1))
        return replace(timing, wire_srd_s=_r6(wire.srd_s), wire_setup_s=_r6(wire.setup_s),
                       wire_sdd_s=_r6(wire.sdd_s), retransmissions=wire.retransmissions)

    def _quality(self, spec: CallSpec, out: TwoPartyOutcome, call_dir: Path,
                 stall: StallReport, packets: list[UdpPacket],
                 ) -> tuple[tuple[QualityScore, ...], dict[str, StreamStats | None],
                            list[tuple[str, str]]]:
        if out.b is None or out.a.final_code != 200 or spec.expect.mos_lqo_min is None:
            return (), {}, []
        scores: list[QualityScore] = []
        streams: dict[str, StreamStats | None] = {}
        legs: dict[str, tuple[LegOutcome, LegOutcome, str]] = {
            "a_to_b": (out.a, out.b, "a"), "b_to_a": (out.b, out.a, "b")}
        for direction, (_sender, receiver, ref_key) in legs.items():
            local = receiver.stats.local_rtp if receiver.stats else ""
            negotiated = receiver.stats.codec if receiver.stats else ""
            agent_q, wire_q, st = assess(DirectionInput(
                direction, self.refs[ref_key], spec.codec, negotiated, receiver.record_wav,
                receiver.record_span_s, rtp_toward(packets, local) if local else [],
                call_dir / f"wire_{direction}.wav" if self.capture else None), stall)
            scores += [agent_q, wire_q]
            streams[f"wire_{direction}"] = st
        artifacts = [(p.stem, str(p.relative_to(self.run_dir)))
                     for p in sorted(call_dir.iterdir()) if p.suffix in (".wav", ".pcap")]
        return tuple(scores), streams, artifacts

    def _cdr(self, spec: CallSpec, out: TwoPartyOutcome) -> CdrCheck:
        call_id = out.a.call_id
        for hook in self.before_cdr_fetch:
            hook(call_id)
        source = self.switch.cdr_source()
        answered = out.a.final_code == 200
        deadline = time.monotonic() + self.cfg.cdr.wait_s
        records = source.by_call_id(call_id)
        while not records and time.monotonic() < deadline:
            time.sleep(0.1)
            records = source.by_call_id(call_id)
        answer = out.a.first("CONNECTING", "2") or out.a.first("CONFIRMED", "2")
        hanger = out.a if spec.hangup_by == "caller" else (out.b or out.a)
        end = hanger.first("BYE_SENT") or out.a.first("DISCONNECTED")
        ledger = Ledger(call_id, self.plan.line(spec.caller).number,
                        self.plan.normalise(self.plan.resolve_dial(spec.dial)), answered,
                        answer.t_wall if answer else None, end.t_wall if end else None)
        return reconcile(ledger, records, self.cfg.cdr.time_tolerance_s,
                         self.cfg.cdr.duration_tolerance_s)
