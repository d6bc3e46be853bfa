"""Ports the harness chooses for its listeners, and the OPTIONS probe's retransmission."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness.config import load_config
from harness.errors import SoftswitchError
from harness.softswitch.kamailio import EmbeddedKamailio
from harness.softswitch.process import (
    ChildProcess,
    PortHold,
    ephemeral_range,
    free_tcp_port,
    free_udp_port,
    free_udp_range,
    outside_ephemeral,
    release_udp_range,
    sip_options_ping,
    udp_bound_by,
    udp_port_free,
)


def test_chosen_ports_lie_outside_the_kernels_ephemeral_range() -> None:
    low, high = ephemeral_range()
    block = free_udp_range(40, 10000, 20000)
    release_udp_range(block)
    for port in (free_udp_port(), free_tcp_port(), block):
        assert not (low <= port <= high), (port, low, high)


def test_a_block_whose_named_ports_are_taken_is_not_chosen() -> None:
    """`must_be_free`: ports a block's taker binds at once (each agent worker's SIP
    port) are probed, and a block where one is taken is never booked: here the port
    two after each candidate start must be free, and one port of a narrow window is
    bound by another socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        port = free_udp_port()  # outside the kernel's ephemeral range, as blocks are
        taken.bind(("127.0.0.1", port))
        low, high = port - 4, port + 5  # room for a 3-port block at 6 starts
        for _ in range(20):
            start = free_udp_range(3, low, high, must_be_free=lambda s: (s + 2,))
            release_udp_range(start)
            assert start + 2 != port and port not in range(start, start + 3, 7)
        with pytest.raises(SoftswitchError, match="no 3 free UDP ports"):
            free_udp_range(3, low, high, must_be_free=lambda s: (port,))


def test_outside_ephemeral_clips_both_ends() -> None:
    low, high = ephemeral_range()
    parts = outside_ephemeral(low - 10, high + 10)
    assert [(r.start, r.stop) for r in parts] == [(low - 10, low), (high + 1, high + 10)]
    assert outside_ephemeral(low, high + 1) == []


def test_a_held_port_is_never_chosen_again_until_released() -> None:
    """The load sink's port is named in the switch's config at its start but bound by
    SIPp only when a load begins: held in between, no other chooser is given it."""
    hold = PortHold(free_udp_port())
    try:
        assert hold.held and not udp_port_free(hold.port)
        assert hold.port not in {free_udp_port() for _ in range(300)}
        hold.release()
        assert udp_port_free(hold.port)
        assert hold.hold() and not udp_port_free(hold.port)
    finally:
        hold.close()
    assert udp_port_free(hold.port) and not hold.hold()  # closed: for good


def test_bound_by_names_the_process_that_holds_the_port_not_any_process() -> None:
    """A listener that failed to bind must not pass for bound because somebody else
    holds its port (the load sink: that somebody then answers the load calls)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mine:
        mine.bind(("127.0.0.1", 0))
        port = mine.getsockname()[1]
        assert udp_bound_by(os.getpid(), port)
        other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            assert not udp_bound_by(other.pid, port)  # a process alive, the port taken
        finally:
            other.kill()
            other.wait()
    assert not udp_bound_by(os.getpid(), port)
    assert not udp_bound_by(None, port)


def test_the_embedded_switch_holds_the_load_sinks_port_from_its_config_on(
        tmp_path: Path) -> None:
    cfg = load_config()
    switch = EmbeddedKamailio(cfg.sut, tmp_path, cfg.load)
    switch._choose_ports()
    try:
        hold = switch.sink_hold
        assert hold is not None and hold.held and hold.port == switch.load_sink_port
        assert switch.load_sink_port not in (switch.sip_port, switch.ng_port)
        assert udp_bound_by(os.getpid(), switch.load_sink_port)
    finally:
        switch.stop()
    assert switch.sink_hold is None and udp_port_free(hold.port)


def _switch_that_drops(first_n: int) -> tuple[socket.socket, list[bytes]]:
    """A UDP 'switch' that ignores the first `first_n` requests, then answers 200."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve() -> None:
        sock.settimeout(5.0)
        try:
            while True:
                data, addr = sock.recvfrom(65535)
                seen.append(data)
                if len(seen) > first_n:
                    head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
                    sock.sendto(b"SIP/2.0 200 OK\r\n" + b"\r\n".join(head) + b"\r\n\r\n", addr)
                    return
        except (TimeoutError, OSError):
            return

    threading.Thread(target=serve, daemon=True).start()
    return sock, seen


def test_probe_retransmits_a_lost_options_as_rfc3261_timer_e() -> None:
    sock, seen = _switch_that_drops(2)
    with sock:
        code = sip_options_ping("127.0.0.1", sock.getsockname()[1], 3.0, "marker-x")
    assert code == 200
    assert len(seen) == 3  # sent at 0, 0.5 and 1.5 s: the same request each time
    assert len(set(seen)) == 1 and b"Call-ID: marker-x@beta-harness" in seen[0]


def test_probe_gives_up_on_a_silent_switch() -> None:
    sock, seen = _switch_that_drops(99)
    with sock:
        code = sip_options_ping("127.0.0.1", sock.getsockname()[1], 1.2)
    assert code is None
    assert len(seen) == 2  # 0 and 0.5 s; the next would be at 1.5 s


def test_a_child_runs_at_the_niceness_it_was_given(tmp_path: Path) -> None:
    """Below 0 as root; without root the child is started all the same, at 0."""
    child = ChildProcess("sleeper", ["sleep", "30"], tmp_path / "sleeper.log", niceness=-7)
    child.start()
    try:
        assert child.pid is not None
        expected = -7 if os.geteuid() == 0 else 0
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == expected
    finally:
        child.stop()
