"""The simulated PSTN's directory: fictional test numbers, how each far end behaves,
and how a dial string is classified (call class, normalised number, trunk).

Every number here is fictional: NANP 555-01XX (reserved for fiction), Ofcom's
drama range 020 7946 0XXX for international, and the service codes (0, 00, 411,
N11, 911) that never leave the simulated PSTN. The same table renders the embedded
switch's routing and drives the harness's dial guard, so the two cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# trunk groups of the simulated PSTN: where the switch must route each class; "ld2",
# a second long-distance carrier's, carries the calls dialled around the line's own
# carrier with its carrier access code (101XXXX, numbers.dial_around_cic)
TRUNKS = ("local", "ld", "intl", "tollfree", "operator", "n11", "psap", "ld2")
DIAL_AROUND_TRUNK = "ld2"
# what may follow a carrier access code: long distance (1 + NPA-NXX-XXXX) or
# international (011 + ...), the classes an interexchange carrier carries
DIAL_AROUND_CLASSES = ("ld_intralata", "ld_interlata", "international")

CLASS_TRUNK = {
    "local": "local", "ld_intralata": "ld", "ld_interlata": "ld", "international": "intl",
    "tollfree": "tollfree", "directory": "operator", "operator": "operator", "n11": "n11",
    "emergency": "psap",
}


@dataclass(frozen=True, slots=True)
class PstnNumber:
    """A far end in the simulated PSTN and how it behaves when called."""

    number: str  # as the PSTN sees it (10-digit NANP, +E.164, or a service code)
    call_class: str
    behaviour: str = "answer"  # answer | busy | no_answer | unassigned
    answer_after_s: float = 1.0
    # early media before the answer, as real gateways send it: "ringback" (183 Session
    # Progress with SDP, audible ringing, PRACK when offered, then 200). An unassigned
    # number always intercepts: 183 with SIT + announcement, then 404.
    early: str = ""


DEFAULT_PSTN: tuple[PstnNumber, ...] = (
    PstnNumber("4135550190", "local"),
    PstnNumber("4135550191", "local", "busy"),
    PstnNumber("4135550192", "local", "no_answer"),
    PstnNumber("4135550193", "local", "unassigned"),
    PstnNumber("9785550123", "ld_intralata", answer_after_s=2.0, early="ringback"),
    PstnNumber("2125550123", "ld_interlata", answer_after_s=2.0, early="ringback"),
    PstnNumber("+442079460123", "international", answer_after_s=2.0, early="ringback"),
    # premium rate (NANP 900, an interexchange service: LD class, LD trunk); dialled
    # only by the security probes of §12, which must never get it through unpaid
    PstnNumber("9005550100", "ld_interlata", answer_after_s=2.0),
    # local premium rate (NXX 976 in the home NPA: local class, local trunk), barred on
    # a toll-restricted line (plan row 2.9)
    PstnNumber("4139765555", "local"),
    PstnNumber("8005550199", "tollfree"),
    PstnNumber("411", "directory"),
    PstnNumber("2125551212", "directory"),
    PstnNumber("0", "operator"),
    PstnNumber("00", "operator"),
    PstnNumber("311", "n11"),
    PstnNumber("511", "n11"),
    PstnNumber("611", "n11"),
    PstnNumber("711", "n11"),
    PstnNumber("911", "emergency", answer_after_s=0.5),
)

# PSTN subscribers that call *into* the beta lines (incoming DID calls): two NANP
# numbers and one international, in E.164 (a UK number of the range Ofcom reserves for
# drama, 020 7946 0xxx)
DEFAULT_PSTN_CALLERS = ("2125550188", "9785550177", "+442079460958")

TOLLFREE_NPAS = ("800", "833", "844", "855", "866", "877", "888")
N11 = ("211", "311", "511", "611", "711", "811")


@dataclass(frozen=True, slots=True)
class Route:
    """How a dial string is treated: the number the switch routes on, its class."""

    dialled: str
    number: str  # normalised: 10-digit NANP, +E.164 international, or a service code
    call_class: str  # onnet | local | ld_intralata | ld_interlata | international |
    # tollfree | directory | operator | n11 | emergency
    privacy: bool = False  # *67: calling number withheld
    operator_assisted: bool = False  # 0+ dialling
    carrier: str = ""  # the CIC dialled with a carrier access code (101XXXX), if any

    @property
    def trunk(self) -> str | None:
        return DIAL_AROUND_TRUNK if self.carrier else CLASS_TRUNK.get(self.call_class)


def classify(dial: str, home_npa: str, intralata_npas: tuple[str, ...],
             onnet: frozenset[str]) -> Route | None:
    """Classify a dial string as a NANP switch would; None if it is not dialable.

    Order matters: *67, a carrier access code (101XXXX, then 1 + a 10-digit number or
    011 + an international one), the service codes, 0/00/0+, 011 international, 1+8XX
    toll-free, 1+NPA-555-1212 directory, then 11/10/7-digit NANP numbers.
    """
    digits = re.sub(r"[\s\-().]", "", dial)
    privacy = digits.startswith("*67")
    if privacy:
        digits = digits[3:]
    cac = re.fullmatch(r"101(\d{4})((?:1|011)\d+)", digits)
    if cac:  # dialled around the line's own carrier: LD or international only
        inner = classify(cac.group(2), home_npa, intralata_npas, onnet)
        if inner is None or inner.call_class not in DIAL_AROUND_CLASSES:
            return None
        return Route(dial, inner.number, inner.call_class, privacy, carrier=cac.group(1))
    if digits == "911":
        return Route(dial, "911", "emergency", privacy)
    if digits == "411":
        return Route(dial, "411", "directory", privacy)
    if digits in N11:
        return Route(dial, digits, "n11", privacy)
    if digits in ("0", "00"):
        return Route(dial, digits, "operator", privacy)
    if re.fullmatch(r"011[1-9]\d{6,14}", digits):
        return Route(dial, "+" + digits[3:], "international", privacy)
    if digits.startswith("+") and not digits.startswith("+1") and digits[1:].isdigit():
        return Route(dial, digits, "international", privacy)
    if re.fullmatch(r"0\d{10}", digits):  # 0 + NPA-NXX-XXXX: operator assisted
        return Route(dial, digits[1:], "operator", privacy, operator_assisted=True)
    if digits.startswith("+1"):
        digits = digits[2:]
    elif len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    elif len(digits) == 7:
        digits = home_npa + digits
    if not re.fullmatch(r"[2-9]\d{2}[2-9]\d{6}", digits):
        return None
    npa = digits[:3]
    if npa in TOLLFREE_NPAS:
        return Route(dial, digits, "tollfree", privacy)
    if digits[3:] == "5551212":
        return Route(dial, digits, "directory", privacy)
    if digits in onnet:
        return Route(dial, digits, "onnet", privacy)
    if npa == home_npa:
        return Route(dial, digits, "local", privacy)
    if npa in intralata_npas:
        return Route(dial, digits, "ld_intralata", privacy)
    return Route(dial, digits, "ld_interlata", privacy)


def carrier_dids(pstn: tuple[PstnNumber, ...], callers: tuple[str, ...]) -> tuple[str, ...]:
    """The numbers the harness owns at the other carrier (pstn.mode: carrier), as that
    network files them: every far end of the directory — the service positions (911,
    411, 0, 00, N11) and the vacant number's intercept are lines the lab's carrier
    hosts too — and every subscriber who calls in."""
    return tuple(dict.fromkeys([*(p.number for p in pstn), *callers]))


def expected_did(route: Route) -> str:
    """The DID a call on `route` must ring across another carrier: the number routed
    on; an operator-assisted 0+ call, the operator position "0"."""
    return "0" if route.operator_assisted else route.number
