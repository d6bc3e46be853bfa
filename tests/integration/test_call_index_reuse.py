"""A call the harness let go of never touches the call that reuses its pjsua index.

pjsua2's Call keeps its index after DISCONNECTED, and its destructor (PJSIP 2.15)
clears the user data of — and hangs up — whatever call holds that index by then:
the new call's events no longer reach its leg, and it is cancelled (or, ringing at a
far end, declined 603) with nothing on the wire to cause it (issue 15, item 6).
Real pjsua2 in a child process (one Endpoint per process); the far end is a UDP
socket that refuses the first INVITE (486), lets the next four ring, then refuses
them too: every one of them must hear its 486, and no CANCEL may leave.
"""

import multiprocessing
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration


class Sink:
    """A far end on a UDP socket: 486 to the first INVITE, 180 to later ones until
    `refuse()`, which answers each of them 486; counts CANCELs."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.ringing: list[tuple[dict[str, list[str]], Any]] = []
        self.cancels = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _reply(self, code: str, hdr: dict[str, list[str]], peer: Any) -> None:
        reply = [f"SIP/2.0 {code}", *(f"Via: {v}" for v in hdr["via"]),
                 f"From: {hdr['from'][0]}", f"To: {hdr['to'][0]};tag=sink",
                 f"Call-ID: {hdr['call-id'][0]}", f"CSeq: {hdr['cseq'][0]}",
                 "Content-Length: 0", "", ""]
        self.sock.sendto("\r\n".join(reply).encode(), peer)

    def _run(self) -> None:
        first = True
        while not self.stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            head = data.decode(errors="replace").split("\r\n\r\n", 1)[0].split("\r\n")
            hdr: dict[str, list[str]] = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                hdr.setdefault(name.strip().lower(), []).append(value.strip())
            if head[0].startswith("CANCEL"):
                self.cancels += 1
            elif head[0].startswith("INVITE"):
                if first:
                    self._reply("486 Busy Here", hdr, peer)
                    first = False
                elif all(h["call-id"] != hdr["call-id"] for h, _ in self.ringing):
                    self.ringing.append((hdr, peer))
                    self._reply("180 Ringing", hdr, peer)

    def refuse(self) -> None:
        for hdr, peer in self.ringing:
            self._reply("486 Busy Here", hdr, peer)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def _scenario(log: str, port: int, released: Any, refused: Any, out: Any) -> None:
    from harness.model import Line
    from harness.sip.agent import Leg, LineAgent
    from harness.sip.stack import SipStack

    stack = SipStack(Path(log))
    stack.start()
    transport = stack.add_udp_transport(0, "127.0.0.1")
    agent = LineAgent(Line(1, 1, "4135550101", ""), "beta.test", f"sip:127.0.0.1:{port};lr",
                      31000, 40, transport, static=True)
    target = f"sip:4135550102@127.0.0.1:{port}"
    first = Leg("a")
    agent.dial(target, first)
    stack.run_for(1.0)
    legs = [Leg(f"n{i}") for i in range(4)]
    for leg in legs:  # indexes 1, 2, 3, then the first call's 0 again
        agent.dial(target, leg)
    stack.run_for(0.5)
    first.release()  # the finished call is let go of while the 4th new call rings
    stack.run_for(0.5)
    released.set()
    refused.wait(10)
    stack.run_for(1.5)
    out.put((first.last_code, [leg.last_code for leg in legs],
             [leg.disconnected for leg in legs]))
    for leg in legs:
        leg.hangup()
    stack.run_for(0.5)
    for leg in legs:
        leg.release()
    agent.release()
    stack.close()


def test_a_released_call_does_not_touch_the_call_reusing_its_index(tmp_path: Path) -> None:
    sink = Sink()
    ctx = multiprocessing.get_context("spawn")
    released, refused, queue = ctx.Event(), ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=_scenario, args=(str(tmp_path / "pjsua.log"), sink.port,
                                               released, refused, queue))
    proc.start()
    try:
        assert released.wait(30)
        sink.refuse()
        refused.set()
        first_code, codes, down = queue.get(timeout=30)
    finally:
        proc.join(30)
        sink.close()
    assert first_code == 486
    assert sink.cancels == 0, "a call was cancelled by a released call's object"
    assert codes == [486] * 4 and all(down), \
        f"every new call must hear its own 486 (got {codes}): a leg went deaf"
