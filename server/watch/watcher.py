"""Watchers and the streams that own them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from .events import WatchResponse

#: etcd buffers up to 128 responses per stream before a watcher falls behind.
STREAM_BUFFER = 128


@dataclass(eq=False)
class Watcher:
    stream: "WatchStream"
    id: int
    key: bytes
    range_end: bytes
    #: the next revision this watcher needs; everything before it was delivered
    next_revision: int
    prev_kv: bool = False
    no_put: bool = False
    no_delete: bool = False
    progress_notify: bool = False
    fragment: bool = False
    synced: bool = False
    #: events were sent since the last periodic progress tick
    had_events: bool = False
    #: cancelled by compaction: gets nothing more, but keeps its ID on the stream until the client
    #: cancels it (etcd answers that cancel and refuses the ID for new watchers meanwhile)
    compacted: bool = False


@dataclass(eq=False)
class WatchStream:
    """One Watch RPC: its watchers and its ordered outgoing messages."""

    #: event responses that may wait in the outbox before watchers fall behind
    capacity: int = STREAM_BUFFER
    outbox: asyncio.Queue = field(default_factory=asyncio.Queue)
    watchers: dict[int, Watcher] = field(default_factory=dict)
    next_id: int = 0
    #: event responses queued and not yet taken by the sender
    pending_events: int = 0
    #: events in those responses
    queued_events: int = 0
    progress_wanted: bool = False
    closed: bool = False

    def allocate_id(self) -> int:
        while self.next_id in self.watchers:
            self.next_id += 1
        watch_id = self.next_id
        self.next_id += 1
        return watch_id

    def has_room(self) -> bool:
        return self.pending_events < self.capacity

    def send(self, response: WatchResponse) -> None:
        if response.events:
            self.pending_events += 1
            self.queued_events += len(response.events)
        self.outbox.put_nowait(response)

    def taken(self, response: WatchResponse) -> None:
        """The sender took ``response`` off the queue."""
        if response.events:
            self.pending_events -= 1
            self.queued_events -= len(response.events)
