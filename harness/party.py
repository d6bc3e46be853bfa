"""Who takes part in a call, parsed once: a beta line or a party in the simulated PSTN.

A plan row, an expectation and a far end's seat name a party as text:

    site2/05            beta line 5 of site 2 (a SIP account on the switch)
    pstn:2125550188     a PSTN subscriber (a row's caller: an incoming DID call)
    pstn:ld             the simulated PSTN reached on a trunk group (Expect.rings;
                        the gateway records the R-URI's ;tgrp=, or "?" without one)
    pstn:4135550190     across another carrier, the DID that rang
    pstn:               the PSTN at large (a further call's seat that is off-net)

`Party.parse` turns that text into a value and refuses anything else; `str(party)` is
its text again. Names that need not be parties (a far end's "unknown:<user>", a
probe's "agent worker 3") are read with `Party.of_seat`, which answers None for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from harness.errors import HarnessError

PSTN_PREFIX = "pstn:"
_LINE = re.compile(r"site(\d+)/(\d+)")
_PSTN_TAG = re.compile(r"[^\r\n]*")  # trunk group, number (as received), "?" or ""


class PartyError(HarnessError, ValueError):
    """Text that names no party."""

    def __init__(self, text: object) -> None:
        self.text = text
        super().__init__(f"{text!r} is not a party: expected a beta line 'siteN/NN' or "
                         "'pstn:<trunk group or number>'")


class PartyKind(StrEnum):
    LINE = "line"
    PSTN = "pstn"


@dataclass(frozen=True, slots=True)
class Party:
    kind: PartyKind
    site: int = 0  # a line's site and index within it
    index: int = 0
    tag: str = ""  # a PSTN party's trunk group or number; "" the PSTN at large

    @classmethod
    def line(cls, site: int, index: int) -> Party:
        return cls(PartyKind.LINE, site, index)

    @classmethod
    def pstn(cls, tag: str = "") -> Party:
        if not _PSTN_TAG.fullmatch(tag):
            raise PartyError(PSTN_PREFIX + tag)
        return cls(PartyKind.PSTN, tag=tag)

    @classmethod
    def parse(cls, text: str) -> Party:
        """'site2/05' or 'pstn:<tag>' -> Party; anything else raises `PartyError`."""
        if not isinstance(text, str):
            raise PartyError(text)
        if text.startswith(PSTN_PREFIX):
            return cls.pstn(text[len(PSTN_PREFIX):])
        m = _LINE.fullmatch(text)
        if m is None:
            raise PartyError(text)
        return cls.line(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of_seat(cls, name: str) -> Party | None:
        """The party a far end's seat name denotes; None for a name that is no party
        ("unknown:<user>", "none", a probe's "agent worker 3")."""
        try:
            return cls.parse(name)
        except PartyError:
            return None

    @staticmethod
    def in_pstn(name: str) -> bool:
        """A seat or agent name that is a party in the simulated PSTN."""
        party = Party.of_seat(name)
        return party is not None and party.is_pstn

    @property
    def is_pstn(self) -> bool:
        return self.kind is PartyKind.PSTN

    @property
    def is_line(self) -> bool:
        return self.kind is PartyKind.LINE

    def covers(self, seat: str) -> bool:
        """A far end at `seat` is this party: the same one, or any PSTN party when
        this is the PSTN at large ('pstn:')."""
        other = Party.of_seat(seat)
        if other is None:
            return False
        return other == self or (self.is_pstn and not self.tag and other.is_pstn)

    def __str__(self) -> str:
        if self.is_pstn:
            return PSTN_PREFIX + self.tag
        return f"site{self.site}/{self.index:02d}"
