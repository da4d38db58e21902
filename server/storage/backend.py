"""What a storage backend keeps and the interface every backend offers.

A backend stores the store's history (one record per change, keyed by etcd's revision encoding),
the compact revision and a few counters. It is written to in batches; ``write`` returns only when the
batch is durable. Backends are used from one writer thread at a time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from ..mvcc.key_index import Change, KeyHistory


@dataclass(slots=True)
class Batch:
    """Everything to persist for one or more applied requests, merged in order.

    Backends write ``changes`` before deleting ``compacted``, so a change compacted away before it
    reached the disk is written and deleted in the same atomic write.
    """

    revision: int = 0
    changes: list[Change] = field(default_factory=list)
    compacted: list[Change] = field(default_factory=list)
    compact_revision: int | None = None
    meta: dict[str, int] = field(default_factory=dict)
    #: lease ID -> granted TTL (None: the lease is gone)
    leases: dict[int, int | None] = field(default_factory=dict)
    #: the whole auth store (users, roles, permissions, enabled, revision) as JSON; None: unchanged
    auth: bytes | None = None

    def copy(self) -> "Batch":
        """A batch of its own: merging into it never touches the lists of the caller's batch
        (those are the store's commit records, which watchers still read)."""
        return Batch(self.revision, list(self.changes), list(self.compacted), self.compact_revision,
                     dict(self.meta), dict(self.leases), self.auth)

    def merge(self, other: "Batch") -> None:
        self.revision = max(self.revision, other.revision)
        self.changes.extend(other.changes)
        self.compacted.extend(other.compacted)
        if other.compact_revision is not None:
            self.compact_revision = other.compact_revision
        self.meta.update(other.meta)
        self.leases.update(other.leases)
        if other.auth is not None:
            self.auth = other.auth


@dataclass
class StoredState:
    changes: list[Change]
    compact_revision: int = -1
    meta: dict[str, int] = field(default_factory=dict)
    leases: dict[int, int] = field(default_factory=dict)
    auth: bytes | None = None
    #: ``changes`` by key, each key's in revision order, when the backend grouped them while
    #: reading (it does so anyway to share a key's bytes between its revisions)
    histories: dict[bytes, KeyHistory] | None = None


class StorageError(Exception):
    """The data directory cannot be used (wrong format, in use, unreadable)."""


class Backend(ABC):
    #: True when ``write`` makes data durable without I/O worth batching (memory backend).
    instant: bool = False

    @abstractmethod
    def load(self) -> StoredState:
        """Read everything back, changes in revision order."""

    @abstractmethod
    def write(self, batch: Batch) -> None:
        """Persist ``batch`` atomically; return when it is durable."""

    def write_is_quick(self) -> bool:
        """Whether the next write costs only its usual sync (no checkpoint or other long work
        due), so that it may be done on the event loop when it is fast. Backends that cannot
        tell say no."""
        return False

    @abstractmethod
    def size(self) -> tuple[int, int]:
        """(bytes allocated, bytes in use)."""

    def defragment(self) -> None:
        """Give unused space back, if the backend can."""

    @abstractmethod
    def close(self) -> None:
        ...
