"""The lessor: etcd's lease table, key attachment and expiry bookkeeping.

Plain Python. It decides *what* expires and which keys a lease holds; deleting those keys goes
through the store's normal write path (the node does that), so revocation and expiry produce
ordinary DELETE changes at one new revision, as in etcd.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

from .. import errors
from ..clock import Clock
from ..mvcc.store import Commit
from ..storage.histogram import LEASE_TTL_SECONDS, Observations

MAX_LEASE_TTL = 9_000_000_000
#: etcd's minimum TTL with default raft timers: ceil(((3 * 10 ticks) // 2) * 100 ms) = 2 s.
MIN_LEASE_TTL = 2
#: On start a leader extends every lease by the election timeout (1 s by default).
RESTART_EXTENSION = 1.0
_ID_MASK = (1 << 63) - 1


@dataclass
class Lease:
    id: int
    ttl: int
    deadline: float
    keys: set[bytes] = field(default_factory=set)

    def remaining(self, now: float) -> float:
        return self.deadline - now


class LeaseCounts:
    """Grants (with their TTLs), revocations and renewals so far, as etcd's lease metrics count
    them; the node hands them on when it replaces the lessor."""

    __slots__ = ("granted", "revoked", "renewed", "ttls")

    def __init__(self) -> None:
        self.granted = self.revoked = self.renewed = 0
        self.ttls = Observations(LEASE_TTL_SECONDS)


class Lessor:
    def __init__(self, clock: Clock, member_id: int = 0, counts: LeaseCounts | None = None) -> None:
        self.clock = clock
        self.counts = counts if counts is not None else LeaseCounts()
        self._leases: dict[int, Lease] = {}
        self._key_lease: dict[bytes, int] = {}
        # (deadline, lease id) per grant or renewal; entries whose lease is gone or was renewed since
        # are skipped when they surface, and the heap is rebuilt when such entries pile up.
        self._deadlines: list[tuple[float, int]] = []
        self._id_base = ((member_id & 0xFFFF) << 48) | ((int(time.time() * 1000) & ((1 << 40) - 1)) << 8)
        self._id_counter = 0

    # -- queries ----------------------------------------------------------------------------

    def __contains__(self, lease_id: int) -> bool:
        return lease_id in self._leases

    def get(self, lease_id: int) -> Lease | None:
        return self._leases.get(lease_id)

    def leases_by_expiry(self) -> list[Lease]:
        return sorted(self._leases.values(), key=lambda lease: lease.deadline)

    def lease_of(self, key: bytes) -> int:
        return self._key_lease.get(key, 0)

    def _schedule(self, lease: Lease) -> None:
        heapq.heappush(self._deadlines, (lease.deadline, lease.id))
        if len(self._deadlines) > 2 * len(self._leases) + 1024:
            self._deadlines = [(lease.deadline, lease.id) for lease in self._leases.values()]
            heapq.heapify(self._deadlines)

    def _drop_stale_top(self) -> None:
        heap = self._deadlines
        while heap:
            deadline, lease_id = heap[0]
            lease = self._leases.get(lease_id)
            if lease is not None and lease.deadline == deadline:
                return
            heapq.heappop(heap)

    def expired(self, limit: int | None = None) -> list[Lease]:
        """Leases past their deadline, soonest first (they stay granted until removed)."""
        now = self.clock.now()
        found: list[Lease] = []
        found_ids: set[int] = set()
        heap = self._deadlines
        seen: list[tuple[float, int]] = []
        self._drop_stale_top()
        while heap and heap[0][0] <= now and (limit is None or len(found) < limit):
            entry = heapq.heappop(heap)
            seen.append(entry)
            lease = self._leases.get(entry[1])
            if lease is not None and lease.deadline == entry[0] and lease.id not in found_ids:
                found.append(lease)
                found_ids.add(lease.id)
            self._drop_stale_top()
        for entry in seen:  # still granted: keep them scheduled until they are removed
            heapq.heappush(heap, entry)
        return found

    def next_deadline(self) -> float | None:
        self._drop_stale_top()
        return self._deadlines[0][0] if self._deadlines else None

    def time_to_live(self, lease_id: int) -> tuple[int, int, list[bytes]] | None:
        """(remaining TTL truncated to whole seconds, granted TTL, keys), or None if unknown."""
        lease = self._leases.get(lease_id)
        if lease is None:
            return None
        remaining = max(0, math.trunc(lease.remaining(self.clock.now())))
        return remaining, lease.ttl, sorted(lease.keys)

    # -- changes ----------------------------------------------------------------------------

    def grant(self, lease_id: int, ttl: int) -> Lease:
        if ttl > MAX_LEASE_TTL:
            raise errors.LEASE_TTL_TOO_LARGE
        if lease_id == 0:
            lease_id = self._new_id()
        elif lease_id in self._leases:
            raise errors.LEASE_EXISTS
        ttl = max(ttl, MIN_LEASE_TTL)
        lease = Lease(lease_id, ttl, self.clock.now() + ttl)
        self._leases[lease_id] = lease
        self._schedule(lease)
        self.counts.granted += 1
        self.counts.ttls.observe(ttl)
        return lease

    def _new_id(self) -> int:
        while True:
            self._id_counter += 1
            candidate = (self._id_base + self._id_counter) & _ID_MASK
            if candidate and candidate not in self._leases:
                return candidate

    def renew(self, lease_id: int) -> int:
        """Restart the lease's TTL; return the granted TTL, or 0 if there is no such live lease."""
        lease = self._leases.get(lease_id)
        if lease is None:
            return 0
        now = self.clock.now()
        if lease.deadline <= now:
            return 0
        lease.deadline = now + lease.ttl
        self._schedule(lease)
        self.counts.renewed += 1
        return lease.ttl

    def remove(self, lease_id: int) -> Lease:
        """Forget a lease (its keys are deleted by the caller)."""
        lease = self._leases.pop(lease_id)
        self.counts.revoked += 1
        for key in lease.keys:
            if self._key_lease.get(key) == lease_id:
                del self._key_lease[key]
        return lease

    def restore(self, leases: dict[int, int]) -> None:
        """Leases read back at start: each gets its full TTL again, plus the election timeout."""
        for lease_id, ttl in leases.items():
            self.restore_lease(lease_id, ttl, ttl + RESTART_EXTENSION)

    def restore_lease(self, lease_id: int, ttl: int, remaining: float) -> Lease:
        """Put back a lease granted with ``ttl`` that has ``remaining`` seconds left."""
        lease = self._leases[lease_id] = Lease(lease_id, ttl, self.clock.now() + remaining)
        self._schedule(lease)
        return lease

    def on_commit(self, commit: Commit) -> None:
        """Follow key attachment through the store's changes (puts attach/move, deletes detach)."""
        key_lease = self._key_lease
        leases = self._leases
        for change in commit.changes:
            key = change.key
            new = change.lease
            old = key_lease.get(key, 0)
            if old == new:
                continue
            if old:
                old_lease = leases.get(old)
                if old_lease is not None:
                    old_lease.keys.discard(key)
                del key_lease[key]
            if new:
                lease = leases.get(new)
                if lease is not None:
                    lease.keys.add(key)
                    key_lease[key] = new
