"""Render any past run from the result database, or list the runs it holds.

    python -m harness.report --list [--db reports/results.db]
    python -m harness.report render [--db reports/results.db] [--run RUN_ID] [--out DIR]

`render` without --run takes the newest run; without --out it writes into the run's
own directory (`reports/<run-id>/`), or `reports/<run-id>/` beside the database when
that directory is gone. A run that never finished renders as INCOMPLETE.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from harness.errors import HarnessError
from harness.report.render import write_report
from harness.report.store import SqliteStore, open_store

DEFAULT_DB = Path("reports") / "results.db"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m harness.report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", type=Path, default=DEFAULT_DB, help="the result database")
    p.add_argument("--list", action="store_true", help="list the runs in the database")
    sub = p.add_subparsers(dest="command")
    r = sub.add_parser("render", help="write a run's HTML report and junit.xml")
    r.add_argument("--db", type=Path, default=argparse.SUPPRESS, help="the result database")
    r.add_argument("--run", default=None, help="run id (default: the newest run)")
    r.add_argument("--out", type=Path, default=None, help="output directory")
    r.add_argument("--list", action="store_true", default=argparse.SUPPRESS,
                   help="list the runs instead of rendering")
    return p


def list_runs(db: SqliteStore, limit: int = 50) -> list[str]:
    lines = [f"{'run id':<26} {'started':<19} {'status':<10} calls  pass  fail  error"]
    for r in db.runs(limit):
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started_wall))
        status = "complete" if r.finished else "INCOMPLETE"
        lines.append(f"{r.run_id:<26} {started:<19} {status:<10} {r.calls:>5} {r.passed:>5} "
                     f"{r.failed:>5} {r.errors:>6}")
    return lines


def render(db: SqliteStore, run_id: str | None, out: Path | None) -> Path:
    run_id = run_id or db.latest_run_id()
    if run_id is None:
        raise HarnessError(f"{db.path}: holds no runs yet")
    run = db.load_run(run_id)
    if out is None:
        own = Path(run.run_dir)
        out = own if own.is_dir() else Path(db.path).parent / run.run_id
    return write_report(run, out, db)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        db = open_store(args.db)
        try:
            if args.list or args.command is None:
                print("\n".join(list_runs(db)))
            else:
                index = render(db, args.run, args.out)
                print(f"report: {index}")
        finally:
            db.close()
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
