"""etcdserverpb.Watch as a transport-neutral handler: a request stream in, a response stream out,
in front of the node's watch session (which authorizes each create with the stream's caller)."""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator

from ..auth.caller import Caller
from ..node import Node
from ..watch.session import WatchSession
from ..proto import kv_pb2, rpc_pb2
from ..watch.events import WatchResponse
from . import convert
from .header import header
from .malformed import MalformedRequest

_GRPC_OVERHEAD = 512 * 1024
log = logging.getLogger(__name__)


class WatchService:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.fragment_bytes = node.config.max_request_bytes + _GRPC_OVERHEAD

    async def Watch(self, requests: AsyncIterator[rpc_pb2.WatchRequest],
                    caller: Caller) -> AsyncIterator[rpc_pb2.WatchResponse]:
        session = self.node.open_watch(caller)
        reader = asyncio.ensure_future(self._read(requests, session))
        try:
            while True:
                response = await session.outbox.get()
                if isinstance(response, MalformedRequest):
                    raise response
                session.taken(response)
                for message in self._messages(response):
                    yield message
        finally:
            reader.cancel()
            session.close()

    async def _read(self, requests: AsyncIterator[rpc_pb2.WatchRequest], session: WatchSession) -> None:
        try:
            await self._handle_requests(requests, session)
        except asyncio.CancelledError:
            pass  # the call ended; the sending side is done
        except MalformedRequest as exc:
            session.outbox.put_nowait(exc)  # the sending side ends the call with etcd's status
        except Exception:
            log.exception("watch request handling failed")

    @staticmethod
    async def _handle_requests(requests: AsyncIterator[rpc_pb2.WatchRequest], session: WatchSession) -> None:
        async for request in requests:
            await session.room()
            kind = request.WhichOneof("request_union")
            if kind == "create_request":
                c = request.create_request
                session.create(c.key, c.range_end, c.start_revision, tuple(c.filters), c.prev_kv,
                               c.progress_notify, c.watch_id, c.fragment)
            elif kind == "cancel_request":
                session.cancel(request.cancel_request.watch_id)
            elif kind == "progress_request":
                session.request_progress()
        # A half-closed request stream does not end the watch (etcd keeps delivering).

    def _messages(self, response: WatchResponse) -> list[rpc_pb2.WatchResponse]:
        message = rpc_pb2.WatchResponse(
            header=header(self.node, response.revision), watch_id=response.watch_id,
            created=response.created, canceled=response.canceled,
            compact_revision=response.compact_revision, cancel_reason=response.cancel_reason)
        if not response.events:
            return [message]
        events = [_event(e) for e in response.events]
        message.events.extend(events)
        if not response.fragmentable or len(events) < 2 or message.ByteSize() < self.fragment_bytes:
            return [message]
        return _fragments(message, events, self.fragment_bytes)


def _event(event) -> kv_pb2.Event:
    pb = kv_pb2.Event(type=event.type, kv=convert.key_value(event.kv))
    if event.prev_kv is not None:
        pb.prev_kv.CopyFrom(convert.key_value(event.prev_kv))
    return pb


def _fragments(whole: rpc_pb2.WatchResponse, events: list, limit: int) -> list[rpc_pb2.WatchResponse]:
    """etcd's sendFragments: greedy pieces under ``limit``, each with ≥ 1 event; all but the last
    marked as fragments."""
    pieces = []
    index = 0
    while index < len(events):
        piece = rpc_pb2.WatchResponse()
        piece.CopyFrom(whole)
        del piece.events[:]
        piece.fragment = True
        while index < len(events):
            piece.events.append(events[index])
            if len(piece.events) > 1 and piece.ByteSize() >= limit:
                del piece.events[-1]
                break
            index += 1
        pieces.append(piece)
    pieces[-1].fragment = False
    return pieces
