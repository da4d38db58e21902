"""etcdserverpb.Watch: a bidirectional stream in front of the watch hub."""

from __future__ import annotations

import asyncio
import logging

import grpc

from ..node import Node
from ..proto import kv_pb2, rpc_pb2, rpc_pb2_grpc
from ..watch.events import WatchResponse
from . import convert
from .header import header
from .status import MalformedRequest, guard_stream

_GRPC_OVERHEAD = 512 * 1024
log = logging.getLogger(__name__)


class WatchService(rpc_pb2_grpc.WatchServicer):
    def __init__(self, node: Node) -> None:
        self.node = node
        self.fragment_bytes = node.config.max_request_bytes + _GRPC_OVERHEAD

    @guard_stream
    async def Watch(self, request_iterator, context):
        hub = self.node.watch_hub
        stream = hub.open_stream()
        reader = asyncio.ensure_future(self._read(request_iterator, stream))
        try:
            while True:
                response = await stream.outbox.get()
                if isinstance(response, MalformedRequest):
                    raise response
                hub.taken(stream, response)
                for message in self._messages(response):
                    yield message
        finally:
            reader.cancel()
            hub.close_stream(stream)

    async def _read(self, request_iterator, stream) -> None:
        try:
            await self._handle_requests(request_iterator, stream)
        except (asyncio.CancelledError, grpc.aio.AioRpcError, grpc.RpcError):
            pass  # the client went away; the sending side ends the call
        except MalformedRequest as exc:
            stream.outbox.put_nowait(exc)  # the sending side ends the call with etcd's status
        except Exception:
            log.exception("watch request handling failed")

    async def _handle_requests(self, request_iterator, stream) -> None:
        hub = self.node.watch_hub
        async for request in request_iterator:
            kind = request.WhichOneof("request_union")
            if kind == "create_request":
                c = request.create_request
                hub.create(stream, c.key, c.range_end, c.start_revision, tuple(c.filters), c.prev_kv,
                           c.progress_notify, c.watch_id, c.fragment)
            elif kind == "cancel_request":
                hub.cancel(stream, request.cancel_request.watch_id)
            elif kind == "progress_request":
                hub.request_progress(stream)
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
