"""The vocabulary every CdrRecord speaks, whatever the switch wrote.

Numbers are kept as digits (a SIP URI, a display name or '+' is stripped) and are
compared on their last 10 digits, so `+14135550100`, `14135550100` and `4135550100`
are the same NANP line and `011442079460123` matches `+442079460123`.

Dispositions are one of `answered`, `busy`, `no_answer`, `failed`, `cancelled`,
`unknown`, mapped from:

* Asterisk CDR dispositions (`ANSWERED`, `BUSY`, `NO ANSWER`, `FAILED`, `CONGESTION`);
* FreeSWITCH / ITU-T Q.850 hangup causes (`USER_BUSY` = cause 17, `NO_ANSWER` = 19,
  `NO_USER_RESPONSE` = 18, `ORIGINATOR_CANCEL` = 487 in FreeSWITCH's SIP mapping,
  `NORMAL_CLEARING` = 16, anything else a failure);
* SIP final response codes (RFC 3261 §21: 2xx answered, 486/600 busy, 480/408 no
  answer, 487 cancelled, other 3xx-6xx failed);
* the plain words themselves (`answered`, `no answer`, `canceled`...).
"""

from __future__ import annotations

import datetime as dt
import re

from harness.numbers import canonical

ANSWERED, BUSY, NO_ANSWER, FAILED, CANCELLED, UNKNOWN = (
    "answered", "busy", "no_answer", "failed", "cancelled", "unknown")
DISPOSITIONS = (ANSWERED, BUSY, NO_ANSWER, FAILED, CANCELLED, UNKNOWN)
UNANSWERED = frozenset({BUSY, NO_ANSWER, FAILED, CANCELLED})

_WORDS = {
    ANSWERED: {"answered", "answer", "ok", "success", "connected", "completed"},
    BUSY: {"busy", "user_busy"},
    NO_ANSWER: {"no_answer", "noanswer", "no_user_response", "unanswered", "not_answered",
                "timeout", "allotted_timeout"},
    CANCELLED: {"cancelled", "canceled", "cancel", "originator_cancel", "abandoned"},
    FAILED: {"failed", "failure", "congestion", "chanunavail", "error", "rejected",
             "call_rejected", "unallocated_number", "no_route_destination",
             "normal_temporary_failure", "recovery_on_timer_expire", "destination_out_of_order",
             "invalid_number_format", "network_out_of_order", "service_unavailable",
             "incompatible_destination", "subscriber_absent", "user_not_registered",
             "no_route_transit_net", "switch_congestion", "media_timeout", "normal_unspecified",
             "bearercapability_notavail", "facility_rejected", "exchange_routing_error"},
}
_WORD_TO_DISPOSITION = {w: d for d, words in _WORDS.items() for w in words}


def disposition_from_sip(code: int) -> str:
    """A SIP final response code (RFC 3261 §21) -> disposition."""
    if 200 <= code < 300:
        return ANSWERED
    if code in (486, 600):
        return BUSY
    if code in (408, 480):
        return NO_ANSWER
    if code == 487:
        return CANCELLED
    return FAILED if 300 <= code < 700 else UNKNOWN


_CLEARING = {"normal_clearing", "normal_call_clearing", "16"}


def disposition(text: str, answered: bool | None = None) -> str:
    """Any switch's disposition word, hangup cause or SIP code -> normalised value.

    NORMAL_CLEARING (Q.850 cause 16) says how a call ended, not whether it was
    answered: it maps to `answered` or `failed` only when `answered` is given. Returns
    `unknown` for an empty or unrecognised value; callers decide whether that makes
    their row bad."""
    word = re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")
    if word in _CLEARING and answered is not None:
        return ANSWERED if answered else FAILED
    if word.isdigit():
        return disposition_from_sip(int(word))
    return _WORD_TO_DISPOSITION.get(word, UNKNOWN)


def disposition_from_cause(cause: str, answered: bool) -> str:
    """FreeSWITCH hangup cause of a leg -> disposition.

    A leg that was answered is `answered` whatever ended it (NORMAL_CLEARING,
    MEDIA_TIMEOUT...); an unanswered leg with a cause outside the busy / no answer /
    cancel families failed (Q.850 has ~100 causes: all of them are failures here)."""
    if answered:
        return ANSWERED
    found = disposition(cause, answered=False)
    return FAILED if found in (ANSWERED, UNKNOWN) and cause.strip() else found


def digits(text: str) -> str:
    """A number as a switch wrote it -> its digits.

    Accepts `4135550100`, `+1 (413) 555-0100`, `"Site 1" <4135550100>`,
    `sip:+14135550100@10.0.0.1;user=phone` and `tel:+1-413-555-0100`. A value with no
    digits at all (`anonymous`) is returned stripped, so that it stays visible."""
    s = text.strip()
    bracket = re.search(r"<([^>]*)>", s)
    if bracket:
        s = bracket.group(1)
    s = re.sub(r"^(sips?|tel):", "", s, flags=re.IGNORECASE)
    s = s.split("@", 1)[0].split(";", 1)[0]
    found = re.sub(r"\D", "", s)
    return found or text.strip()


def same_number(a: str, b: str) -> bool:
    """The same number in any of its forms. Where both read as full numbers in E.164
    (harness/numbers.py canonical: a NANP number in any of its forms, an international
    one in + or 011 form) they must be equal: an international number cut to 10 digits
    is another number. Else (a service code, a 7-digit local number, an international
    number without its prefix) the last 10 digits, all of them if shorter."""
    ca, cb = canonical(a), canonical(b)
    if ca.startswith("+") and cb.startswith("+"):
        return ca == cb
    da, db = digits(a), digits(b)
    return bool(da) and da[-10:] == db[-10:]


def wall(t: float | None) -> str:
    """Epoch seconds -> '2026-11-26 10:12:57.531 UTC' for messages; None -> 'none'."""
    if t is None:
        return "none"
    when = dt.datetime.fromtimestamp(t, dt.UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond // 1000:03d} UTC"
