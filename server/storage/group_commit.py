"""Group commit: many applied requests, one durable write.

Requests are applied to memory on the event loop and their batches handed to :meth:`submit`. While
one write (with its fsync) runs in the writer thread, new batches accumulate and go out together in
the next write, so durability does not serialise clients. ``wait`` returns once everything submitted
before the call is durable; ``on_durable`` learns the revision that became durable.

Writes of a *sequential* load run on the event loop itself: handing a write to the thread and back
costs a lone client more than the sync (on the development VM 0.11 ms against a 0.13 ms
``fdatasync``). A load is sequential when the thread's last writes each carried one request and
nothing arrived while they ran; lazy writes whose callers wait for something else (below) do not
count, nobody waits for the disk on them. A write on the loop hides concurrency (no request is
taken while it syncs, and grpc.aio takes new calls one per loop turn), so every
``PROBE_EVERY``-th write of a sequential run goes to the thread again to look; a batch of more than
one such request ends the run at once. Only backends whose writes lately took under
``INLINE_SECONDS`` and whose next write is not a long one (``Backend.write_is_quick``) are written
so.

A write may be submitted *lazily*: nobody needs it durable yet (a lock waiter's key, which waits
for its holder's deletion anyway). A pending batch of lazy writes only is not written until an
urgent write joins it, someone waits on it urgently, or ``LAZY_SECONDS`` pass. Under a contended
lock the waiter's key then shares the holder's next sync instead of taking one of its own that the
holder's deletion would have to wait behind. Until it is written a lazy write is invisible like
any other write that is not durable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from .backend import Backend, Batch

log = logging.getLogger(__name__)

#: the longest write (as lately measured) that is done on the event loop in a sequential load
INLINE_SECONDS = 0.001
#: lone writes on the thread (nothing arrived meanwhile) after which a load counts as sequential
SEQUENTIAL_AFTER = 4
#: in a sequential run, one write in this many goes to the thread to see whether others wait
PROBE_EVERY = 8
#: the longest a lazy write waits for an urgent one to share a sync with
LAZY_SECONDS = 0.005
_SMOOTHING = 0.2  # weight of the newest write in the moving average of write durations


class DurabilityError(Exception):
    """A write to the backend failed; the in-memory state is ahead of the disk."""


class GroupCommitter:
    def __init__(self, backend: Backend, on_durable: Callable[[int], None],
                 on_failure: Callable[[BaseException], None] | None = None) -> None:
        self._backend = backend
        self._on_durable = on_durable
        #: told once when the backend refuses a write (nothing is durable after it)
        self._on_failure = on_failure
        self._pending: Batch | None = None
        self._pending_count = 0  # submissions merged into the pending batch
        self._pending_patient = 0  # of those, lazy ones whose callers wait for something else
        self._pending_done: asyncio.Future | None = None
        self._pending_urgent = False  # the pending batch holds an urgent write or is waited on
        self._lazy_since = 0.0  # monotonic time the pending batch's first lazy write came
        self._urged: asyncio.Future | None = None  # set when a lazy pending batch becomes urgent
        self._inflight_done: asyncio.Future | None = None
        self._flusher: asyncio.Task | None = None
        self._executor = None if backend.instant else ThreadPoolExecutor(1, thread_name_prefix="etcdlite-writer")
        self.failure: BaseException | None = None
        self.writes = 0  # number of backend writes (fsyncs), for measurements
        self.inline_writes = 0  # of those, written on the event loop
        self._lone_writes = 0  # consecutive writes on the thread during which nothing arrived
        self._inline_run = 0  # writes on the loop since the last one on the thread
        #: moving average of the backend's write durations (seconds); unknown until one is done
        self.write_seconds = float("inf")
        #: bytes the backend allocates, as of the last write (what etcd's space quota looks at)
        self.backend_size = backend.size()[0]

    def submit(self, batch: Batch, lazy: bool = False) -> None:
        """Queue ``batch`` for the next write; ``lazy``: no hurry until someone waits on it."""
        if self.failure is not None:
            raise DurabilityError(str(self.failure))
        if self._executor is None:  # an instant backend: no write durations to learn from
            self._backend.write(batch)
            self.backend_size = self._backend.size()[0]
            self.writes += 1
            self._on_durable(batch.revision)
            return
        if self._pending is None:
            self._pending = batch.copy()
            self._pending_count = 1
            self._pending_patient = 0
            self._pending_done = asyncio.get_running_loop().create_future()
            self._pending_urgent = False
            self._lazy_since = time.monotonic()
        else:
            self._pending.merge(batch)
            self._pending_count += 1
        if not lazy:
            self._urge()
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    def _write(self, batch: Batch) -> None:
        started = time.perf_counter()
        self._backend.write(batch)
        elapsed = time.perf_counter() - started
        recent = self.write_seconds
        self.write_seconds = elapsed if recent == float("inf") else recent + _SMOOTHING * (elapsed - recent)
        self.backend_size = self._backend.size()[0]

    def _writes_inline(self, count: int) -> bool:
        if count > 1:
            self._lone_writes = 0
            return False
        if self._lone_writes < SEQUENTIAL_AFTER or self._inline_run >= PROBE_EVERY - 1:
            return False
        return self.write_seconds < INLINE_SECONDS and self._backend.write_is_quick()

    def _urge(self) -> None:
        self._pending_urgent = True
        if self._urged is not None and not self._urged.done():
            self._urged.set_result(None)

    async def wait(self, urge: bool = True) -> None:
        """Return when everything submitted so far is durable. ``urge=False``: a lazy write's own
        wait, which lets its batch wait for company."""
        if self._pending is not None:
            if urge:
                self._urge()
            else:
                self._pending_patient += 1
        done = self._pending_done if self._pending is not None else self._inflight_done
        if done is not None and not done.done():
            await asyncio.shield(done)
        elif done is not None and done.exception() is not None:
            raise done.exception()
        if self.failure is not None:
            raise DurabilityError(str(self.failure))

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending is not None:
                if not self._pending_urgent:
                    await self._company()
                batch, done = self._pending, self._pending_done
                count = self._pending_count - self._pending_patient
                self._pending = self._pending_done = None
                self._inflight_done = done
                try:
                    if self._writes_inline(count):
                        self._write(batch)
                        self.inline_writes += 1
                        self._inline_run += 1
                    else:
                        self._inline_run = 0
                        await loop.run_in_executor(self._executor, self._write, batch)
                        alone = self._pending is None or self._pending_count == self._pending_patient
                        self._lone_writes = self._lone_writes + 1 if alone else 0
                except Exception as exc:  # the disk refused: nothing after this is durable
                    log.critical("backend write failed: %s", exc)
                    self.failure = exc
                    if self._on_failure is not None:
                        self._on_failure(exc)
                    done.set_exception(DurabilityError(str(exc)))
                    if self._pending_done is not None:
                        self._pending_done.set_exception(DurabilityError(str(exc)))
                        self._pending = self._pending_done = None
                    return
                self.writes += 1
                self._on_durable(batch.revision)
                done.set_result(None)
        finally:
            self._flusher = None

    async def _company(self) -> None:
        """Wait until the pending lazy batch is urged or has waited ``LAZY_SECONDS``."""
        loop = asyncio.get_running_loop()
        self._urged = urged = loop.create_future()
        timer = loop.call_later(max(0.0, self._lazy_since + LAZY_SECONDS - time.monotonic()),
                                lambda: urged.done() or urged.set_result(None))
        try:
            await urged
        finally:
            timer.cancel()
            self._urged = None

    async def run_exclusive(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in the writer thread once everything submitted so far is durable."""
        await self.wait()
        if self._executor is None:
            fn()
        else:
            await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def close(self) -> None:
        """Flush what is pending and stop the writer thread."""
        if self._pending is not None:
            self._urge()
        while self._flusher is not None:
            await asyncio.shield(self._flusher)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
