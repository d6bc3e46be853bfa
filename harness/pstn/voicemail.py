"""The lab's voicemail platform, for the embedded switch (numbers.voicemail_pilot).

A carrier's voicemail platform is a server of its own beside the switch: calls reach it
on a trunk, and it tells a line that a message waits with an unsolicited SIP NOTIFY of
the `message-summary` event package (RFC 3842), through the switch. The lab's has two
parts:

* its media side: a gateway worker of the simulated network on trunk group "vm"
  (`VOICEMAIL_TRUNK`, a port of its own the switch routes the pilot to, like the PSTN's
  trunk groups: harness/pstn/simulator.py). It answers a call forwarded to it, plays
  its greeting and records the message; on a call from a line to the pilot it plays
  the message once the line has sent its retrieval digits.
* its signalling side (`MwiSender`): the NOTIFYs, sent from a port of its own that the
  switch trusts as it trusts the trunks (by source address).

Which mailbox a forwarded call is for is the platform's to find in what the switch
sent, as a real platform must: the diverting number of a Diversion header (RFC 5806),
of History-Info (RFC 7044), a `target` parameter in the Request-URI (RFC 4458), or a
mailbox's own number as the Request-URI's user (`mailbox_of`). A switch that sends none
leaves the message in no mailbox: the row's failure, not the platform's.
"""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from harness.numbers import canonical
from harness.sip.message import ruri_parts, uri_parts
from harness.sip.text import split_list
from harness.softswitch.process import udp_transaction

MWI_CONTENT_TYPE = "application/simple-message-summary"
NOTIFY_TIMEOUT_S = 8.0  # a NOTIFY the switch never answers: given up after Timer E's tries


@dataclass(frozen=True, slots=True)
class Summary:
    """A message-summary body (RFC 3842 §5.2): whether messages wait, and the voice
    messages' new/old counts (None when the body gives none)."""

    waiting: bool
    new: int | None = None
    old: int | None = None

    @classmethod
    def parse(cls, body: str) -> Summary | None:
        """The summary a NOTIFY body carries; None when it is no message-summary."""
        waiting = re.search(r"(?im)^\s*Messages-Waiting\s*:\s*(yes|no)\b", body)
        if waiting is None:
            return None
        voice = re.search(r"(?im)^\s*Voice-Message\s*:\s*(\d+)\s*/\s*(\d+)", body)
        return cls(waiting.group(1).lower() == "yes",
                   int(voice.group(1)) if voice else None, int(voice.group(2)) if voice else None)

    def describe(self) -> str:
        counts = f", voice {self.new}/{self.old} new/old" if self.new is not None else ""
        return f"Messages-Waiting: {'yes' if self.waiting else 'no'}{counts}"


def notify_summary(message: str) -> Summary | None:
    """The summary of a NOTIFY as a line received it (its body), if it is one."""
    head, _, body = message.partition("\r\n\r\n")
    if not re.search(r"(?im)^(Event|o)\s*:\s*message-summary\b", head):
        return None
    return Summary.parse(body)


def mailbox_of(request: Mapping[str, str], boxes: Mapping[str, str], home_npa: str,
               ) -> tuple[str, str]:
    """(the mailbox's line, how it was found) for a call that reached the platform, from
    the INVITE as it arrived (`request`: harness/sip/message.py parse_request); ("", why
    not) when nothing in it names a mailbox. `boxes`: mailbox number -> its line."""
    by_number = {canonical(number, home_npa): line for number, line in boxes.items()}

    def box(user: str) -> str:
        return by_number.get(canonical(unquote(user), home_npa), "") if user else ""

    diversion = request.get("diversion", "")
    for entry in split_list(diversion):  # the topmost is the last diversion (RFC 5806)
        if line := box(_uri_user(entry)):
            return line, "Diversion"
    history = [_uri_user(e) for e in split_list(request.get("history-info", ""))]
    for user in reversed(history):  # the targets in order: the mailbox's line before us
        if line := box(user):
            return line, "History-Info"
    user, _port, params = ruri_parts(request.get("request-line", ""))
    target = unquote(params.get("target", ""))
    if target and (line := box(uri_parts(target)[0] if "@" in target else target)):
        return line, "the Request-URI's target (RFC 4458)"
    if line := box(user):
        return line, "the Request-URI"
    seen = ", ".join(f"{name}: {request[name]}" for name in ("diversion", "history-info")
                     if request.get(name)) or "no Diversion or History-Info header"
    return "", (f"the INVITE named no mailbox ({request.get('request-line', '?')}; {seen}): "
                "the platform cannot tell whose message it is")


def _uri_user(entry: str) -> str:
    """The user part of the URI in a name-addr or addr-spec header value."""
    m = re.search(r"<([^>]*)>", entry)
    uri = (m.group(1) if m else entry.split(";", 1)[0]).split("?", 1)[0].strip()
    if uri.lower().startswith("tel:"):  # RFC 3966: the number is the whole URI
        return uri[4:].split(";", 1)[0]
    return uri_parts(uri)[0]


class MwiSender:
    """The platform's signalling side: NOTIFY message-summary to a line, through the
    switch, from `port` on 127.0.0.1 (the switch trusts that address)."""

    def __init__(self, port: int, pilot: str, domain: str, switch: tuple[str, int]) -> None:
        self.pilot, self.domain, self.switch = pilot, domain, switch
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self._cseq = 0

    def notify(self, number: str, summary: Summary) -> int | None:
        """Tell line `number` what waits in its mailbox; the switch's final response
        code (None: no answer)."""
        self._cseq += 1
        body = (f"Messages-Waiting: {'yes' if summary.waiting else 'no'}\r\n"
                f"Message-Account: sip:{self.pilot}@{self.domain}\r\n"
                f"Voice-Message: {summary.new or 0}/{summary.old or 0}\r\n")
        host = f"127.0.0.1:{self.port}"
        # its own Call-ID: a late answer to an earlier NOTIFY on this socket is not its
        call_id = f"mwi-{uuid.uuid4().hex}@{self.domain}"
        msg = (f"NOTIFY sip:{number}@{self.domain} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {host};branch=z9hG4bK{uuid.uuid4().hex[:16]};rport\r\n"
               f"Max-Forwards: 70\r\n"
               f"From: <sip:{self.pilot}@{self.domain}>;tag={uuid.uuid4().hex[:10]}\r\n"
               f"To: <sip:{number}@{self.domain}>\r\n"
               f"Call-ID: {call_id}\r\n"
               f"CSeq: {self._cseq} NOTIFY\r\n"
               f"Contact: <sip:{self.pilot}@{host}>\r\n"
               "Event: message-summary\r\nSubscription-State: active\r\n"
               f"Content-Type: {MWI_CONTENT_TYPE}\r\nContent-Length: {len(body)}\r\n\r\n{body}")
        try:
            answer = udp_transaction(self.sock, msg, self.switch, NOTIFY_TIMEOUT_S, call_id)
        except ConnectionRefusedError:
            return None
        return answer.status if answer is not None else None

    def close(self) -> None:
        self.sock.close()
