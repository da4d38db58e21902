"""v3lockpb.Lock as transport-neutral handlers over the lock recipe in the core."""

from __future__ import annotations

from ..auth.caller import Caller
from ..concurrency import mutex
from ..node import Node
from ..proto import v3lock_pb2
from .header import header


class LockService:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def Lock(self, request: v3lock_pb2.LockRequest, caller: Caller) -> v3lock_pb2.LockResponse:
        revision, key = await mutex.lock(self.node, caller, request.name, request.lease)
        return v3lock_pb2.LockResponse(header=header(self.node, revision), key=key)

    async def Unlock(self, request: v3lock_pb2.UnlockRequest, caller: Caller) -> v3lock_pb2.UnlockResponse:
        revision = await mutex.unlock(self.node, caller, request.key)
        return v3lock_pb2.UnlockResponse(header=header(self.node, revision))
