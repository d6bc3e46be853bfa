"""A known delay inserted in the switch raises SRD by that amount, on the agent and
on the wire (this kernel has no netem: the embedded Kamailio, rendered with the test
fault `delay_header`, sleeps before relaying an INVITE that carries X-Harness-Delay-Ms;
without the fault the header does nothing)."""

from collections.abc import Iterator
from dataclasses import replace

import pytest

from harness.config import load_config
from harness.model import CallResult, CallSpec, Expect
from harness.run.session import HarnessSession

pytestmark = pytest.mark.integration
DELAY_S = 0.300
ATTEMPTS = 5  # pairs placed until one is clean; none clean is a failure, not a pass


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HarnessSession]:
    cfg = load_config()
    cfg = replace(cfg, guard=replace(cfg.guard, retries_on_stall=0),
                  sut=replace(cfg.sut, test_faults="delay_header"))
    session = HarnessSession(cfg, tmp_path_factory.mktemp("timing"))
    session.start()
    yield session
    session.close()


def _spec(delay_ms: int) -> CallSpec:
    headers = (("X-Harness-Delay-Ms", str(delay_ms)),) if delay_ms else ()
    return CallSpec("4.1", "on-net cross-site", caller="site1/01", dial="site2/01",
                    expect=Expect(srd_s_max=3.0, mos_lqo_min=None, cdr=False),
                    headers=headers, talk_s=1.0)


# alone: a 300 ms delay measured to +/-10 ms (beside another test's calls the
# baseline call came out 27 ms slower: tests/turns.py)
@pytest.mark.alone
def test_injected_switch_delay_shows_in_srd_on_agent_and_wire(live: HarnessSession) -> None:
    pairs: list[tuple[CallResult, CallResult]] = []
    for _ in range(ATTEMPTS):  # a clean pair is needed; a stalled one is flagged, not judged
        base, slow = live.run_call(_spec(0)), live.run_call(_spec(300))
        pairs.append((base, slow))
        if base.timing.valid and slow.timing.valid:
            break
    base, slow = pairs[-1]
    for r in (base, slow):
        assert r.final_code == 200
        assert r.timing.srd_s is not None and r.timing.wire_srd_s is not None
    if not (base.timing.valid and slow.timing.valid):
        for b, s in pairs:  # every attempt carries its stall evidence
            assert any(not r.timing.valid and "host stalled" in r.timing.invalid_reason
                       for r in (b, s))
        pytest.fail(f"host stalled in all {ATTEMPTS} attempts: the delay was never measured "
                    "(a guard that marks everything invalid must not pass this test)")
    assert slow.timing.srd_s - base.timing.srd_s == pytest.approx(DELAY_S, abs=0.010)
    assert slow.timing.wire_srd_s - base.timing.wire_srd_s == pytest.approx(DELAY_S, abs=0.010)
    for r in (base, slow):  # agent and wire see the same call set-up
        assert abs(r.timing.diff_ms("srd_s") or 0.0) < 20.0
        assert r.timing.retransmissions == 0
