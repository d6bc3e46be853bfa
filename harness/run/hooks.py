"""The harness's own test faults, one frozen value a session is given at construction
(never switched on by a plan or a config file: a carrier's run has none).

    before_cdr_fetch  called with the call's Call-ID just before its CDR is fetched
                      (a test deletes or withholds the record there)
    codec_override    offer this codec instead of the plan row's (a wrong-codec fault)
    agent_faults      the agents misbehave on purpose (harness/sip/scenario.py
                      Script.agent_faults: e.g. a 3-way bridge that drops a path)
    host_clock_s      lab agent hosts whose clocks are set off: (host, seconds) each,
                      their Python run under libfaketime (FAKETIME=+Ns: wall and
                      monotonic clocks both off), as a machine with a wrong clock is
    host_clock_rate   lab agent hosts whose clocks run fast or slow: (host, rate) each
                      (FAKETIME=+0s x<rate>), as a machine whose clock drifts
    host_run_dir_apart  lab agent hosts keep the run directory in one of their own
                      (/tmp/beta-host-<host>-<run>), as a machine that shares no file
                      system with the controller: files put and got over execnet

A module-scoped test session that needs one fault for one test swaps the whole value
for the test with `HarnessSession.hooked(...)`, and gets the previous one back after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.errors import HarnessError


@dataclass(frozen=True, slots=True)
class TestHooks:
    __test__ = False  # not a pytest test class

    before_cdr_fetch: tuple[Callable[[str], None], ...] = ()
    codec_override: str = ""
    agent_faults: frozenset[str] = frozenset()
    host_clock_s: tuple[tuple[str, float], ...] = ()
    host_clock_rate: tuple[tuple[str, float], ...] = ()
    host_run_dir_apart: bool = False

    def __post_init__(self) -> None:
        from harness.sip.scenario import AGENT_FAULTS

        unknown = sorted(self.agent_faults - AGENT_FAULTS)
        if unknown:
            raise HarnessError(f"test hooks: unknown agent fault(s) {', '.join(unknown)} "
                               f"(known: {', '.join(sorted(AGENT_FAULTS))})")

    @property
    def any(self) -> bool:
        return bool(self.before_cdr_fetch or self.codec_override or self.agent_faults or
                    self.host_clock_s or self.host_clock_rate or self.host_run_dir_apart)


NO_HOOKS = TestHooks()
