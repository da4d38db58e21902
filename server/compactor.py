"""Auto-compaction as etcd's ``v3compactor`` does it (``--auto-compaction-mode``,
``--auto-compaction-retention``), on the node's clock so tests can drive it with a manual clock.

Periodic mode, retention ``P`` (an hour count or a Go duration): every ``min(P, 1h) / 10`` the
current revision is sampled; the oldest of the last ``P / interval + 1`` samples is the revision of
about ``P`` ago. The first compaction happens once ``P`` has passed since start, later ones every
``min(P, 1h)`` after the last success, each at that oldest sample.

Revision mode, retention ``N``: every 5 minutes, compact at ``current - N`` unless that is not
positive or was compacted last time.

A failed compaction is retried at the next tick; "already compacted" counts as success.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable

from .clock import Clock, sleep
from .errors import COMPACTED, EtcdError
from .goflags import GoValueError, go_duration_error, parse_duration

log = logging.getLogger("etcdlite.compactor")

PERIODIC, REVISION = "periodic", "revision"
HOUR = 3600.0
RETRY_DIVISOR = 10
#: revision mode's fixed check interval
REVISION_INTERVAL = 300.0
#: etcd counts time in nanoseconds; a manual clock moved in steps of 0.1 s is off by less
_EPSILON = 1e-9


class RetentionError(ValueError):
    """An --auto-compaction-retention etcd refuses (its message is etcd's)."""


@dataclass(frozen=True)
class Retention:
    mode: str
    #: seconds (periodic) or a revision count (revision); 0 disables auto-compaction
    amount: float


def parse_retention(mode: str, value: str) -> Retention:
    """etcd's parseCompactionRetention: a non-negative integer is hours (periodic) or revisions
    (revision); anything else is a Go duration, in seconds for periodic mode and, as etcd does,
    in nanoseconds counted as revisions for revision mode."""
    text = value
    if text.isdigit() or (text[:1] == "+" and text[1:].isdigit()):
        count = int(text)
        if mode == PERIODIC:
            return Retention(mode, count * HOUR)
        if mode == REVISION:
            return Retention(mode, count)
        return Retention(mode, 0)  # no mode: etcd leaves the retention at zero (disabled)
    try:
        seconds = parse_duration(text)
    except GoValueError:
        raise RetentionError(f"error parsing CompactionRetention: {go_duration_error(text)}") from None
    if mode == REVISION:
        return Retention(mode, round(seconds * 1e9))
    return Retention(mode, seconds)


class Compactor:
    """Runs on the node's event loop; ``compact(revision)`` is the node's compaction with the
    server's own credentials, ``current_revision()`` the store's revision."""

    def __init__(self, retention: Retention, clock: Clock, current_revision: Callable[[], int],
                 compact: Callable[[int], Awaitable[object]]) -> None:
        self.retention = retention
        self.clock = clock
        self.current_revision = current_revision
        self.compact = compact
        #: compactions made, newest last (revision); for tests and logs
        self.compacted: list[int] = []

    async def run(self) -> None:
        if self.retention.mode == REVISION:
            await self._run_revision()
        else:
            await self._run_periodic()

    async def _attempt(self, revision: int) -> bool:
        log.info("starting auto %s compaction at revision %d", self.retention.mode, revision)
        try:
            await self.compact(revision)
        except EtcdError as exc:
            if exc != COMPACTED:
                log.warning("failed auto %s compaction at revision %d: %s", self.retention.mode,
                            revision, exc.message)
                return False
        self.compacted.append(revision)
        log.info("completed auto %s compaction at revision %d", self.retention.mode, revision)
        return True

    async def _run_periodic(self) -> None:
        period = self.retention.amount
        interval = min(period, HOUR)
        retry = interval / RETRY_DIVISOR
        keep = int(period / retry) + 1
        samples: list[int] = []
        last_success = self.clock.now()
        wait_for = period  # until the first compaction; then the compaction interval
        while True:
            samples.append(self.current_revision())
            if len(samples) > keep:
                del samples[0]
            await sleep(self.clock, retry)
            if self.clock.now() - last_success < wait_for - _EPSILON:
                continue
            wait_for = interval
            if await self._attempt(samples[0]):
                last_success = self.clock.now()

    async def _run_revision(self) -> None:
        previous = 0
        while True:
            await sleep(self.clock, REVISION_INTERVAL)
            revision = self.current_revision() - int(self.retention.amount)
            if revision <= 0 or revision == previous:
                continue
            if await self._attempt(revision):
                previous = revision


def start(retention: Retention, clock: Clock, current_revision: Callable[[], int],
          compact: Callable[[int], Awaitable[object]]) -> tuple[Compactor, asyncio.Task] | None:
    """Start auto-compaction on the running loop; None when the retention disables it."""
    if not retention.amount:
        return None
    compactor = Compactor(retention, clock, current_revision, compact)
    return compactor, asyncio.get_running_loop().create_task(compactor.run())
