"""The one clock that drives lease expiry and auto-compaction: real (monotonic) or manual for tests."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Callable


class Clock:
    """Monotonic seconds. ``subscribe`` lets the expiry loop hear about jumps of a manual clock."""

    def now(self) -> float:
        return time.monotonic()

    def subscribe(self, callback: Callable[[], None]) -> None:
        """The real clock never jumps; nothing to report."""

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        pass


class ManualClock(Clock):
    """A clock that moves only when told to; ``advance`` wakes whoever subscribed."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += seconds
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()

    def subscribe(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)


#: a manual clock advanced in steps of 0.1 s reaches a deadline set 0.1 s ahead, give or take this
_EPSILON = 1e-9


async def sleep(clock: Clock, seconds: float) -> None:
    """Wait until ``clock`` has moved on by ``seconds``: real time for the real clock; for a manual
    clock, until it has been advanced that far (each advance wakes the sleeper to look)."""
    deadline = clock.now() + seconds
    loop = asyncio.get_running_loop()
    woken = asyncio.Event()

    def wake() -> None:
        loop.call_soon_threadsafe(woken.set)

    clock.subscribe(wake)
    try:
        while (remaining := deadline - clock.now()) > _EPSILON:
            woken.clear()
            try:
                await asyncio.wait_for(woken.wait(), remaining)
            except asyncio.TimeoutError:
                pass
    finally:
        clock.unsubscribe(wake)
