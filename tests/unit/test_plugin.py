"""The pytest plugin: plan tables collected with plan numbers as ids; dry run."""

import pytest

PLAN = '''
from harness.model import CallSpec, Expect
PLAN = [
    CallSpec("1.1", "on-net cross-site", caller="site1/01", dial="site2/01"),
    CallSpec("1.2", "on-net same-site", caller="site1/02", dial="4135550103"),
]
'''


def test_collect_only_lists_plan_numbers(pytester: pytest.Pytester) -> None:
    pytester.mkdir("testplans")
    pytester.path.joinpath("testplans", "plan_01_onnet.py").write_text(PLAN)
    result = pytester.runpytest_subprocess("testplans", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["testplans/plan_01_onnet.py::1.1",
                                 "testplans/plan_01_onnet.py::1.2", "*2 tests collected*"])


def test_k_selects_by_call_type(pytester: pytest.Pytester) -> None:
    pytester.mkdir("testplans")
    pytester.path.joinpath("testplans", "plan_01_onnet.py").write_text(PLAN)
    result = pytester.runpytest_subprocess("testplans", "--collect-only", "-q", "-k", "same")
    result.stdout.fnmatch_lines(["testplans/plan_01_onnet.py::1.2", "*1/2 tests collected*"])


def test_dry_run_prints_calls_and_sends_nothing(pytester: pytest.Pytester) -> None:
    pytester.mkdir("testplans")
    pytester.path.joinpath("testplans", "plan_01_onnet.py").write_text(PLAN)
    result = pytester.runpytest_subprocess("testplans", "--dry-run", "--reports", "out")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "*dry run*nothing was sent*",
        "1.1 on-net cross-site: site1/01 (4135550100) dials 4135550112 -> onnet*site2/01*",
        "1.2 on-net same-site: site1/02 (4135550101) dials 4135550103 -> onnet*site1/04*"])
    assert not pytester.path.joinpath("out").exists()  # no session was started


def test_dry_run_applies_the_dial_guard(pytester: pytest.Pytester) -> None:
    pytester.mkdir("testplans")
    pytester.path.joinpath("testplans", "plan_09_bad.py").write_text(
        "from harness.model import CallSpec\n"
        "PLAN = [CallSpec('9.1', 'off-plan', caller='site1/01', dial='2125550124')]\n")
    result = pytester.runpytest_subprocess("testplans", "--dry-run")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*refused to dial '2125550124'*outside the test number plan*"])


def test_duplicate_plan_ids_are_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.mkdir("testplans")
    pytester.path.joinpath("testplans", "plan_02_dup.py").write_text(
        "from harness.model import CallSpec\n"
        "PLAN = [CallSpec('2.1', 'a', 'site1/01', 'site2/01'),"
        " CallSpec('2.1', 'b', 'site1/01', 'site2/02')]\n")
    result = pytester.runpytest_subprocess("testplans", "--collect-only")
    result.stdout.fnmatch_lines(["*plan id 2.1 appears twice*"])


def test_bad_sut_config_fails_every_call_with_one_clear_line(pytester: pytest.Pytester) -> None:
    pytester.mkdir("testplans")
    pytester.path.joinpath("testplans", "plan_01_onnet.py").write_text(PLAN)
    pytester.path.joinpath("sut.yaml").write_text("sut:\n  colour: blue\n")
    result = pytester.runpytest_subprocess("testplans", "--sut", "sut.yaml", "--reports", "out")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*sut.yaml: field 'sut.colour' = 'blue': unknown key*"])


def test_dry_run_guards_and_shows_a_transfer_target(pytester: pytest.Pytester) -> None:
    pytester.mkdir("testplans")
    pytester.path.joinpath("testplans", "plan_07_xfer.py").write_text(
        "from harness.model import CallSpec\n"
        "PLAN = [CallSpec('7.6', 'transfer', 'site5/01', 'site5/02', transfer_to='site5/03'),\n"
        "        CallSpec('7.7', 'bad transfer', 'site5/01', 'site5/02',"
        " transfer_to='2125550124')]\n")
    result = pytester.runpytest_subprocess("testplans", "--dry-run")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*refused to dial '2125550124'*outside the test number plan*",
                                 "7.6 transfer: site5/01 (*) dials * then transferred to "
                                 "4135550150*"])


def test_security_rows_dry_run_and_rows_the_config_leaves_out(
        pytester: pytest.Pytester) -> None:
    """§12: the dial guard applies to a probe's target; rows a config leaves out are
    skipped with the reason (they are not rows of that run's plan)."""
    from pathlib import Path

    plan = Path(__file__).parents[2] / "testplans" / "plan_12_security.py"
    pytester.mkdir("testplans")
    pytester.path.joinpath("testplans", "plan_12_security.py").write_text(plan.read_text())
    result = pytester.runpytest_subprocess("testplans", "--dry-run", "-rs")
    result.assert_outcomes(passed=9, skipped=4)
    result.stdout.fnmatch_lines([
        "*12.1 unauthenticated INVITE international: probe unauthenticated_invite to "
        "011442079460123 at 127.0.0.1:auto from 127.0.0.2*",
        "SKIPPED ?3?*not applicable*security.binds_lines_to_addresses: false*",
        "SKIPPED ?1?*opt-in*security.torture: true*"])
    assert "warning" not in result.stdout.str()
    pytester.path.joinpath("testplans", "plan_12_bad.py").write_text(
        "from harness.model import ProbeKind, ProbeSpec\n"
        "PLAN = [ProbeSpec('12.99', 'off-plan', ProbeKind.UNAUTHENTICATED_INVITE, "
        "'011441234567890', line='site7/12')]\n")
    result = pytester.runpytest_subprocess("testplans/plan_12_bad.py", "--dry-run")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*refused to dial '011441234567890'*"])


def test_each_rows_line_starts_with_its_count_elapsed_and_eta() -> None:
    from harness.plugin import progress_prefix

    assert progress_prefix(1, 64, 10.0) == "[ 1/64]   10 s ETA  630 s "
    assert progress_prefix(64, 64, 170.0) == "[64/64]  170 s ETA    0 s "
    assert progress_prefix(0, 64, 1.0) == "[ 0/64]    1 s ETA    ? s "
    assert progress_prefix(3, 0, 1.0) == ""  # nothing collected: no prefix


def test_collect_only_rejects_a_misspelt_row_naming_file_row_field_and_value(
        pytester: pytest.Pytester) -> None:
    """`callee_behaviour="bussy"` used to ring and never answer, blamed on the switch."""
    pytester.mkdir("testplans")
    pytester.path.joinpath("testplans", "plan_05_completion.py").write_text('''
from harness.model import CallSpec, Expect
PLAN = [CallSpec("5.1", "busy", caller="site1/05", dial="site2/07",
                 callee_behaviour="bussy", hangup_by="nobody",
                 expect=Expect(final_code=486, early_media="ring"))]
''')
    result = pytester.runpytest_subprocess("testplans", "--collect-only", "-q")
    assert result.ret != 0
    out = result.stdout.str()
    assert "plan_05_completion.py: plan row 5.1: callee_behaviour = 'bussy': must be one " \
        "of 'answer', 'busy', 'no_answer'" in out.replace("\n", "")
    assert "hangup_by = 'nobody'" in out and "expect.early_media = 'ring'" in out


def test_a_row_is_checked_when_it_is_written() -> None:
    from harness.model import CallSpec, PlanRowError

    with pytest.raises(PlanRowError, match=r"resume_at_s = 2.0: must come after hold_at_s"):
        CallSpec("7.2", "hold", "site6/03", "site6/04", hold_at_s=5.0, resume_at_s=2.0)
    with pytest.raises(PlanRowError, match=r"codec = 'G729'"):
        CallSpec("1.9", "g729", "site1/01", "site2/01", codec="G729")
    with pytest.raises(PlanRowError, match=r"transfer_kind = 'attended': needs transfer_to"):
        CallSpec("7.7", "att", "site5/07", "site5/08", transfer_kind="attended")
