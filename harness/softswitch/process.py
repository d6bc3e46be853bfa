"""Child processes the harness owns: started in their own process group, logged to a
file, killed with the harness (PR_SET_PDEATHSIG) and reaped on stop, so that no
switch or media relay outlives a run, a Ctrl-C or a failing test."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from harness.cpuwait import join_from_env
from harness.errors import HarnessError, SoftswitchError
from harness.hostlock import PortBook
from harness.sip.text import SipText, parse_lenient

_PR_SET_PDEATHSIG = 1

# The switch the harness starts itself (Kamailio, rtpengine, the lab's B2BUA and other
# carrier) runs at this niceness when the harness is root. A carrier's switch has its
# own hardware; here it shares 2 cores with the harness's agents, capture and
# measuring, and at the same priority rtpengine's threads were seen waiting 30-140 ms
# for a CPU (schedstat), holding every stream it relayed: a receiving agent scored 3.97
# where the wire before the relay was clean, a false fail against the switch.
LAB_SWITCH_NICENESS = -10
# The harness's agent workers (the beta lines' phones, the PSTN's) run at this niceness
# when root: between the switch and the controller. Their media is real time; the
# controller's measuring of calls already down (Python, nice 0) and the scoring (nice
# 19) must wait for them, not they for it: a worker that waits 100 ms for a CPU is a
# host stall that makes its call's figures invalid.
AGENT_NICENESS = -5
try:  # loaded here, not in the child: dlopen() after fork() can deadlock on threads
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    _LIBC = None


def exit_with_parent(sig: int = signal.SIGKILL) -> None:
    """Have the kernel send this process `sig` when the thread that started it ends."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, sig)


class ChildProcess:
    def __init__(self, name: str, argv: list[str], log_path: Path,
                 death_signal: int = signal.SIGKILL, stdout_path: Path | None = None,
                 niceness: int = 0) -> None:
        """`death_signal`: what the child gets when the harness dies. SIGKILL for a
        single process; SIGTERM for one that forks workers of its own (Kamailio): its
        main process then stops them before it exits, where SIGKILL would orphan them.
        `stdout_path`: the child's standard output to a file of its own (its data, e.g.
        dumpcap's `-w -`), standard error alone to the log. `niceness`: the child's
        scheduling priority (below 0 needs root; without it the child runs at 0)."""
        self.name, self.argv, self.log_path = name, argv, log_path
        self.niceness = niceness
        self.death_signal = death_signal
        self.stdout_path = stdout_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        out = open(self.stdout_path, "wb") if self.stdout_path else None  # noqa: SIM115
        sig, niceness = self.death_signal, self.niceness

        def die_with_parent() -> None:  # runs in the child between fork and exec
            os.setsid()
            exit_with_parent(sig)
            if niceness:
                try:
                    os.setpriority(os.PRIO_PROCESS, 0, niceness)
                except OSError:  # not root: the default priority
                    pass
            if niceness < 0:  # real time (the lab's switch): its wait for a CPU is judged
                join_from_env()

        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=out or log,
                                         stderr=log if out else subprocess.STDOUT,
                                         preexec_fn=die_with_parent)  # noqa: PLW1509
        finally:
            log.close()
            if out is not None:
                out.close()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 12) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.proc is None:
            return
        pgid = self.proc.pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=timeout_s)
                # the group leader is gone; make sure its workers are too
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
            break
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None


# Ports the harness chooses for its listeners lie outside the kernel's ephemeral range:
# a port picked by bind(0) is free only until the kernel hands it to somebody's next
# outgoing socket (CI once saw Kamailio's TLS port taken that way, and an OPTIONS
# probe's reply port land among the agents' RTP ports under a fault rule).
LISTEN_POOL = (61000, 65535)
T1_S, T2_S = 0.5, 4.0  # RFC 3261 timers T1 and T2


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for ports it chooses itself (bind to 0, connect)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def outside_ephemeral(low: int, high: int) -> list[range]:
    """The parts of [low, high) the kernel does not hand out by itself."""
    e_low, e_high = ephemeral_range()
    parts = [range(low, min(high, e_low)), range(max(low, e_high + 1), high)]
    return [r for r in parts if len(r) > 0]


def _free_listen_port(host: str, kind: int) -> int:
    import random

    pool = [p for r in outside_ephemeral(*LISTEN_POOL) for p in r]
    if len(pool) < 100:  # this machine's ephemeral range covers the pool
        pool = [p for r in outside_ephemeral(10000, 20000) for p in r]
    for port in random.sample(pool, min(len(pool), 200)):
        if udp_port_free(port, host) and tcp_port_free(port, host):
            return port
    with socket.socket(socket.AF_INET, kind) as s:  # last resort: the kernel's choice
        s.bind((host, 0))
        chosen: int = s.getsockname()[1]
        return chosen


def free_udp_port(host: str = "127.0.0.1", exclude: Iterable[int] = ()) -> int:
    """A port free for UDP and TCP on `host`, outside the ephemeral range, and none of
    `exclude` (ports chosen for other listeners that have not bound them yet)."""
    taken = set(exclude)
    while (port := _free_listen_port(host, socket.SOCK_DGRAM)) in taken:
        pass
    return port


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A port free for TCP and UDP on `host`, outside the ephemeral range."""
    return _free_listen_port(host, socket.SOCK_STREAM)


def tcp_port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def tcp_listening(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when something accepts a TCP connection on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def udp_port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def udp_bound_by(pid: int | None, port: int, host: str = "127.0.0.1") -> bool:
    """True when process `pid` itself holds a UDP socket bound to host:port (Linux
    /proc). "The port is no longer free" is not enough: another process may hold it,
    and a listener that failed to bind then exits while a stranger answers for it."""
    if pid is None:
        return False
    want = f"{socket.htonl(int.from_bytes(socket.inet_aton(host), 'big')):08X}:{port:04X}"
    inodes = set()
    try:
        for line in Path("/proc/net/udp").read_text(encoding="ascii").splitlines()[1:]:
            fields = line.split()
            if len(fields) > 9 and fields[1] in (want, f"00000000:{port:04X}"):
                inodes.add(f"socket:[{fields[9]}]")
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                return True
        except OSError:
            continue
    return False


class PortHold:
    """A UDP port chosen now for a listener that binds it later, held by a bound socket
    in between: the load sink's port is named in the switch's config at its start, but
    SIPp binds it only when a load begins, minutes later. Every port chooser (this
    run's, or another run's on the same host) probes with bind(), so a held port is
    never handed out twice. `release()` just before the listener binds; `hold()` again
    after it stopped."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.port, self.host = port, host
        self._sock: socket.socket | None = None
        self.closed = False
        if not self.hold():
            raise SoftswitchError(f"UDP port {port} on {host}: Address already in use")

    @property
    def held(self) -> bool:
        return self._sock is not None

    def hold(self) -> bool:
        """Bind the port (again); False when somebody else has it now."""
        if self._sock is not None:
            return True
        if self.closed:
            return False
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((self.host, self.port))
        except OSError:
            s.close()
            return False
        self._sock = s
        return True

    def release(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def close(self) -> None:
        """Released for good (the switch that named the port stopped)."""
        self.release()
        self.closed = True


FREE_RANGE_STEP = 50


def free_udp_range(count: int, low: int, high: int, host: str = "127.0.0.1",
                   must_be_free: Callable[[int], Iterable[int]] | None = None) -> int:
    """First port of `count` consecutive free UDP ports in [low, high), randomised,
    outside the kernel's ephemeral range (see LISTEN_POOL), and taken in the host's
    book (harness/hostlock.py) so that no other harness process on this host chooses
    it before this one binds it. Given back with `release_udp_range` (or when this
    process ends). Every 7th port of a candidate block is probed, and every port
    `must_be_free(start)` names (ports a caller binds at once, such as each agent
    worker's SIP port): a block where one is taken is never entered in the book."""
    import random

    # candidate starts every FREE_RANGE_STEP ports, not every `count`: a block is found
    # between other processes' blocks wherever they lie (with a stride of its own size,
    # a 2091-port block had four places in 10000-20000, and one small block beside
    # each took them all)
    step = max(1, min(count, FREE_RANGE_STEP))
    starts = [s for r in outside_ephemeral(low, high)
              for s in range(r.start, r.stop - count + 1, step)]
    random.shuffle(starts)
    try:
        return PortBook().take(
            starts[:400], count, host,
            lambda start: all(udp_port_free(p, host) for p in (
                *range(start, start + count, 7),
                *(must_be_free(start) if must_be_free else ()))))
    except HarnessError:
        raise SoftswitchError(f"no {count} free UDP ports between {low} and {high} on {host}"
                              " (probed, and not taken by another harness process)") from None


def release_udp_range(start: int, host: str = "127.0.0.1") -> None:
    """Give back a block `free_udp_range` took (a start it did not take: nothing)."""
    PortBook().release(start, host)


def sip_options_ping(host: str, port: int, timeout_s: float = 1.0,
                     call_id: str = "") -> int | None:
    """Send one SIP OPTIONS over UDP; return the response code, None on silence.

    `call_id` lets a caller find this very request in a capture (a sync marker)."""
    tag, branch = (uuid.uuid4().hex[:10] for _ in range(2))
    call_id = call_id or uuid.uuid4().hex[:10]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        lport = s.getsockname()[1]
        msg = (f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK{branch};rport\r\n"
               f"Max-Forwards: 70\r\nTo: <sip:{host}:{port}>\r\n"
               f"From: <sip:probe@127.0.0.1:{lport}>;tag={tag}\r\n"
               f"Call-ID: {call_id}@beta-harness\r\nCSeq: 1 OPTIONS\r\n"
               f"Contact: <sip:probe@127.0.0.1:{lport}>\r\nAccept: application/sdp\r\n"
               "Content-Length: 0\r\n\r\n")
        try:
            answer = udp_transaction(s, msg, (host, port), timeout_s)
        except ConnectionRefusedError:
            return None
        return answer.status if answer is not None else None


def udp_transaction(s: socket.socket, msg: str | bytes, dest: tuple[str, int],
                    timeout_s: float, call_id: str = "") -> SipText | None:
    """Send a non-INVITE request from `s` to `dest` and return its final response
    (parsed leniently), None on silence. RFC 3261 17.1.2.2: a UDP request is
    retransmitted (Timer E: T1, doubling, at most T2; T2 once a provisional response
    came) until answered, so one lost datagram is not a dead peer. With `call_id`, a
    response of another Call-ID (a late one to an earlier request on the same socket)
    is not this request's. A port the peer refuses (ICMP) raises ConnectionRefusedError."""
    data = msg.encode() if isinstance(msg, str) else msg
    start = time.monotonic()
    deadline, interval, resend_at = start + timeout_s, T1_S, start
    while (now := time.monotonic()) < deadline:
        if now >= resend_at:
            s.sendto(data, dest)
            resend_at, interval = now + interval, min(interval * 2, T2_S)
        s.settimeout(max(0.001, min(resend_at, deadline) - now))
        try:
            answer = parse_lenient(s.recv(65535).decode("utf-8", "replace"))
        except TimeoutError:
            continue
        if answer.status is None or \
                (call_id and dict(answer.fields).get("call-id") != call_id):
            continue
        if answer.status >= 200:
            return answer
        interval = T2_S  # a provisional response: the peer has it, resend less often
        resend_at = time.monotonic() + interval
    return None


def rtpengine_ping(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """rtpengine NG protocol ping (bencode over UDP) -> True when it answers pong."""
    cookie = uuid.uuid4().hex[:8]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout_s)
        try:
            s.sendto(f"{cookie} d7:command4:pinge".encode(), (host, port))
            data = s.recv(4096)
        except (TimeoutError, ConnectionRefusedError):
            return False
    return data.startswith(cookie.encode()) and b"pong" in data
