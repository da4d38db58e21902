"""One client's watch stream as the request path sees it: the hub's stream plus the check each
create must pass (authorization, supplied by the node)."""

from __future__ import annotations

import asyncio
from typing import Callable

from ..errors import AUTH_PERMISSION_DENIED, EtcdError, go_status_text
from .events import WatchResponse
from .watch_hub import WatchHub

#: etcd 3.5 answers every refused create so (3.4 gave the refusal's own reason)
DENIED = go_status_text(AUTH_PERMISSION_DENIED())


#: answers a stream may hold for its client before its requests stop being read (etcd's watch
#: server stops reading too once its control and event queues are full)
REQUEST_BACKLOG = 1024


class WatchSession:
    """A refused create is answered created and cancelled at once, under the ID it asked for.

    Back-pressure: the request reader calls :meth:`room` before each request, which waits while
    :data:`REQUEST_BACKLOG` answers wait for the client; so a client that sends and never reads
    holds a bounded amount of server memory (the transport's own window then stops it)."""

    def __init__(self, hub: WatchHub, check_create: Callable[[bytes, bytes], None]) -> None:
        self._hub = hub
        self._check_create = check_create
        self.stream = hub.open_stream()
        self._room = asyncio.Event()
        self._room.set()

    async def room(self) -> None:
        while self.stream.outbox.qsize() >= REQUEST_BACKLOG and not self.stream.closed:
            self._room.clear()
            await self._room.wait()

    @property
    def outbox(self):
        return self.stream.outbox

    def create(self, key: bytes, range_end: bytes, start_revision: int, filters: tuple[int, ...],
               prev_kv: bool, progress_notify: bool, watch_id: int, fragment: bool) -> None:
        try:
            self._check_create(key, range_end)
        except EtcdError:
            self._hub.deny(self.stream, watch_id, DENIED)
            return
        self._hub.create(self.stream, key, range_end, start_revision, filters, prev_kv,
                         progress_notify, watch_id, fragment)

    def cancel(self, watch_id: int) -> None:
        self._hub.cancel(self.stream, watch_id)

    def request_progress(self) -> None:
        self._hub.request_progress(self.stream)

    def taken(self, response: WatchResponse) -> None:
        self._hub.taken(self.stream, response)
        if self.stream.outbox.qsize() < REQUEST_BACKLOG:
            self._room.set()

    def close(self) -> None:
        self._hub.close_stream(self.stream)
        self._room.set()
