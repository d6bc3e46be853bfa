"""A further call of a row placed while the row's call is up, in a thread of its own
(call waiting's second call, call pickup's picking line)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Deferred(Generic[T]):
    """`work` run `delay_s` from now in a thread of its own; `result` its value, or
    `fallback(why)` when it raised ("could not be placed: ...") or did not end in time."""

    def __init__(self, work: Callable[[], T], delay_s: float, name: str,
                 fallback: Callable[[str], T]) -> None:
        self._value: tuple[T] | None = None
        self._error = ""
        self._fallback = fallback
        self._thread = threading.Thread(target=self._run, args=(work, delay_s), name=name,
                                        daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], T], delay_s: float) -> None:
        time.sleep(delay_s)
        try:
            self._value = (work(),)
        except Exception as exc:  # noqa: BLE001 - the row's verdict says it
            self._error = f"could not be placed: {exc}"

    def result(self, timeout_s: float = 120.0) -> T:
        self._thread.join(timeout_s)
        if self._value is None:
            return self._fallback(self._error or "did not end in time")
        return self._value[0]
