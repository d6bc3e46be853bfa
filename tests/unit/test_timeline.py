"""Where a run's time went (harness/report/timeline.py): spans from the results'
own records, a busy hour as one span, re-placed rows counted, idle time found."""

from __future__ import annotations

from harness.report.timeline import chart, lines, spans, summary, timeline_doc

T0 = 1_000_000.0


def _call(pid: str, start: float, talk_end: float, stored: float | None,
          verdict: str = "pass") -> dict:
    doc = {"plan_id": pid, "started_wall": T0 + start, "verdict": verdict,
           "events": [{"t_wall": T0 + start + 0.01}, {"t_wall": T0 + talk_end}]}
    if stored is not None:
        doc["stored_wall"] = T0 + stored
    return doc


CALLS = [_call("1.1", 4.0, 16.0, 19.0), _call("9.1", 4.5, 66.0, 70.0),
         _call("2.6", 5.0, 17.0, 18.0, "error"), _call("2.6", 18.5, 30.0, 31.0),
         _call("8.1.01", 71.0, 80.0, 90.0), _call("8.1.02", 71.2, 81.0, 95.0)]
BUSY = [{"plan_id": "8.1", "status": "pass", "stored_wall": T0 + 96.0}]
PROBES = [{"plan_id": "12.1", "verdict": "pass", "started_wall": T0 + 97.0,
           "stored_wall": T0 + 101.0}]
CALLS.append(_call("12.1", 98.0, 100.0, 100.5))  # the probe's real call: in its span


def test_each_row_is_one_span_from_its_placing_to_its_measurement() -> None:
    got = {s.row: s for s in spans(T0, CALLS, BUSY, PROBES)}
    assert list(got) == ["1.1", "9.1", "2.6", "8.1", "12.1"]  # in the order they started
    assert (got["1.1"].start_s, got["1.1"].talk_end_s, got["1.1"].end_s) == (4.0, 16.0, 19.0)
    assert got["1.1"].measuring_s == 3.0
    # a row re-placed after a stall: one span over both placings, the last verdict
    assert (got["2.6"].start_s, got["2.6"].end_s, got["2.6"].attempts) == (5.0, 31.0, 2)
    assert got["2.6"].verdict == "pass"
    # the busy hour's calls are its one span, ending when the row was stored
    busy = got["8.1"]
    assert (busy.kind, busy.start_s, busy.talk_end_s, busy.end_s, busy.attempts) == (
        "busy hour", 71.0, 81.0, 96.0, 2)
    assert got["12.1"].kind == "security" and got["12.1"].end_s == 101.0
    assert got["12.1"].verdict == "pass"
    assert [s.row for s in spans(T0, CALLS, BUSY, PROBES)].count("12.1") == 1


def test_the_summary_finds_the_idle_time_the_peak_and_the_tail() -> None:
    s = summary(spans(T0, CALLS, BUSY, PROBES), wall_s=110.0)
    assert s["wall_s"] == 110.0 and s["rows"] == 5
    # in flight: 4 -> 70 (three rows overlap), 71 -> 96, 97 -> 101
    assert s["in_flight_s"] == 66.0 + 25.0 + 4.0
    assert s["idle_s"] == 110.0 - 95.0
    assert s["rows_at_once_max"] == 3
    assert s["finished_last"] == ["12.1", "8.1", "9.1"]
    assert s["by_kind"]["call"] == {"rows": 3, "first_start_s": 4.0, "last_end_s": 70.0,
                                    "in_flight_s": 66.0}


def test_a_row_re_placed_after_a_stall_spans_from_its_first_placing() -> None:
    """run_call stores only the final attempt: its earlier placings' starts come with it."""
    final = _call("9.1", 70.0, 132.0, 133.0)
    final["earlier_walls"] = [T0 + 4.0]
    (span,) = spans(T0, [final])
    assert (span.start_s, span.talk_end_s, span.end_s, span.attempts) == (4.0, 132.0, 133.0, 2)
    assert "(2 placed)" in lines([span])[1]


def test_results_written_before_stored_wall_still_give_spans() -> None:
    old = [_call("1.1", 4.0, 16.0, None)]
    (span,) = spans(T0, old)
    assert span.end_s == span.talk_end_s == 16.0 and span.measuring_s == 0.0
    assert spans(T0, [{"plan_id": "x"}]) == []  # never placed: no span
    assert summary([]) == {"wall_s": None, "rows": 0}


def test_the_document_the_text_and_the_chart() -> None:
    doc = timeline_doc(T0, CALLS, BUSY, PROBES, wall_s=110.0)
    assert [s["row"] for s in doc["spans"]] == ["1.1", "9.1", "2.6", "8.1", "12.1"]
    assert doc["summary"]["idle_s"] == 15.0
    text = lines(spans(T0, CALLS, BUSY, PROBES), 110.0)
    assert any(line.startswith("2.6 ") and "(2 placed)" in line for line in text)
    assert "finished last: 12.1, 8.1, 9.1" in text[-4]
    svg = str(chart(spans(T0, CALLS, BUSY, PROBES), 110.0))
    assert svg.startswith("<svg") and svg.count("<rect") == 2 * 5 - 1  # 12.1: no measuring
    assert "2.6 (call): 5.0 → 30.0 s call, measured by 31.0 s; pass" in svg
    assert chart([]) is None
