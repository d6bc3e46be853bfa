"""A T.38 fax terminal on a beta line: the line's fax machine behind an ATA that speaks
T.38 (ITU-T T.38 over UDPTL), for rows whose called line the switch serves with T.38
(`numbers.t38_lines`). pjsua2 takes no `m=image` stream (it answers 488 before the
application hears of the call: measured, docs/external-switch.md), so this device is a
SIP user agent of its own, as small as the row needs:

  * the line is moved to it for the row (REGISTER, harness/run/registrations.py `move`);
  * an INVITE that offers T.38 (`m=image <port> udptl t38`) is answered 100, then 200
    with its own T.38 answer (a UDPTL socket of its own), the 200 sent again on RFC 3261
    timer G until the ACK; an INVITE that offers no T.38 is refused 488 with a Warning
    (this terminal takes T.38 only, as the line is provisioned);
  * a BYE is answered 200, a CANCEL 200 and the INVITE 487; a repeat of a request gets
    the same answer again;
  * from the 200 on, the terminal (harness/media/t38.py) receives the page: ticked every
    20 ms on a thread of its own, its UDPTL sent to the address the offer gave.

What it did is the call's far end (`leg()`): events, the INVITE as received, the fax
result and the UDPTL figures (`t38.json` in the call's evidence)."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.capture.sip import sdp_media, t38_stream
from harness.media.t38 import MAX_BIT_RATE, MAX_DATAGRAM, T38Terminal
from harness.model import SipEvent
from harness.numbers import canonical
from harness.sip.scenario import LegOutcome
from harness.sip.text import SipText, parse_lenient

TICK_S = 0.02  # the terminal's clock: 160 samples at 8 kHz
T1_S, T2_S = 0.5, 4.0  # RFC 3261 timers for the 200's retransmission (timer G)


@dataclass
class _Call:
    """The one call the line is taking."""

    invite: SipText
    source: tuple[str, int]
    to_tag: str
    events: list[SipEvent] = field(default_factory=list)
    final: bytes = b""  # the last final response sent to the INVITE
    final_code: int | None = None
    acked: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    offer: tuple[str, ...] = ()
    peer: tuple[str, int] | None = None  # where the UDPTL goes
    terminal: T38Terminal | None = None
    next_g: tuple[float, float] = (0.0, T1_S)  # (when, interval): the 200's next resend


class T38Line:
    """One beta line's T.38 fax terminal, on 127.0.0.1 (SIP and UDPTL sockets of its
    own), receiving into `receive_into` (a TIFF-F file) when called."""

    def __init__(self, name: str, number: str, host: str = "127.0.0.1") -> None:
        self.name, self.number, self.host = name, number, host
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind((host, 0))
        self.sip.settimeout(0.05)
        self.udptl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udptl.bind((host, 0))
        self.udptl.setblocking(False)
        self.port, self.udptl_port = self.sip.getsockname()[1], self.udptl.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._call: _Call | None = None
        self._receive_into: Path | None = None
        self._threads = [threading.Thread(target=self._serve, name=f"t38-sip-{name}",
                                          daemon=True),
                         threading.Thread(target=self._media, name=f"t38-media-{name}",
                                          daemon=True)]
        for thread in self._threads:
            thread.start()

    @property
    def sip_address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def contact(self) -> str:
        return f"sip:{self.number}@{self.sip_address}"

    def expect(self, receive_into: Path) -> None:
        """Take the next call, receiving its page into `receive_into`."""
        with self._lock:
            self._call, self._receive_into = None, receive_into

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2.0)
        with self._lock:
            call = self._call
        if call is not None and call.terminal is not None:
            call.terminal.close()
            call.terminal = None
        self.sip.close()
        self.udptl.close()

    # -- what it did ---------------------------------------------------------------------
    def leg(self, wait_s: float = 5.0) -> LegOutcome | None:
        """The call's far end as a leg (None: no INVITE reached the line). Waits up to
        `wait_s` for the call to end (the caller's BYE)."""
        with self._lock:
            call = self._call
        if call is None:
            return None
        call.ended.wait(wait_s)
        result = call.terminal.result() if call.terminal is not None else None
        request = tuple((n, v) for n, v in call.invite.fields)
        # the call is the line's: it came to the contact the line registered for the row;
        # its Request-URI naming the line's number (in any legal form) says so too
        named = canonical(call.invite.uri) == canonical(self.number)
        return LegOutcome("b", self.name, call.invite.call_id, tuple(call.events),
                          call.final_code, None, None, 0.0, 0.0, request=request,
                          attributed_by="number+seat" if named else "seat", fax=result)

    def figures(self) -> dict[str, object]:
        """The UDPTL side of the call, for t38.json."""
        with self._lock:
            call = self._call
        if call is None:
            return {"invite": None}
        term = call.terminal
        return {"offer": list(call.offer), "answer": f"image {self.udptl_port} udptl t38",
                "peer": f"{call.peer[0]}:{call.peer[1]}" if call.peer else "",
                "udptl_sent": term.sent if term else 0,
                "udptl_received": term.rx.received if term else 0,
                "ifp_recovered": term.rx.recovered if term else 0,
                "ifp_lost": term.rx.lost if term else 0,
                "undecodable": term.undecodable if term else 0}

    # -- SIP -----------------------------------------------------------------------------
    def _mark(self, call: _Call, kind: str, code: int | None = None) -> None:
        call.events.append(SipEvent("b", kind, time.monotonic(), time.time(), code))

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self.sip.recvfrom(65535)
            except (TimeoutError, OSError):
                self._retransmit()
                continue
            msg = parse_lenient(data)
            if msg.is_request:
                self._request(msg, source)
            self._retransmit()

    def _send(self, data: bytes, dest: tuple[str, int]) -> None:
        try:
            self.sip.sendto(data, dest)
        except OSError:
            pass

    def _response(self, msg: SipText, code: int, reason: str, to_tag: str = "",
                  extra: str = "", body: str = "") -> bytes:
        head = [f"SIP/2.0 {code} {reason}"]
        for name, value in msg.fields:
            if name in ("via", "from", "call-id", "cseq") or \
                    (name == "record-route" and 200 <= code < 300):
                head.append(f"{name.title()}: {value}")
            elif name == "to":
                tag = f";tag={to_tag}" if to_tag and ";tag=" not in value.lower() else ""
                head.append(f"To: {value}{tag}")
        if extra:
            head.append(extra.rstrip("\r\n"))
        head.append("User-Agent: beta-harness T.38 fax terminal")
        if body:
            head.append("Content-Type: application/sdp")
        head.append(f"Content-Length: {len(body.encode())}")
        return ("\r\n".join(head) + "\r\n\r\n" + body).encode()

    def _request(self, msg: SipText, source: tuple[str, int]) -> None:
        with self._lock:
            call = self._call
        if msg.method == "INVITE":
            if call is not None and call.invite.call_id == msg.call_id:
                if call.final:  # a repeat of the INVITE: the same answer again
                    self._send(call.final, source)
                return
            self._invite(msg, source)
        elif msg.method == "ACK":
            if call is not None and call.invite.call_id == msg.call_id and \
                    call.final_code == 200 and not call.acked.is_set():
                call.acked.set()
                self._mark(call, "CONFIRMED", 200)
        elif msg.method == "BYE":
            if call is None or call.invite.call_id != msg.call_id:
                self._send(self._response(msg, 481, "Call/Transaction Does Not Exist"), source)
                return
            self._send(self._response(msg, 200, "OK"), source)
            if not call.ended.is_set():
                self._mark(call, "DISCONNECTED", 200)
                call.ended.set()
        elif msg.method == "CANCEL":
            same = call is not None and call.invite.call_id == msg.call_id
            self._send(self._response(msg, 200 if same else 481, "OK" if same else
                                      "Call/Transaction Does Not Exist"), source)
            if same and call is not None and call.final_code is None:
                call.final = self._response(call.invite, 487, "Request Terminated",
                                            call.to_tag)
                call.final_code = 487
                self._send(call.final, call.source)
                self._mark(call, "DISCONNECTED", 487)
                call.ended.set()
        else:
            self._send(self._response(msg, 200 if msg.method == "OPTIONS" else 405,
                                      "OK" if msg.method == "OPTIONS" else
                                      "Method Not Allowed"), source)

    def _invite(self, msg: SipText, source: tuple[str, int]) -> None:
        call = _Call(msg, source, uuid.uuid4().hex[:12], offer=sdp_media(msg.body))
        with self._lock:
            self._call, receive_into = call, self._receive_into
        self._mark(call, "INCOMING")
        self._send(self._response(msg, 100, "Trying"), source)
        t38 = t38_stream(call.offer)
        peer = _peer(msg.body, t38) if t38 else None
        if peer is None or receive_into is None:
            call.final_code = 488
            call.final = self._response(
                msg, 488, "Not Acceptable Here", call.to_tag,
                'Warning: 304 beta-harness "a T.38 fax line: no T.38 stream offered '
                f'({"; ".join(call.offer) or "no SDP"})"')
            self._send(call.final, source)  # refused, as pjsua2 refuses what it cannot
            self._mark(call, "DISCONNECTED", 488)  # take: not an answer the row ordered
            call.ended.set()
            return
        call.peer = peer
        call.terminal = T38Terminal("receive", receive_into, calling=False,
                                    send=self._udptl_to(call))
        answer = (f"v=0\r\no=- {int(time.time())} 1 IN IP4 {self.host}\r\ns=beta fax\r\n"
                  f"c=IN IP4 {self.host}\r\nt=0 0\r\nm=image {self.udptl_port} udptl t38\r\n"
                  f"a=T38FaxVersion:0\r\na=T38MaxBitRate:{MAX_BIT_RATE}\r\n"
                  "a=T38FaxRateManagement:transferredTCF\r\na=T38FaxMaxBuffer:2000\r\n"
                  f"a=T38FaxMaxDatagram:{MAX_DATAGRAM}\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n")
        call.final = self._response(msg, 200, "OK", call.to_tag,
                                    f"Contact: <{self.contact}>", answer)
        call.final_code = 200
        call.next_g = (time.monotonic() + T1_S, T1_S)
        self._send(call.final, source)
        self._mark(call, "ANSWER_SENT", 200)

    def _retransmit(self) -> None:
        """The 200 again until its ACK (RFC 3261 §13.3.1.4: T1 doubling to T2, for 64 T1)."""
        with self._lock:
            call = self._call
        if call is None or call.final_code != 200 or call.acked.is_set() or \
                call.ended.is_set():
            return
        due, interval = call.next_g
        now = time.monotonic()
        if now >= due and call.events and now - call.events[0].t_mono < 64 * T1_S:
            self._send(call.final, call.source)
            interval = min(interval * 2, T2_S)
            call.next_g = (now + interval, interval)

    # -- UDPTL ---------------------------------------------------------------------------
    def _udptl_to(self, call: _Call) -> Callable[[bytes], None]:
        def send(datagram: bytes) -> None:
            if call.peer is not None:
                try:
                    self.udptl.sendto(datagram, call.peer)
                except OSError:
                    pass
        return send

    def _media(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            next_tick += TICK_S
            delay = next_tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:  # far behind (a stall): do not run the clock in a burst
                next_tick = time.monotonic()
            with self._lock:
                call = self._call
            term = call.terminal if call is not None else None
            if term is None or call is None or call.ended.is_set():
                continue
            while True:
                try:
                    data, _source = self.udptl.recvfrom(4096)
                except (BlockingIOError, OSError):
                    break
                term.receive(data)
            term.tick()


def _peer(sdp: str, stream: str) -> tuple[str, int] | None:
    """Where the offer's T.38 stream is received: its port, at the media's c= address
    (or the session's)."""
    host = ""
    current = ""
    for line in sdp.splitlines():
        if line.startswith("m="):
            current = " ".join(line[2:].split())
        elif line.startswith("c=") and (not current or current == stream):
            parts = line[2:].split()
            if len(parts) >= 3:
                host = parts[2].split("/")[0]
    try:
        port = int(stream.split()[1])
    except (IndexError, ValueError):
        return None
    return (host, port) if host else None
