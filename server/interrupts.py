"""Ctrl-C while modules load.

A KeyboardInterrupt raised inside an import can surface as something else: Python < 3.12 wraps an
exception raised in ``__set_name__`` (a dataclass field being created, say) in a ``RuntimeError``,
and a half-imported module stays broken for the rest of the process. So the command line loads its
modules with a SIGINT handler that only takes note; a Ctrl-C that came meanwhile is handed to the
previous handler (KeyboardInterrupt, normally) once they are loaded, from a clean point.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from types import FrameType
from typing import Iterator


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold SIGINT back for the body; one that came meanwhile is handled on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[FrameType | None] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: arrived.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if arrived and callable(previous):
        previous(signal.SIGINT, arrived[0])
