"""Shared data of the CDR tests: the recorded scenario, its sources, the tariff."""

from __future__ import annotations

import json
from pathlib import Path

from harness.cdr.billing import Tariff
from harness.cdr.reconcile import CdrPolicy, Ledger

DATA = Path(__file__).parent.parent / "data" / "cdr"

RATED_MAP = ("call_id=CallID&caller=From&callee=To&call_class=Class&start=SetupTime"
             "&answer=AnswerTime&end=EndTime&duration=Billsec&billed=BilledSec&charge=Charge"
             "&disposition=Status&sip_code=SipCode")

TARIFF = Tariff.parse({"local": "0.0100 60/60", "long_distance": "0.0250 6/6",
                       "international": "0.2400 30/6"})


def ledgers() -> list[Ledger]:
    """The seven calls as the agents saw them (answered, busy, no answer, cancelled,
    failed, long distance, international)."""
    calls = json.loads((DATA / "ledger.json").read_text())["calls"]
    return [Ledger(**c) for c in calls]


def asterisk_uri(path: Path | None = None, extra: str = "") -> str:
    path = path or DATA / "asterisk_Master.csv"
    return f"asterisk-csv://{path}?tz=UTC&call_class=userfield{extra}"


def freeswitch_csv_uri(path: Path | None = None) -> str:
    return (f"freeswitch-csv://{path or DATA / 'freeswitch_Master.csv'}"
            "?tz=America/New_York&call_class=accountcode")


def freeswitch_json_uri(path: Path | None = None, extra: str = "") -> str:
    return f"freeswitch-json://{path or DATA / 'freeswitch_json'}{extra}"


def rated_uri(path: Path | None = None) -> str:
    return f"csv://{path or DATA / 'rated_cdrs.csv'}?{RATED_MAP}"


def policy(**kw: object) -> CdrPolicy:
    return CdrPolicy(tariff=TARIFF, **kw)  # type: ignore[arg-type]
