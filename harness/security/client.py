"""A raw SIP user agent for the §12 probes: one UDP socket at the probes' own source
address, requests built by hand (no pjsua2: a probe must be able to send what a phone
never would), every datagram counted.

What it does, and nothing more (RFC 3261):

* INVITE, answering a 401/407 challenge once with the credentials it is given
  (RFC 2617 digest, `harness.sip.register.digest_response`), ACK for every non-2xx
  final (§17.1.1.3, same branch), ACK + BYE for a 2xx (a switch that connected the
  probe: the call is torn down at once), CANCEL when only a provisional came before
  the probe's wait ran out (§9.1);
* REGISTER with or without credentials (never a second guess);
* a bounded burst of INVITEs at a fixed rate, each ACKed when its final arrives.

`target_guard` refuses a switch address that is not a loopback literal unless the
configuration allows remote switches (`sut.allow_remote`).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.errors import HarnessError
from harness.sip.register import digest_response
from harness.sip.text import parse_lenient


class ProbeError(HarnessError):
    """A probe could not be sent as asked (names the address or the line)."""


def target_guard(host: str, allow_remote: bool) -> str:
    """`host` if probes may go there: an IPv4 literal, inside 127.0.0.0/8 unless
    `allow_remote` (names are refused, never resolved)."""
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise ProbeError(f"refused probe target {host!r}: not an address literal") from None
    if addr.version != 4:
        raise ProbeError(f"refused probe target {host!r}: IPv4 only")
    if not addr.is_loopback and not allow_remote:
        raise ProbeError(f"refused probe target {host!r}: not loopback (set "
                         "sut.allow_remote: true to probe a switch on another host)")
    return host


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str  # digest username (a beta line's number)
    password: str


@dataclass(frozen=True, slots=True)
class Response:
    code: int
    reason: str
    headers: dict[str, str]  # lower-case name -> first value (record-route: all, joined)


@dataclass
class Exchange:
    """One probe transaction chain as the probe's socket saw it."""

    call_id: str
    codes: list[int] = field(default_factory=list)  # every final, in order
    provisional: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # CANCEL sent, 2xx torn down, ...


def _params(challenge: str) -> dict[str, str]:
    return {k.lower(): v.strip('"') for k, v in
            re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', challenge)}


def parse_response(data: bytes) -> Response | None:
    """A SIP response's code, reason and headers; None for anything else."""
    msg = parse_lenient(data)
    if msg.status is None:
        return None
    headers = msg.field_map()
    if msg.headers("record-route"):
        headers["record-route"] = ", ".join(msg.headers("record-route"))
    return Response(msg.status, msg.reason, headers)


class ProbeSocket:
    """One UDP socket at `source`, talking to the switch at `switch`; counts datagrams."""

    def __init__(self, source: str, switch: tuple[str, int], domain: str) -> None:
        self.switch, self.domain = switch, domain
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.bind((source, 0))
        except OSError as exc:
            self.sock.close()
            raise ProbeError(f"security.probe_source {source}: cannot bind ({exc})") from exc
        self.local = f"{source}:{self.sock.getsockname()[1]}"
        self.sent = 0
        self.received = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> ProbeSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.switch)
        self.sent += 1

    def recv(self, until: float) -> Response | None:
        """The next response before `until` (monotonic), None when none came."""
        while (left := until - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65535)
            except (TimeoutError, ConnectionRefusedError):
                return None
            self.received += 1
            resp = parse_response(data)
            if resp is not None:
                return resp
        return None

    # -- requests ---------------------------------------------------------------------
    def _head(self, method: str, ruri: str, call_id: str, cseq: int, from_user: str,
              to: str, branch: str, tag: str, extra: str = "") -> str:
        return (f"{method} {ruri} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {self.local};branch=z9hG4bK{branch};rport\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:{from_user}@{self.domain}>;tag={tag}\r\n"
                f"To: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
                f"Contact: <sip:{from_user}@{self.local}>\r\n{extra}"
                "User-Agent: beta-harness security probe\r\n")

    def invite_bytes(self, ruri: str, call_id: str, cseq: int, from_user: str, branch: str,
                     tag: str, auth: str = "") -> bytes:
        host = self.local.split(":")[0]
        sdp = (f"v=0\r\no=probe 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
               "m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
        head = self._head("INVITE", ruri, call_id, cseq, from_user, f"<{ruri}>", branch, tag,
                          auth + "Content-Type: application/sdp\r\n")
        return (head + f"Content-Length: {len(sdp)}\r\n\r\n{sdp}").encode()


def authorization(code: int, challenge: str, creds: Credentials, method: str,
                  uri: str) -> str:
    """The (Proxy-)Authorization header answering a 401/407's challenge."""
    ch = _params(challenge)
    qop = "auth" if "auth" in ch.get("qop", "").split(",") else ""
    cnonce = uuid.uuid4().hex[:8]
    realm, nonce = ch.get("realm", ""), ch.get("nonce", "")
    resp = digest_response(creds.user, creds.password, realm, nonce, method, uri, qop,
                           "00000001", cnonce)
    name = "Authorization" if code == 401 else "Proxy-Authorization"
    return (f'{name}: Digest username="{creds.user}", realm="{realm}", nonce="{nonce}", '
            f'uri="{uri}", response="{resp}", algorithm=MD5'
            + (f', qop={qop}, nc=00000001, cnonce="{cnonce}"' if qop else "") + "\r\n")


def _ack(ps: ProbeSocket, ruri: str, ex: Exchange, cseq: int, from_user: str, branch: str,
         tag: str, to: str) -> None:
    """ACK for a non-2xx final: the INVITE's branch and the response's To (§17.1.1.3)."""
    ps.send((ps._head("ACK", ruri, ex.call_id, cseq, from_user, to, branch, tag)
             + "Content-Length: 0\r\n\r\n").encode())


def _tear_down(ps: ProbeSocket, ruri: str, ex: Exchange, cseq: int, from_user: str, tag: str,
               resp: Response) -> None:
    """A 2xx to a probe: ACK and BYE at once, along the route the switch recorded."""
    contact = re.search(r"<([^>]+)>", resp.headers.get("contact", ""))
    target = contact.group(1) if contact else ruri
    routes = [r.strip() for r in resp.headers.get("record-route", "").split(",") if r.strip()]
    route = "".join(f"Route: {r}\r\n" for r in reversed(routes))
    to = resp.headers.get("to", f"<{ruri}>")
    for method, seq in (("ACK", cseq), ("BYE", cseq + 1)):
        ps.send((ps._head(method, target, ex.call_id, seq, from_user, to,
                          uuid.uuid4().hex[:16], tag, route) + "Content-Length: 0\r\n\r\n")
                .encode())
    ex.notes.append(f"answered {resp.code}: ACK and BYE sent at once")


def invite(ps: ProbeSocket, ruri: str, from_user: str, creds: Credentials | None,
           wait_s: float) -> Exchange:
    """One INVITE (and its authenticated retry when `creds` are given): every final
    code the switch sent, in order."""
    ex = Exchange(f"{uuid.uuid4().hex}@security-probe")
    tag, auth = uuid.uuid4().hex[:10], ""
    for cseq in (1, 2):
        branch = uuid.uuid4().hex[:16]
        ps.send(ps.invite_bytes(ruri, ex.call_id, cseq, from_user, branch, tag, auth))
        resp = _final(ps, ex, time.monotonic() + wait_s)
        if resp is None:
            if ex.provisional:  # ringing somewhere: give up like a caller would
                ps.send((ps._head("CANCEL", ruri, ex.call_id, cseq, from_user, f"<{ruri}>",
                                  branch, tag) + "Content-Length: 0\r\n\r\n").encode())
                ex.notes.append(f"no final within {wait_s:.0f} s after "
                                f"{ex.provisional[-1]}: CANCEL sent")
                resp = _final(ps, ex, time.monotonic() + 2.0)
            if resp is None:
                return ex
        if 200 <= resp.code < 300:
            _tear_down(ps, ruri, ex, cseq, from_user, tag, resp)
            return ex
        _ack(ps, ruri, ex, cseq, from_user, branch, tag, resp.headers.get("to", f"<{ruri}>"))
        if creds is None or resp.code not in (401, 407) or cseq == 2:
            return ex
        name = "www-authenticate" if resp.code == 401 else "proxy-authenticate"
        auth = authorization(resp.code, resp.headers.get(name, ""), creds, "INVITE", ruri)
    return ex


def _final(ps: ProbeSocket, ex: Exchange, until: float) -> Response | None:
    while (resp := ps.recv(until)) is not None:
        if resp.headers.get("call-id") != ex.call_id:
            continue
        if resp.code < 200:
            ex.provisional.append(resp.code)
            continue
        ex.codes.append(resp.code)
        return resp
    return None


def register(ps: ProbeSocket, aor_user: str, contact: str, creds: Credentials | None,
             wait_s: float, expires: int = 60) -> Exchange:
    """REGISTER `aor_user` at `contact`; with `creds`, the challenge is answered once."""
    ex = Exchange(f"{uuid.uuid4().hex}@security-probe")
    tag, auth, ruri = uuid.uuid4().hex[:10], "", f"sip:{ps.domain}"
    to = f"<sip:{aor_user}@{ps.domain}>"
    for cseq in (1, 2):
        head = ps._head("REGISTER", ruri, ex.call_id, cseq, aor_user, to,
                        uuid.uuid4().hex[:16], tag, auth)
        head = head.replace(f"Contact: <sip:{aor_user}@{ps.local}>",
                            f"Contact: <{contact}>\r\nExpires: {expires}")
        ps.send((head + "Content-Length: 0\r\n\r\n").encode())
        resp = _final(ps, ex, time.monotonic() + wait_s)
        if resp is None or creds is None or resp.code not in (401, 407) or cseq == 2:
            return ex
        name = "www-authenticate" if resp.code == 401 else "proxy-authenticate"
        auth = authorization(resp.code, resp.headers.get(name, ""), creds, "REGISTER", ruri)
    return ex


@dataclass
class Burst:
    """What a flood sent and got back."""

    sent: int = 0
    finals: dict[int, int] = field(default_factory=dict)  # code -> count
    started_mono: float = 0.0
    last_sent_mono: float = 0.0
    ended_mono: float = 0.0  # after the drain


def flood(ps: ProbeSocket, ruri: str, from_user: str, count: int, rate_cps: float,
          drain_s: float = 2.0, tick: Callable[[int], None] | None = None) -> Burst:
    """`count` INVITEs (new Call-IDs) at `rate_cps`, each final ACKed; answers are
    gathered between sends and for `drain_s` after the last. `tick(n)` after the n-th."""
    out = Burst(started_mono=time.monotonic())
    pending: dict[str, tuple[str, str]] = {}  # call-id -> (branch, tag)
    interval = 1.0 / rate_cps
    for n in range(count + 1):
        until = out.started_mono + n * interval if n < count else \
            time.monotonic() + drain_s
        while (resp := ps.recv(until)) is not None:
            call_id = resp.headers.get("call-id", "")
            if resp.code < 200 or call_id not in pending:
                continue
            out.finals[resp.code] = out.finals.get(resp.code, 0) + 1
            branch, tag = pending.pop(call_id)
            ex = Exchange(call_id)
            if resp.code >= 300:
                _ack(ps, ruri, ex, 1, from_user, branch, tag, resp.headers.get("to", ""))
            else:
                _tear_down(ps, ruri, ex, 1, from_user, tag, resp)
        if n == count:
            break
        call_id, branch, tag = (f"{uuid.uuid4().hex}@security-flood", uuid.uuid4().hex[:16],
                                uuid.uuid4().hex[:10])
        pending[call_id] = (branch, tag)
        ps.send(ps.invite_bytes(ruri, call_id, 1, from_user, branch, tag))
        out.sent += 1
        out.last_sent_mono = time.monotonic()
        if tick is not None:
            tick(out.sent)
    out.ended_mono = time.monotonic()
    return out
