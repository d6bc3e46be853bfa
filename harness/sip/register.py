"""Registering many lines without a pjsua2 account each.

The PJSIP 2.15 wheel allows 8 accounts and 8 transports per process: not 84 lines.
A line's registration only tells the switch where the line is (its Contact), so the
harness registers every beta line itself: REGISTER with the line's AOR and a Contact
on its agent worker's transport, answering the digest challenge (RFC 3261 §22, RFC 2617),
and measures the Registration Request Delay on the way (RFC 6076 §4.1: REGISTER ->
its final response).
"""

from __future__ import annotations

import hashlib
import re
import socket
import time
import uuid
from dataclasses import dataclass

from harness.errors import SipError
from harness.softswitch.process import udp_transaction


@dataclass(frozen=True, slots=True)
class Registration:
    aor: str
    code: int | None
    reason: str
    rrd_s: float | None  # REGISTER (first) -> final response (RFC 6076 §4.1)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SIP digest is MD5


def digest_response(user: str, password: str, realm: str, nonce: str, method: str, uri: str,
                    qop: str = "", nc: str = "00000001", cnonce: str = "") -> str:
    """RFC 2617 §3.2.2 request-digest (MD5; qop=auth or none)."""
    ha1 = _md5(f"{user}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    if qop:
        return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _md5(f"{ha1}:{nonce}:{ha2}")


def _params(challenge: str) -> dict[str, str]:
    return {k.lower(): v.strip('"') for k, v in
            re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', challenge)}


class Registrar:
    """A REGISTER client over one UDP socket on 127.0.0.1."""

    def __init__(self, switch_host: str, switch_port: int, domain: str,
                 timeout_s: float = 8.0) -> None:
        """`timeout_s`: how long a REGISTER waits for its final answer, sent again
        meanwhile as RFC 3261 17.1.2.2 has it over UDP (after 0.5, 1, 2, 4, 4 ... s). 8 s:
        a switch whose UDP worker waits on its media proxy (Kamailio's rtpengine module:
        1 s per try, 5 tries more) answers late but answers."""
        self.switch = (switch_host, switch_port)
        self.domain = domain
        self.timeout_s = timeout_s
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()

    def _request(self, user: str, contact: str, expires: int, cseq: int, call_id: str,
                 auth: str = "") -> bytes:
        branch, tag = uuid.uuid4().hex[:16], call_id[:10]
        return (f"REGISTER sip:{self.domain} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{branch};rport\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:{user}@{self.domain}>;tag={tag}\r\n"
                f"To: <sip:{user}@{self.domain}>\r\nCall-ID: {call_id}\r\n"
                f"CSeq: {cseq} REGISTER\r\nContact: <{contact}>\r\nExpires: {expires}\r\n"
                f"{auth}User-Agent: beta-harness registrar\r\nContent-Length: 0\r\n\r\n"
                ).encode()

    def _exchange(self, msg: bytes, call_id: str) -> tuple[int, str, dict[str, str]]:
        """Send `msg` and wait for its final answer, sending it again on RFC 3261's
        timer E (T1 = 0.5 s doubling to T2 = 4 s; T2 once a provisional answer came)."""
        answer = udp_transaction(self.sock, msg, self.switch, self.timeout_s, call_id)
        if answer is None or answer.status is None:
            raise SipError(f"REGISTER: no answer from {self.switch[0]}:{self.switch[1]} "
                           f"within {self.timeout_s:.0f} s (sent again on RFC 3261's "
                           "timer E)")
        # a name's last field, as the challenge to answer
        return answer.status, answer.reason, dict(answer.fields)

    def register(self, user: str, password: str, contact: str,
                 expires: int = 3600) -> Registration:
        call_id = uuid.uuid4().hex + "@beta-harness"
        t0 = time.monotonic()
        code, reason, headers = self._exchange(
            self._request(user, contact, expires, 1, call_id), call_id)
        if code in (401, 407):
            name = "www-authenticate" if code == 401 else "proxy-authenticate"
            ch = _params(headers.get(name, ""))
            qop = "auth" if "auth" in ch.get("qop", "").split(",") else ""
            cnonce = uuid.uuid4().hex[:8]
            uri = f"sip:{self.domain}"
            resp = digest_response(user, password, ch.get("realm", ""), ch.get("nonce", ""),
                                   "REGISTER", uri, qop, "00000001", cnonce)
            auth = (f'{"Authorization" if code == 401 else "Proxy-Authorization"}: Digest '
                    f'username="{user}", realm="{ch.get("realm", "")}", '
                    f'nonce="{ch.get("nonce", "")}", uri="{uri}", response="{resp}", '
                    f'algorithm=MD5' + (f', qop={qop}, nc=00000001, cnonce="{cnonce}"'
                                        if qop else "") + "\r\n")
            code, reason, headers = self._exchange(
                self._request(user, contact, expires, 2, call_id, auth), call_id)
        return Registration(f"sip:{user}@{self.domain}", code, reason,
                            time.monotonic() - t0)


@dataclass(frozen=True, slots=True)
class Registered:
    """What registering a batch of AORs gave: who failed and why, and the RRDs."""

    failed: tuple[str, ...]  # "<label>: <code> <reason>"
    rrd_s: tuple[float, ...]

    def problem(self, what: str, total: int, unit: str) -> str:
        """One line naming (up to five of) the failures, for a SipError."""
        return (f"{what} failed for {len(self.failed)} of {total} {unit}: "
                + "; ".join(self.failed[:5]) + (" ..." if len(self.failed) > 5 else ""))


def register_each(registrar: Registrar, entries: list[tuple[str, str, str, str]],
                  expires: int = 3600) -> Registered:
    """REGISTER each (label, user, password, contact) with `registrar`, which is closed
    afterwards; a failure is recorded, never raised (the caller decides)."""
    failed: list[str] = []
    rrd: list[float] = []
    try:
        for label, user, password, contact in entries:
            reg = registrar.register(user, password, contact, expires)
            if reg.code == 200 and reg.rrd_s is not None:
                rrd.append(reg.rrd_s)
            else:
                failed.append(f"{label}: {reg.code} {reg.reason}")
    finally:
        registrar.close()
    return Registered(tuple(failed), tuple(rrd))

