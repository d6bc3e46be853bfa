"""The test number plan: the beta lines and the dial guard.

Deny by default: a dial string is normalised (7/10/11 digit, +1 E.164) and must land
inside a range the configuration names, or `DialGuardError` is raised before any SIP
leaves the harness.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from harness.config import NumbersConfig
from harness.errors import DialGuardError
from harness.model import Line

_LINE_NAME = re.compile(r"^site(\d+)/(\d+)$")


@dataclass(frozen=True, slots=True)
class NumberPlan:
    home_npa: str
    lines: tuple[Line, ...]

    @classmethod
    def from_config(cls, cfg: NumbersConfig) -> NumberPlan:
        password = cfg.line_password or secrets.token_hex(8)
        base = int(cfg.first_line)
        lines = []
        for site in range(1, cfg.sites + 1):
            for idx in range(1, cfg.lines_per_site + 1):
                offset = (site - 1) * cfg.lines_per_site + (idx - 1)
                lines.append(Line(site, idx, f"{base + offset:010d}", password))
        return cls(cfg.home_npa, tuple(lines))

    def line(self, name: str) -> Line:
        """Look a line up by its plan name, e.g. 'site1/01'."""
        m = _LINE_NAME.match(name)
        if m:
            site, idx = int(m.group(1)), int(m.group(2))
            for line in self.lines:
                if line.site == site and line.index == idx:
                    return line
        raise DialGuardError(name, "no such beta line (expected siteN/NN within the plan)")

    def resolve_dial(self, dial: str) -> str:
        """A plan may dial a line by name ('site2/01'): its number under this config.

        Plans stay valid against any switch's number plan that way."""
        return self.line(dial).number if _LINE_NAME.match(dial) else dial

    def normalise(self, dial: str) -> str:
        """Digits as dialled -> 10-digit NANP number (RFC 3966-style local forms)."""
        digits = re.sub(r"[\s\-().]", "", dial)
        if digits.startswith("+1"):
            digits = digits[2:]
        elif digits.startswith("1") and len(digits) == 11:
            digits = digits[1:]
        elif len(digits) == 7:
            digits = self.home_npa + digits
        if not (digits.isdigit() and len(digits) == 10):
            raise DialGuardError(dial, "not a 7, 10 or 11 digit NANP number")
        return digits

    def check_dial(self, dial: str) -> Line:
        """Guard: the normalised number must be an on-net beta line of this plan."""
        number = self.normalise(dial)
        for line in self.lines:
            if line.number == number:
                return line
        first, last = self.lines[0].number, self.lines[-1].number
        raise DialGuardError(dial, f"normalised to {number}, outside the test number plan "
                                   f"(on-net lines {first}..{last})")
