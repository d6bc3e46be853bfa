"""The plan scheduler: rows overlap, but never two calls on one party, an impaired row
runs alone, a busy hour holds every row, and an exception is a verdict, not a loss."""

import threading
import time

from harness.config import load_config
from harness.model import CallResult, CallSpec, CallTiming, Expect, Status, Verdict
from harness.numberplan import NumberPlan
from harness.run.schedule import PlanScheduler, parties

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


def test_an_exclusive_job_runs_with_no_row_up() -> None:
    specs = [CallSpec(str(i), "x", f"site{i}/01", f"site{i}/02") for i in range(1, 7)]
    run = Recorder(hold_s=0.1)
    sched = PlanScheduler(specs, run, PLAN, concurrency=3)
    seen = sched.exclusive(lambda: set(run.up))
    assert seen == set()
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
    sched = PlanScheduler(specs, run, PLAN, concurrency=4, links=True)
    for s in specs:
        sched.result(s.plan_id)
    assert any(len(o) > 1 for o in run.overlaps if "L1" in o or "L2" in o)
    assert not any({"L1", "L2"} <= o for o in run.overlaps)
