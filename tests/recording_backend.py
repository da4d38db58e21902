"""A disk for tests of group commit: written on the writer thread, as a real one, and recording
what each write carried and when."""

from __future__ import annotations

import time

from etcdlite.config import Config
from etcdlite.node import Node
from etcdlite.storage.backend import Batch
from etcdlite.storage.memory import MemoryBackend

#: long enough that a test passing under it never relied on group commit's lazy timer
NEVER = 60.0


class RecordingBackend(MemoryBackend):
    instant = False

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[Batch] = []
        self.times: list[float] = []

    def write(self, batch: Batch) -> None:
        self.batches.append(batch)
        self.times.append(time.monotonic())
        super().write(batch)

    def keys(self) -> list[list[bytes]]:
        return [[c.key for c in batch.changes] for batch in self.batches]

    def changes(self) -> list[list[tuple[bytes, bool]]]:
        """(key, deleted) of each change, per write."""
        return [[(c.key, c.kv is None) for c in batch.changes] for batch in self.batches]

    def clear(self) -> None:
        self.batches.clear()
        self.times.clear()


def recording_node() -> tuple[Node, RecordingBackend]:
    """A node on a RecordingBackend that has not recorded its start-up write."""
    backend = RecordingBackend()
    node = Node(Config(), backend, client_urls=["http://127.0.0.1:2379"])
    backend.clear()
    return node, backend
