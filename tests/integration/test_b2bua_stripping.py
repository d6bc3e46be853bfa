"""A switch that relays no X- header and delivers caller ID as E.164 (Kamailio,
`sut.behaviours: strip_private_headers,e164_caller_id`), where the carrier promised
10-digit caller ID to its phones: the calling number's form fails where it was
promised otherwise, and two calls one far end cannot tell apart are the harness's
errors, never a wrong verdict. One call or two at a time: beside other tests (the
B2BUA-like switch's 22 rows at once run alone: tests/integration/test_b2bua_switch.py)."""

from collections.abc import Iterator
from dataclasses import replace

import pytest

from harness.config import load_config
from harness.model import CallResult, CallSpec, Expect, Status
from harness.run.session import HarnessSession
from tests.integration.test_b2bua_switch import rows

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def stripping(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HarnessSession]:
    """A switch that relays no X- header and delivers caller ID as E.164, where the
    carrier promised 10-digit caller ID to its phones."""
    cfg = load_config()
    cfg = replace(cfg, guard=replace(cfg.guard, retries_on_stall=0),
                  sut=replace(cfg.sut, behaviours="strip_private_headers,e164_caller_id"),
                  numbers=replace(cfg.numbers, caller_id_form_onnet="national"))
    session = HarnessSession(cfg, tmp_path_factory.mktemp("stripping"))
    session.start()
    yield session
    session.close()


def test_e164_caller_id_fails_where_the_carrier_promised_ten_digits(
        stripping: HarnessSession) -> None:
    row = next(r for r in rows() if r.plan_id == "6.1")  # calling number delivery
    r = stripping.run_call(row)
    assert r.verdict.status is Status.FAIL
    assert [x for x in r.verdict.reasons if x.startswith("caller_id")] == [
        f"caller_id: far end shown '+1{row.expect.caller_id}' (e164), the carrier promises "
        "national on the onnet interface (numbers.caller_id_form_onnet)"]


def test_two_calls_one_far_end_cannot_tell_apart_are_errors_never_a_wrong_verdict(
        stripping: HarnessSession) -> None:
    """Two withheld callers ring one line at once, through a switch that strips the
    harness's header: nothing tells the two INVITEs apart. (The plan's scheduler never
    does this — the line is a party of both rows; here they are placed around it.)
    Each call passes (its INVITE came while it alone could be meant) or is the
    harness's own error naming the INVITE it could not attribute — never a fail."""
    import threading

    specs = [CallSpec(f"6.9{n}", "*67 privacy", caller, "*67site2/11", talk_s=3.0,
                      expect=Expect(mos_lqo_min=None, rings="site2/11"))
             for n, caller in ((1, "site1/05"), (2, "site3/05"))]
    out: dict[str, CallResult] = {}

    def place(spec: CallSpec) -> None:
        out[spec.plan_id] = stripping.run_call(spec, retries_on_stall=0)
    threads = [threading.Thread(target=place, args=(s,)) for s in specs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    statuses = {k: r.verdict.status for k, r in out.items()}
    assert Status.FAIL not in statuses.values(), {k: r.verdict.reasons for k, r in out.items()}
    errors = [r for r in out.values() if r.verdict.status is Status.ERROR]
    assert errors, statuses
    for r in errors:
        assert "could not be attributed to a call: 2 calls in progress fit it equally " \
               "(seat)" in r.verdict.reasons[0]
        assert "at site2/11" in r.verdict.reasons[0]
