"""Billing rules: increments, the tariff per call class, and the billing checks.

The rounding rule ("A/B" billing increments, the carriers' convention):

    A call that was answered and lasted t > 0 seconds is billed A seconds for the
    first increment, then every further started B seconds in full:

        billed(t) = 0                              if t = 0
                  = A                              if 0 < t <= A
                  = A + ceil((t - A) / B) * B      if t > A

    Always rounded UP. "1/1" is per-second billing, "6/6" six-second billing, "60/60"
    per-minute billing, "30/6" a 30 s minimum then 6 s steps. Times are compared at
    millisecond resolution, so 60.0004 s is 60 s, not 61.

The charge is `rate per minute x billed seconds / 60`, in Decimal, rounded half-up
to the tariff's quantum (0.0001 by default) once per call.

A switch's CDR is checked against the agents' own observation of the call:

* `billed_s`    the CDR's billable seconds must be what the increment makes of the
                observed talk time (allowing the duration tolerance either way);
* `rounding`    a CDR that carries both its duration and its billable seconds must
                apply its class's increment to its own duration;
* `charge`      the rated (or implied) charge must match the tariff;
* `false_answer_supervision`  billing must not start before the real answer nor go
                on after the hang-up, and an unanswered call must bill nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from harness.cdr.normalise import wall
from harness.errors import ConfigError
from harness.model import CdrRecord, Mismatch


@dataclass(frozen=True, slots=True)
class Increment:
    """A billing increment "A/B": first A seconds, then B-second steps, rounded up."""

    first_s: int
    next_s: int

    @classmethod
    def parse(cls, text: str, where: str = "billing increment") -> Increment:
        parts = text.strip().split("/")
        if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
            raise ConfigError("<tariff>", where, text,
                              "expected FIRST/NEXT whole seconds, e.g. 1/1, 6/6, 30/6, 60/60")
        return cls(int(parts[0]), int(parts[1]))

    def billed_s(self, talk_s: float) -> int:
        """Billable seconds for `talk_s` of talk time (the rule in the module docstring)."""
        talk_ms = round(max(talk_s, 0.0) * 1000)
        if talk_ms == 0:
            return 0
        first_ms, next_ms = self.first_s * 1000, self.next_s * 1000
        if talk_ms <= first_ms:
            return self.first_s
        return self.first_s + math.ceil((talk_ms - first_ms) / next_ms) * self.next_s

    def __str__(self) -> str:
        return f"{self.first_s}/{self.next_s}"


PER_SECOND = Increment(1, 1)


@dataclass(frozen=True, slots=True)
class Rate:
    """One tariff line: a call class, its price per minute and its increment."""

    call_class: str
    per_min: Decimal
    increment: Increment = PER_SECOND


@dataclass(frozen=True, slots=True)
class Rating:
    """What one call is billed: class, billable seconds, charge (None: class unrated)."""

    call_class: str
    billed_s: int
    charge: Decimal | None


@dataclass(frozen=True, slots=True)
class Tariff:
    """Rates per call class. Classes without a rate bill by `default_increment` and
    have no charge (the charge check is skipped for them)."""

    rates: tuple[Rate, ...] = ()
    default_increment: Increment = PER_SECOND
    quantum: Decimal = Decimal("0.0001")

    @classmethod
    def parse(cls, table: Mapping[str, str], default_increment: str = "1/1",
              quantum: str = "0.0001") -> Tariff:
        """{"local": "0.0100 60/60", "international": "0.2500 30/6"} -> Tariff.

        Each value is a rate per minute, then optionally the increment."""
        rates = []
        for call_class, line in table.items():
            words = line.split()
            try:
                per_min = Decimal(words[0]) if words else Decimal("nan")
            except InvalidOperation:
                per_min = Decimal("nan")
            if per_min.is_nan() or per_min < 0 or len(words) > 2:
                raise ConfigError("<tariff>", call_class, line,
                                  "expected '<rate per minute> [FIRST/NEXT]', e.g. '0.01 60/60'")
            increment = (Increment.parse(words[1], call_class) if len(words) == 2
                         else Increment.parse(default_increment))
            rates.append(Rate(call_class, per_min, increment))
        return cls(tuple(rates), Increment.parse(default_increment), Decimal(quantum))

    def rate(self, call_class: str) -> Rate | None:
        for rate in self.rates:
            if rate.call_class == call_class:
                return rate
        return None

    def increment(self, call_class: str) -> Increment:
        rate = self.rate(call_class)
        return rate.increment if rate else self.default_increment

    def charge(self, call_class: str, billed_s: float) -> Decimal | None:
        """Rate per minute x billed seconds / 60, rounded half-up to the quantum."""
        rate = self.rate(call_class)
        if rate is None:
            return None
        amount = rate.per_min * Decimal(str(billed_s)) / Decimal(60)
        return amount.quantize(self.quantum, rounding=ROUND_HALF_UP)

    def rate_call(self, call_class: str, talk_s: float | None) -> Rating:
        billed = self.increment(call_class).billed_s(talk_s or 0.0)
        return Rating(call_class, billed, self.charge(call_class, billed))


def record_rating(tariff: Tariff, record: CdrRecord, call_class: str) -> Rating:
    """What the switch bills for a record: its own billable seconds when it carries
    them, else the increment applied to its duration; its own charge when rated."""
    billed = (record.billed_s if record.billed_s is not None
              else tariff.increment(call_class).billed_s(record.duration_s or 0.0))
    charge = record.charge if record.charge is not None else tariff.charge(call_class, billed)
    return Rating(call_class, int(math.ceil(billed)), charge)


def _fmt(t: float) -> str:
    return f"{t:.3f}"


def billing_mismatches(tariff: Tariff, record: CdrRecord, expected_class: str,
                       talk_s: float, tolerance_s: float) -> list[Mismatch]:
    """billed_s, rounding and charge of an answered call's record (module docstring)."""
    out: list[Mismatch] = []
    rec_class = record.call_class or expected_class
    inc = tariff.increment(expected_class)
    low, high = inc.billed_s(talk_s - tolerance_s), inc.billed_s(talk_s + tolerance_s)
    billed = record_rating(tariff, record, rec_class)
    if not low <= billed.billed_s <= high:
        want = str(low) if low == high else f"{low}..{high}"
        out.append(Mismatch("billed_s", f"{want} s ({inc} of {_fmt(talk_s)} s talk, "
                                        f"+/-{tolerance_s:g} s)", f"{billed.billed_s} s"))
    if record.billed_s is not None and record.duration_s is not None:
        own = tariff.increment(rec_class)
        want_s = own.billed_s(record.duration_s)
        if record.billed_s != want_s:
            out.append(Mismatch("rounding", f"{want_s} s ({own} of the CDR's "
                                            f"{record.duration_s:g} s, rounded up)",
                                f"{record.billed_s:g} s"))
    low_c, high_c = tariff.charge(expected_class, low), tariff.charge(expected_class, high)
    if low_c is not None and high_c is not None and billed.charge is not None \
            and not low_c <= billed.charge <= high_c:
        want_c = str(low_c) if low_c == high_c else f"{low_c}..{high_c}"
        out.append(Mismatch("charge", f"{want_c} ({expected_class} at "
                                      f"{_per_min(tariff, expected_class)}/min)",
                            f"{billed.charge}"))
    return out


def _per_min(tariff: Tariff, call_class: str) -> str:
    rate = tariff.rate(call_class)
    return "?" if rate is None else str(rate.per_min)


def false_answer_supervision(record: CdrRecord, answered: bool, answer_wall: float | None,
                             end_wall: float | None, tolerance_s: float) -> Mismatch | None:
    """Billing that starts before the real answer or runs on after the hang-up.

    The billed interval is [CDR answer, CDR answer + CDR duration] (or, without an
    answer time, the duration ending at the CDR's end). Compared with the answer and
    hang-up the agents saw, within the time tolerance."""
    name = "false_answer_supervision"
    billed = record.duration_s or 0.0
    if not answered:
        if record.answer_wall is not None or billed > 0 or record.disposition == "answered":
            return Mismatch(name, "no billing: the call was never answered",
                            f"billed {billed:g} s as {record.disposition or 'answered'}")
        return None
    start = record.answer_wall
    if start is None and record.end_wall is not None:
        start = record.end_wall - billed
    if start is None or answer_wall is None or end_wall is None:
        return None
    early, late = answer_wall - start, (start + billed) - end_wall
    found = ([f"billing started {early:.3f} s before the real answer"] if early > tolerance_s
             else []) + ([f"billing continued {late:.3f} s after the hang-up"]
                         if late > tolerance_s else [])
    if not found:
        return None
    return Mismatch(name, f"billing from the answer at {wall(answer_wall)} to the hang-up "
                          f"at {wall(end_wall)}", "; ".join(found))
