"""A session's access links (harness/network/netns.py) and the rows that run over them.

A plan row that names an impairment profile (`CallSpec.profile`, "clean" included)
runs with its beta lines behind a pair of access links: for the row, the calling line
is hosted by the pair's first access worker ("x1", "x3", ...) and the called line by its
second ("x2", "x4", ...), each an agent worker process inside its own network
namespace, joined to the switch by a veth pair. There are PAIRS pairs: as many rows
under a profile run at once, each on a pair of its own, beside the other rows. The called line's
registration moves to its access worker for the row and back after it, the way a
phone that moved to another network re-registers. The profile's rules sit on the
links' host-side veths, so they touch this row's media and nothing else.

Rows without a profile keep their lines on the loopback, as before. A switch the
harness does not run (sut.kind external) gets no access links: a profile then falls
back to rules on the loopback (docs/impairments.md).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.capture.dumpcap import Capture
from harness.errors import HarnessError
from harness.model import Line
from harness.network.netns import AccessNet
from harness.sip.scenario import WorkerSpec

if TYPE_CHECKING:
    from harness.run.registrations import Registrations

PAIRS = 2  # pairs of access links: rows under a profile that run at once
# the speech direction each link of a pair carries: toward the calling line, the called
LANES = ("b_to_a", "a_to_b")


def pair_workers(pair: int) -> tuple[str, str]:
    """The access workers of pair `pair` (0, 1, ...): the calling line's, the called's."""
    return f"x{2 * pair + 1}", f"x{2 * pair + 2}"


@dataclass(frozen=True, slots=True)
class Crossing:
    """What a row over the access links has while it runs."""

    interfaces: tuple[str, ...]  # host-side veths: where the profile's rules go
    # the direction each interface carries: toward the caller "b_to_a", the called "a_to_b"
    lanes: tuple[str, ...] = ()


class AccessLinks:
    def __init__(self, net: AccessNet, hosts: int = 0) -> None:
        """`hosts`: the last links of `net` are the lab's agent hosts' (one each,
        harness/network/sshhost.py), not rows'."""
        self.net = net
        self.host_links = net.links[len(net.links) - hosts:] if hosts else ()
        self.pairs = tuple(range((len(net.links) - hosts) // 2))
        self.workers = tuple(w for p in self.pairs for w in pair_workers(p))
        self._free = list(self.pairs)  # pairs no row is crossing
        self._lock = threading.Lock()

    @classmethod
    def create(cls, pairs: int = PAIRS, hosts: int = 0) -> AccessLinks:
        return cls(AccessNet.create(2 * pairs + hosts), hosts)

    def destroy(self) -> None:
        self.net.destroy()

    @property
    def core(self) -> str:
        return self.net.core

    def worker_specs(self, template: WorkerSpec, run_dir: Path, sip_port: int) -> list[WorkerSpec]:
        """The access workers, seatless until a row moves its lines in: `template`'s
        domain, media and port layout (each in its own namespace, so the same port
        numbers), the switch reached at its access address."""
        proxy = f"sip:{self.net.core}:{sip_port};lr"
        return [WorkerSpec(name, run_dir / f"pjsua-{name}.log", template.domain, proxy, (),
                           template.rtp_ports_per_seat, template.receiver_rtp,
                           sip_port=template.sip_port, clock_rate=template.clock_rate,
                           jb_init_ms=template.jb_init_ms, address=link.address,
                           netns=link.netns)
                for name, link in zip(self.workers, self.net.links[:len(self.workers)],
                                      strict=True)]

    def captures(self, run_dir: Path, hosts: bool = True) -> list[tuple[Capture, str, str]]:
        """A dumpcap on each link's host-side veth (only the harness's traffic is there);
        `hosts` False: not on the lab agent hosts' links (each host captures its own)."""
        links = self.net.links if hosts else self.net.links[:len(self.net.links) -
                                                            len(self.host_links)]
        return [(Capture(run_dir / f"capture-{link.host_if}.pcap", link.host_if, "udp"),
                 link.core, link.address) for link in links]

    @contextmanager
    def crossing(self, lines_at: Registrations,
                 lines: list[Line | None]) -> Iterator[Crossing]:
        """Move `lines` (calling line, called line; None: a PSTN party, which stays on
        the loopback) behind a free pair of access links while the block runs: each
        rehomed to a link's worker and registered there, both undone after. The caller
        (harness/run/schedule.py) runs no more such rows at once than there are pairs."""
        farm = lines_at.farm
        links, lanes = [], []
        with self._lock:
            if not self._free:
                raise HarnessError(f"every access-link pair ({len(self.pairs)}) is in use")
            pair = self._free.pop(0)
        with ExitStack() as undo:
            undo.callback(self._release, pair)
            for line, worker, link, lane in zip(lines, pair_workers(pair),
                                                self.net.links[2 * pair:2 * pair + 2], LANES,
                                                strict=True):
                if line is None:
                    continue
                seat = farm.seat(line.name)
                home = farm.worker_of(line.name)
                if home in self.workers:
                    raise HarnessError(f"{line.name} is already behind an access link")
                plain = lines_at.contact(line)
                farm.rehome(seat, worker)
                undo.callback(farm.rehome, seat, home)
                there = lines_at.contact(line)
                lines_at.move(line, plain, there, via=self.net.core)
                undo.callback(lines_at.move, line, there, plain)
                links.append(link.host_if)
                lanes.append(lane)
            yield Crossing(tuple(links), tuple(lanes))


    def _release(self, pair: int) -> None:
        with self._lock:
            self._free.append(pair)
            self._free.sort()
