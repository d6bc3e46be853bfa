"""The HTML report from a real (trimmed) run: acceptance rows, figures, drill-down."""

from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.model import CallResult, CallSpec, CallTiming, Status, Verdict
from harness.report import figures
from harness.report.render import write_report
from harness.report.results import ResultStore
from harness.report.store import RunRecord


class _Rows(HTMLParser):
    """Collects `data-call-type` of the direct rows of table#acceptance."""

    def __init__(self) -> None:
        super().__init__()
        self.in_table = False
        self.call_types: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.in_table = a.get("id") == "acceptance"
        if tag == "tr" and self.in_table and "acceptance" in (a.get("class") or "").split():
            self.call_types.append(a.get("data-call-type") or "")


@pytest.fixture
def report(tmp_path: Path, report_run: RunRecord) -> Path:
    return write_report(report_run, Path(report_run.run_dir)).parent


def test_front_page_has_one_acceptance_row_per_call_type(report: Path) -> None:
    parser = _Rows()
    parser.feed((report / "index.html").read_text())
    assert parser.call_types == ["on-net cross-site", "delay"]


def test_front_page_headline_and_verdicts(report: Path) -> None:
    html = (report / "index.html").read_text()
    assert "NOT ACCEPTED" in html  # three calls failed
    assert "100.0 %" in html and "7 / 7 answered" in html  # SER
    assert "0 of 7 INVITEs" in html  # ISA
    # the stalled call is an invalid measurement, not a failure
    assert "1 invalid" in html and "3 fail" in html
    assert 'class="row-invalid"' in html
    for word in ("<script", "http://", "https://"):
        assert word not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_headline_figures_follow_rfc_6076(report_run: RunRecord) -> None:
    head = figures.headline(report_run.calls)
    m = head.rfc
    assert (m.attempts, m.answered, m.ser_pct, m.isa_pct) == (7, 7, 100.0, 0.0)
    assert head.counts == {"pass": 3, "fail": 3, "invalid": 1, "error": 0}
    assert m.srd.max_s == pytest.approx(0.303127, abs=1e-4)  # the slowest "delay" call
    assert m.srd.p50_s == 0.002299  # nearest rank: the 4th of 7
    assert head.mos_n == {"a_to_b": 4, "b_to_a": 6}  # stalled and unscored calls left out
    calls = tuple({"call_type": "t", "final_code": code, "verdict": "fail",
                   "events": [{"kind": "INVITE_SENT"}]} for code in (200, 302, 503, None))
    m = figures.headline(calls).rfc
    assert m.ser_pct == pytest.approx(100 / 3)  # 3xx leave the denominator (§4.6)
    assert m.isa_pct == 50.0  # 503 and the unanswered INVITE (§4.8)
    no_invite = {"call_type": "t", "final_code": None, "verdict": "error", "events": []}
    assert figures.headline((no_invite,)).rfc.attempts == 0  # refused before any SIP


def test_acceptance_criteria_read_the_verdicts_reasons(report_run: RunRecord) -> None:
    onnet, delay = figures.acceptance(report_run.calls)
    states = {c.name: c.state for c in onnet.criteria}
    assert onnet.verdict == "FAIL" and delay.verdict == "PASS"
    assert states["MOS-LQO A→B"] == "fail" and states["MOS-LQO B→A"] == "invalid"
    assert states["CDR reconciled"] == "fail" and states["Final response"] == "pass"
    assert states["Set-up time (INVITE→200)"] == "n/a"
    limits = {c.name: c.limit for c in onnet.criteria}
    assert limits["PDD (SRD, RFC 6076 §4.3)"] == "≤ 3.000 s"
    assert limits["MOS-LQO A→B"] == "≥ 4.20"


def test_one_drill_down_page_per_call_with_its_evidence(report: Path) -> None:
    pages = sorted(p.name for p in (report / "calls").glob("*.html"))
    assert pages == ["1.1-1.html", "1.1-2.html", "1.1-3.html", "1.1-4.html", "1.1-5.html",
                     "4.x-1.html", "4.x-2.html"]
    cdr = (report / "calls" / "1.1-4.html").read_text()
    assert "1 record for Call-ID 1Iv2Ke9cxH-NDDTbXIcnzbFZKsXaNc9A" in cdr and ">none<" in cdr
    stalled = (report / "calls" / "1.1-5.html").read_text()
    assert "793 ms" in stalled and "stalled" in stalled
    assert 'href="../calls/1.1-1/call.pcap"' in stalled and 'href="../pjsua.log"' in stalled
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in stalled and 'class="ladder"' in stalled


def test_audio_is_embedded_only_for_failed_calls_and_the_worst_mos(report: Path) -> None:
    def embedded(name: str) -> bool:
        return "data:audio/wav;base64," in (report / "calls" / name).read_text()

    assert embedded("1.1-2.html") and embedded("1.1-4.html")  # failed
    assert embedded("1.1-1.html")  # the worst MOS of the run (4.285, first of the ties)
    linked = (report / "calls" / "4.x-2.html").read_text()
    assert not embedded("4.x-2.html") and not embedded("1.1-5.html")
    assert '<audio controls preload="none" src="../calls/4.x-1/recorded_a_to_b.wav">' in linked
    assert 'src="../reference/allison-a.wav"' in linked


def test_an_unfinished_run_says_incomplete(tmp_path: Path, report_run: RunRecord) -> None:
    run = RunRecord(report_run.run_id, report_run.started_wall, False, report_run.run_dir,
                    report_run.environment, ("switch stopped answering",), report_run.calls[:2])
    html = write_report(run, tmp_path / "out").read_text()
    assert 'id="incomplete"' in html and "INCOMPLETE" in html
    assert "switch stopped answering" in html


def test_a_run_with_no_calls_or_only_harness_errors_renders(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "reports" / "r", "r", {"status": "starting"})
    store.add(CallResult(CallSpec("2.1", "off-net local", "site1/01", "4135550199"), "", None,
                         CallTiming(None, None, None, None), (), None, None,
                         Verdict(Status.ERROR, ("line site1/01 registration failed: 403",)),
                         error="line site1/01 registration failed: 403"))
    store.add_error("switch did not answer OPTIONS after the call")
    store.close()
    html = (tmp_path / "reports" / "r" / "index.html").read_text()
    assert "INCONCLUSIVE" in html and "registration failed: 403" in html
    assert "switch did not answer OPTIONS" in html
    page = (tmp_path / "reports" / "r" / "calls" / "2.1-1.html").read_text()
    assert "no SIP events recorded" in page
    empty = ResultStore(tmp_path / "reports" / "e", "e", {})
    empty.close()
    assert "NO CALLS" in (tmp_path / "reports" / "e" / "index.html").read_text()


def test_a_failure_no_criterion_covers_is_still_shown(report_run: RunRecord) -> None:
    call = dict(report_run.calls[5], verdict="fail", reasons=["rings: site2/02 rang, "
                                                               "expected site2/01"],
                expect=dict(report_run.calls[5]["expect"], rings="site2/01"))
    (row,) = figures.acceptance((call,))
    assert row.verdict == "FAIL"
    other = row.criteria[-1]
    assert (other.name, other.limit, other.state) == ("Other checks", "rings = site2/01", "fail")
    assert row.other_reasons == ("rings: site2/02 rang, expected site2/01",)



def test_the_impairment_profile_is_shown(tmp_path: Path, report_run: RunRecord) -> None:

    calls = (dict(report_run.calls[0], profile="loss3"), *report_run.calls[1:])
    out = write_report(replace(report_run, calls=calls), tmp_path / "out").parent
    assert "loss3" in (out / "index.html").read_text()  # the environment block
    page = next((out / "calls").glob("*.html")).read_text()
    assert "network profile" in page


def test_the_busy_hour_is_shown_with_its_figures(tmp_path: Path, report_run: RunRecord) -> None:
    busy = {"plan_id": "8.1", "call_type": "busy hour: every line in a call", "calls": 42,
            "concurrent_peak": 41, "wall_s": 45.3, "status": "fail",
            "rfc6076": {"overall": {"ser_pct": 97.6, "isa_pct": 0.0,
                                    "srd": {"p50_s": 0.0084, "p95_s": 0.027, "max_s": 0.0279}}},
            "mos_lqo": {"agent": {"median": 4.283}, "wire": {"median": 4.286}},
            "invalid_measurements": 0, "stall_max_s": 0.256,
            "cpu_s": {"controller": 28.9, "agents": 20.2, "per_call": 1.17},
            "rss_mb": {"controller": 470.0, "agents": 816.0},
            "reasons": ["SER 97.6 % < 100.0 %"]}
    html = write_report(replace(report_run, busy_hours=(busy,)), tmp_path / "out").read_text()
    table = html[html.index('id="busy-hour"'):]
    for text in ("8.1 busy hour", ">41<", "97.6", "8.4 / 27.0 / 27.9", "4.283 / 4.286",
                 "28.9 / 20.2", "SER 97.6 % &lt; 100.0 %"):
        assert text in table, text


def test_calls_are_shown_in_plan_order_whatever_order_they_finished(
        tmp_path: Path, report_run: RunRecord) -> None:
    from harness.report.render import plan_order

    assert sorted(["7.10", "8.1.02", "7.9", "10.1", "8.1"], key=plan_order) == \
        ["7.9", "7.10", "8.1", "8.1.02", "10.1"]
    shuffled = replace(report_run, calls=tuple(reversed(report_run.calls)))
    html = write_report(shuffled, tmp_path / "out").read_text()
    ids = sorted({str(c["plan_id"]) for c in report_run.calls}, key=plan_order)
    where = [html.index(f">{pid}") for pid in ids if f">{pid}" in html]
    assert where == sorted(where) and len(where) >= 2


def test_front_page_puts_failures_first_with_their_reasons(report: Path) -> None:
    html = (report / "index.html").read_text()
    box = html[html.index('id="failures"'):html.index('id="acceptance-heading"')]
    assert "on-net cross-site" in box and "delay" not in box  # only the failing type
    assert "FAIL" in box and "cdr: " in box  # its verdict and its reasons
    assert html.index('id="failures"') < html.index('id="acceptance"')


def test_a_clean_run_says_nothing_failed_and_each_row_opens_its_criteria(
        report_run: RunRecord, tmp_path: Path) -> None:
    clean = replace(report_run, calls=tuple(
        {**c, "verdict": "pass", "reasons": [], "invalid_measurement": False}
        for c in report_run.calls), run_dir=str(tmp_path))
    html = write_report(clean, tmp_path).read_text()
    assert "No call type failed or erred in this run." in html
    assert html.count("<details><summary>") >= 2  # one per call type
    assert '<span class="name">PDD (SRD, RFC 6076 §4.3)</span>' in html


def test_per_site_summary_counts_each_site_of_a_call_once() -> None:
    calls = (
        {"caller": "site1/01", "dial": "site2/01", "verdict": "pass", "quality": {}},
        {"caller": "site1/02", "dial": "*67site1/03", "verdict": "fail", "quality": {}},
        {"caller": "site7/01", "dial": "5550190", "verdict": "pass", "quality": {}},
    )
    sites = {s.site: s for s in figures.per_site(calls)}
    assert list(sites) == ["site1", "site2", "site7"]
    assert (sites["site1"].calls, sites["site1"].passed, sites["site1"].lines) == (2, 1, 3)
    assert (sites["site7"].calls, sites["site7"].passed) == (1, 1)


def test_the_diff_names_new_failures_fixed_types_and_moved_figures(
        report_run: RunRecord) -> None:
    now = report_run.calls
    then = tuple({**c, "verdict": "pass", "reasons": []} if c["call_type"] == "on-net cross-site"
                 else {**c, "verdict": "fail"} for c in now)
    diff = figures.compare(now, then, "run-0")
    assert diff.new_failures == ("on-net cross-site",)
    assert diff.fixed == ("delay",)
    same = figures.compare(now, now, "run-0")
    assert (same.new_failures, same.fixed, same.moved) == ((), (), ())


def test_compact_row_figures(report_run: RunRecord) -> None:
    onnet, delay = figures.acceptance(report_run.calls)
    assert delay.pdd_max_s == pytest.approx(0.303127, abs=1e-4)
    assert onnet.plan_label == "1.1" and onnet.section == "1"
    assert onnet.scored > 0 and onnet.mos_worst is not None


def test_cdr_times_read_as_utc_from_julian_days_and_epochs() -> None:
    from harness.report.callpage import readable_time

    assert readable_time("2461379.30515625") == "2026-12-04 19:19:25.500 UTC"
    assert readable_time("1796411965.284881") == "2026-12-04 19:19:25.284 UTC"  # the same call
    assert readable_time("200") == "" and readable_time("onnet") == ""


def test_the_call_page_has_its_checks_and_a_wireshark_filter(tmp_path: Path,
                                                             report_run: RunRecord) -> None:
    from harness.report.callpage import wireshark_filter

    call = {"call_id": "abc", "far_ends": [{"call_id": "xyz"}, {"call_id": "abc"}],
            "streams": {"wire_a_to_b": {"src": "127.0.0.1:4000", "dst": "127.0.0.1:4010"},
                        "agent_b_to_a": {"local_rtp": "127.0.0.1:4010"}, "x": None}}
    assert wireshark_filter(call) == ('sip.Call-ID == "abc" || sip.Call-ID == "xyz" || '
                                      "udp.port in {4000 4010}")
    checked = ({**report_run.calls[0], "checks": [
        {"criterion": "timing.srd_s", "outcome": "pass", "measured": 0.004, "unit": "s",
         "limit": "<= 3.000", "limit_from": "row"}]}, *report_run.calls[1:])
    write_report(replace(report_run, calls=checked, run_dir=str(tmp_path)), tmp_path)
    page = next(p for p in (tmp_path / "calls").glob("*.html")
                if "timing.srd_s" in p.read_text())
    html = page.read_text()
    assert "&lt;= 3.000" in html and ">row<" in html and 'id="wireshark-filter"' in html


def test_the_call_page_names_each_partys_worker_and_the_switch_log_lines(
        tmp_path: Path) -> None:
    from harness.report.callpage import Locator, log_excerpts, party_logs

    (tmp_path / "sut").mkdir()
    (tmp_path / "sut" / "kamailio.log").write_text(
        "unrelated\nacc: callid=abc; sip_code=200\nother xyz leg\n")
    (tmp_path / "pjsua-w3.log").write_text("w3")
    call = {"call_id": "abc", "caller": "site1/01", "caller_worker": "w3",
            "far_ends": [{"seat": "site2/01", "call_id": "xyz", "worker": "w7"}]}
    loc = Locator(tmp_path, tmp_path)
    parties = party_logs(call, loc)
    assert [(p["party"], p["worker"]) for p in parties] == [("caller site1/01", "w3"),
                                                           ("far end site2/01", "w7")]
    assert parties[0]["href"].endswith("pjsua-w3.log") and parties[1]["href"] == ""
    (x,) = log_excerpts(call, tmp_path)
    assert x["log"] == "sut/kamailio.log"
    assert x["lines"] == ["acc: callid=abc; sip_code=200", "other xyz leg"]
    assert log_excerpts(call, None) == []


def test_chart_labels_fit_their_column_instead_of_being_clipped() -> None:
    from harness.report.svg import CHAR_W, fit

    long = "directory assistance 1-NPA-555-1212 · directory"
    short = fit(long, 146)
    assert short.endswith("…") and len(short) * CHAR_W <= 146 + CHAR_W
    assert fit("N11 311 · n11", 146) == "N11 311 · n11"
    assert fit("long distance intraLATA B→A", 146).endswith("… B→A")
