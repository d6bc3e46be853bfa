from harness.cdr.reconcile import CdrPolicy, Ledger, check_call
from harness.model import CdrCheck, CdrRecord

T0 = 1_795_662_764.0
LEDGER = Ledger("cid-1", "4135550100", "4135550112", True, T0, T0 + 13.34)


def _rec(**kw: object) -> CdrRecord:
    base = dict(call_id="cid-1", caller="4135550100", callee="4135550112",
                answer_wall=T0 + 0.003, end_wall=T0 + 13.341, duration_s=13.338,
                disposition="answered", sip_code=200)
    base.update(kw)
    return CdrRecord(**base)  # type: ignore[arg-type]


def reconcile(ledger: Ledger, records: list[CdrRecord]) -> CdrCheck:
    return check_call(ledger, records, CdrPolicy(1.0, 1.0)).check


def _fields(check: CdrCheck) -> set[str]:
    return {m.field for m in check.mismatches}


def test_matching_record_has_no_mismatch() -> None:
    check = reconcile(LEDGER, [_rec()])
    assert check.matched and check.mismatches == ()


def test_missing_record() -> None:
    check = reconcile(LEDGER, [])
    assert not check.matched and _fields(check) == {"cdr"}


def test_duplicate_record() -> None:
    assert _fields(reconcile(LEDGER, [_rec(), _rec()])) == {"cdr"}


def test_wrong_numbers() -> None:
    check = reconcile(LEDGER, [_rec(caller="4135550101", callee="4135550113")])
    assert _fields(check) == {"caller", "callee"}


def test_end_time_shifted_by_5_s_and_billing_after_hangup() -> None:
    check = reconcile(LEDGER, [_rec(end_wall=T0 + 18.34, duration_s=18.34)])
    assert _fields(check) == {"end_time", "duration_s", "billed_s",
                              "false_answer_supervision"}
    assert any("+5.000 s" in m.actual for m in check.mismatches)


def test_disposition_of_an_answered_call_recorded_as_failed() -> None:
    check = reconcile(LEDGER, [_rec(disposition="failed", sip_code=500)])
    assert "disposition" in _fields(check)
