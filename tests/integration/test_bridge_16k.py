"""The agents' conference bridge at 16 kHz (what G.722 needs): a G.711 call still
scores at the codec's ceiling from both sources, the recording resampled to the
reference's rate before PESQ."""

from dataclasses import replace
from pathlib import Path

import pytest

from harness.config import load_config
from harness.model import CallSpec, Expect, Status
from harness.run.session import HarnessSession

pytestmark = pytest.mark.integration


def test_g711_through_a_16khz_bridge(tmp_path: Path) -> None:
    cfg = load_config()
    cfg = replace(cfg, media=replace(cfg.media, clock_rate=16000),
                  guard=replace(cfg.guard, retries_on_stall=2))
    with HarnessSession(cfg, tmp_path) as session:
        r = session.run_call(CallSpec("1.1", "on-net cross-site", "site1/01", "site2/01",
                                      expect=Expect(mos_lqo_min=4.2)))
    assert r.verdict.status in (Status.PASS, Status.ERROR), r.verdict.reasons
    for q in r.quality:
        assert abs(q.received_s / q.expected_s - 1.0) <= 0.02 or not q.valid
        if q.valid:
            assert q.mos_lqo is not None and q.ceiling_mos_lqo is not None
            # the bridge's up/down resampling costs the material 0.00-0.06 (the human
            # talker next to nothing, the synthetic one 0.05: docs/media.md); the
            # adaptive jitter buffer this replaced cost 0.25
            assert q.mos_lqo >= q.ceiling_mos_lqo - 0.08
        else:  # only a host stall may invalidate it
            assert any("host stalled" in x for x in q.reasons)
