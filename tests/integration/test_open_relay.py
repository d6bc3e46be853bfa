"""An embedded switch rendered with the test fault open_relay (an unauthenticated INVITE
to an off-net number is relayed to the PSTN): §12's toll-fraud probes to an
international and a premium-rate number fail, each naming the INVITE at the trunk it
reached. Two probes: beside other tests (§12's whole row set runs alone:
tests/integration/test_security_rows.py)."""

from dataclasses import replace
from pathlib import Path

import pytest

from harness.config import load_config
from harness.model import ProbeKind, Status
from harness.run.session import HarnessSession
from tests.integration.test_security_rows import _cfg, _rows

pytestmark = [pytest.mark.integration]


def test_an_open_relay_fails_the_international_row_naming_the_invite_at_the_trunk(
        tmp_path: Path) -> None:
    cfg = _cfg(load_config())
    cfg = replace(cfg, sut=replace(cfg.sut, test_faults="open_relay"))
    intl, premium = _rows(ProbeKind.UNAUTHENTICATED_INVITE)[0], \
        _rows(ProbeKind.UNAUTHENTICATED_INVITE)[2]
    with HarnessSession(cfg, tmp_path / "reports") as session:
        reports = [session.run_probe(intl), session.run_probe(premium)]
    for r in reports:
        assert r.status is Status.FAIL, r
        first = r.reasons[0]
        assert first.startswith(f"toll fraud: an unauthenticated INVITE to {r.dial} reached "
                                "the PSTN trunk (INVITE Call-ID "), first
    assert " at pstn:intl" in reports[0].reasons[0]
    assert " at pstn:ld" in reports[1].reasons[0]  # premium rate: the LD trunk
    print("\n" + "\n".join(line for r in reports for line in r.lines()))
