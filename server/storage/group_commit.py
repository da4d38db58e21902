"""Group commit: many applied requests, one durable write.

Requests are applied to memory on the event loop and their batches handed to :meth:`submit`. While
one write (with its fsync) runs in the writer thread, new batches accumulate and go out together in
the next write, so durability does not serialise clients. ``wait`` returns once everything submitted
before the call is durable; ``on_durable`` learns the revision that became durable.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from .backend import Backend, Batch

log = logging.getLogger(__name__)


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
        self._pending_done: asyncio.Future | None = None
        self._inflight_done: asyncio.Future | None = None
        self._flusher: asyncio.Task | None = None
        self._executor = None if backend.instant else ThreadPoolExecutor(1, thread_name_prefix="etcdlite-writer")
        self.failure: BaseException | None = None
        self.writes = 0  # number of backend writes (fsyncs), for measurements
        #: bytes the backend allocates, as of the last write (what etcd's space quota looks at)
        self.backend_size = backend.size()[0]

    def submit(self, batch: Batch) -> None:
        if self.failure is not None:
            raise DurabilityError(str(self.failure))
        if self._executor is None:
            self._write(batch)
            self.writes += 1
            self._on_durable(batch.revision)
            return
        if self._pending is None:
            self._pending = batch.copy()
            self._pending_done = asyncio.get_running_loop().create_future()
        else:
            self._pending.merge(batch)
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    def _write(self, batch: Batch) -> None:
        self._backend.write(batch)
        self.backend_size = self._backend.size()[0]

    async def wait(self) -> None:
        """Return when everything submitted so far is durable."""
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
                batch, done = self._pending, self._pending_done
                self._pending = self._pending_done = None
                self._inflight_done = done
                try:
                    await loop.run_in_executor(self._executor, self._write, batch)
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

    async def run_exclusive(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in the writer thread once everything submitted so far is durable."""
        await self.wait()
        if self._executor is None:
            fn()
        else:
            await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def close(self) -> None:
        """Flush what is pending and stop the writer thread."""
        while self._flusher is not None:
            await asyncio.shield(self._flusher)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
