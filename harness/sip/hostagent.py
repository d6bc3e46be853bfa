"""The agent host's side of `harness/sip/hosts.py`: what the controller runs on each
agent host through execnet (`gateway.remote_exec` of this module's source, with a
`channel` in its globals, `__name__ == "__channelexec__"`). Plain Python and the
project's own modules: a host needs only Python and the project's wheel set.

One channel is one conversation; its first message says which:

* ``("clock",)``: answered ``("clock", monotonic, wall)`` for as long as the controller
  asks (an NTP-style exchange: the controller estimates this host's clock offsets from
  the round trips);
* ``("about",)``: answered once with what this host is (its name, Python, CPUs, load,
  the CPU seconds its processes used);
* ``("files",)``: the controller's files on this host, where the run directory is not
  shared: references and certificates put before a worker needs them, recordings and
  logs got back once written;
* ``("capture", address, interface)``: this host's own capture of its traffic (dumpcap
  on `interface`, UDP to or from `address`, into a file of its own):
  ``("started", offset)`` once it captures (or ``("error", why)``), `offset` how far
  the capture's clock (the kernel's packet times) is from this process's wall clock,
  measured with a datagram this side sends itself; then ``("read", offset)`` answered with the
  file's bytes from there, and ``("stop",)`` answered with the last of them, the
  capture stopped and its file removed (the controller keeps the copy);
* ``("worker", pickled WorkerSpec)``: start one agent worker process on this host
  (`harness/sip/worker.py main`, spawned as on the controller's machine) and pass its
  pipe's bytes both ways, unchanged, until it ends; ``("pid", n)`` first,
  ``("exit", code)`` last. The controller pickles and unpickles; this side never
  looks inside a message.

A worker dies with the thread that started it (PR_SET_PDEATHSIG), that is with this
conversation, and so with the host's gateway and its SSH session.
"""

from __future__ import annotations

import os
import platform
import resource
import threading
import time
from collections.abc import Iterator
from typing import Any


def serve(channel: Any) -> None:
    first = channel.receive()
    kind = first[0] if isinstance(first, tuple) and first else None
    if kind == "clock":
        _clock(channel)
    elif kind == "about":
        channel.send(_about())
    elif kind == "worker":
        _worker(channel, first[1])
    elif kind == "files":
        _files(channel)
    elif kind == "capture":
        _capture(channel, first[1], first[2])
    else:
        channel.send(("error", f"agent host: unknown conversation {first!r}"))


def _clock(channel: Any) -> None:
    while True:
        channel.send(("clock", time.monotonic(), time.time()))
        try:
            again = channel.receive()
        except EOFError:
            return
        if again is None:
            return


def _requests(channel: Any) -> Iterator[Any]:
    """A conversation's requests, until the controller closes it or sends None."""
    while True:
        try:
            req = channel.receive()
        except EOFError:
            return
        if req is None:
            return
        yield req


def _files(channel: Any) -> None:
    """The controller's files on this host: ("put", path, bytes), ("get", path),
    ("mkdir", path), ("rmtree", path), each answered ("ok"[, bytes]), ("missing",) or
    ("error", why)."""
    from pathlib import Path

    for req in _requests(channel):
        op, path = req[0], Path(req[1])
        try:
            if op == "put":
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(req[2])
                channel.send(("ok",))
            elif op == "get":
                channel.send(("ok", path.read_bytes()) if path.is_file() else ("missing",))
            elif op == "mkdir":
                path.mkdir(parents=True, exist_ok=True)
                channel.send(("ok",))
            elif op == "rmtree":  # the run's directory here, once all of it was got
                import shutil

                shutil.rmtree(path, ignore_errors=True)
                channel.send(("ok",))
            else:
                channel.send(("error", f"unknown file operation {op!r}"))
        except OSError as exc:
            channel.send(("error", f"{path}: {exc.strerror or exc}"))


def _capture(channel: Any, address: str, interface: str) -> None:
    import shutil
    import tempfile
    from pathlib import Path

    from harness.softswitch.process import ChildProcess

    exe = shutil.which("dumpcap") or shutil.which("dumpcap", path="/usr/bin:/usr/sbin")
    if exe is None:
        channel.send(("error", "dumpcap is not installed (Debian: tshark or wireshark-common)"))
        return
    here = Path(tempfile.mkdtemp(prefix="beta-capture-"))
    path = here / "capture.pcap"
    child = ChildProcess("dumpcap", [exe, "-i", interface, "-f", f"udp and host {address}",
                                     "-w", "-", "-P", "-B", "8"], here / "dumpcap.log",
                         stdout_path=path)
    try:
        child.start()
        deadline = time.monotonic() + 20.0
        while not (path.exists() and path.stat().st_size >= 24 and
                   "Capturing on" in (here / "dumpcap.log").read_text(errors="replace")):
            if not child.running() or time.monotonic() > deadline:
                channel.send(("error", "dumpcap " + ("exited" if not child.running() else
                                                     "did not start within 20 s") +
                              ": " + child.log_tail()))
                return
            time.sleep(0.05)
        channel.send(("started", _capture_clock(path, address)))
        for req in _requests(channel):
            if req[0] == "stop":
                child.stop()
            with open(path, "rb") as fh:
                fh.seek(req[1])
                channel.send(("data", fh.read()))
            if req[0] == "stop":
                return
    finally:
        child.stop()
        shutil.rmtree(here, ignore_errors=True)


def _capture_clock(path: Any, address: str, timeout_s: float = 5.0) -> float | None:
    """The capture's clock minus this process's wall clock (s): a datagram sent to this
    host's own discard port, its capture time against the wall clock around the send
    (the kernel stamps packets with its own clock; a process's clock may be another,
    e.g. under libfaketime). None if it was not seen."""
    import secrets
    import socket

    from harness.capture.pcap import read_udp

    tag = b"beta-capture-clock-" + secrets.token_hex(8).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, 0))
        before = time.time()
        sock.sendto(tag, (address, 9))
        after = time.time()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        packets, _ = read_udp(path)
        seen = next((p for p in packets if p.payload == tag), None)
        if seen is not None:
            return seen.ts - (before + after) / 2
        time.sleep(0.05)
    return None


def _about() -> dict[str, Any]:
    """What this host is, and what the harness's processes on it have used so far: the
    gateway's CPU and its workers' (running ones read from /proc, ended ones reaped),
    and the workers' resident memory."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s, rss_mb = _workers(os.getpid())
    return {"node": platform.node(), "python": platform.python_version(),
            "cpus": os.cpu_count() or 0, "load": os.getloadavg()[0], "pid": os.getpid(),
            "cpu_s": round(own.ru_utime + own.ru_stime + ended.ru_utime + ended.ru_stime
                           + cpu_s, 3),
            "workers_rss_mb": round(rss_mb, 1)}


def _workers(parent: int) -> tuple[float, float]:
    """CPU seconds and resident MB of the running children of `parent` (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    cpu = rss = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:  # ppid
            cpu += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            rss += int(fields[21]) * page / 2**20
    return cpu, rss


def _worker(channel: Any, spec_bytes: bytes) -> None:
    import multiprocessing
    import pickle

    from harness.sip.worker import main

    spec = pickle.loads(spec_bytes)  # noqa: S301 - from the controller that started this host
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=main, args=(spec, child), name=f"beta-agent-{spec.name}",
                       daemon=True)
    proc.start()
    child.close()
    channel.send(("pid", proc.pid))

    def orders() -> None:
        """The controller's bytes to the worker; the conversation closed: the worker
        is killed if it still runs (the controller is gone or gave up on it)."""
        try:
            while True:
                data = channel.receive()
                if data is None:
                    break
                parent.send_bytes(data)
        except (EOFError, OSError):
            pass
        except Exception:  # noqa: BLE001 - execnet's RemoteError: the channel died
            pass
        if proc.is_alive():
            time.sleep(2.0)  # a Stop just sent: let the worker end on its own first
            if proc.is_alive():
                proc.kill()

    threading.Thread(target=orders, name="orders", daemon=True).start()
    while True:
        try:
            data = parent.recv_bytes()
        except (EOFError, OSError):
            break
        try:
            channel.send(data)
        except Exception:  # noqa: BLE001 - the channel is closed: nobody listens
            break
    proc.join(10.0)
    if proc.is_alive():
        proc.kill()
        proc.join(2.0)
    try:
        channel.send(("exit", proc.exitcode))
    except Exception:  # noqa: BLE001 - the channel is closed: nobody listens
        pass


if __name__ == "__channelexec__":
    serve(channel)  # type: ignore[name-defined]  # noqa: F821 - execnet's global
