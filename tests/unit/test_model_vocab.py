"""A plan row is checked when it is built: every choice one of its words
(harness.vocab), every party parsed (harness.party); a bad row's `PlanRowError` names
the row, each bad field, its value and what it may be — and `pytest --collect-only
testplans` refuses the plan file naming it."""

from pathlib import Path
from typing import Any

import pytest

import harness
from harness.errors import HarnessError
from harness.model import CallSpec, Expect, PlanRowError, ProbeKind, ProbeSpec
from harness.party import Party


def row(**kw: Any) -> CallSpec:
    return CallSpec("9.1", "typo", caller=kw.pop("caller", "site1/01"), dial="site2/01", **kw)


@pytest.mark.parametrize(("field", "value", "allowed"), [
    ("callee_behaviour", "bussy", "'answer', 'busy', 'no_answer'"),
    ("hangup_by", "both", "'caller', 'callee'"),
    ("transfer_kind", "atended", "'blind', 'attended'"),
    ("transport", "TLS", "'udp', 'tls'"),
    ("codec", "G729", "'PCMU', 'PCMA', 'G722'"),
    ("profile", "loss99", "'', 'clean', "),
])
def test_a_bad_choice_is_refused_naming_row_field_value_and_words(
        field: str, value: str, allowed: str) -> None:
    with pytest.raises(PlanRowError) as err:
        row(**{field: value})
    msg = str(err.value)
    assert msg.startswith("plan row 9.1: ")
    assert f"{field} = {value!r}: must be one of {allowed}" in msg and "\n" not in msg
    assert isinstance(err.value, HarnessError)


@pytest.mark.parametrize(("field", "value", "hint"), [
    ("call_class", "ld", "None, 'onnet', 'local', 'ld_intralata'"),
    ("early_media", "ringing", "None, 'ringback', 'sit'"),
    ("rings", "site2", "a beta line (siteN/NN), pstn:<local|ld|intl|"),
    ("rings", "pstn:long_distance", "pstn:<local|ld|intl|tollfree|operator|n11|psap|ld2|vm>"),
    ("forwarded_from", "pstn:ld", "a beta line (siteN/NN)"),
    ("transferred_to", "site5", "a beta line (siteN/NN)"),
    ("conferenced", "7/03", "a beta line (siteN/NN)"),
    ("caller_id", "anon", "a number or 'anonymous'"),
])
def test_a_bad_expectation_is_refused(field: str, value: str, hint: str) -> None:
    with pytest.raises(PlanRowError) as err:
        row(expect=Expect(**{field: value}))
    assert f"expect.{field} = {value!r}: must be " in str(err.value)
    assert hint in str(err.value)


@pytest.mark.parametrize("caller", ["site1", "pstn:ld", "2125550188", ""])
def test_a_bad_caller_is_refused(caller: str) -> None:
    with pytest.raises(PlanRowError, match=rf"plan row 9\.1: caller = '{caller}': must be a "
                                           r"beta line \(siteN/NN\) or a PSTN subscriber"):
        row(caller=caller)


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(PlanRowError) as err:
        row(hangup_by="nobody", caller="site1", expect=Expect(rings="pstn:xx"))
    assert [p.split(" = ")[0] for p in err.value.problems] == [
        "hangup_by", "caller", "expect.rings"]


def test_the_plans_own_words_are_accepted() -> None:
    spec = row(caller="pstn:2125550188", callee_behaviour="no_answer", hangup_by="callee",
               transfer_kind="attended", transfer_to="site5/03", transport="tls",
               codec="G722", profile="loss1",
               expect=Expect(rings="pstn:ld", call_class="incoming", early_media="sit",
                             caller_id="anonymous", forwarded_from="site6/10",
                             mos_lqo_min=3.4))
    assert spec.caller_party == Party.pstn("2125550188")
    assert spec.expect.rings_party == Party.pstn("ld")
    assert row(expect=Expect(rings="none")).expect.rings_party is None
    assert Expect().rings_party is None


@pytest.mark.parametrize(("expect", "problem"), [
    (Expect(srd_s_max=-1.0), "expect.srd_s_max = -1.0: must be a number (0 or more)"),
    (Expect(mos_lqo_min="4.2"), "expect.mos_lqo_min = '4.2': must be a number"),  # type: ignore[arg-type]
    (Expect(setup_s_max=float("nan")), "expect.setup_s_max = nan: must be a number"),
])
def test_a_bad_limit_is_refused_naming_the_field(expect: Expect, problem: str) -> None:
    with pytest.raises(PlanRowError, match="plan row 9.1: ") as err:
        row(expect=expect)
    assert problem in str(err.value)


def test_an_impaired_row_gives_its_own_floor() -> None:
    """The codec's floor is for a clean path: a row meant to degrade says its own."""
    with pytest.raises(PlanRowError, match="mos_lqo_min = TABLE under profile 'loss3'"):
        row(profile="loss3")
    assert row(profile="loss3", expect=Expect(mos_lqo_min=3.1)).profile == "loss3"
    assert row(profile="loss3", expect=Expect(final_code=486)).profile == "loss3"


def test_a_probe_row_is_checked_too() -> None:
    word: Any = "torture"  # a plan may write the kind's word
    assert ProbeSpec("12.1", "x", word).kind is ProbeKind.TORTURE
    with pytest.raises(PlanRowError, match=r"plan row 12\.1: kind = 'tortur': must be one of "
                                           r"'unauthenticated_invite', "):
        ProbeSpec("12.1", "x", "tortur")  # type: ignore[arg-type]
    with pytest.raises(PlanRowError, match=r"line = 'pstn:ld': must be a beta line"):
        ProbeSpec("12.1", "x", ProbeKind.TORTURE, line="pstn:ld")
    with pytest.raises(PlanRowError, match=r"real_caller = 'site3': must be"):
        ProbeSpec("12.1", "x", ProbeKind.TORTURE, real_caller="site3")


BAD_PLAN = '''from harness.model import CallSpec, Expect
PLAN = [
    CallSpec("9.1", "fine", caller="site1/01", dial="site2/01"),
    CallSpec("9.2", "typo", caller="site1/01", dial="site2/01",
             expect=Expect(rings="pstn:long_distance")),
]
'''


def test_collect_only_refuses_a_bad_row_naming_file_row_field_and_value(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # the subprocess imports this checkout's harness (not another installed copy)
    monkeypatch.setenv("PYTHONPATH", str(Path(harness.__file__).parents[1]))
    pytester.mkdir("testplans")
    pytester.path.joinpath("testplans", "plan_09_bad.py").write_text(BAD_PLAN)
    result = pytester.runpytest_subprocess("testplans", "--collect-only", "-q")
    assert result.ret != 0
    out = result.stdout.str().replace("\n", "")
    assert "plan_09_bad.py: plan row 9.2: expect.rings = 'pstn:long_distance': must be a " \
        "beta line (siteN/NN), pstn:<local|ld|intl|tollfree|operator|n11|psap|ld2|vm>" in out
    assert "9.1" not in out.replace("plan row 9.2", "")


def test_call_return_reaches_the_last_of_its_calls_before() -> None:
    spec = CallSpec("6.7", "call return", "site4/07", "*69",
                    calls_before=("site7/05", "pstn:9785550177"))
    assert spec.reaches == "9785550177" and spec.before_dials == ("site7/05", "9785550177")
    assert CallSpec("6.7", "x", "site4/07", "*69", calls_before=("pstn:9785550177",
                                                                 "site7/05")).reaches == \
        "site7/05"
    assert row().reaches == "site2/01"  # any other row reaches what it dials


@pytest.mark.parametrize(("kw", "problem"), [
    (dict(dial="*69"), "dial = '*69' (call return): needs calls_before"),
    (dict(dial="site2/01", calls_before=("site7/05",)),
     "calls_before = ('site7/05',): only for a call return row (dial '*69')"),
    (dict(dial="*69", calls_before=("pstn:ld",)), "calls_before[0] = 'pstn:ld': must be"),
    (dict(dial="*69", calls_before=("site4/07",)), "the caller cannot call itself"),
    (dict(dial="*69", caller="pstn:2125550188", calls_before=("site7/05",)),
     "caller = 'pstn:2125550188': must be a beta line"),
])
def test_a_bad_call_return_row_is_refused(kw: dict[str, Any], problem: str) -> None:
    caller = kw.pop("caller", "site4/07")
    with pytest.raises(PlanRowError) as err:
        CallSpec("6.7", "call return", caller=caller, **kw)
    assert problem in str(err.value), str(err.value)


@pytest.mark.parametrize(("kw", "problem"), [
    (dict(waiting_caller="pstn:ld"), "waiting_caller = 'pstn:ld': must be"),
    (dict(waiting_caller="site4/08"), "another party than the row's caller and called line"),
    (dict(waiting_caller="site7/07"), "another party than the row's caller and called line"),
    (dict(waiting_caller="pstn:2125550188", callee_behaviour="busy"),
     "waiting_caller: the row's call must be answered"),
    (dict(waiting_caller="pstn:2125550188", waiting_at_s=-1.0), "waiting_at_s = -1.0"),
])
def test_a_bad_call_waiting_row_is_refused(kw: dict[str, Any], problem: str) -> None:
    with pytest.raises(PlanRowError) as err:
        CallSpec("7.11", "call waiting", caller="site4/08", dial="site7/07", **kw)
    assert problem in str(err.value), str(err.value)
