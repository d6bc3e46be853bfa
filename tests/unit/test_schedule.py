"""The plan scheduler: rows overlap, but never two calls on one party, an impaired row
runs alone, a busy hour holds every row, and an exception is a verdict, not a loss."""

import threading
import time
from collections.abc import Callable
from unittest.mock import patch

import pytest

from harness.config import load_config
from harness.errors import HarnessError
from harness.model import CallResult, CallSpec, CallTiming, Expect, Status, Verdict
from harness.numberplan import NumberPlan
from harness.run.schedule import (
    CALL_BEFORE_S,
    PlanScheduler,
    expected_s,
    line_legs,
    parties,
    pstn_legs,
    quiet_from_s,
)

PLAN = NumberPlan.from_config(load_config().numbers)


def _result(spec: CallSpec) -> CallResult:
    return CallResult(spec, "cid", 200, CallTiming(0.01, 1.0, 2.0, 0.001), (), None, None,
                      Verdict(Status.PASS, ()))


class Recorder:
    """A fake run_call: records which rows were up at once."""

    def __init__(self, hold_s: float = 0.05, fail: str = "") -> None:
        self.hold_s, self.fail = hold_s, fail
        self.up: set[str] = set()
        self.overlaps: list[frozenset[str]] = []
        self.lock = threading.Lock()

    def __call__(self, spec: CallSpec) -> CallResult:
        if spec.plan_id == self.fail:
            raise RuntimeError("agent exploded")
        with self.lock:
            self.up.add(spec.plan_id)
            self.overlaps.append(frozenset(self.up))
        time.sleep(self.hold_s)
        with self.lock:
            self.up.discard(spec.plan_id)
        return _result(spec)


def test_parties_follow_the_forwarding_chain() -> None:
    spec = CallSpec("7.3", "cfu", "site6/01", "site6/06")
    assert parties(spec, PLAN) == {"site6/01", "site6/06", "site6/07"}
    assert parties(CallSpec("2.1", "local", "site1/02", "5550190"), PLAN) == {"site1/02"}
    assert parties(CallSpec("x", "bad", "site1/02", "19005550100"), PLAN) == {"site1/02"}


def test_call_returns_parties_are_its_calls_before_and_whom_it_returns_to() -> None:
    """A call return row rings its caller from each of its calls before first, and may
    reach any of them (the last, or a wrong one): all its parties; its PSTN caller puts
    a call on the gateway PSTN subscribers call from; it lasts their ringing longer."""
    spec = CallSpec("6.7", "call return", "site4/07", "*69",
                    calls_before=("site7/05", "pstn:9785550177"))
    assert parties(spec, PLAN) == {"site4/07", "site7/05"}
    assert pstn_legs(spec, PLAN, lambda trunk: trunk or "main") == {"main": 1, "ld": 1}
    assert quiet_from_s(spec, PLAN) is None
    plain = CallSpec("6.7", "x", "site4/07", "19785550177")
    assert expected_s(spec) == pytest.approx(expected_s(plain) + 2 * CALL_BEFORE_S)


def test_call_waitings_second_caller_is_a_party_or_a_pstn_leg() -> None:
    """The second caller of a call waiting row calls beside the row's call: a line is
    one of its parties, a PSTN subscriber a call on the gateway it calls from."""
    line = CallSpec("7.11", "cw", "site4/08", "site7/07", waiting_caller="site2/10")
    assert parties(line, PLAN) == {"site4/08", "site7/07", "site2/10"}
    pstn = CallSpec("7.11", "cw", "site4/08", "site7/07", waiting_caller="pstn:2125550188")
    assert parties(pstn, PLAN) == {"site4/08", "site7/07"}
    assert pstn_legs(pstn, PLAN, lambda trunk: trunk or "main") == {"main": 1}
    assert quiet_from_s(pstn, PLAN) is None


def test_calls_per_agent_worker_count_lines_that_hold_two_calls() -> None:
    """A worker holds 4 calls whichever of its lines they are on: a line taking a
    waiting call holds two, and a row that would put a fifth call on its worker waits
    (the plan run where it did not: PJ_ETOOMANY on another line of that worker)."""
    worker = {"site4/08": "w10", "site7/07": "w19", "site7/06": "w19", "site7/08": "w19"}
    cw = CallSpec("7.11", "cw", "site4/08", "site7/07", waiting_caller="pstn:2125550188")
    assert line_legs(cw, PLAN, worker.__getitem__) == {"w10": 1, "w19": 2}
    others = [CallSpec("a", "x", "site7/06", "5550190"), CallSpec("b", "y", "site7/08",
                                                                 "19785550123"),
              CallSpec("c", "z", "site1/01", "site7/05")]
    worker.update({"site1/01": "w1", "site7/05": "w19"})
    run = Recorder(hold_s=0.2)
    sched = PlanScheduler([cw, *others], run, PLAN, concurrency=8,
                          worker_of=worker.__getitem__)
    for s in (cw, *others):
        sched.result(s.plan_id)
    # 7.11 (2 on w19) + a + b (1 each) fill w19: c (site7/05 on w19) never beside all three
    assert not any({"7.11", "a", "b", "c"} <= up for up in run.overlaps), run.overlaps
    assert any({"7.11", "a", "b"} <= up for up in run.overlaps), run.overlaps


def test_rows_overlap_but_never_share_a_party() -> None:
    specs = [CallSpec("1", "a", "site1/01", "site2/01"), CallSpec("2", "b", "site1/02", "site2/02"),
             CallSpec("3", "c", "site2/01", "site3/01"),  # shares site2/01 with row 1
             CallSpec("4", "d", "site4/01", "5550190")]
    run = Recorder()
    sched = PlanScheduler(specs, run, PLAN, concurrency=8)
    results = [sched.result(s.plan_id) for s in specs]
    assert [r.spec.plan_id for r in results] == ["1", "2", "3", "4"]
    assert max(len(o) for o in run.overlaps) >= 2  # concurrency happened
    assert not any({"1", "3"} <= o for o in run.overlaps)


def test_concurrency_limit_and_impaired_rows_alone() -> None:
    specs = [CallSpec(str(i), "x", f"site{i}/01", f"site{i}/02") for i in range(1, 6)]
    specs.insert(2, CallSpec("L", "loss", "site7/01", "site7/02", profile="loss3",
                             expect=Expect(mos_lqo_min=3.1)))
    run = Recorder()
    sched = PlanScheduler(specs, run, PLAN, concurrency=2)
    for s in specs:
        sched.result(s.plan_id)
    assert max(len(o) for o in run.overlaps) == 2
    assert all(o == {"L"} for o in run.overlaps if "L" in o)


def test_a_job_that_runs_alone_runs_with_no_row_up() -> None:
    specs = [CallSpec(str(i), "x", f"site{i}/01", f"site{i}/02") for i in range(1, 7)]
    run = Recorder(hold_s=0.1)
    sched = PlanScheduler(specs, run, PLAN, concurrency=3)
    sched.after_rows("8.1", lambda release: set(run.up), alone=True)
    assert sched.job_result("8.1") == set()
    for s in specs:
        assert sched.result(s.plan_id).verdict.status is Status.PASS


def test_a_row_that_raises_gets_an_error_verdict_and_others_go_on() -> None:
    specs = [CallSpec("1", "x", "site1/01", "site2/01"), CallSpec("2", "y", "site1/02", "site2/02")]
    sched = PlanScheduler(specs, Recorder(fail="1"), PLAN, concurrency=2)
    bad, good = sched.result("1"), sched.result("2")
    assert bad.verdict.status is Status.ERROR and "agent exploded" in bad.verdict.reasons[0]
    assert good.verdict.status is Status.PASS


def test_stop_gives_unplaced_rows_an_error() -> None:
    specs = [CallSpec(str(i), "x", "site1/01", f"site2/{i:02d}") for i in range(1, 5)]
    run = Recorder(hold_s=0.2)
    sched = PlanScheduler(specs, run, PLAN, concurrency=4)  # one caller: one at a time
    time.sleep(0.05)
    sched.stop()
    last = sched.result("4")
    assert last.verdict.status is Status.ERROR and "interrupted" in last.verdict.reasons[0]


def test_no_more_than_four_calls_on_the_simulated_pstn() -> None:
    specs = [CallSpec(str(i), "local", f"site{i}/01", "5550190") for i in range(1, 7)]
    specs.append(CallSpec("did", "incoming", "pstn:2125550188", "site7/05"))
    run = Recorder(hold_s=0.1)
    sched = PlanScheduler(specs, run, PLAN, concurrency=16)
    for s in specs:
        sched.result(s.plan_id)
    assert max(len(o) for o in run.overlaps) == 4


def test_a_withheld_caller_makes_the_pstn_number_a_party() -> None:
    """Two anonymous calls to one PSTN number could not be told apart at the gateway
    (harness/sip/attribution.py): the scheduler never runs them at once. Calls that
    show their numbers may share a PSTN number."""
    withheld = parties(CallSpec("6.2", "*67", "site1/02", "*675550190"), PLAN)
    assert withheld == {"site1/02", "pstn#+14135550190"}
    assert parties(CallSpec("2.1", "local", "site1/03", "4135550190"), PLAN) == {"site1/03"}


def test_over_access_links_an_impaired_row_runs_beside_others_never_beside_another() -> None:
    """With access links a profile impairs the row's own links: the other rows go on
    beside it on the loopback; the two links carry one impaired row at a time."""
    specs = [CallSpec(str(i), "x", f"site{i}/01", f"site{i}/02") for i in range(1, 6)]
    specs[1:1] = [CallSpec("L1", "loss", "site7/01", "site7/02", profile="loss3",
                           expect=Expect(mos_lqo_min=3.1)),
                  CallSpec("L2", "delay", "site7/03", "site7/04", profile="delay150",
                           expect=Expect(mos_lqo_min=4.0))]
    run = Recorder(hold_s=0.1)
    sched = PlanScheduler(specs, run, PLAN, concurrency=4, links=1)
    for s in specs:
        sched.result(s.plan_id)
    assert any(len(o) > 1 for o in run.overlaps if "L1" in o or "L2" in o)
    assert not any({"L1", "L2"} <= o for o in run.overlaps)


def test_two_access_link_pairs_carry_two_impaired_rows_never_three() -> None:
    specs = [CallSpec(f"L{i}", "loss", f"site{i}/01", f"site{i}/02", profile="loss3",
                      expect=Expect(mos_lqo_min=3.1)) for i in range(1, 6)]
    run = Recorder(hold_s=0.1)
    sched = PlanScheduler(specs, run, PLAN, concurrency=8, links=2)
    for s in specs:
        sched.result(s.plan_id)
    assert max(len(o) for o in run.overlaps) == 2


def _trunks(trunk: str | None) -> str:
    return "pstn" if trunk is None else f"pstn-{trunk}"


def test_pstn_legs_are_counted_on_the_gateway_of_each_trunk_group() -> None:
    assert pstn_legs(CallSpec("2.1", "local", "site1/03", "4135550190"), PLAN, _trunks) == \
        {"pstn-local": 1}
    assert pstn_legs(CallSpec("4.1", "did", "pstn:2125550188", "site7/05"), PLAN, _trunks) == \
        {"pstn": 1}
    assert pstn_legs(CallSpec("1.1", "on-net", "site1/01", "site2/01"), PLAN, _trunks) == {}
    # one gateway for every trunk group (an external switch with one port): all count there
    assert pstn_legs(CallSpec("2.4", "ld", "site1/03", "12125550123"), PLAN) == {"pstn": 1}


def test_each_trunk_groups_gateway_takes_four_calls_of_its_own() -> None:
    """Local calls fill the local trunk's gateway (4), long-distance ones go on beside
    them on the ld trunk's, incoming DID calls on the main gateway's."""
    local = [CallSpec(f"l{i}", "local", f"site{i}/01", "5550190") for i in range(1, 7)]
    ld = [CallSpec(f"d{i}", "ld", f"site{i}/03", "12125550123") for i in range(1, 7)]
    specs = [*local, *ld, CallSpec("in", "incoming", "pstn:2125550188", "site7/05")]
    run = Recorder(hold_s=0.15)
    sched = PlanScheduler(specs, run, PLAN, concurrency=20, gateway_of=_trunks)
    for s in specs:
        sched.result(s.plan_id)
    assert max(sum(x.startswith("l") for x in o) for o in run.overlaps) == 4
    assert max(sum(x.startswith("d") for x in o) for o in run.overlaps) == 4
    assert max(len(o) for o in run.overlaps) > 4


def test_jobs_run_after_every_row_one_at_a_time_and_a_release_lets_the_next_start() -> None:
    """The busy hour and the security probes: each after every row; a job that releases
    the switch (the busy hour, its calls down) is still running when the next starts."""
    specs = [CallSpec(str(i), "x", f"site{i}/01", f"site{i}/02") for i in range(1, 4)]
    run = Recorder(hold_s=0.1)
    sched = PlanScheduler(specs, run, PLAN, concurrency=4)
    log: list[str] = []
    lock = threading.Lock()

    def note(what: str) -> None:
        with lock:
            log.append(what)

    def busy_hour(release: object) -> str:
        note(f"bh start, rows up {sorted(run.up)}")
        time.sleep(0.1)
        release()  # type: ignore[operator]
        time.sleep(0.3)  # measuring
        note("bh end")
        return "bh report"

    def probe(release: object) -> str:
        note("probe start")
        time.sleep(0.05)
        note("probe end")
        return "probe report"

    sched.after_rows("8.1", busy_hour)
    sched.after_rows("12.1", probe)
    assert sched.job_result("8.1") == "bh report" and sched.job_result("12.1") == "probe report"
    assert all(sched.result(s.plan_id).verdict.status is Status.PASS for s in specs)
    assert log[0] == "bh start, rows up []"  # every row done first
    assert log.index("probe start") < log.index("bh end")  # beside the busy hour's measuring
    assert log.index("probe end") < log.index("bh end")


def test_a_job_that_raises_raises_where_its_result_is_read_and_the_next_runs() -> None:
    sched = PlanScheduler([], Recorder(), PLAN, concurrency=4)
    time.sleep(0.05)  # the feeder has ended: nothing was queued
    sched.after_rows("8.1", lambda release: 1 / 0)
    sched.after_rows("12.1", lambda release: "ran")
    with pytest.raises(ZeroDivisionError):
        sched.job_result("8.1")
    assert sched.job_result("12.1") == "ran"


def test_stop_gives_jobs_not_started_an_error() -> None:
    specs = [CallSpec("1", "x", "site1/01", "site1/02")]
    sched = PlanScheduler(specs, Recorder(hold_s=0.3), PLAN, concurrency=4)
    sched.after_rows("12.1", lambda release: "ran")
    sched.stop()
    with pytest.raises(HarnessError, match="interrupted"):
        sched.job_result("12.1")


def test_a_row_is_quiet_only_when_nothing_more_of_it_can_reach_a_far_end() -> None:
    plain = CallSpec("9.1", "61 s", "site6/05", "5550190", talk_s=61.0)
    assert quiet_from_s(plain, PLAN) == plain.answer_after_s + 4.0
    for spec in (CallSpec("7.6", "x", "site5/01", "site5/02", transfer_to="site5/03"),
                 CallSpec("7.8", "x", "site5/10", "site5/11", conference_with="site7/03"),
                 CallSpec("7.2", "x", "site6/03", "site6/04", hold_at_s=11.5),
                 CallSpec("7.1", "x", "site6/01", "site6/02", dtmf_a="12"),
                 CallSpec("7.3", "x", "site6/01", "site6/06"),  # forwarded (a second INVITE)
                 CallSpec("5.2", "x", "site1/01", "site1/02", callee_behaviour="no_answer",
                          expect=Expect(final_code=408)),
                 CallSpec("11.2", "x", "site3/10", "site4/10", profile="loss1",
                          expect=Expect(mos_lqo_min=3.45))):
        assert quiet_from_s(spec, PLAN) is None, spec.plan_id


def test_a_probe_runs_beside_a_quiet_row_but_never_beside_a_transfer() -> None:
    """The billing call talks on while the probes run (it sends nothing more to a far
    end); a transfer row up holds them back until it ends."""
    billing = CallSpec("9.1", "61 s", "site6/05", "5550190", talk_s=61.0)
    transfer = CallSpec("7.6", "x", "site5/01", "site5/02", transfer_to="site5/03")
    holds = {"9.1": 0.6, "7.6": 0.3}
    ended: dict[str, float] = {}

    def run(spec: CallSpec) -> CallResult:
        time.sleep(holds[spec.plan_id])
        ended[spec.plan_id] = time.monotonic()
        return _result(spec)

    quiet = {"9.1": 0.1}  # past its set-up after 0.1 s (the plan's: answer + 4 s)
    with patch("harness.run.schedule.quiet_from_s",
               lambda spec, plan: quiet.get(spec.plan_id)):
        sched = PlanScheduler([billing, transfer], run, PLAN, concurrency=4)
    started: list[float] = []
    sched.after_rows("12.1", lambda release: started.append(time.monotonic()))
    sched.job_result("12.1")
    sched.result("9.1")
    assert ended["7.6"] <= started[0] < ended["9.1"]


def test_a_job_that_needs_every_line_waits_even_for_a_quiet_row() -> None:
    """The busy hour runs `alone`: the billing call talking on (quiet, which a probe
    may run beside) still holds its line, so the busy hour waits for it to end."""
    billing = CallSpec("9.1", "61 s", "site6/05", "5550190", talk_s=61.0)
    ended: list[float] = []

    def run(spec: CallSpec) -> CallResult:
        time.sleep(0.4)
        ended.append(time.monotonic())
        return _result(spec)

    with patch("harness.run.schedule.quiet_from_s", lambda spec, plan: 0.05):
        sched = PlanScheduler([billing], run, PLAN, concurrency=4)
    started: list[float] = []
    sched.after_rows("8.1", lambda release: started.append(time.monotonic()), alone=True)
    sched.job_result("8.1")
    assert ended and started[0] >= ended[0]


def _billing_then(jobs: list[tuple[str, bool, float | None, tuple[str, ...]]],
                  hold_s: float = 0.6) -> tuple[dict[str, float], float]:
    """The billing call (quiet from 0.05 s, expected to last `hold_s`) with `jobs`
    queued after it in that order: (key, alone, expected_s, parties). When each job
    started, and when the billing call ended."""
    billing = CallSpec("9.1", "61 s", "site6/05", "5550190", talk_s=61.0)
    ended: list[float] = []

    def run(spec: CallSpec) -> CallResult:
        time.sleep(hold_s)
        ended.append(time.monotonic())
        return _result(spec)

    with patch("harness.run.schedule.quiet_from_s", lambda spec, plan: 0.05):
        sched = PlanScheduler([billing], run, PLAN, concurrency=4,
                              duration=lambda spec: hold_s)
    started: dict[str, float] = {}

    def job(key: str) -> Callable[[Callable[[], None]], object]:
        def go(release: Callable[[], None]) -> object:
            started[key] = time.monotonic()
            time.sleep(0.1)
            return key
        return go

    for key, alone, expected, who in jobs:
        sched.after_rows(key, job(key), alone=alone, expected_s=expected, parties=who)
    for key, *_ in jobs:
        sched.job_result(key)
    return started, ended[0]


def test_a_probe_that_fits_runs_beside_the_billing_call_ahead_of_the_busy_hour() -> None:
    """The busy hour waits for the billing call; a probe expected to end before the
    billing call does goes first, beside it, and costs the run nothing."""
    started, billing_ended = _billing_then([("8.1", True, None, ()),
                                            ("12.1", False, 0.2, ("site7/11",))])
    assert started["12.1"] < billing_ended <= started["8.1"]


def test_a_probe_too_long_for_the_wait_stays_behind_the_busy_hour() -> None:
    started, billing_ended = _billing_then([("8.1", True, None, ()),
                                            ("12.12", False, 5.0, ("site7/09",)),
                                            ("12.13", False, None, ())])
    assert billing_ended <= started["8.1"] < started["12.12"] < started["12.13"]


def test_a_probe_never_runs_beside_a_row_on_one_of_its_lines() -> None:
    """12.11's real call would come from the billing call's own line: it waits."""
    started, billing_ended = _billing_then([("8.1", True, None, ()),
                                            ("12.11", False, 0.2, ("site6/05",))])
    assert billing_ended <= started["8.1"] < started["12.11"]


def test_rows_that_queue_behind_each_other_for_a_party_start_first() -> None:
    """Three rows of a hunt group (each rings all its lines) run one after another: the
    chain starts at once and runs back to back beside rows as long as each of its own,
    rather than after them (started last, it would set the run's length)."""
    hunt = [CallSpec(f"h{i}", "hunt", f"site1/0{i}", "hunt:1", talk_s=8.0,
                     expect=Expect(mos_lqo_min=None)) for i in (1, 2, 3)]
    other = [CallSpec(f"i{i}", "other", f"site5/0{i}", f"site6/0{i}", talk_s=8.0,
                      expect=Expect(mos_lqo_min=None)) for i in (1, 2, 3, 4)]
    started: list[str] = []
    run = Recorder()

    def record(spec: CallSpec) -> CallResult:
        started.append(spec.plan_id)
        return run(spec)

    sched = PlanScheduler([*other, *hunt], record, PLAN, concurrency=2)
    for s in (*other, *hunt):
        sched.result(s.plan_id)
    assert started[0] == "h1" and started.index("h2") < started.index("i3"), started


def _order(concurrency: int) -> list[str]:
    """The order rows start in: the billing call (63 s, quiet), four plain calls (quiet)
    listed before four hold rows (no probe may run beside one), 12 s each."""
    billing = CallSpec("9.1", "61 s", "site6/05", "5550190", talk_s=61.0)
    plain = [CallSpec(f"p{i}", "plain", f"site1/0{i}", f"site2/0{i}", talk_s=8.0)
             for i in (1, 2, 3, 4)]
    hold = [CallSpec(f"h{i}", "hold", f"site3/0{i}", f"site4/0{i}", hold_at_s=4.0)
            for i in (1, 2, 3, 4)]
    started: list[str] = []
    run = Recorder(hold_s=0.02)

    def record(spec: CallSpec) -> CallResult:
        started.append(spec.plan_id)
        return run(spec)

    sched = PlanScheduler([billing, *plain, *hold], record, PLAN, concurrency,
                          duration=lambda s: 63.0 if s.plan_id == "9.1" else 12.0)
    for s in (billing, *plain, *hold):
        sched.result(s.plan_id)
    return started


def test_with_slots_to_spare_the_rows_a_probe_can_run_beside_go_last() -> None:
    """Four slots: the nine rows' 159 s spread over them end long before the billing
    call's 63 s. Every hold row starts before any plain call, so the rows up last are
    plain calls talking, beside which the probes may run (rather than after the busy
    hour)."""
    started = _order(4)
    assert started[0] == "9.1", started
    assert max(started.index(f"h{i}") for i in (1, 2, 3, 4)) < \
        min(started.index(f"p{i}") for i in (1, 2, 3, 4)), started


def test_when_the_slots_bound_the_rows_the_order_is_the_longest_chain_only() -> None:
    """Two slots: 159 s over two slots is longer than the billing call. Reordering
    would only lengthen the rows, so rows of one length start in plan order."""
    started = _order(2)
    assert started[:3] == ["9.1", "p1", "p2"], started
