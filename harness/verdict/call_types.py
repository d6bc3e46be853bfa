"""Per-call-type expectations checked against what really happened on the call:
who rang, the identity the far end would present (RFC 3323 privacy, RFC 3325
P-Asserted-Identity), the caller's location on emergency calls (RFC 6442
Geolocation), the call class the switch recorded, DTMF heard (RFC 4733), and audio
stopping and returning around a hold.

The sub-judges return their failure messages; `call_type_checks` gives each family its
criterion (harness/verdict/checks.py), and a passed check for each one it judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.capture.pcap import UdpPacket
from harness.media.fax import FaxResult, compare_pages
from harness.model import CallSpec, CdrCheck, EarlyMedia
from harness.numbers import ANONYMOUS, canonical, form, user_part
from harness.party import Party
from harness.pstn.directory import Route, expected_did
from harness.sip.scenario import CallOutcome, LegOutcome
from harness.verdict.checks import Check, Outcome, failed, judged, passed


@dataclass(frozen=True, slots=True)
class Promises:
    """What the carrier says its switch delivers, which the checks hold it to (config):
    the PSTN trunk group named per class (`;tgrp=`); the form a calling number comes
    in on each interface (caller_id_checks); how a 911 call's location reaches the
    PSAP (location_checks) and the PSAP's ALI table (callback number -> site)."""

    trunk_groups: bool = True
    caller_id_onnet: str = "any"
    caller_id_pstn: str = "any"
    emergency_location: str = "geolocation"  # geolocation | callback | either
    ali: Mapping[str, int] = field(default_factory=dict)  # canonical number -> site
    # the PSTN far end is DIDs at another carrier (pstn.mode: carrier): "pstn:<trunk>"
    # is judged by which DID rang (docs/other-carrier.md)
    pstn_dids: bool = False

    @property
    def caller_id_forms(self) -> tuple[str, str]:
        return self.caller_id_onnet, self.caller_id_pstn


def location_checks(psap: LegOutcome, caller_number: str, promises: Promises) -> list[str]:
    """An emergency call's location reached the PSAP the way the carrier promises: an
    RFC 6442 Geolocation header, or (legacy E911, and any path through a B2BUA that
    drops the header) a callback number (ANI) that the PSAP's ALI table places at the
    calling line's site; "either" accepts both."""
    how = promises.emergency_location
    geolocation = bool(psap.header("geolocation"))
    shown = presented_identity(dict(psap.request), True)
    site = promises.ali.get(canonical(shown))
    want_site = promises.ali.get(canonical(caller_number))
    by_ali = site is not None and site == want_site
    if how == "geolocation" and not geolocation:
        return ["location: no Geolocation header reached the PSAP"]
    if how == "callback" and not by_ali:
        return [f"location: the PSAP's ALI table has no site for callback number {shown!r}"
                if site is None else f"location: callback number {shown!r} is at site{site} "
                f"in the ALI table, the caller is at site{want_site}"]
    if how == "either" and not (geolocation or by_ali):
        return [f"location: neither a Geolocation header nor a callback number the ALI "
                f"table places at site{want_site} reached the PSAP (shown {shown!r})"]
    return []


def uri_user(header: str) -> str:
    """The user of a header's SIP or tel URI ('' for none)."""
    return user_part(header) if header.strip() else ""


def presented_identity(request: dict[str, str], far_end_trusted: bool) -> str:
    """The calling identity the far end would show its user.

    A trusted peer (the PSTN gateway) receives P-Asserted-Identity and must honour
    `Privacy: id` by withholding it; an untrusted phone shows whatever identity
    reaches it (an asserted identity first, else the From user).
    """
    privacy = {p.strip().lower() for p in request.get("privacy", "").split(";")}
    pai = uri_user(request.get("p-asserted-identity", ""))
    frm = uri_user(request.get("from", ""))
    if far_end_trusted:
        if "id" in privacy:
            return "anonymous"
        return pai or frm or "unknown"
    if pai:
        return pai
    return "anonymous" if frm.lower() in ("anonymous", "") else frm


def caller_id_checks(far: LegOutcome, want: str, caller_number: str,
                     forms: tuple[str, str] = ("any", "any")) -> list[str]:
    """The identity `far` was shown is `want` (a number, in any of its forms, or
    anonymous); and in the form the carrier promises on that interface (`forms`: on-net
    phones, the PSTN trunk; "any", "national", "nanp11" or "e164")."""
    pstn = Party.in_pstn(far.agent_name)
    shown = presented_identity(dict(far.request), pstn)
    if canonical(shown) != canonical(want):
        leak = " (privacy leak)" if want == ANONYMOUS and \
            canonical(shown) == canonical(caller_number) else ""
        return [f"caller_id: far end shown {shown!r}, expected {want!r}{leak}"]
    promised = forms[1] if pstn else forms[0]
    seen = form(shown)
    if want != ANONYMOUS and promised != "any" and seen != promised:
        where = "pstn" if pstn else "onnet"
        return [f"caller_id: far end shown {shown!r} ({seen}), the carrier promises "
                f"{promised} on the {where} interface (numbers.caller_id_form_{where})"]
    return []


def did_checks(rang: str, want: str, did: str) -> list[str]:
    """Across another carrier (pstn.mode: carrier) a PSTN row's routing is which of the
    far end's DIDs rang (`rang`: "pstn:<DID>" or a line's seat): `did`, the number
    dialled; `want` (the plan's "pstn:<trunk>") is named for the reader."""
    far = Party.of_seat(rang)
    if far is not None and far.is_pstn and canonical(far.tag) == canonical(did):
        return []
    shown = f"DID {far.tag}" if far is not None and far.is_pstn else rang
    return [f"routing: {shown} rang at the other carrier, expected DID {did} ({want})"]


def early_media_checks(want: str, early: EarlyMedia | None) -> list[str]:
    """The caller heard `want` before the final response: audible ringing ("ringback",
    at least 0.5 s of 440 + 480 Hz) or an intercept's SIT ("sit"), in the RTP that
    reached it after a 183 with SDP (RFC 3960)."""
    if early is None:
        return [f"early media: no 183 with SDP started media toward the caller "
                f"(expected {want})"]
    if want == "ringback" and early.ringback_s < 0.5:
        return [f"early media: {early.rtp_s:.1f} s of RTP reached the caller before the "
                f"answer, {early.ringback_s:.1f} s of it ringback (440 + 480 Hz)"]
    if want == "sit" and not early.sit:
        return [f"early media: {early.rtp_s:.1f} s of RTP reached the caller before the "
                "final response, with no SIT (913.8/1370.6/1776.7 Hz) in it"]
    return []


RELEASE_S = 2.0  # the called party is released this soon after the caller's BYE


def release_checks(spec: CallSpec, out: CallOutcome) -> list[str] | None:
    """The caller hung up an answered two-party call: the switch must release the
    called party (deliver the BYE) at once. A called party still up that hangs up by
    itself later is a hung call: billed past its end, its media port still fed. None:
    not judged (another kind of row, or the caller never hung up)."""
    if spec.hangup_by != "caller" or spec.transfer_to or spec.conference_with or \
            out.b is None or out.a.final_code != 200:
        return None
    bye = out.a.first("BYE_SENT")
    if bye is None:
        return None
    own = out.b.first("BYE_SENT")
    down = out.b.first("DISCONNECTED")
    if own is None and down is not None and down.t_wall - bye.t_wall <= RELEASE_S:
        return []
    late = (f"it hung up by itself {own.t_wall - bye.t_wall:.1f} s later" if own else
            f"it was released {down.t_wall - bye.t_wall:.1f} s later" if down else
            "it was never released")
    return [f"release: the caller hung up, and the switch did not release the called "
            f"party ({out.b.agent_name}): {late} (no BYE reached it)"]


def carrier_check(want: str, recorded: str | None) -> Check:
    """The CDR bills a dial-around call to the carrier dialled (its CIC). A source that
    records no carrier at all cannot show it: the harness's error, not the switch's."""
    limit = f"= {want}"
    if recorded is None:
        return Check("cdr.carrier", Outcome.ERROR,
                     "cdr: carrier: the CDR source records no carrier, so the billed "
                     "carrier cannot be checked (map the CDR's carrier field: "
                     "docs/external-switch.md)", None, "", limit, "row")
    if recorded != want:
        return Check("cdr.carrier", Outcome.FAIL,
                     f"cdr: carrier: expected {want}, got "
                     + (recorded or "none (the line's own carrier)"),
                     recorded, "", limit, "row")
    return passed("cdr.carrier", recorded, "", limit, "row")


def call_type_checks(spec: CallSpec, out: CallOutcome, cdr: CdrCheck | None,
                     packets: list[UdpPacket], caller_number: str,
                     promises: Promises = Promises(),
                     early: EarlyMedia | None = None, refused_by: str = "",
                     route: Route | None = None) -> list[Check]:
    """`promises.trunk_groups`: the switch names the PSTN trunk group of each class
    (;tgrp=); when it does not, `rings="pstn:ld"` is judged as "reached the PSTN" only;
    across another carrier (`promises.pstn_dids`) by which DID rang: the one `route`
    dialled. The caller ID and a 911 call's location are judged as `promises` say."""
    fails: list[Check] = []

    def judge(criterion: str, messages: list[str]) -> None:
        fails.extend(judged(criterion, messages))

    exp = spec.expect
    # a far end that refused what the switch sent it (runner.refused) did ring
    rang = out.b.agent_name if out.b is not None else (refused_by or "none")
    want = exp.rings
    to_pstn = exp.rings_party is not None and exp.rings_party.is_pstn
    if want is not None and promises.pstn_dids and to_pstn and route is not None:
        judge("routing", did_checks(rang, want, expected_did(route)))
        want = None  # judged
    elif want is not None and not promises.trunk_groups and to_pstn and Party.in_pstn(rang):
        want = rang = "pstn"
    if spec.picked_up_by:  # the line dialled rang; another line of its group answered
        judge("pickup", pickup_checks(spec.dial, spec.picked_up_by, out))
        want = None
    if want is not None:
        judge("routing", [f"routing: {rang} rang, expected {want}"] if rang != want else [])
    if out.also_rang:
        fails.extend(failed("routing", [f"routing: a second INVITE reached "
                                        f"{', '.join(out.also_rang)}"]))
    if exp.forwarded_from is not None:
        judge("forwarding", [] if exp.forwarded_from in out.forwarded_from else [
            f"forwarding: expected {exp.forwarded_from} to ring first and forward, "
            f"rang first: {', '.join(out.forwarded_from) or 'nobody'}"])
    if out.b is not None and (exp.caller_id is not None or spec.dial.startswith("*67")):
        judge("caller_id", caller_id_checks(out.b, exp.caller_id or ANONYMOUS, caller_number,
                                            promises.caller_id_forms))
    if exp.location and out.b is not None:
        judge("location", location_checks(out.b, caller_number, promises))
    if exp.early_media is not None:
        judge("early_media", early_media_checks(exp.early_media, early))
    already = cdr is not None and any(m.field == "call_class" for m in cdr.mismatches)
    if exp.call_class is not None and cdr is not None and cdr.record is not None and \
            not already:  # the CDR's own check names a wrong class once
        recorded = cdr.record.call_class
        fails.append(Check("cdr.call_class", Outcome.FAIL,
                           f"cdr: call_class: expected {exp.call_class}, got {recorded or 'none'}",
                           recorded, "", f"= {exp.call_class}", "row")
                     if recorded != exp.call_class else
                     passed("cdr.call_class", recorded, "", f"= {exp.call_class}", "row"))
    if exp.final_code == 200 and (released := release_checks(spec, out)) is not None:
        judge("release", released)
    if exp.carrier is not None and cdr is not None and cdr.record is not None:
        want_cic = exp.carrier if exp.carrier != "dialled" else \
            (route.carrier if route is not None else "")
        fails.append(carrier_check(want_cic, cdr.record.carrier))
    if spec.dtmf_a or spec.dtmf_b:
        dtmf = []
        if out.b is not None and spec.dtmf_a and out.b.dtmf_rx != spec.dtmf_a:
            dtmf.append(f"dtmf: far end heard {out.b.dtmf_rx!r}, caller sent {spec.dtmf_a!r}")
        if spec.dtmf_b and out.a.dtmf_rx != spec.dtmf_b:
            dtmf.append(f"dtmf: caller heard {out.a.dtmf_rx!r}, far end sent {spec.dtmf_b!r}")
        judge("dtmf", dtmf)
    if spec.hold_at_s is not None:
        judge("hold", _hold_checks(out, packets))
    if exp.audio and exp.final_code == 200 and out.a.final_code == 200 and out.b is not None:
        judge("audio", _audio_both_ways(out, packets))
    if exp.transferred_to is not None and spec.transfer_kind == "attended":
        judge("transfer.attended", _attended_checks(exp.transferred_to, out, caller_number))
    if exp.transferred_to is not None:
        judge("transfer", _transfer_checks(exp.transferred_to, out, packets))
    if exp.conferenced is not None:
        judge("3-way", _conference_checks(exp.conferenced, out))
    return fails


# call pickup: the ringing line must stop ringing this soon after the caller was
# connected, and the caller be connected this soon after the picking line dialled
STOP_RINGING_S = 2.0
PICKUP_CONNECT_S = 4.0


def pickup_checks(dialled: str, picker: str, out: CallOutcome) -> list[str]:
    """Call pickup, on the merged call: `dialled` rang and never answered; the picking
    line's call was answered and the caller connected within PICKUP_CONNECT_S of its
    INVITE; `dialled` stopped ringing within STOP_RINGING_S of that (a line left ringing
    after its call was taken rings for nobody, and may answer into a dead call)."""
    rang = next((leg for leg in out.legs if leg.agent_name == dialled), None)
    if rang is None:
        return [f"pickup: {dialled} never rang: there was no call to pick up"]
    if rang.answered:
        return [f"pickup: {dialled} answered the call itself"]
    b = out.b
    if b is None or b.agent_name != picker:
        return [f"pickup: {picker} placed no pickup call"]
    if b.final_code != 200:
        return [f"pickup: {picker}'s pickup call ended {b.final_code or 'unanswered'}: "
                "nothing was picked up"]
    invite = b.first("INVITE_SENT")
    connected = out.a.first("CONFIRMED")
    if connected is None or invite is None:
        return [f"pickup: {picker}'s call was answered, the caller was never connected"]
    fails = []
    took = connected.t_mono - invite.t_mono
    if took > PICKUP_CONNECT_S:
        fails.append(f"pickup: the caller was connected {took:.1f} s after {picker} dialled "
                     f"the pickup code (at most {PICKUP_CONNECT_S:.0f} s)")
    down = rang.first("DISCONNECTED")
    if down is None or down.t_mono - connected.t_mono > STOP_RINGING_S:
        late = f"{down.t_mono - connected.t_mono:.1f} s" if down else "to its end"
        fails.append(f"pickup: {dialled} kept ringing {late} after the caller was connected "
                     f"to {picker}")
    return fails


def fax_checks(sender: FaxResult | None, receiver: FaxResult | None, sent: list[bytes],
               received: list[bytes] | None) -> list[str]:
    """A fax call (ITU-T T.30 over G.711): both terminals ended their session normally
    (phase E), the page went and came (1 sent, 1 received), and the page received is
    the page sent, row by row, bit for bit (without ECM a lossy path leaves damaged
    rows; with it, retransmissions)."""
    fails = []
    for who, result, want, did in (("the sending", sender, "pages_tx", "sent"),
                                   ("the receiving", receiver, "pages_rx", "received")):
        if result is None:
            fails.append(f"fax: {who} terminal never started (no media reached it)")
        elif not result.ok:
            fails.append(f"fax: {who} terminal ended T.30 with '{result.completion_text}' "
                         f"({result.completion})")
        elif getattr(result, want) < 1:
            fails.append(f"fax: {who} terminal ended with no page {did}")
    if received is None:
        return fails or ["fax: no page was received"]
    compare = compare_pages(sent, received)
    if compare.rows_received != compare.rows_sent or compare.rows_differing:
        at = f", the first at row {compare.first_differing}" \
            if compare.first_differing is not None else ""
        fails.append(f"fax: the page received has {compare.rows_received} rows, "
                     f"{compare.rows_differing} of them differing from the {compare.rows_sent}"
                     f" rows sent{at}")
    return fails


def _attended_checks(want: str, out: CallOutcome, caller_number: str) -> list[str]:
    """Attended transfer (RFC 5589 §7): the called party consulted the target first
    (a call of its own, answered by `want`), its REFER carried Replaces and the NOTIFY
    it got back said 200 (RFC 3515 sipfrag); the target's consultation call was
    replaced by the caller's call (RFC 3891), which showed the caller's identity."""
    fails, answered = _further_call("attended transfer", "the called party",
                                    "consultation call", out.consult, out.consult_far, want)
    k_far = out.consult_far
    if not answered or k_far is None:
        return fails
    notified = [ev.code for ev in (out.b.events if out.b else ()) if ev.kind == "XFER_NOTIFY"]
    if 200 not in notified:
        fails.append("attended transfer: the transferor was told "
                     f"{', '.join(map(str, notified)) or 'nothing'} (REFER response, NOTIFY "
                     "sipfrag), expected a NOTIFY of 200")
    refused = k_far.first("REPLACES_REFUSED")
    if refused is not None:
        fails.append(f"attended transfer: {want} refused the INVITE with Replaces "
                     f"({refused.code})")
    elif k_far.first("REPLACED") is None:
        fails.append(f"attended transfer: the consultation call at {want} was not replaced "
                     "by the caller's call")
    far = out.transfer_far
    if far is not None:
        shown = presented_identity(dict(far.request), Party.in_pstn(far.agent_name))
        if canonical(shown) != canonical(caller_number):
            fails.append(f"attended transfer: {want} was shown {shown!r} after the "
                         f"transfer, expected the caller {caller_number!r}")
    return fails


def _conference_checks(want: str, out: CallOutcome) -> list[str]:
    """A 3-way call's signalling: the caller held the first call, its second call was
    answered by `want`, and both calls were bridged (the paths' audio is judged from
    the wire: harness/media/conference.py)."""
    if out.a.first("HOLD") is None:
        return ["3-way: the caller never held the first call"]
    fails, answered = _further_call("3-way", "the caller", "second call", out.conference,
                                    out.conference_far, want)
    if not answered:
        return fails
    if out.a.first("BRIDGED") is None:
        fails.append("3-way: the caller never bridged the two calls")
    return fails


def _further_call(what: str, who: str, call: str, leg: LegOutcome | None,
                  far: LegOutcome | None, want: str) -> tuple[list[str], bool]:
    """A party's own further call (a consultation call, a 3-way's second call): placed,
    answered, and by `want`. The failures, and whether the call was answered at all
    (the checks that follow need an answered call)."""
    if leg is None:
        return [f"{what}: {who} placed no {call}"], False
    if leg.final_code != 200 or far is None:
        return [f"{what}: the {call} to {want} ended "
                f"{leg.final_code or 'without a final response'}"], False
    if far.agent_name != want:
        return [f"{what}: {far.agent_name} answered the {call}, expected {want}"], True
    return [], True


def _transfer_checks(want: str, out: CallOutcome, packets: list[UdpPacket]) -> list[str]:
    """Blind transfer (RFC 3515 REFER, RFC 5589 §6): the caller got the REFER, called
    the target, the target answered, and they talked (RTP both ways on the wire)."""
    a2, far = out.transfer, out.transfer_far
    if out.a.first("REFER_RX") is None or a2 is None:
        return ["transfer: the caller never received a REFER"]
    fails, _ = _further_call("transfer", "the caller", "transferred call", a2, far, want)
    if fails or far is None:
        return fails
    since = a2.events[0].t_wall if a2.events else 0.0
    return [f"transfer: {n} RTP packets reached the receiver {direction} (one-way or no "
            "audio after the transfer)"
            for direction, n in _short_of_audio(packets, (("a_to_c", far), ("c_to_a", a2)),
                                                since)]


def _audio_both_ways(out: CallOutcome, packets: list[UdpPacket]) -> list[str]:
    """RTP reached each party on the wire: at least half a second of 20 ms packets."""
    assert out.b is not None
    return [f"audio: {n} RTP packets reached the receiver {direction} (one-way or no audio)"
            for direction, n in _short_of_audio(packets, (("a_to_b", out.b), ("b_to_a", out.a)))]


def _short_of_audio(packets: list[UdpPacket], receivers: tuple[tuple[str, LegOutcome], ...],
                    since_wall: float = 0.0) -> list[tuple[str, int]]:
    """(direction, packets) for each receiver that got fewer than 25 packets on its RTP
    address from `since_wall` on: less than half a second of 20 ms packets. Where no
    capture saw its stream at all (media that crossed none of the harness's capture
    points: between two lines of one agent host), what the receiving agent's own RTP
    session counted over the call: it got them, so they reached it."""
    short = []
    for direction, receiver in receivers:
        local = receiver.stats.local_rtp if receiver.stats else ""
        n = sum(1 for p in packets if local and p.dst_addr == local and p.ts >= since_wall)
        if n == 0 and receiver.stats is not None and not since_wall:
            n = receiver.stats.rx_packets
        if n < 25:
            short.append((direction, n))
    return short


def _hold_checks(out: CallOutcome, packets: list[UdpPacket]) -> list[str]:
    """The held party stops sending (its SDP answer is recvonly) and starts again."""
    hold, resume = out.a.first("HOLD"), out.a.first("RESUME")
    local = out.a.stats.local_rtp if out.a.stats else ""
    if hold is None or not local:
        return ["hold: the call was not put on hold"]
    toward_a = [p.ts for p in packets if p.dst_addr == local]
    end = resume.t_wall if resume else hold.t_wall + 3.0
    during = [t for t in toward_a if hold.t_wall + 0.5 <= t <= end - 0.1]
    fails = []
    if len(during) > 5:  # a few packets may still be in flight as hold starts
        fails.append(f"hold: {len(during)} RTP packets reached the holder while held")
    if resume is not None:
        after = [t for t in toward_a if resume.t_wall + 1.0 <= t <= resume.t_wall + 3.0]
        if len(after) < 50:
            fails.append(f"hold: audio did not return after resume ({len(after)} RTP "
                         "packets in the 2 s after it)")
    return fails


def waiting_first_call(out: CallOutcome) -> list[str]:
    """Call waiting, the first call's part: the called line held it to take the second
    call (its re-INVITE), resumed it once the second was down, and it stayed up to the
    end its caller chose (a first call the switch dropped for the second ends early)."""
    b = out.b
    if b is None or out.a.final_code != 200:
        return ["call waiting: the first call was not answered"]
    hold, resume = b.first("HOLD"), b.first("RESUME")
    fails = []
    if hold is None:
        fails.append("call waiting: the called line never held the first call (it was "
                     "never presented the second call while on the first)")
    elif resume is None or resume.t_mono < hold.t_mono:
        fails.append("call waiting: the first call was never resumed after the second")
    if out.a.first("BYE_SENT") is None:
        down = out.a.first("DISCONNECTED")
        fails.append("call waiting: the first call was dropped"
                     + (f" {down.t_mono - out.t_start_mono:.1f} s after it was placed, "
                        "before its caller hung up" if down else ""))
    return fails
