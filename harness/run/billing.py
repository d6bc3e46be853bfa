"""The run's billing close-out: every call's CDR check goes into one book while the run
runs (harness/cdr/book.py); when it closes, every record of the run no call claimed
(orphans) is added, everything is rated with the configured tariff, and the summary
is written to results.json and billing.txt.

The tariff was parsed with the config (HarnessConfig.parsed()); a run never finds a
bad tariff at its end."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.cdr import CdrSource
from harness.cdr.billing import Tariff
from harness.cdr.book import CdrBook
from harness.cdr.reconcile import CdrPolicy
from harness.cdr.summary import BillingSummary, billing_summary
from harness.config import CdrConfig, LoadConfig
from harness.errors import HarnessError


def cdr_book(source: Callable[[], CdrSource], cdr: CdrConfig, load: LoadConfig,
             tariff: Tariff) -> CdrBook:
    """The run's CDR book: the background load's own calls are not the plan's."""
    return CdrBook(source,
                   CdrPolicy(cdr.time_tolerance_s, cdr.duration_tolerance_s, tariff=tariff),
                   cdr.wait_s,
                   ignore=lambda r: (r.caller, r.callee) == (load.caller, load.target),
                   since_wall=time.time())


def summary_json(summary: BillingSummary) -> dict[str, Any]:
    """The billing summary as results.json keeps it."""
    return {
        "calls": summary.calls, "answered": summary.answered, "cdr_rows": summary.cdr_rows,
        "missing": summary.missing, "orphans": summary.orphans,
        "billed_min": str(summary.billed_min), "charge": str(summary.charge),
        "expected_charge": str(summary.expected_charge),
        "by_class": {t.call_class: {"calls": t.calls, "billed_min": str(t.billed_min),
                                    "charge": str(t.charge)} for t in summary.by_class},
        "discrepancies": list(summary.discrepancies), "text": summary.lines()}


@dataclass(frozen=True, slots=True)
class Closeout:
    """What closing the book gave: the summary for results.json, or why there is none."""
    billing: dict[str, Any] | None
    error: str = ""


def close_billing(book: CdrBook, run_dir: Path, store_refused: str = "") -> Closeout:
    """Close the book (no calls: nothing to bill) and write billing.txt.

    `store_refused`: the switch the harness runs lost CDR writes of its own during the
    run (EmbeddedKamailio.cdr_store_errors). A call with no record is then the
    harness's loss, not the switch's billing fault: it is left out of the billing and
    named as the harness's error instead of a discrepancy."""
    if not book.ledgers:
        return Closeout(None)
    try:
        run = book.close()
    except HarnessError as exc:
        return Closeout(None, f"billing not reconciled: {exc}")
    error = ""
    lost = [c for c in run.calls if not c.check.matched and c.check.mismatches] \
        if store_refused else []
    if lost:
        run = replace(run, calls=tuple(c for c in run.calls if c not in lost))
        error = (f"billing: {len(lost)} call(s) without a CDR left out of the billing "
                 f"({', '.join(c.ledger.call_id for c in lost)}): {store_refused}, so "
                 "their records were lost by the harness's own switch, not the switch's "
                 "billing")
    billing = summary_json(billing_summary(run, book.policy.tariff))
    (run_dir / "billing.txt").write_text("\n".join(billing["text"]) + "\n", encoding="utf-8")
    return Closeout(billing, error)

