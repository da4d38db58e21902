"""The in-memory backend: nothing outlives the process; the store itself holds all data."""

from __future__ import annotations

from .backend import Backend, Batch, StoredState


class MemoryBackend(Backend):
    instant = True

    def __init__(self) -> None:
        self._bytes = 0
        self.meta: dict[str, int] = {}
        self.leases: dict[int, int] = {}
        self.auth: bytes | None = None

    def load(self) -> StoredState:
        return StoredState([], -1, dict(self.meta), dict(self.leases), self.auth)

    def write(self, batch: Batch) -> None:
        for change in batch.changes:
            self._bytes += len(change.key) + (0 if change.deleted else len(change.value)) + 64
        for change in batch.compacted:
            self._bytes -= len(change.key) + (0 if change.deleted else len(change.value)) + 64
        self.meta.update(batch.meta)
        if batch.auth is not None:
            self.auth = batch.auth
        for lease_id, ttl in batch.leases.items():
            if ttl is None:
                self.leases.pop(lease_id, None)
            else:
                self.leases[lease_id] = ttl

    def size(self) -> tuple[int, int]:
        return self._bytes, self._bytes

    def close(self) -> None:
        pass
