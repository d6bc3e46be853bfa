"""Telephone numbers in every legal form, made comparable in one place.

A switch may deliver the same number as a SIP URI's user (`sip:4135550101@…`,
`sip:+14135550101@…;user=phone`), a tel URI (RFC 3966, with or without
`;phone-context`), 10-digit national, 1+10 (NANP toll form), +E.164 (ITU-T E.164),
011 + international, or withhold it (`anonymous`, RFC 3323). `canonical()` turns each
into one value — E.164 for NANP and international numbers (`+14135550101`), the
digits of a service code (`911`, `0`, `411`), `anonymous` for a withheld identity —
so the harness compares numbers, never strings. `form()` says which form a number was
delivered in, for a check of the form a carrier promises on an interface.
"""

from __future__ import annotations

import re
from enum import StrEnum


class NumberForm(StrEnum):
    """The form a number was written in."""

    NATIONAL = "national"  # 10-digit NANP: 4135550101
    NANP11 = "nanp11"  # 1 + 10 digits: 14135550101
    E164 = "e164"  # +14135550101, +442079460123
    INTERNATIONAL = "international"  # 011 + country code: 011442079460123
    LOCAL7 = "local7"  # 7-digit: 5550101
    SERVICE = "service"  # a short code: 911, 411, 0
    ANONYMOUS = "anonymous"  # withheld (RFC 3323)
    OTHER = "other"


# what a carrier may promise on an interface (config numbers.caller_id_form_*)
PROMISABLE = ("any", NumberForm.NATIONAL.value, NumberForm.NANP11.value, NumberForm.E164.value)

ANONYMOUS = "anonymous"
_WITHHELD = {"anonymous", "unknown", "unavailable", "restricted", "private", "withheld"}
_VISUAL = re.compile(r"[\s\-().]")  # RFC 3966 visual separators
_NANP = re.compile(r"[2-9]\d{2}[2-9]\d{6}")


def user_part(text: str) -> str:
    """The number-bearing part of a header value or URI: `"Site 1" <sip:+1413…@h;user=phone>`
    -> `+1413…`; `tel:+1-413-555-0101;phone-context=…` -> `+1-413-555-0101`; a bare
    number is returned as it is. `;phone-context=+1` on a local number is prepended."""
    s = text.strip()
    bracket = re.search(r"<([^>]*)>", s)
    if bracket:
        s = bracket.group(1)
    scheme = re.match(r"^(sips?|tel):", s, flags=re.IGNORECASE)
    if scheme:
        s = s[scheme.end():]
    userinfo, at, _ = s.partition("@")
    if at:
        s = userinfo
    elif scheme and scheme.group(1).lower() != "tel":
        return ""  # a SIP URI without a user part names no number
    number, *params = s.split(";")
    context = next((p.partition("=")[2] for p in params
                    if p.lower().startswith("phone-context=")), "")
    number = number.split(":", 1)[0]  # sip:user:password@ (never used, but legal)
    if context.startswith("+") and not number.startswith("+"):
        number = context + number
    return number.strip()


def canonical(text: str, home_npa: str = "") -> str:
    """One value per number whatever its form (see the module docstring); '' for
    nothing usable. `home_npa` completes a 7-digit local number."""
    user = user_part(text)
    if user.lower() in _WITHHELD or (user and not any(c.isdigit() for c in user)):
        return ANONYMOUS if user.lower() in _WITHHELD else ""
    s = _VISUAL.sub("", user)
    plus = s.startswith("+")
    digits = re.sub(r"\D", "", s)
    if not digits:
        return ""
    if plus:
        return "+" + digits
    if digits.startswith("011") and len(digits) > 9:
        return "+" + digits[3:]
    if len(digits) == 11 and digits.startswith("1") and _NANP.fullmatch(digits[1:]):
        return "+" + digits
    if len(digits) == 10 and _NANP.fullmatch(digits):
        return "+1" + digits
    if len(digits) == 7 and home_npa:
        return "+1" + home_npa + digits
    return digits


def form(text: str) -> NumberForm:
    """The form `text`'s number was written in."""
    user = user_part(text)
    if user.lower() in _WITHHELD:
        return NumberForm.ANONYMOUS
    s = _VISUAL.sub("", user)
    if s.startswith("+") and s[1:].isdigit():
        return NumberForm.E164
    if not s.isdigit():
        return NumberForm.OTHER
    if len(s) == 10 and _NANP.fullmatch(s):
        return NumberForm.NATIONAL
    if len(s) == 11 and s.startswith("1") and _NANP.fullmatch(s[1:]):
        return NumberForm.NANP11
    if s.startswith("011") and len(s) > 9:
        return NumberForm.INTERNATIONAL
    if len(s) == 7:
        return NumberForm.LOCAL7
    if len(s) <= 4:
        return NumberForm.SERVICE
    return NumberForm.OTHER


def same_number(a: str, b: str, home_npa: str = "") -> bool:
    """True when `a` and `b` are the same number (or both withheld)."""
    ca, cb = canonical(a, home_npa), canonical(b, home_npa)
    return bool(ca) and ca == cb
