"""One real on-net call through the embedded switch, measured, and each detection
path shown catching the fault it claims to detect."""

import json
import os
from dataclasses import replace

import pytest

from harness.model import CallResult, CallSpec, Expect, Status
from harness.network.faults import drop_udp, ensure_running, stall_process
from harness.run.session import HarnessSession

pytestmark = pytest.mark.integration

ONNET = CallSpec("1.1", "on-net cross-site", caller="site1/01", dial="site2/01",
                 expect=Expect(final_code=200, srd_s_max=3.0, mos_lqo_min=4.2))
# the CDR faults are judged on the switch's record alone: a short call, its voice not
# scored (every other check of the row stays)
ONNET_UNSCORED = replace(ONNET, talk_s=2.0, expect=replace(ONNET.expect, mos_lqo_min=None))


def _valid_or_flagged(r: CallResult) -> None:
    """A real-time figure is either valid and meets its threshold, or flagged invalid
    with the stall that explains it."""
    for q in r.quality:
        if q.valid:
            assert q.mos_lqo is not None and q.mos_lqo >= 4.2, (q.direction, q.source, q)
        else:
            assert r.stall is not None and not r.stall.clean, q
            assert any(x.startswith("invalid_measurement: host stalled") for x in q.reasons)


def test_onnet_call_is_timed_cdr_matched_and_scored(live: HarnessSession) -> None:
    r = live.run_call(ONNET)
    assert r.final_code == 200 and r.call_id
    assert r.stall is not None and r.stall.samples > 0
    # timing (RFC 6076): the callee answers after 1 s of ringing
    assert r.timing.srd_s is not None and r.timing.setup_s is not None
    assert 1.0 <= r.timing.setup_s
    assert r.timing.sdt_s is not None and r.timing.sdt_s > 8.0
    if r.timing.valid:
        assert r.timing.srd_s < 3.0 and r.timing.setup_s < 1.0 + 3.0
    else:
        assert r.timing.invalid_reason.startswith("invalid_measurement")
    # the switch's CDR: found by Call-ID, numbers, answer/end within 1 s, duration
    assert r.cdr is not None and r.cdr.matched and r.cdr.rows_found == 1
    if r.stall.clean:
        assert r.cdr.mismatches == ()
    assert r.cdr.record is not None and r.cdr.record.call_id == r.call_id
    # PESQ both ways from both sources, with the recording covering the talk time
    assert {(q.direction, q.source) for q in r.quality} == {
        ("a_to_b", "agent"), ("a_to_b", "wire"), ("b_to_a", "agent"), ("b_to_a", "wire")}
    _valid_or_flagged(r)
    for q in r.quality:
        assert q.band == "nb" and q.ceiling_mos_lqo is not None
        if q.valid and q.source == "agent":
            assert abs(q.received_s / q.expected_s - 1.0) <= 0.02
        if q.valid and q.source == "wire":
            # the path is transparent: the wire scores what the codec alone scores,
            # less the 16 kHz bridge's resampling at the sender (up to 0.06 for the
            # synthetic talker, docs/media.md)
            assert q.mos_lqo == pytest.approx(q.ceiling_mos_lqo, abs=0.08)
    assert r.verdict.status in (Status.PASS, Status.ERROR)
    if r.verdict.status is Status.ERROR:
        assert r.verdict.invalid_measurement
    # machine-readable result on disk, with the fields the report builds on
    doc = json.loads((live.run_dir / "results.json").read_text())
    call = next(c for c in doc["calls"] if c["call_id"] == r.call_id)
    assert call["plan_id"] == "1.1" and call["call_type"] == "on-net cross-site"
    assert call["verdict"] == r.verdict.status.value
    assert call["timing"]["srd_s"] == r.timing.srd_s
    assert call["quality"]["a_to_b"]["mos_lqo"] is not None
    assert call["quality"]["b_to_a"]["mos_lqo"] is not None
    assert call["cdr"]["matched"] is True


@pytest.mark.fault
@pytest.mark.parametrize("chain", ["INPUT", "OUTPUT"])
def test_one_direction_of_media_cut_fails_the_call(live: HarnessSession, chain: str) -> None:
    first, last = live.receiver_rtp_ports("site2/01")  # the called side's RTP/RTCP ports
    with drop_udp(first, last, chain):
        r = live.run_call(ONNET)
    assert r.final_code == 200
    assert r.verdict.status is Status.FAIL
    agent = r.score("a_to_b", "agent")
    wire = r.score("a_to_b", "wire")
    assert agent is not None and wire is not None
    assert agent.mos_lqo is None and any(x.startswith("silence") for x in agent.reasons)
    assert any(x.startswith("quality.a_to_b.agent: silence") for x in r.verdict.reasons)
    if chain == "INPUT":  # dropped after the capture tap: the wire saw it, B did not
        assert wire.mos_lqo is not None
    else:  # dropped at the sender: nothing on the wire either
        assert wire.mos_lqo is None and any("one-way audio" in x for x in wire.reasons)
    # the other direction still flows
    back = r.score("b_to_a", "wire")
    assert back is not None and back.mos_lqo is not None
    assert not any(x.startswith("quality.b_to_a") and "silence" in x for x in r.verdict.reasons)


@pytest.mark.fault
def test_missing_cdr_row_is_caught(live: HarnessSession) -> None:
    from harness.cdr.kamailio_sqlite import KamailioSqliteCdr

    source = live.switch.cdr_source()
    assert isinstance(source, KamailioSqliteCdr)
    deleted: list[int] = []

    def lose_the_cdr(call_id: str) -> None:
        import time

        for _ in range(50):  # the switch writes it on the BYE; wait for it, then drop it
            n = source.delete_call(call_id)
            if n:
                deleted.append(n)
                return
            time.sleep(0.1)

    with live.hooked(before_cdr_fetch=(lose_the_cdr,)):
        r = live.run_call(ONNET_UNSCORED)
    assert deleted == [1]
    assert r.cdr is not None and not r.cdr.matched
    assert r.verdict.status is Status.FAIL
    assert "cdr: no record for this call" in r.verdict.reasons
    doc = json.loads((live.run_dir / "results.json").read_text())
    call = next(c for c in doc["calls"] if c["call_id"] == r.call_id)
    assert call["cdr"]["matched"] is False and call["verdict"] == "fail"


@pytest.mark.fault
def test_a_cdr_the_embedded_switchs_store_refused_is_read_from_its_log(
        live: HarnessSession) -> None:
    """Another writer holds the embedded switch's CDR database across the call's BYE
    (as its second UDP worker can for a moment): Kamailio 5.6's db_sqlite has no busy
    timeout and refuses the write, saying so in its log, where the acc module wrote
    the same record just before. The record is read from there (its source says so)
    and the call is judged on it: no re-placing, no INCOMPLETE run. A record lost with
    no refusal logged is the switch's fail (test_missing_cdr_row_is_caught); a refusal
    with no record logged is the harness's invalid measurement
    (tests/unit/test_cdr_store_log.py)."""
    import sqlite3
    import threading

    release = threading.Event()
    held = threading.Event()

    def hold_the_store() -> None:
        con = sqlite3.connect(live.switch.acc_db, timeout=30.0, isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        held.set()
        release.wait(30.0)
        con.execute("ROLLBACK")
        con.close()

    def release_before_the_fetch(call_id: str) -> None:
        release.set()

    holder = threading.Thread(target=hold_the_store, daemon=True)
    holder.start()
    assert held.wait(5.0)
    try:
        with live.hooked(before_cdr_fetch=(release_before_the_fetch,)):
            r = live.run_call(ONNET_UNSCORED)
    finally:
        release.set()
        holder.join(10.0)
    con = sqlite3.connect(live.switch.acc_db)
    try:  # the store really refused it
        stored = con.execute("SELECT COUNT(*) FROM acc_cdrs WHERE callid = ?",
                             (r.call_id,)).fetchone()[0]
    finally:
        con.close()
    assert stored == 0
    assert r.cdr is not None and r.cdr.matched and r.cdr.store_error == "", r.cdr
    assert r.cdr.record is not None and "kamailio.log" in r.cdr.record.source
    assert "refused the write" in r.cdr.record.source
    assert r.cdr.mismatches == () or not r.stall or not r.stall.clean
    assert r.verdict.status is Status.PASS or r.verdict.invalid_measurement, \
        r.verdict.reasons
    assert not any(x.startswith("cdr") for x in r.verdict.reasons), r.verdict.reasons


@pytest.mark.fault
@pytest.mark.parametrize("starved", ["the host (controller and both agents)",
                                     "callee's agent worker"])
def test_a_stall_during_the_call_is_flagged_not_blamed_on_the_switch(
        live: HarnessSession, starved: str) -> None:
    assert live.farm is not None
    callee = live.farm.pid(live.farm.worker_of(ONNET.dial))
    pids = [callee] if starved == "callee's agent worker" else \
        [os.getpid(), callee, live.farm.pid(live.farm.worker_of(ONNET.caller))]
    helper = stall_process(pids, after_s=6.0, for_s=0.8)  # mid-speech
    try:
        r = live.run_call(ONNET)
    finally:
        helper.wait(timeout=60)
        for pid in pids:
            ensure_running(pid)
    assert r.stall is not None and r.stall.max_stall_s >= 0.7
    # the stall came 6 s into the talk: set-up timing was taken before it
    assert r.timing.srd_s is not None
    if r.timing.valid:
        assert r.timing.srd_s < 3.0
    agent = [q for q in r.quality if q.source == "agent"]
    assert agent and all(not q.valid for q in agent)
    assert all(any("host stalled" in x for x in q.reasons) for q in agent)
    assert r.verdict.status is not Status.PASS
    assert r.verdict.invalid_measurement
    assert any("invalid_measurement" in x for x in r.verdict.reasons)


@pytest.mark.fault
def test_a_talking_agent_starved_where_the_guard_cannot_see_is_caught_from_the_capture(
        live: HarnessSession) -> None:
    """The caller's agent worker stopped 0.8 s mid-speech, with its lateness reports
    kept from the guard (as CPU starvation kept them: talkers 2.8-5.5 s behind their
    clock under two CPU hogs while no sampler woke 100 ms late). The capture saw the
    caller's speech leave its agent 800 ms behind its own media clock: that direction's
    scores are the harness's own, invalid with that cause, never the switch's fail.
    The same stopped worker received B's speech: its recorder lost the 0.8 s its clock
    stood still, and a recording shorter than its connected time is the harness's own
    too. B's wire, from a talker on its clock, is judged as usual."""
    assert live.farm is not None
    pid = live.farm.pid(live.farm.worker_of(ONNET.caller))
    feed, live.farm.on_stalls = live.farm.on_stalls, None  # the guard blind to workers
    helper = stall_process(pid, after_s=6.0, for_s=0.8)  # mid-speech
    try:
        r = live.run_call(ONNET, retries_on_stall=0)
    finally:
        helper.wait(timeout=60)
        ensure_running(pid)
        live.farm.on_stalls = feed
    assert r.stall is not None and r.stall.clean, r.stall  # the guard saw nothing
    a_to_b = [q for q in r.quality if q.direction == "a_to_b"]
    b_to_a = [q for q in r.quality if q.direction == "b_to_a"]
    assert len(a_to_b) == 2 and all(not q.valid for q in a_to_b), a_to_b
    assert all(q.talker_late_ms is not None and q.talker_late_ms >= 700 for q in a_to_b)
    assert all(any("talking agent sent this speech up to" in x for x in q.reasons)
               for q in a_to_b), a_to_b
    assert all(q.talker_late_ms is not None and q.talker_late_ms < 100 for q in b_to_a)
    heard = {q.source: q for q in b_to_a}
    assert not heard["agent"].valid and any(
        "its media clock lost time" in x for x in heard["agent"].reasons), heard["agent"]
    assert heard["wire"].valid and heard["wire"].mos_lqo is not None and \
        heard["wire"].mos_lqo >= 4.2, heard["wire"]
    assert r.verdict.status is Status.ERROR and r.verdict.invalid_measurement, \
        r.verdict.reasons


@pytest.mark.fault
def test_a_stall_of_the_controller_alone_is_its_own_not_the_calls(
        live: HarnessSession) -> None:
    """The controller stopped 0.8 s mid-speech while the agents ran on: the guard's
    sampler (in the controller) is late, no agent worker is. The controller is in no
    call's media or timing, so the call's figures stand and it passes; the stall is
    kept as the controller's own (GIL waits behind the measuring of other calls looked
    like this in plan runs and re-placed calls a host pause had not touched)."""
    pid = os.getpid()
    helper = stall_process(pid, after_s=6.0, for_s=0.8)  # mid-speech
    try:
        r = live.run_call(ONNET)
    finally:
        helper.wait(timeout=60)
        ensure_running(pid)
    assert r.stall is not None
    assert r.stall.controller_only >= 1 and r.stall.controller_max_s >= 0.7, r.stall
    assert r.stall.clean, r.stall
    assert len(r.quality) == 4 and all(q.valid for q in r.quality), r.verdict.reasons
    assert r.verdict.status is Status.PASS, r.verdict.reasons


@pytest.mark.fault
def test_a_stall_in_the_silence_after_the_speech_leaves_the_call_valid(
        live: HarnessSession) -> None:
    """A call that talks longer than its speech (9.1's 61 s for billing) is judged on the
    stalls of each figure's own window: the callee's agent worker stopped for 0.8 s in
    the silence after the scored speech changes no score, no set-up time and no CDR
    time, so the call is neither invalid nor re-placed (a host pause there re-placed
    9.1, +62 s, in 3 of 4 plan runs). The same stop during the speech is invalid
    (test_a_stall_during_the_call_is_flagged_not_blamed_on_the_switch)."""
    assert live.farm is not None
    pid = live.farm.pid(live.farm.worker_of(ONNET.dial))
    # speech: about 1 s of ringing, the references (under 10 s) and 1.5 s of tail
    helper = stall_process(pid, after_s=17.0, for_s=0.8)
    try:
        r = live.run_call(replace(ONNET, talk_s=24.0), retries_on_stall=0)
    finally:
        helper.wait(timeout=60)
        ensure_running(pid)
    assert r.stall is not None and r.stall.max_stall_s >= 0.7, r.stall  # seen in the call
    assert r.timing.valid and r.final_code == 200
    assert len(r.quality) == 4 and all(q.valid for q in r.quality), r.verdict.reasons
    assert all(q.mos_lqo is not None and q.mos_lqo >= 4.2 for q in r.quality), r.verdict.reasons
    assert r.cdr is not None and r.cdr.matched and r.cdr.mismatches == ()
    assert r.verdict.status is Status.PASS, r.verdict.reasons
    assert not r.verdict.invalid_measurement


@pytest.mark.skipif(os.geteuid() != 0, reason="a niceness below 0 needs root")
def test_the_embedded_switch_runs_above_the_harnesss_own_work(live: HarnessSession) -> None:
    """Kamailio and rtpengine run at LAB_SWITCH_NICENESS: on this 2-core host the
    harness's measuring otherwise delayed rtpengine's relaying by up to 140 ms."""
    from harness.softswitch.kamailio import EmbeddedKamailio
    from harness.softswitch.process import LAB_SWITCH_NICENESS

    switch = live.switch
    assert isinstance(switch, EmbeddedKamailio)
    for child in (switch.kamailio, switch.rtpengine):
        assert child is not None and child.pid is not None
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == LAB_SWITCH_NICENESS, child.name
