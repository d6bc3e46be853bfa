"""Voice quality under each impairment profile: PESQ per direction (agent and wire),
G.107 R, loss and jitter from the wire, the host's stall figure beside each call.

    .venv/bin/python bench/impairments.py [calls-per-profile] [profile ...]
"""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import replace
from pathlib import Path

from harness.config import load_config
from harness.model import CallSpec, Expect
from harness.session import HarnessSession


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    profiles = sys.argv[2:] or ["clean", "loss1", "loss3", "loss5"]
    cfg = load_config()
    cfg = replace(cfg, guard=replace(cfg.guard, retries_on_stall=1))
    rows: dict[str, list[dict[str, float]]] = {p: [] for p in profiles}
    with HarnessSession(cfg, Path("reports")) as s:
        for _ in range(n):
            for prof in profiles:
                r = s.run_call(CallSpec("6.x", "on-net", "site1/03", "site2/05", profile=prof,
                                        expect=Expect(mos_lqo_min=1.0, audio=False)))
                st = json.loads((s.run_dir / dict(r.artifacts)["streams"]).read_text())
                row: dict[str, float] = {"stall_ms": 1000 * (r.stall.max_stall_s if r.stall
                                                             else 0)}
                for d in ("a_to_b", "b_to_a"):
                    w = st.get(f"wire_{d}") or {}
                    row[f"loss_{d}"] = w.get("loss_pct", float("nan"))
                    row[f"jit_{d}"] = w.get("jitter_ms", float("nan"))
                    row[f"r_{d}"] = w.get("r_factor", float("nan"))
                    for src in ("agent", "wire"):
                        q = r.score(d, src)
                        ok = q is not None and q.valid and q.mos_lqo is not None
                        row[f"{src}_{d}"] = q.mos_lqo if ok and q else float("nan")
                rows[prof].append(row)
        print(f"run: {s.run_dir}")
    med = statistics.median
    print(f"{'profile':8} {'calls':>5} {'loss% ab/ba':>13} {'jit ms ab/ba':>13} "
          f"{'R ab/ba':>11} {'PESQ ab agent/wire':>19} {'PESQ ba agent/wire':>19} "
          f"{'max stall ms':>12}")
    for prof, rs in rows.items():
        def m(key: str, rs: list[dict[str, float]] = rs) -> float:
            vals = [r[key] for r in rs if r[key] == r[key]]  # NaN: invalid, left out
            return med(vals) if vals else float("nan")
        print(f"{prof:8} {len(rs):>5} {m('loss_a_to_b'):6.2f}/{m('loss_b_to_a'):<6.2f} "
              f"{m('jit_a_to_b'):6.2f}/{m('jit_b_to_a'):<6.2f} "
              f"{m('r_a_to_b'):5.1f}/{m('r_b_to_a'):<5.1f} "
              f"{m('agent_a_to_b'):9.3f}/{m('wire_a_to_b'):<9.3f} "
              f"{m('agent_b_to_a'):9.3f}/{m('wire_b_to_a'):<9.3f} "
              f"{max(r['stall_ms'] for r in rs):12.0f}")
    print("(medians over the calls; PESQ of a stall-flagged call is left out)")


if __name__ == "__main__":
    main()
