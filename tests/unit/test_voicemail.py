"""Voicemail (numbers.voicemail_*, harness/pstn/voicemail.py, harness/run/voicemail.py):
the config and the number plan, how the platform finds whose mailbox a forwarded call
is for in what any switch may send, the message-summary bodies (RFC 3842), the
platform's NOTIFY, and the switch rendered with it."""

from __future__ import annotations

import dataclasses
import socket
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from harness.config import HarnessConfig, NumbersConfig, validate
from harness.errors import ConfigError, DialGuardError
from harness.model import CallSpec
from harness.numberplan import NumberPlan
from harness.pstn.voicemail import MwiSender, Summary, mailbox_of, notify_summary
from harness.run.voicemail import VoicemailSteps
from harness.sip.messages import Notified
from harness.sip.scenario import CallOutcome, LegOutcome
from harness.vocab import VOICEMAIL_SEAT

BOXES = {"4135550152": "site5/05"}
HOME = "413"


def _cfg(**numbers: object) -> HarnessConfig:
    return validate(dataclasses.replace(HarnessConfig(), numbers=dataclasses.replace(
        NumbersConfig(), **numbers)))


def test_the_default_plan_has_a_pilot_and_a_mailbox_and_dials_the_pilot() -> None:
    plan = NumberPlan.from_config(_cfg().numbers)
    assert (plan.voicemail_pilot, plan.voicemail_boxes) == ("4135550188", ("site5/05",))
    assert plan.resolve_dial("voicemail") == "4135550188"
    assert plan.route("4135550188").call_class == "onnet"  # the dial guard lets it through
    assert plan.far_ends("site5/05") == ("site5/05", VOICEMAIL_SEAT)
    assert plan.far_ends("voicemail") == (VOICEMAIL_SEAT,)
    assert plan.far_ends("site5/06") == ("site5/06",)  # no mailbox: no platform


def test_no_voicemail_is_dialled_nowhere() -> None:
    plan = NumberPlan.from_config(_cfg(voicemail_pilot="").numbers)
    assert plan.voicemail_boxes == ()
    with pytest.raises(DialGuardError, match="offers no voicemail"):
        plan.resolve_dial("voicemail")


@pytest.mark.parametrize(("field", "value", "why"), [
    ("voicemail_pilot", "4135550101", "a beta line's own number"),
    ("voicemail_pilot", "4135550184", "another meaning"),  # the hunt group's pilot
    ("voicemail_pilot", "4135559999", "not in the on-net block"),
    ("voicemail_pilot", "555", "expected 10 digits"),
    ("voicemail_boxes", "site9/01", "no such beta line"),
    ("voicemail_boxes", "5", "expected beta lines"),
    ("voicemail_retrieve", "1a", "RFC 4733 digits"),
    ("voicemail_after_s", 0.2, "1..60"),
])
def test_a_bad_voicemail_setting_names_its_field_and_value(field: str, value: object,
                                                           why: str) -> None:
    with pytest.raises(ConfigError, match=why) as caught:
        _cfg(**{field: value})
    assert f"numbers.{field}" in str(caught.value)


def test_mailboxes_without_a_platform_are_refused() -> None:
    with pytest.raises(ConfigError, match="numbers.voicemail_boxes"):
        _cfg(voicemail_pilot="", voicemail_boxes="site5/05")


@pytest.mark.parametrize(("request_headers", "how"), [
    ({"diversion": "<sip:4135550152@lab.invalid>;reason=no-answer;counter=1"}, "Diversion"),
    ({"diversion": "<tel:+14135550152>;reason=user-busy"}, "Diversion"),  # E.164, tel:
    ({"history-info": "<sip:4135550152@sw;cause=480>;index=1, "
                      "<sip:4135550188@vm;cause=408>;index=1.1"}, "History-Info"),
    ({"request-line": "INVITE sip:4135550188@127.0.0.1:31000;"
                      "target=sip:14135550152%40lab.invalid;cause=408 SIP/2.0"}, "target"),
    ({"request-line": "INVITE sip:+14135550152@vm.invalid SIP/2.0"}, "the Request-URI"),
])
def test_the_mailbox_is_found_in_whatever_the_switch_sent(request_headers: dict[str, str],
                                                          how: str) -> None:
    request = {"request-line": "INVITE sip:4135550188@127.0.0.1:31000 SIP/2.0",
               **request_headers}
    box, found_by = mailbox_of(request, BOXES, HOME)
    assert box == "site5/05" and how in found_by


def test_a_forwarded_call_that_names_no_mailbox_says_what_it_carried() -> None:
    box, why = mailbox_of({"request-line": "INVITE sip:4135550188@vm SIP/2.0",
                           "diversion": "<sip:4135550199@lab>;reason=no-answer"}, BOXES, HOME)
    assert box == ""
    assert "named no mailbox" in why and "4135550199" in why


def test_message_summary_bodies() -> None:
    yes = Summary.parse("Messages-Waiting: yes\r\nMessage-Account: sip:x@y\r\n"
                        "Voice-Message: 1/0 (0/0)\r\n")
    assert yes == Summary(True, 1, 0)
    assert Summary.parse("messages-waiting:no\r\n") == Summary(False)
    assert Summary.parse("hello") is None
    notify = ("NOTIFY sip:4135550152@127.0.0.1:5070 SIP/2.0\r\nEvent: message-summary\r\n"
              "Content-Length: 23\r\n\r\nMessages-Waiting: no\r\n")
    assert notify_summary(notify) == Summary(False)
    assert notify_summary(notify.replace("message-summary", "presence")) is None


def test_the_platform_notifies_through_the_switch_and_retransmits() -> None:
    """A stand-in for the switch that drops the first NOTIFY and answers the second,
    after a late 404 to an earlier NOTIFY (another Call-ID) on the same socket: the
    platform's NOTIFY is retransmitted (RFC 3261 Timer E), takes only its own answer,
    and carries RFC 3842's headers and body."""
    switch = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    switch.bind(("127.0.0.1", 0))
    got: list[bytes] = []

    def serve() -> None:
        for _ in range(2):
            data, peer = switch.recvfrom(65535)
            got.append(data)
        text = data.decode()
        via = next(ln for ln in text.split("\r\n") if ln.startswith("Via:"))
        call_id = next(ln for ln in text.split("\r\n") if ln.startswith("Call-ID:"))
        for code, of in (("404 Not Found", "Call-ID: mwi-earlier@lab.invalid"),
                         ("200 OK", call_id)):
            switch.sendto(f"SIP/2.0 {code}\r\n{via}\r\n{of}\r\nCSeq: 1 NOTIFY\r\n"
                          "Content-Length: 0\r\n\r\n".encode(), peer)

    server = threading.Thread(target=serve)
    server.start()
    sender = MwiSender(0, "4135550188", "lab.invalid", switch.getsockname())
    try:
        assert sender.notify("4135550152", Summary(True, 1, 0)) == 200
    finally:
        server.join(10)
        sender.close()
        switch.close()
    text = got[0].decode()
    assert got[0] == got[1]  # the same request, retransmitted
    assert text.startswith("NOTIFY sip:4135550152@lab.invalid SIP/2.0\r\n")
    assert "Event: message-summary\r\n" in text
    assert "Content-Type: application/simple-message-summary\r\n" in text
    assert notify_summary(text) == Summary(True, 1, 0)


def test_the_embedded_switch_renders_the_platform(tmp_path: Path) -> None:
    """The pilot routed to trunk group vm's port, the mailbox's line forwarded there on
    busy and no answer saying whose mailbox, the NOTIFYs trusted from the platform's
    port; under mwi_never_sent the switch swallows them."""
    from harness.softswitch.kamailio import EmbeddedKamailio

    cfg = _cfg()
    plan = NumberPlan.from_config(cfg.numbers)
    for faults, swallowed in (("", False), ("mwi_never_sent", True)):
        sut = dataclasses.replace(cfg.sut, test_faults=faults)
        kam = EmbeddedKamailio(sut, tmp_path / (faults or "clean"), cfg.load)
        kam.dir.mkdir(parents=True, exist_ok=True)
        kam.trunk_ports, kam.mwi_port = {"vm": 31009}, 31010
        text = kam._render("/modules", plan, 31000).read_text()
        assert 'if ($rU == "4135550188") {\n\t\t$ru = "sip:4135550188@127.0.0.1:31009";' \
            in text
        assert '$sp == 31010' in text
        assert 'if ($var(called) == "4135550152") {' in text
        assert "Diversion: <sip:$avp(vm_box)@" in text
        assert ('is_method("NOTIFY")) {\n\t\tsl_send_reply("200", "OK");' in text) is swallowed


# -- the row's steps (harness/run/voicemail.py), with the farm and the platform's
# sender stood in for: what each outcome of a NOTIFY and of a deposit is called


class _Sender:
    def __init__(self, code: int | None) -> None:
        self.code, self.sent = code, []

    def notify(self, number: str, summary: Summary) -> int | None:
        self.sent.append((number, summary))
        return self.code


class _Farm:
    def __init__(self, bodies: list[str]) -> None:
        self.bodies = bodies

    def notices_to(self, seat: str, since_wall: float) -> list[Notified]:
        return [Notified(seat, since_wall + 0.01, "NOTIFY sip:x SIP/2.0\r\nEvent: "
                         f"message-summary\r\n\r\n{b}") for b in self.bodies]


def _steps(code: int | None, bodies: list[str]) -> VoicemailSteps:
    plan = NumberPlan.from_config(_cfg().numbers)
    spec = CallSpec("7.14", "voicemail", "site1/07", "site5/05", voicemail=True)
    return VoicemailSteps(plan, _Sender(code), _Farm(bodies), spec)  # type: ignore[arg-type]


@pytest.mark.parametrize(("code", "bodies", "said"), [
    (200, ["Messages-Waiting: yes\r\n"], ""),
    (200, [], "was never told Messages-Waiting: yes (the switch answered the platform's "
              "NOTIFY 200; the line got nothing within 0 s)"),  # MWI_WITHIN_S 0.1 here
    (200, ["Messages-Waiting: no\r\n"], "the line got Messages-Waiting: no after 0.0 s"),
    (404, [], "the switch refused the platform's NOTIFY message-summary for site5/05 (404)"),
    (None, [], "the switch never answered the platform's NOTIFY"),
])
def test_each_way_the_line_is_not_told_is_named(monkeypatch: pytest.MonkeyPatch,
                                                code: int | None, bodies: list[str],
                                                said: str) -> None:
    monkeypatch.setattr("harness.run.voicemail.MWI_WITHIN_S", 0.1)
    steps = _steps(code, bodies)
    fails = steps.told("site5/05", Summary(True, 1, 0))
    assert (said in fails[0]) if said else fails == [], fails
    assert steps.mwi.sent == [("4135550152", Summary(True, 1, 0))]  # type: ignore[attr-defined]


def _deposit(far: str, request: tuple[tuple[str, str], ...], wav: Path | None) -> CallOutcome:
    leg = LegOutcome("b", far, "x", (), 200, None, wav, 0.0, 0.0, request)
    return CallOutcome(LegOutcome("a", "site1/07", "x", (), 200, None, None, 0.0, 0.0), leg,
                       0.0, 1.0)


def test_a_deposit_in_the_wrong_mailbox_or_unrecorded_is_named(tmp_path: Path) -> None:
    steps = _steps(200, [])
    wav = tmp_path / "message.wav"
    wav.write_bytes(b"RIFF")
    other = (("request-line", "INVITE sip:4135550188@vm SIP/2.0"),
             ("diversion", "<sip:4135550101@lab>;reason=no-answer"))
    steps.plan = replace(steps.plan, voicemail_boxes=("site5/05", "site1/02"))
    box, message, fails = steps.deposit(_deposit(VOICEMAIL_SEAT, other, wav))
    assert (box, message) == ("site1/02", wav)
    assert fails == ["voicemail: the message was left in site1/02's mailbox (Diversion), not "
                     "in site5/05's"]
    mine = (("request-line", "INVITE sip:4135550188@vm;target=4135550152 SIP/2.0"),)
    assert steps.deposit(_deposit(VOICEMAIL_SEAT, mine, None))[2] == [
        "voicemail: the platform recorded no message"]
    # a call the platform never answered: the row's own checks say who did
    assert steps.deposit(_deposit("site5/05", mine, wav)) == ("", None, [])


def test_the_platform_takes_an_external_switchs_ports_or_the_embedded_ones() -> None:
    """An external switch names the platform's trunk port (sut.pstn_trunk_ports vm=) and
    its NOTIFY port (sut.voicemail_mwi_port); the embedded switch gets two free ones
    after the PSTN's trunk groups'."""
    from harness.pstn.directory import TRUNKS
    from harness.pstn.simulator import PstnSimulator
    from harness.softswitch.process import free_udp_port

    plan = NumberPlan.from_config(_cfg().numbers)
    external = PstnSimulator(plan)
    vm, mwi = free_udp_port(), free_udp_port()
    external.reserve_port(free_udp_port(), {"vm": vm}, mwi_port=mwi)
    assert (external.trunk_ports, external.mwi_port) == ({"vm": vm}, mwi)
    without = PstnSimulator(plan)
    without.reserve_port(free_udp_port(), {}, mwi_port=mwi)
    assert without.mwi_port == 0  # no trunk to the platform: no platform
    embedded = PstnSimulator(plan)
    first = embedded.reserve_port(separate=True)
    try:
        assert embedded.trunk_ports["vm"] == first + 1 + len(TRUNKS)
        assert embedded.mwi_port == first + 2 + len(TRUNKS)
    finally:
        embedded.release_ports()
