"""A switch with a T.38 gateway in its media path (`sut.behaviours: t38_gateway`: the
embedded Kamailio has rtpengine turn every call's audio offer into a T.38 offer toward
the called party, rtpengine's own spandsp T.38 gateway). Real Kamailio, rtpengine and
pjsua2 agents.

The harness's fax terminals are G.711 pass-through ones (pjsua2 refuses an m=image
stream, 488): a switch that carries fax as T.38 alone cannot be measured by them, and
the fax row says so as the harness's error, not the switch's fail. A voice line offered
T.38 alone is the switch's fail, named."""

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest

from harness.config import load_config
from harness.model import CallSpec, Expect, Status
from harness.run.session import HarnessSession
from testplans.plan_07_features import PLAN

pytestmark = pytest.mark.integration
FAX_ROW = next(spec for spec in PLAN if spec.fax)


@pytest.fixture(scope="module")
def t38(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HarnessSession]:
    cfg = load_config()
    cfg = replace(cfg, guard=replace(cfg.guard, retries_on_stall=0),
                  sut=replace(cfg.sut, behaviours="t38_gateway"))
    with HarnessSession(cfg, tmp_path_factory.mktemp("t38")) as session:
        yield session


def test_a_fax_terminal_offered_t38_only_is_the_harness_error_not_the_switch_fail(
        t38: HarnessSession) -> None:
    r = t38.run_call(FAX_ROW)
    assert r.final_code == 488, r.verdict.reasons
    assert r.verdict.status is Status.ERROR, r.verdict.reasons
    why = r.verdict.reasons[0]
    assert why.startswith("final_code: expected 200, got 488: the switch offered site7/06's "
                          "fax terminal T.38 only (m=image "), why
    assert "udptl t38, no audio stream)" in why and "not measured" in why, why
    final = next(c for c in r.verdict.checks if c.criterion == "final_code")
    assert final.outcome.value == "error"
    assert not [c for c in r.verdict.checks if c.outcome.value == "fail"], r.verdict.reasons


def test_a_voice_line_offered_t38_only_is_the_switch_fail_named(t38: HarnessSession) -> None:
    r = t38.run_call(CallSpec("1.x", "on-net", "site1/03", "site2/03", talk_s=2.0,
                              expect=Expect(mos_lqo_min=None, rings="site2/03")))
    assert r.verdict.status is Status.FAIL, r.verdict.reasons
    said = re.compile(r"final_code: expected 200, got 488: site2/03 answered 488 .* — the "
                      r"offer it received was T\.38 only \(m=image \d+ udptl t38\), no "
                      r"audio, on a voice call")
    assert any(said.fullmatch(x) for x in r.verdict.reasons), r.verdict.reasons
