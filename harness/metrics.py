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

from harness.model import (
    CallTiming,
    CdrCheck,
    Expect,
    QualityScore,
    SipEvent,
    StallReport,
    Status,
    Verdict,
    first_event,
)

_CDR_TIME_FIELDS = ("answer_time", "end_time", "duration_s")


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
                      "" if valid or stall is None else "invalid_measurement: " + stall.describe())


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def decide(expect: Expect, final_code: int | None, timing: CallTiming,
           quality: tuple[QualityScore, ...], cdr: CdrCheck | None,
           call_stall: StallReport | None = None, refused: str = "") -> Verdict:
    """Pass/fail per check; real-time figures taken during a host stall are 'invalid'
    (never a pass, never blamed on the switch): verdict ERROR with invalid_measurement.
    `refused`: who refused the call and why, when a far end did (it then stands for the
    final code's reason, with the code in it).

    `call_stall` covers the whole call: a stall anywhere in it delays the agent's
    own clock readings that the CDR's answer/end times are compared with."""
    call_clean = call_stall is None or call_stall.clean
    fails: list[str] = []
    invalid: list[str] = []
    if final_code != expect.final_code:
        got = f"final_code: expected {expect.final_code}, got {final_code}"
        fails.append(f"{got}: {refused}" if refused else got)
    for name, value, limit in (("srd_s", timing.srd_s, expect.srd_s_max),
                               ("setup_s", timing.setup_s, expect.setup_s_max)):
        if limit is None:
            continue
        if value is None:
            fails.append(f"timing.{name}: not measured")
        elif not timing.valid:
            invalid.append(f"timing.{name} {value:.3f} s: {timing.invalid_reason}")
        elif value > limit:
            fails.append(f"timing.{name}: {value:.3f} s > {limit:.3f} s")
    if expect.mos_lqo_min is not None and expect.final_code == 200:
        for q in quality:
            if q.note:  # not scored by design (the wire of an SRTP call)
                continue
            where = f"quality.{q.direction}.{q.source}"
            hard = [r for r in q.reasons if not r.startswith("invalid_measurement")]
            if hard and (q.mos_lqo is None or not q.valid):
                fails.extend(f"{where}: {r}" for r in hard)
            elif not q.valid:
                shown = "none" if q.mos_lqo is None else f"{q.mos_lqo:.2f}"
                invalid.append(f"{where}: mos_lqo {shown} " + "; ".join(q.reasons))
            elif q.mos_lqo is None:
                fails.append(f"{where}: not scored")
            elif q.mos_lqo < (floor := q.floor_for(expect.mos_lqo_min)):
                fails.append(f"{where}: mos_lqo {q.mos_lqo:.2f} < {floor:.2f}"
                             + (f" ({q.floor_why})" if q.floor_why else ""))
            else:
                fails.extend(f"{where}: {r}" for r in hard)
    if expect.cdr and cdr is not None:
        if not cdr.matched:
            fails.append("cdr: no record for this call")
        for m in cdr.mismatches if cdr.matched else ():
            if m.field in _CDR_TIME_FIELDS and not call_clean and call_stall is not None:
                # the agent's own clock readings were delayed by the stall
                invalid.append(f"cdr: {m} (invalid_measurement: {call_stall.describe()})")
            else:
                fails.append(f"cdr: {m}")
    if fails:
        return Verdict(Status.FAIL, tuple(fails + invalid), invalid_measurement=bool(invalid))
    if invalid:
        return Verdict(Status.ERROR, tuple(invalid), invalid_measurement=True)
    return Verdict(Status.PASS)
