"""PESQ in a process pool, off the controller's threads.

Calls run concurrently, and each is scored as soon as it ends while others are
still up. PESQ (ITU-T P.862) is seconds of CPU-bound C per direction and source; in
the controller's threads it would hold the GIL, starving the thread that watches
for host stalls (it would flag stalls the harness caused itself) and the threads
still placing calls. Scoring runs in `min(2, CPUs)` worker processes instead,
started on first use (spawned: no inherited threads) and stopped with the session.

The scoring processes run at the lowest CPU priority (nice 19): a call's score can
wait, the calls still up cannot. At normal priority, two of them busy on a 2-CPU host
delayed the agents' media and the stall guard's wake-ups by 100-127 ms while the
plan's first wave of calls was scored beside its second (10 calls invalidated in one
run, the 61 s billing call among them).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

_POOL: ProcessPoolExecutor | None = None
_LOCK = threading.Lock()


SCORING_NICE = 19


def _lower_priority() -> None:
    """The scoring process's initializer: yield the CPU to the calls that are up."""
    os.nice(SCORING_NICE - os.nice(0))


def _pesq(rate: int, ref: np.ndarray, deg: np.ndarray, band: str) -> float:
    from pesq import pesq  # compiled extension: imported in the scoring process

    return float(pesq(rate, ref, deg, band))


def pesq_mos(rate: int, ref: np.ndarray, deg: np.ndarray, band: str) -> float:
    """MOS-LQO of `deg` against `ref` (P.862.1 'nb' / P.862.2 'wb'), computed in the
    pool; raises what `pesq` raises."""
    global _POOL
    with _LOCK:
        if _POOL is None:
            workers = max(1, min(2, os.cpu_count() or 1))
            _POOL = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_lower_priority)
        future = _POOL.submit(_pesq, rate, ref.astype(np.float64), deg.astype(np.float64),
                              band)
    try:
        return future.result()
    except BrokenProcessPool:  # a scoring process died: the next score starts afresh
        with _LOCK:
            _POOL = None
        raise


def shutdown() -> None:
    """Stop the scoring processes (the next score starts them again)."""
    global _POOL
    with _LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
