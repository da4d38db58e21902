"""The one clock that drives lease expiry: real (monotonic) or manual for tests."""

from __future__ import annotations

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
