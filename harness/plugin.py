"""pytest glue: options, plan collection, the session fixture, the report at exit.

Plan files are `testplans/plan_*.py` modules holding a `PLAN` table of `CallSpec`
rows (one call each) and `LoadSpec` rows (the busy hour); each row becomes one test
item whose id is its beta-plan number. The rows run concurrently (the session's
scheduler); each item waits for its own. Everything that
decides anything lives in `harness.run.session`; this module only forwards.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest

from harness.config import load_config
from harness.errors import HarnessError
from harness.model import CallResult, CallSpec, LoadSpec, PlanRowError, ProbeSpec, Status
from harness.security.rows import expected_s as probe_expected_s
from harness.security.rows import probe_parties
from harness.verdict.run import RowOutcome, RowStatus, RunWord

_SESSION = pytest.StashKey["_SessionHolder"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("beta-harness", "SIP beta-acceptance harness")
    group.addoption("--sut", default=None, metavar="YAML",
                    help="config file describing the system under test (default: embedded "
                         "Kamailio + rtpengine on 127.0.0.1)")
    group.addoption("--reports", default="reports", metavar="DIR",
                    help="where runs are written: DIR/<run-id>/ and DIR/latest")
    group.addoption("--dry-run", action="store_true", default=False,
                    help="print every call the plan would place; send nothing")
    parser.addini("beta_sut", "default --sut config file", default="")


class _SessionHolder:
    """Starts the harness session on first use; closes it (writing the report) once."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.session: Any = None
        self.failed: str = ""
        self.dry_lines: list[str] = []
        self.scheduler: Any = None
        # every plan row collected (before -k/-m selection): nodeid -> (plan id, type),
        # and what happened to each (the run's verdict is judged from these)
        self.plan_rows: dict[str, tuple[str, str, str]] = {}
        self.outcomes: dict[str, RowOutcome] = {}
        self._security: Any = None  # the config's security section, for probe rows

    def get(self) -> Any:
        if self.failed:
            raise HarnessError(self.failed)
        if self.session is None:
            from harness.run.session import HarnessSession

            path = self.config.getoption("--sut") or self.config.getini("beta_sut") or None
            try:
                cfg = load_config(path)
                session = HarnessSession(cfg, Path(self.config.getoption("--reports")))
                self.session = session
                session.start()
            except HarnessError as exc:
                self.failed = str(exc)
                raise
        return self.session

    def result(self, item: BetaCallItem) -> CallResult:
        """The row's result. The first row asked for starts every selected row of the
        run through the session's scheduler (concurrent calls, see harness/run/schedule.py);
        each item then waits for its own row, so the report follows plan order."""
        result: CallResult = self._scheduler(item).result(item.spec.plan_id)
        return result

    def load(self, item: BetaLoadItem) -> Any:
        """A busy-hour row's report: run after the call rows, the switch its own until
        its last call is down (its measuring overlaps the probes after it)."""
        return self._scheduler(item).job_result(item.spec.plan_id)

    def probe(self, item: BetaProbeItem) -> Any:
        """A §12 security probe's report: run once every call row has started and those
        still up only talk (harness/run/schedule.py), no call placed meanwhile
        (harness/security/rows.py)."""
        return self._scheduler(item).job_result(item.spec.plan_id)

    def not_applicable(self, spec: ProbeSpec) -> str:
        """Why a probe row is left out of this run's plan by its config ('' if it is in)."""
        from harness.security.judge import not_applicable

        if self._security is None:
            path = self.config.getoption("--sut") or self.config.getini("beta_sut") or None
            try:
                self._security = load_config(path).security
            except HarnessError:
                return ""  # the session's start reports the config's error
        return not_applicable(spec, self._security.binds_lines_to_addresses,
                              self._security.torture)

    def _scheduler(self, item: pytest.Item) -> Any:
        """The run's scheduler, made when the first row asks: every selected call row,
        then the busy hour once no row is up (its measuring beside the probes after
        it), then the probe rows, in plan order."""
        session = self.get()
        if self.scheduler is None:
            items = item.session.items
            rows = [i.spec for i in items if isinstance(i, BetaCallItem)
                    and not session.tls_unsupported(i.spec)]
            self.scheduler = session.schedule(rows)
            for i in items:
                if isinstance(i, BetaLoadItem):
                    self.scheduler.after_rows(i.spec.plan_id, lambda release, s=i.spec:
                                              session.run_load(s, on_calls_down=release),
                                              alone=True)
                elif isinstance(i, BetaProbeItem) and not self.not_applicable(i.spec):
                    self.scheduler.after_rows(i.spec.plan_id, lambda release, s=i.spec:
                                              session.run_probe(s),
                                              expected_s=probe_expected_s(
                                                  i.spec, session.cfg.security),
                                              parties=probe_parties(i.spec, session.plan))
        return self.scheduler

    def record(self, report: pytest.TestReport) -> None:
        """What a plan row's report says happened to it."""
        row = self.plan_rows.get(report.nodeid)
        if row is None:
            return
        plan_id, call_type, _ = row
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else "skipped"
            status, why = RowStatus.SKIPPED, str(reason).removeprefix("Skipped: ")
        elif report.failed:
            verdict = dict(report.user_properties).get("verdict")
            status = RowStatus.FAIL if verdict == "fail" else RowStatus.ERROR
            why = (report.longreprtext.strip().splitlines() or [""])[-1].strip(" -")
        elif report.when == "call":
            status, why = RowStatus.PASS, ""
        else:
            return  # a passing setup or teardown says nothing yet
        if report.nodeid in self.outcomes and status is RowStatus.PASS:
            return  # a teardown never turns a row's verdict into a pass
        self.outcomes[report.nodeid] = RowOutcome(plan_id, call_type, status, why)

    def rows(self) -> list[RowOutcome]:
        """Every row of the plan, in plan order, with what happened to it."""
        rows = [self.outcomes.get(node) or RowOutcome(pid, kind, RowStatus.NOT_RUN,
                                                      "not run: the run ended before it")
                for node, (pid, kind, _) in self.plan_rows.items()]
        return sorted(rows, key=lambda r: [int(x) if x.isdigit() else 0
                                           for x in r.plan_id.split(".")])

    def digest(self) -> str:
        """The plan rows as collected (all of them, selected or not), for the run's
        provenance hash."""
        return "\n".join(spec for _, _, spec in self.plan_rows.values())

    def close(self, finished: bool = True) -> None:
        """The scheduler stopped, then the session closed and the run judged, even when
        stopping the scheduler raised (pytest shows that error)."""
        try:
            if self.scheduler is not None:
                self.scheduler.stop()
        finally:
            if self.session is not None:
                self.session.close(finished, self.rows(), self.digest())


def pytest_configure(config: pytest.Config) -> None:
    global _holder
    config.stash[_SESSION] = _holder = _SessionHolder(config)
    config.addinivalue_line("markers", "security: beta plan §12 probe rows (ProbeSpec)")


def pytest_unconfigure(config: pytest.Config) -> None:
    holder = config.stash.get(_SESSION, None)
    if holder is not None:
        holder.close()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every plan row, before -k/-m select some: the run's coverage counts them all."""
    holder = config.stash[_SESSION]
    for item in items:
        if isinstance(item, BetaProbeItem) and holder.not_applicable(item.spec):
            continue  # not in this run's plan: reported by the item, never counted
        if isinstance(item, (BetaCallItem, BetaLoadItem, BetaProbeItem)):
            holder.plan_rows[item.nodeid] = (item.spec.plan_id, item.spec.call_type,
                                             repr(item.spec))


def pytest_deselected(items: list[pytest.Item]) -> None:
    for item in items:
        holder = item.config.stash[_SESSION]
        row = holder.plan_rows.get(item.nodeid)
        if row is not None:
            holder.outcomes[item.nodeid] = RowOutcome(row[0], row[1], RowStatus.SKIPPED,
                                                      "not selected (-k/-m)")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Close the run (its one verdict is judged there); a run that is not ACCEPTED or
    PARTIAL never exits 0, even when no pytest item failed (a billing discrepancy)."""
    holder = session.config.stash.get(_SESSION, None)
    if holder is None or holder.session is None:
        return
    holder.close(finished=exitstatus != pytest.ExitCode.INTERRUPTED)
    verdict = holder.session.store.verdict if holder.session.store is not None else None
    if verdict is not None and verdict.word in (RunWord.NOT_ACCEPTED, RunWord.INCOMPLETE) \
            and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    holder = terminalreporter.config.stash.get(_SESSION, None)
    if holder is not None and holder.dry_lines:
        terminalreporter.section("dry run: calls the plan would place (nothing was sent)")
        for line in holder.dry_lines:
            terminalreporter.write_line(line)
    session = holder.session if holder is not None else None
    store = session.store if session is not None else None
    if session is None or store is None:
        return
    terminalreporter.section("beta acceptance")
    verdict = store.verdict
    if verdict is not None:
        colour = {RunWord.ACCEPTED: "green", RunWord.NOT_ACCEPTED: "red"}.get(verdict.word,
                                                                             "yellow")
        terminalreporter.write_line(verdict.text, **{colour: True, "bold": True})
    billing = (store.billing or {}).get("text") or []
    for line in billing[:2]:
        terminalreporter.write_line(f"billing: {line}")
    terminalreporter.write_line(f"report: {session.run_dir / 'index.html'}")
    terminalreporter.write_line(f"results: {session.run_dir / 'results.json'}")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".py" and file_path.name.startswith("plan_") and \
            "testplans" in file_path.parts:
        return BetaPlanFile.from_parent(parent, path=file_path)
    return None


def read_plan(path: Path) -> list[CallSpec | LoadSpec | ProbeSpec]:
    """A plan file's PLAN table; HarnessError naming the file when it is not one."""
    name = f"testplans_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise HarnessError(f"{path}: cannot be imported")
    module = sys.modules.get(name)
    if module is None or getattr(module, "__file__", None) != str(path):
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except PlanRowError as exc:  # a bad row: the file, the row, each field
            del sys.modules[name]
            raise HarnessError(f"{path}: {exc}") from exc
    plan = getattr(module, "PLAN", None)
    if not isinstance(plan, list) or \
            not all(isinstance(r, (CallSpec, LoadSpec, ProbeSpec)) for r in plan):
        raise HarnessError(f"{path}: PLAN must be a list of CallSpec, LoadSpec or ProbeSpec "
                           "rows")
    return plan


def pytest_collection_finish(session: pytest.Session) -> None:
    """Rows of the plan's files that were not even collected (a node id or a single
    file on the command line) count as not selected, like -k's. And the rows to run,
    for each row's `[n/N]` line."""
    _PROGRESS.update(done=0, total=sum(1 for i in session.items if isinstance(
        i, (BetaCallItem, BetaLoadItem, BetaProbeItem))), t0=time.monotonic())
    holder = session.config.stash[_SESSION]
    files = {Path(str(node).split("::")[0]) for node in holder.plan_rows}
    dirs = {(session.config.rootpath / f).resolve().parent for f in files}
    known = {(str((session.config.rootpath / node.split("::")[0]).resolve()), pid)
             for node, (pid, _, _) in holder.plan_rows.items()}
    for path in sorted(p for d in dirs for p in d.glob("plan_*.py")):
        try:
            rows = read_plan(path)
        except HarnessError:
            continue  # reported by its own collection if it is ever collected
        for row in rows:
            if isinstance(row, ProbeSpec) and holder.not_applicable(row):
                continue
            if (str(path.resolve()), row.plan_id) not in known:
                node = f"{path}::{row.plan_id}"
                holder.plan_rows[node] = (row.plan_id, row.call_type, repr(row))
                holder.outcomes[node] = RowOutcome(row.plan_id, row.call_type,
                                                   RowStatus.SKIPPED, "not selected (-k/-m)")


class BetaPlanFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        try:
            plan = read_plan(self.path)
        except HarnessError as exc:
            raise self.CollectError(str(exc)) from exc
        seen: set[str] = set()
        for row in plan:
            if row.plan_id in seen:
                raise self.CollectError(f"{self.path}: plan id {row.plan_id} appears twice")
            seen.add(row.plan_id)
            if isinstance(row, LoadSpec):
                yield BetaLoadItem.from_parent(self, name=row.plan_id, spec=row)
            elif isinstance(row, ProbeSpec):
                yield BetaProbeItem.from_parent(self, name=row.plan_id, spec=row)
            else:
                yield BetaCallItem.from_parent(self, name=row.plan_id, spec=row)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Live progress: the call's line, written outside output capture; and what
    happened to the row, for the run's verdict."""
    if _holder is not None:
        _holder.record(report)
    line = dict(report.user_properties).get("progress") if report.when == "call" else None
    reporter = _reporter
    if line and reporter is not None:
        _PROGRESS["done"] += 1
        reporter.ensure_newline()
        reporter.write_line(progress_prefix(int(_PROGRESS["done"]), int(_PROGRESS["total"]),
                                            time.monotonic() - _PROGRESS["t0"]) + str(line))


def progress_prefix(done: int, total: int, elapsed_s: float) -> str:
    """`[n/N] elapsed ETA` before a row's line: rows finish at a roughly even pace, so
    the ETA is the mean time per finished row times the rows left."""
    if total <= 0:
        return ""
    left = max(0, total - done)
    eta = f"ETA {elapsed_s / done * left:>4.0f} s" if done else "ETA    ? s"
    width = len(str(total))
    return f"[{done:>{width}}/{total}] {elapsed_s:>4.0f} s {eta} "


_PROGRESS: dict[str, float] = {"done": 0, "total": 0, "t0": time.monotonic()}



_reporter: Any = None
_holder: _SessionHolder | None = None


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    global _reporter
    _reporter = session.config.pluginmanager.get_plugin("terminalreporter")


def _progress(r: CallResult) -> str:
    """One live line per call: type, verdict, SIP code, PDD, MOS both ways, CDR."""

    def mos(direction: str) -> str:
        scores = [q.mos_lqo for q in r.quality if q.direction == direction and q.valid
                  and q.mos_lqo is not None]
        return f"{min(scores):.2f}" if scores else "-"
    # both directions of whoever talked (a transferred call: the caller and the target)
    directions = list(dict.fromkeys(q.direction for q in r.quality))[:2] or ["a_to_b", "b_to_a"]
    pdd = "-" if r.timing.srd_s is None else f"{r.timing.srd_s * 1000:.1f} ms"
    cdr = "-" if r.cdr is None else ("ok" if r.cdr.matched and not r.cdr.mismatches
                                     else "MISMATCH" if r.cdr.matched else "MISSING")
    flag = " (invalid: host stalled)" if r.verdict.invalid_measurement else ""
    return (f"{r.spec.plan_id:>5} {r.spec.call_type:<34} "
            f"{r.verdict.status.value.upper():<5} SIP {r.final_code or '-':<4} "
            f"PDD {pdd:<9} MOS {'/'.join(mos(d) for d in directions)} CDR {cdr}{flag}")


class BetaCallFailed(Exception):
    def __init__(self, result: CallResult) -> None:
        self.result = result
        super().__init__("; ".join(result.verdict.reasons))


class BetaCallItem(pytest.Item):
    def __init__(self, *, spec: CallSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        # `-k onnet`, `-k "cross-site"`: match on the call type's words
        words = spec.call_type.replace("-", " ").split()
        self.extra_keyword_matches.update(words + [spec.call_type.replace(" ", "_")])

    def runtest(self) -> None:
        holder: _SessionHolder = self.config.stash[_SESSION]
        if self.config.getoption("--dry-run"):
            self._dry_run()
            return
        why = holder.get().tls_unsupported(self.spec)  # a TLS + SRTP row, switch without TLS
        if why:
            pytest.skip(why)
        result = holder.result(self)
        self.user_properties.append(("verdict", result.verdict.status.value))
        self.user_properties.append(("progress", _progress(result)))
        if result.verdict.status is not Status.PASS:
            raise BetaCallFailed(result)

    def _dry_run(self) -> None:
        cfg = load_config(self.config.getoption("--sut") or self.config.getini("beta_sut")
                          or None)
        from harness.numberplan import NumberPlan

        plan = NumberPlan.from_config(cfg.numbers)
        dial = plan.resolve_dial(self.spec.dial)  # a code the switch lacks: refused
        # the dial guard applies to a dry run too (call return: on whom it must reach)
        route = plan.route(plan.resolve_dial(self.spec.reaches))
        number = plan.number_of(self.spec.caller_party)
        line = plan.line_by_number(route.number)
        target = line.name if line else (f"trunk {route.trunk}" if route.trunk else "switch")
        then = ""
        if self.spec.calls_before:
            then = f" (call return, after calls from {', '.join(self.spec.calls_before)})"
        if self.spec.transfer_to:  # dialled by the caller after the REFER: guarded too
            xfer = plan.route_dial(self.spec.transfer_to)
            assert xfer is not None
            kind = "attended-transferred" if self.spec.transfer_kind == "attended" \
                else "transferred"
            then = f", then {kind} to {xfer.number}"
        if self.spec.conference_with:  # the caller's second call: guarded too
            third = plan.route_dial(self.spec.conference_with)
            assert third is not None
            then += f", then 3-way with {third.number}"
        self.config.stash[_SESSION].dry_lines.append(
            f"{self.spec.plan_id} {self.spec.call_type}: {self.spec.caller} ({number}) "
            f"dials {dial} -> {route.call_class} {route.number} via {target}{then}; expect "
            f"{self.spec.expect.final_code}, codec {self.spec.codec}"
            + (f", under profile {self.spec.profile} (access links)" if self.spec.profile
               else ""))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, BetaCallFailed):
            r = excinfo.value.result
            head = f"{r.spec.plan_id} {r.spec.call_type}: {r.verdict.status.value.upper()}"
            return "\n".join([head, *(f"  - {reason}" for reason in r.verdict.reasons)])
        if isinstance(excinfo.value, HarnessError):
            return f"{self.spec.plan_id}: {excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"plan {self.spec.plan_id}: {self.spec.call_type}"


class BetaRowFailed(Exception):
    """A row judged by a report of its own (busy hour, security probe) did not pass."""

    def __init__(self, report: Any) -> None:
        self.report = report
        super().__init__("; ".join(report.reasons))


RowSpec = TypeVar("RowSpec", LoadSpec, ProbeSpec)


class _ReportedRow(pytest.Item, Generic[RowSpec]):
    """A plan row whose outcome is a report with `status`, `reasons` and `lines()`."""

    spec: RowSpec

    def judged(self, report: Any) -> None:
        self.user_properties.append(("verdict", report.status.value))
        self.user_properties.append(("progress", "\n".join(report.lines())))
        if report.status is not Status.PASS:
            raise BetaRowFailed(report)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, BetaRowFailed):
            return "\n".join(excinfo.value.report.lines())
        if isinstance(excinfo.value, HarnessError):
            return f"{self.spec.plan_id}: {excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"plan {self.spec.plan_id}: {self.spec.call_type}"


class BetaLoadItem(_ReportedRow[LoadSpec]):
    """A busy-hour row: every line in a call at once (harness/run/busyhour.py)."""

    def __init__(self, *, spec: LoadSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.extra_keyword_matches.update(["load", "busy_hour"])

    def runtest(self) -> None:
        if self.config.getoption("--dry-run"):
            self.config.stash[_SESSION].dry_lines.append(
                f"{self.spec.plan_id} {self.spec.call_type}: {self.spec.calls} on-net calls "
                "at once, every line paired")
            return
        self.judged(self.config.stash[_SESSION].load(self))


@pytest.fixture(scope="session")
def beta_session(request: pytest.FixtureRequest) -> Any:
    """The running harness session (embedded switch unless --sut says otherwise)."""
    holder: _SessionHolder = request.config.stash[_SESSION]
    try:
        return holder.get()
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)


class BetaProbeItem(_ReportedRow[ProbeSpec]):
    """A §12 security probe row (harness/security/rows.py); a row the config leaves out
    (not applicable, not opted in) is skipped and never counted in the run's verdict."""

    def __init__(self, *, spec: ProbeSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.add_marker("security")
        self.extra_keyword_matches.update(spec.call_type.replace("-", " ").split()
                                          + ["security", spec.kind.value])

    def runtest(self) -> None:
        holder: _SessionHolder = self.config.stash[_SESSION]
        why = holder.not_applicable(self.spec)
        if why:
            pytest.skip(why)
        if self.config.getoption("--dry-run"):
            from harness.numberplan import NumberPlan

            cfg = load_config(self.config.getoption("--sut")
                              or self.config.getini("beta_sut") or None)
            plan, spec = NumberPlan.from_config(cfg.numbers), self.spec
            dial = plan.resolve_dial(spec.target) if spec.target else "-"
            if spec.target:
                plan.route(dial)  # the dial guard applies to a dry run too
            holder.dry_lines.append(f"{spec.plan_id} {spec.call_type}: probe {spec.kind.value} "
                                    f"to {dial} at {cfg.sut.sip_host}:{cfg.sut.sip_port or 'auto'}"
                                    f" from {cfg.security.probe_source}")
            return
        self.judged(holder.probe(self))
