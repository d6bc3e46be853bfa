"""Call set-up metrics (RFC 6076) from an agent's SIP timeline, and the verdict.

RFC 6076 §4.3 Session Request Delay (SRD): from the first INVITE the caller sends
to the first provisional response other than 100 (or the final response when none
came). The first INVITE is the user's dialling instant, so a digest challenge round
trip counts, as the caller experiences it (post-dial delay).
§4.4 Session Disconnect Delay (SDD): BYE sent -> its final response. Measured on the
wire only: pjsua reports DISCONNECTED when it *sends* the BYE (measured: 0.3-0.5 ms
after it, while the 200 came 1.6-2.4 ms after it on the wire), so an agent never sees
the response and the agent-side SDD is left unmeasured (None).
§4.5 Session Duration Time (SDT): 200 OK -> BYE.
setup_s: INVITE -> 200 OK (ITU-T E.721 "call set-up time" as seen by the caller).
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.capture.rtp import StreamStats
from harness.model import (
    CallTiming,
    CdrCheck,
    Expect,
    QualityScore,
    SipEvent,
    StallReport,
    Verdict,
    first_event,
)
from harness.verdict.checks import Check, Outcome, cause_of, invalid_reason, passed
from harness.verdict.thresholds import Bound, RowLimits

# CDR fields compared with what the agents' clocks read (the answer, the release, the
# talk between them): the billed seconds and charge are judged on that talk time, and
# false answer supervision on those moments, as the times themselves are
_CDR_TIME_FIELDS = ("answer_time", "end_time", "duration_s", "billed_s", "charge",
                    "false_answer_supervision")


def answer_event(caller: tuple[SipEvent, ...]) -> SipEvent | None:
    """The 2xx that answered the caller's INVITE (pjsua reports it as CONNECTING, or
    as CONFIRMED when the ACK went out at once)."""
    return first_event(caller, "CONNECTING", "2") or first_event(caller, "CONFIRMED", "2")


def setup_window(caller: tuple[SipEvent, ...]) -> tuple[float, float] | None:
    """Monotonic [INVITE sent, answer or final response] of the caller's leg: the
    window in which a host stall distorts SRD and set-up time."""
    invite = first_event(caller, "INVITE_SENT")
    end = answer_event(caller) or first_event(caller, "DISCONNECTED")
    if invite is None:
        return None
    return invite.t_mono, (end.t_mono if end else invite.t_mono)


def call_timing(caller: tuple[SipEvent, ...], stall: StallReport | None) -> CallTiming:
    """RFC 6076 figures; `stall` is the guard's report for `setup_window(caller)`."""
    invite = first_event(caller, "INVITE_SENT")
    early = first_event(caller, "EARLY", "18")
    answer = answer_event(caller)
    disc = first_event(caller, "DISCONNECTED")
    bye = first_event(caller, "BYE_SENT")
    srd = setup = sdt = sdd = None  # sdd: wire only (see the module docstring)
    if invite is not None:
        first_resp = early or answer or disc
        srd = first_resp.t_mono - invite.t_mono if first_resp else None
        setup = answer.t_mono - invite.t_mono if answer else None
    if answer is not None:
        end = bye or disc
        sdt = end.t_mono - answer.t_mono if end else None
    valid = stall is None or stall.clean
    return CallTiming(_r(srd), _r(setup), _r(sdt), _r(sdd), valid,
                      "" if valid or stall is None else invalid_reason(stall.describe()))


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def decide(expect: Expect, limits: RowLimits, final_code: int | None, timing: CallTiming,
           quality: tuple[QualityScore, ...], cdr: CdrCheck | None,
           call_stall: StallReport | None = None, refused: str = "",
           streams: Mapping[str, StreamStats | None] | None = None,
           cdr_stall: StallReport | None = None,
           sent: Mapping[str, StreamStats | None] | None = None,
           refused_outcome: Outcome = Outcome.FAIL) -> Verdict:
    """Pass/fail per check; real-time figures taken during a host stall are 'invalid'
    (never a pass, never blamed on the switch): verdict ERROR with invalid_measurement.
    `limits`: the call's one limit per figure (the row's, or its class's or codec's:
    `ThresholdTable.compile`). `refused`: who refused the call and why, when a far end
    did (it then stands for the final code's reason, with the code in it);
    `refused_outcome`: whose that refusal is (the switch's FAIL, or the harness's ERROR
    when its far end could not take what the switch legitimately sent).

    `call_stall` covers the whole call: a stream figure that fails while the host
    stalled is the host's (a paused sender bunches its packets). `cdr_stall` covers the
    moments the agents read their clocks for the CDR's answer/end times (the whole
    call when not given): a time that disagrees after a stall there is invalid."""
    cdr_stall = call_stall if cdr_stall is None else cdr_stall
    cdr_clean = cdr_stall is None or cdr_stall.clean
    checks: list[Check] = []
    if final_code != expect.final_code:
        got = f"final_code: expected {expect.final_code}, got {final_code}"
        checks.append(Check("final_code", refused_outcome if refused else Outcome.FAIL,
                            f"{got}: {refused}" if refused else got,
                            final_code, "", f"= {expect.final_code}", "row"))
    else:
        checks.append(passed("final_code", final_code, "", f"= {expect.final_code}", "row"))
    for name, value in (("srd_s", timing.srd_s), ("setup_s", timing.setup_s)):
        if (bound := limits.get(name)) is not None:
            checks.append(_timing_check(f"timing.{name}", value, bound, timing))
    floor = limits.get("mos_lqo")
    if floor is not None and expect.final_code == 200:
        for q in quality:
            if q.note:  # not scored by design (the wire of an SRTP call)
                continue
            checks.extend(_quality_checks(q, floor))
    checks += _stream_checks(limits, streams or {}, call_stall, quality, sent or {})
    if expect.cdr and cdr is not None:
        checks.extend(_cdr_checks(cdr, cdr_clean, cdr_stall))
    return Verdict.of(checks)


def _timing_check(criterion: str, value: float | None, bound: Bound,
                  timing: CallTiming) -> Check:
    shown = bound.shown(3)
    if value is None:
        return Check(criterion, Outcome.FAIL, f"{criterion}: not measured", None, "s", shown,
                     bound.origin)
    if not timing.valid:
        return Check(criterion, Outcome.INVALID, f"{criterion} {value:.3f} s: "
                     f"{timing.invalid_reason}", value, "s", shown, bound.origin,
                     cause=cause_of(timing.invalid_reason) or timing.invalid_reason)
    if not bound.holds(value):
        return Check(criterion, Outcome.FAIL, f"{criterion}: {value:.3f} s {bound.breached} "
                     f"{bound.limit:.3f} s", value, "s", shown, bound.origin)
    return passed(criterion, value, "s", shown, bound.origin)


def _quality_checks(q: QualityScore, row: Bound) -> list[Check]:
    """One score against its floor (the row's, or its own where that is lower)."""
    where = f"quality.{q.direction}.{q.source}"
    floor = q.floor_for(row.limit)
    own = q.floor_mos_lqo is not None and floor < row.limit
    limit, source = f"{row.threshold.operator} {floor:.2f}", "score" if own else row.origin
    hard = [r for r in q.reasons if not cause_of(r)]
    if hard and (q.mos_lqo is None or not q.valid):
        return [Check(where, Outcome.FAIL, f"{where}: {r}", q.mos_lqo, "MOS", limit, source)
                for r in hard]
    if not q.valid:
        shown = "none" if q.mos_lqo is None else f"{q.mos_lqo:.2f}"
        causes = "; ".join(c for r in q.reasons if (c := cause_of(r)))
        return [Check(where, Outcome.INVALID, f"{where}: mos_lqo {shown} " + "; ".join(q.reasons),
                      q.mos_lqo, "MOS", limit, source, cause=causes or "not valid")]
    if q.mos_lqo is None:
        return [Check(where, Outcome.FAIL, f"{where}: not scored", None, "MOS", limit, source)]
    if not row.holds(q.mos_lqo, floor):
        return [Check(where, Outcome.FAIL, f"{where}: mos_lqo {q.mos_lqo:.2f} {row.breached} "
                      f"{floor:.2f}" + (f" ({q.floor_why})" if own and q.floor_why else ""),
                      q.mos_lqo, "MOS", limit, source)]
    out = [Check(where, Outcome.FAIL, f"{where}: {r}", q.mos_lqo, "MOS", limit, source)
           for r in hard]
    return out or [passed(where, q.mos_lqo, "MOS", limit, source)]


_UNITS = {"loss_pct": "%", "jitter_ms": "ms"}


# jitter the path may add to what the harness's talking agent sent and the jitter still
# be called the agent's own (harness/media/assess.py SWITCH_ADDED_JITTER_MS, the same)
SENT_JITTER_SLACK_MS = 5.0


def _stream_checks(limits: RowLimits, streams: Mapping[str, StreamStats | None],
                   stall: StallReport | None = None,
                   quality: tuple[QualityScore, ...] = (),
                   sent: Mapping[str, StreamStats | None] | None = None) -> list[Check]:
    """The wire's RFC 3550 figures of each direction against the codec's limits; one
    that fails while the host stalled during the call is invalid, not a fail (a
    paused talking agent sends its packets late and bunched: jitter the path did not
    add), and so is one that fails where a wire score is invalid for a cause of the
    harness's own (a talking agent behind its clock, a capture that dropped packets):
    those figures are the same packets'; and jitter over the limit that each failing
    direction's stream already had as the harness's talking agent sent it (`sent`, by
    the same keys: the capture where it left the agent), the path adding no more than
    SENT_JITTER_SLACK_MS. One that passes stands: a stall adds jitter and loss, it hides
    none."""
    stalled = stall is not None and not stall.clean
    own = next((c for q in quality if q.source == "wire" and not q.valid
                for c in map(cause_of, q.reasons) if c), "")
    out = []
    for metric in ("loss_pct", "jitter_ms"):
        bound = limits.get(metric)
        values = [getattr(st, metric) for st in streams.values() if st is not None]
        if bound is None or not values:
            continue  # not judged on this call, or not measured (no answered media)
        result = bound.threshold.evaluate(values)
        outcome, why, cause = Outcome.PASS, "", ""
        if not result.passed:
            outcome, why = Outcome.FAIL, f"stream.{metric}: {result.text}"
            sent_late = _sent_jitter(bound, streams, sent or {}) \
                if metric == "jitter_ms" else ""
            if stalled and stall is not None:
                outcome, cause = Outcome.INVALID, stall.describe()
                why = f"{why} ({invalid_reason(cause)})"
            elif own or sent_late:
                outcome, cause = Outcome.INVALID, own or sent_late
                why = f"{why} ({invalid_reason(cause)})"
        out.append(Check(f"stream.{metric}", outcome, why, result.measured, _UNITS[metric],
                         str(bound.threshold), bound.origin, cause=cause))
    return out


def _sent_jitter(bound: Bound, streams: Mapping[str, StreamStats | None],
                 sent: Mapping[str, StreamStats | None]) -> str:
    """Why the wire's jitter over `bound` is the harness's own talking agents', or '':
    every direction over it had that jitter already as it left its talking agent."""
    over = {k: st for k, st in streams.items()
            if st is not None and not bound.threshold.evaluate([st.jitter_ms]).passed}
    had = {k: sent.get(k) for k in over}
    if not over or any(s is None or s.jitter_ms < st.jitter_ms - SENT_JITTER_SLACK_MS
                       for k, st in over.items() for s in [had[k]]):
        return ""
    return "; ".join(f"{k}: {st.jitter_ms:.1f} ms of jitter, {sent_st.jitter_ms:.1f} ms "
                     "already as the harness's talking agent sent it (its host ran it late)"
                     for k, st in over.items() if (sent_st := had[k]) is not None)


def _cdr_checks(cdr: CdrCheck, call_clean: bool, call_stall: StallReport | None) -> list[Check]:
    """The switch's record of the call: found, and each field as the call happened."""
    if not cdr.matched and cdr.store_error:
        return [Check("cdr", Outcome.INVALID, "cdr: no record for this call "
                      f"({invalid_reason(cdr.store_error)})", cdr.rows_found,
                      cause=cdr.store_error)]
    if not cdr.matched:
        return [Check("cdr", Outcome.FAIL, "cdr: no record for this call", cdr.rows_found)]
    out = [passed("cdr", cdr.rows_found)]
    for m in cdr.mismatches:
        if m.field in _CDR_TIME_FIELDS and not call_clean and call_stall is not None:
            # the agent's own clock readings were delayed by the stall
            cause = call_stall.describe()
            out.append(Check(f"cdr.{m.field}", Outcome.INVALID,
                             f"cdr: {m} ({invalid_reason(cause)})",
                             m.actual, "", f"= {m.expected}", "the call", cause=cause))
        else:
            out.append(Check(f"cdr.{m.field}", Outcome.FAIL, f"cdr: {m}", m.actual, "",
                             f"= {m.expected}", "the call"))
    return out
