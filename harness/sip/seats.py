"""The lines an agent worker hosts, and their dialling accounts.

The PJSIP 2.15 wheel allows 8 accounts per process: one answers every incoming call
(the worker's receiver), the others dial. A seat's `LineAgent` exists from the start
(or from `adopt`, for an access worker hosting a row's line); its pjsua2 account is
created only when the seat dials, and idle accounts are released least recently used
first when the limit is reached. A secure seat (TLS + SRTP) dials from a twin account
on the TLS transport.
"""

from __future__ import annotations

from collections import OrderedDict

from harness.errors import SipError
from harness.sip.agent import LineAgent, Switchboard
from harness.sip.scenario import Seat, WorkerSpec


class Seats:
    def __init__(self, spec: WorkerSpec, board: Switchboard) -> None:
        self.spec, self.board = spec, board
        self.agents: dict[str, LineAgent] = {}  # seat name (or name#tls) -> agent
        self.dialling: OrderedDict[str, LineAgent] = OrderedDict()  # least recent first
        self.transport: tuple[int, int] | None = None  # (pjsua transport id, SIP port)
        self.tls_transport: tuple[int, int] | None = None

    def transports(self, udp: tuple[int, int], tls: tuple[int, int] | None) -> None:
        self.transport, self.tls_transport = udp, tls

    def add(self, seat: Seat) -> None:
        spec = self.spec
        agent = LineAgent(seat.line, spec.domain, spec.proxy, seat.rtp_port,
                          spec.rtp_ports_per_seat, self.transport, self.board, seat.name,
                          static=seat.static, address=spec.address)
        self.agents[seat.name] = agent
        if not seat.static:
            self.board.by_user[seat.line.number] = agent

    def adopt(self, seat: Seat) -> str:
        """Host `seat` from now on (an access worker, for one row); '' or why not."""
        if seat.name not in self.agents:
            self.add(seat)
        return ""

    def drop(self, name: str) -> str:
        """No longer host seat `name` (its accounts released); '' or why not."""
        for key in (name, f"{name}#tls"):
            agent = self.agents.get(key)
            if agent is None:
                continue
            if agent.active_legs:
                return f"agent worker {self.spec.name}: {name} is still in a call"
            self.dialling.pop(key, None)
            agent.release()
            del self.agents[key]
            if self.board.by_user.get(agent.line.number) is agent:
                del self.board.by_user[agent.line.number]
        return ""

    def dialler(self, name: str, secure: bool = False) -> LineAgent:
        """The seat's agent with a dialling account; idle accounts are released least
        recently used first (8 pjsua2 accounts per process, one of them the receiver).
        `secure`: a twin account on the TLS transport that requires SRTP."""
        agent = self.agents.get(name)
        if agent is None:
            raise SipError(f"agent worker {self.spec.name} does not host {name!r}")
        if secure:
            tls = self.spec.tls
            if tls is None or self.tls_transport is None:
                raise SipError(f"agent worker {self.spec.name} has no TLS transport (sut.tls)")
            key = f"{name}#tls"
            twin = self.agents.get(key)
            if twin is None:
                twin = LineAgent(agent.line, agent.domain, tls.proxy, agent.rtp_port,
                                 agent.rtp_range, self.tls_transport, self.board, name,
                                 static=agent.static, secure=True, address=agent.address)
                self.agents[key] = twin
            name, agent = key, twin
        self.dialling.pop(name, None)
        while len(self.dialling) >= self.spec.max_dial_accounts:
            idle = next((n for n, a in self.dialling.items() if a.active_legs == 0), None)
            if idle is None:
                raise SipError(f"agent worker {self.spec.name}: all "
                               f"{self.spec.max_dial_accounts} dialling accounts are in calls")
            self.dialling.pop(idle).release()
        agent.ensure_account()
        self.dialling[name] = agent
        return agent

    def release(self) -> None:
        """Shut every dialling account down (the worker is stopping)."""
        for agent in self.dialling.values():
            agent.release()
        self.dialling.clear()
