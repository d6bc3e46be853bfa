"""SIP on the wire: a call's ladder and its RFC 6076 timing from captured packets.

The harness captures on loopback, where a proxy's two legs of a dialog carry the
same Call-ID; the legs are told apart by direction: the caller's leg is what flows
between the caller's SIP address and the switch. Parsing (`harness.sip.text`) reads
the start line and a few headers, enough for timing (pyshark gives the same ladder, at
a few packets a second on this class of host: tests cross-check the two).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from harness.capture.pcap import UdpPacket
from harness.sip.text import parse_lenient


@dataclass(frozen=True, slots=True)
class SipMessage:
    ts: float  # capture time, epoch seconds
    src: str
    dst: str
    method: str  # request method, or the CSeq method of a response
    code: int | None  # None for a request
    call_id: str
    cseq: int
    branch: str
    # what explains a refusal, and what was offered (RFC 3261 §20.43 Warning, RFC 3326
    # Reason; the SDP's audio payload types, RFC 4566)
    phrase: str = ""  # a response's reason phrase; a request's Request-URI
    warning: str = ""
    reason: str = ""
    audio_pts: tuple[int, ...] | None = None  # None: no SDP body
    text: str = ""  # the message as it crossed the wire (start line, headers, SDP)
    media: tuple[str, ...] = ()  # the SDP's media lines, as sent ("image 21450 udptl t38")
    in_dialog: bool = False  # a request whose To carries a tag (a re-INVITE, a BYE)
    # who a request says it is from and for, as sent (From, To, then P-Asserted-Identity
    # and Remote-Party-ID): what a far end may know its call by (harness/sip/attribution.py)
    from_: str = ""
    to: str = ""
    asserted: tuple[str, ...] = ()

    @property
    def is_request(self) -> bool:
        return self.code is None

    def label(self) -> str:
        return self.method if self.code is None else f"{self.code} ({self.method})"


_START_LINE_MAX = 2048  # bytes: a Request-URI longer than this is not one we sent


def parse_sip(pkt: UdpPacket) -> SipMessage | None:
    """The SIP/2.0 message a packet carries, None for anything else (or one cut short
    of the empty line that ends its header section)."""
    data = pkt.payload
    # most of a capture is RTP: a packet whose start holds no SIP-Version (RFC 3261
    # §7.1: at the end of a Request-Line, at the start of a Status-Line) is not SIP,
    # found without decoding it
    if b"SIP/2.0" not in data[:_START_LINE_MAX]:
        return None
    return _parse_sip(pkt)


# a call's measurement reads the SIP of its window several times (its own packets, the
# ladder, refusals, early media), and a busy-hour call's window holds every other
# call's SIP too: each packet is parsed once (UdpPacket is frozen, hashed by value)
@lru_cache(maxsize=8192)
def _parse_sip(pkt: UdpPacket) -> SipMessage | None:
    data = pkt.payload
    msg = parse_lenient(data)
    if not msg.terminated or msg.version != "SIP/2.0":
        return None
    cseq, cseq_method = msg.cseq
    branch = ""
    for param in msg.header("via").split(";")[1:]:  # the topmost Via
        if param.strip().lower().startswith("branch="):
            branch = param.strip()[7:]
    if msg.is_response:
        code, method, phrase = msg.status, cseq_method if msg.headers("cseq") else "?", msg.reason
    else:
        code, method, phrase = None, msg.method, msg.uri
    media = sdp_media(msg.body)
    return SipMessage(pkt.ts, pkt.src_addr, pkt.dst_addr, method, code, msg.call_id, cseq,
                      branch, phrase, msg.field("warning"), msg.field("reason"),
                      _audio_pts(media) if msg.body.startswith("v=") else None,
                      data[:MESSAGE_TEXT_MAX].decode("utf-8", "replace"), media,
                      _tagged(msg.header("to")), msg.header("from"), msg.header("to"),
                      tuple(v for v in (msg.header("p-asserted-identity"),
                                        msg.header("remote-party-id")) if v))


MESSAGE_TEXT_MAX = 8192  # bytes of a message kept for the call page (a SIP/UDP one fits)


def _audio_pts(media: tuple[str, ...]) -> tuple[int, ...]:
    """The payload types of an SDP body's (first) audio stream, RFC 4566 m=audio, out
    of its media lines (`sdp_media`); () with none."""
    for line in media:
        if line.startswith("audio "):
            return tuple(int(f) for f in line.split()[3:] if f.isdigit())
    return ()


def _tagged(to: str) -> bool:
    """A To header field value with a tag parameter: a request inside a dialog (RFC 3261
    §12.2.1.1: a re-INVITE's)."""
    return any(p.strip().lower().startswith("tag=") for p in to.split(";")[1:])


def sdp_media(text: str) -> tuple[str, ...]:
    """An SDP body's media descriptions (RFC 4566 m=), each as "<media> <port> <proto>
    <fmt>..."; () without SDP."""
    if not text.startswith("v="):
        return ()
    return tuple(" ".join(line[2:].split()) for line in text.splitlines()
                 if line.startswith("m="))


def _open(m_line: str) -> bool:
    """An m= line whose port is not 0 (RFC 3264 §6: port 0 rejects or disables it)."""
    fields = m_line.split()
    return len(fields) >= 3 and fields[1].partition("/")[0] != "0"


def t38_stream(media: tuple[str, ...]) -> str:
    """The T.38 stream an offer opens (ITU-T T.38 Annex D: m=image <port> udptl t38,
    or over TCP/TPKT), "" when it has none."""
    return next((m for m in media if m.lower().startswith("image ") and _open(m) and
                 "t38" in m.lower().split()[3:]), "")


def t38_only(media: tuple[str, ...]) -> str:
    """The T.38 stream of an offer that opens T.38 and no audio (a T.38 gateway's offer
    to a fax terminal), "" for any other."""
    audio = any(m.lower().startswith("audio ") and _open(m) for m in media)
    return "" if audio else t38_stream(media)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A final error response one of the harness's far ends sent the switch for an
    INVITE (whatever Call-ID the switch gave that leg): who, what, why, and the INVITE
    it refused (what the switch offered it, whose call it was: its From...)."""

    at: str  # the far end's SIP address (ip:port)
    code: int
    phrase: str
    warning: str
    ts: float  # when the refusal crossed the wire (epoch s)
    invite: SipMessage

    @property
    def user(self) -> str:
        """The user of the refused INVITE's Request-URI."""
        return self.invite.phrase.partition(":")[2].partition("@")[0].split(";")[0]

    @property
    def offered_pts(self) -> tuple[int, ...] | None:
        """The audio payload types offered (None: the INVITE had no SDP)."""
        return self.invite.audio_pts

    @property
    def offered(self) -> tuple[str, ...]:
        """The INVITE's SDP media lines."""
        return self.invite.media

    @property
    def reinvite(self) -> bool:
        """An INVITE inside the dialog (the far end had answered it)."""
        return self.invite.in_dialog


def refusals(packets: list[UdpPacket], far_ends: set[str], since: float) -> list[Refusal]:
    """Final responses >= 300 (digest challenges aside) that an address in `far_ends`
    sent for an INVITE it received at or after `since` (epoch s); one per INVITE. A 487
    to an INVITE the switch had CANCELled is no refusal: the switch withdrew it (RFC
    3261 §9.2)."""
    msgs = [m for m in (parse_sip(p) for p in packets) if m is not None and m.ts >= since]
    invites = {(m.call_id, m.cseq, m.dst): m for m in msgs
               if m.is_request and m.method == "INVITE" and m.dst in far_ends}
    cancelled = {(m.call_id, m.cseq, m.dst) for m in msgs
                 if m.is_request and m.method == "CANCEL" and m.dst in far_ends}
    found: dict[tuple[str, int, str], Refusal] = {}
    for m in msgs:
        if m.code is None or m.code < 300 or m.code in (401, 407) or m.method != "INVITE":
            continue
        if m.code == 487 and (m.call_id, m.cseq, m.src) in cancelled:
            continue
        invite = invites.get((m.call_id, m.cseq, m.src))
        if invite is not None and (m.call_id, m.cseq, m.src) not in found:
            found[(m.call_id, m.cseq, m.src)] = Refusal(m.src, m.code, m.phrase, m.warning,
                                                        m.ts, invite)
    return list(found.values())


def own_packets(packets: list[UdpPacket], call_ids: set[str],
                media: set[str]) -> list[UdpPacket]:
    """The packets of one call out of a time window shared with others: SIP of its
    dialogs (`call_ids`, every leg's), and RTP/RTCP to or from its legs' media
    addresses (`media`, "ip:port"; RTCP on the next port, RFC 3550 §11)."""
    ends = media | {f"{a.rpartition(':')[0]}:{int(a.rpartition(':')[2]) + 1}"
                    for a in media if a.rpartition(":")[2].isdigit()}
    out = []
    for p in packets:
        if p.src_addr in ends or p.dst_addr in ends:
            out.append(p)
            continue
        m = parse_sip(p)
        if m is not None and m.call_id in call_ids:
            out.append(p)
    return out


def call_ladder(packets: list[UdpPacket], call_id: str) -> list[SipMessage]:
    out = []
    for p in packets:
        m = parse_sip(p)
        if m is not None and m.call_id == call_id:
            out.append(m)
    return out


@dataclass(frozen=True, slots=True)
class WireTiming:
    """RFC 6076 figures from the caller's leg on the wire (seconds)."""

    srd_s: float | None
    setup_s: float | None
    sdd_s: float | None
    invite_ts: float | None
    retransmissions: int
    messages: int


def _key(m: SipMessage) -> tuple[str, str, str, int | None, int, str]:
    return (m.src, m.dst, m.method, m.code, m.cseq, m.branch)


def wire_timing(ladder: list[SipMessage], caller: str, switch: str,
                bye_from_caller: bool = True) -> WireTiming:
    """Timing of the caller's leg: `caller`/`switch` are "ip:port" SIP addresses.

    SRD (RFC 6076 §4.3): first INVITE -> first 18x, or else the first final response
    that is not a digest challenge (401/407). Set-up: first INVITE -> 2xx. SDD (§4.4):
    BYE -> its final response, on the leg that sent the BYE. A message seen again
    with the same source, destination, start line, CSeq and branch is a
    retransmission (RFC 3261 §17).
    """
    seen: set[tuple[str, str, str, int | None, int, str]] = set()
    retrans = 0
    up = [m for m in ladder if m.src == caller and m.dst == switch]
    down = [m for m in ladder if m.src == switch and m.dst == caller]
    for m in up + down:
        if _key(m) in seen:
            retrans += 1
        seen.add(_key(m))
    invite = next((m for m in up if m.is_request and m.method == "INVITE"), None)
    srd = setup = sdd = None
    if invite is not None:
        inv_resp = [m for m in down if not m.is_request and m.method == "INVITE"
                    and m.ts >= invite.ts]
        first = next((m for m in inv_resp if m.code and 180 <= m.code < 200), None) or \
            next((m for m in inv_resp if m.code and m.code >= 200 and m.code not in (401, 407)),
                 None)
        ok = next((m for m in inv_resp if m.code and 200 <= m.code < 300), None)
        srd = first.ts - invite.ts if first else None
        setup = ok.ts - invite.ts if ok else None
    bye_side, resp_side = (up, down) if bye_from_caller else (down, up)
    bye = next((m for m in bye_side if m.is_request and m.method == "BYE"), None)
    if bye is not None:
        resp = next((m for m in resp_side if not m.is_request and m.method == "BYE"
                     and m.code and m.code >= 200 and m.ts >= bye.ts), None)
        sdd = resp.ts - bye.ts if resp else None
    return WireTiming(srd, setup, sdd, invite.ts if invite else None, retrans, len(ladder))
