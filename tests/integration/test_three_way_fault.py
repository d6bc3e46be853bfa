"""A 3-way bridge that does not pass the called party's voice to the third party is
caught (the agents' test fault bridge_no_b_to_c, on the shared session): the path it
drops is named not heard and fails its own PESQ score; the other five pass theirs.

A module of `alone` tests (tests/turns.py): the selftest runs the modules of alone tests
first, one after another (tests/conftest.py)."""

from collections.abc import Iterator
from dataclasses import replace

import pytest

from harness.model import Status
from harness.run.session import HarnessSession
from tests.integration.test_call_type_faults import THREE_WAY

pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.alone]


@pytest.fixture
def agent_fault(live: HarnessSession, request: pytest.FixtureRequest) -> Iterator[HarnessSession]:
    """The shared live session with one of the agents' test faults on (Script.agent_faults)."""
    with live.hooked(agent_faults=frozenset({request.param})):
        yield live


# alone: a 3-way call's figures are judged on its whole ~40 s (three parties' turns);
# beside another test's calls, each of three attempts met a stall (tests/turns.py)
@pytest.mark.parametrize("agent_fault", ["bridge_no_b_to_c"], indirect=True)
def test_a_3way_bridge_that_does_not_pass_b_to_c_is_caught(
        agent_fault: HarnessSession) -> None:
    """Scored (the plan's 7.8): the path the bridge drops is named not heard, and fails
    its own PESQ score alone; the other five pass theirs (C's voice by its own floor)."""
    scored = replace(THREE_WAY, expect=replace(THREE_WAY.expect, mos_lqo_min=4.2))
    r = agent_fault.run_call(scored)
    if any(not q.valid for q in r.quality):
        pytest.fail("host stalled: no valid attempt")
    assert r.verdict.status is Status.FAIL
    silent = [x for x in r.verdict.reasons if x.startswith("3-way: ")]
    assert len(silent) == 1 and silent[0].startswith(
        "3-way: B->C (site5/11 -> site7/03) not heard"), r.verdict.reasons
    assert {q.direction for q in r.quality} == {"a_to_b", "a_to_c", "b_to_a", "b_to_c",
                                                 "c_to_a", "c_to_b"}
    failed = {x.split(":")[0] for x in r.verdict.reasons if x.startswith("quality.")}
    assert failed == {"quality.b_to_c.wire"}, r.verdict.reasons
    for q in r.quality:
        if q.direction.startswith("c_to"):
            assert q.floor_mos_lqo is not None and q.mos_lqo is not None
            assert q.mos_lqo >= q.floor_mos_lqo, q
