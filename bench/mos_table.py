"""Voice quality per call type (issue #18): every row of a run with its MOS-LQO per
direction, from both sources (the receiving agent's recording and the wire), beside the
codec ceiling (the talker's reference through the codec alone) and the floor judged.

    .venv/bin/python bench/mos_table.py [reports/latest/results.json]

A Markdown table, a line per row in plan order (the busy hour's calls as one line: their
medians); a row with no score says why (not answered, a fax page, media encrypted on
the wire). Run `./bin/beta` first.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

HEAD = ("| row | call type | codec | direction | agent | wire | ceiling | floor |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |")


def _mos(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _floor(call: dict[str, Any], src: dict[str, Any]) -> str:
    own = src.get("floor_mos_lqo")  # a talker's own floor (3-way C, below its ceiling)
    row = (call.get("expect") or {}).get("mos_lqo_min")
    return _mos(own if own is not None else row)


def _why_none(call: dict[str, Any]) -> str:
    expect = call.get("expect") or {}
    if call.get("final_code") != expect.get("final_code", 200) or call.get("final_code") != 200:
        return f"not answered ({call.get('final_code')}): no speech to score"
    if not expect.get("audio", True):
        return "fax: the page received checked bit for bit, no speech"
    if any(ch["criterion"] == "fax" for ch in call.get("checks", ())):
        return "fax: the page received checked bit for bit, no speech"
    return "not scored"


def call_lines(call: dict[str, Any]) -> list[str]:
    """One line per scored direction of a row (or one saying why it has none)."""
    pid, kind, codec = call["plan_id"], call["call_type"], call.get("codec", "")
    head = f"| {pid} | {kind} | {codec} |"
    quality = {d: q for d, q in (call.get("quality") or {}).items() if q.get("sources")}
    if not quality:
        return [f"{head} {_why_none(call)} | | | | |"]
    out = []
    for direction, q in quality.items():
        srcs = q["sources"]
        agent, wire = srcs.get("agent") or {}, srcs.get("wire") or {}
        ceiling = (wire or agent).get("ceiling_mos_lqo")
        wire_text = _mos(wire.get("mos_lqo")) if wire else "-"
        if wire and wire.get("mos_lqo") is None and wire.get("note"):
            wire_text = wire["note"].split(" (")[0]
        agent_text = _mos(agent.get("mos_lqo")) if agent else \
            "- (each agent records its bridge's mix)" if "_to_c" in direction or \
            "c_to_" in direction or call.get("expect", {}).get("conferenced") else "-"
        out.append(f"{head} {direction.replace('_to_', '→')} | {agent_text} | {wire_text} | "
                   f"{_mos(ceiling)} | {_floor(call, wire or agent)} |")
    return out


def busy_hour_line(calls: list[dict[str, Any]]) -> str:
    """The busy hour's calls as one line: the median of each source per direction."""
    cols = []
    for direction in ("a_to_b", "b_to_a"):
        for source in ("agent", "wire"):
            got = [c["quality"][direction]["sources"][source]["mos_lqo"] for c in calls
                   if ((c.get("quality") or {}).get(direction, {}).get("sources", {})
                       .get(source, {}).get("mos_lqo")) is not None]
            cols.append(f"{statistics.median(got):.2f} ({len(got)})" if got else "-")
    return (f"| 8.1 | busy hour, {len(calls)} calls (median, scored) | mixed | a→b / b→a | "
            f"{cols[0]} / {cols[2]} | {cols[1]} / {cols[3]} | | |")


def plan_order(pid: str) -> list[int]:
    return [int(x) if x.isdigit() else 0 for x in pid.split(".")]


def main(paths: list[str]) -> int:
    for path in paths or ["reports/latest/results.json"]:
        doc = json.loads(Path(path).read_text())
        calls = sorted(doc.get("calls", ()), key=lambda c: plan_order(c["plan_id"]))
        busy = [c for c in calls if c["plan_id"].startswith("8.1.")]
        print(f"# {doc.get('run_id')} ({doc.get('harness_commit', '?')[:12]})\n\n{HEAD}")
        for call in calls:
            if call["plan_id"].startswith("8.1.") or call["plan_id"].startswith("12."):
                continue
            print("\n".join(call_lines(call)))
        if busy:
            print(busy_hour_line(busy))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
