"""v3lockpb.Lock on top of the lock recipe in the core."""

from __future__ import annotations

from ..concurrency import mutex
from ..node import Node
from ..proto import v3lock_pb2, v3lock_pb2_grpc
from .header import header
from .status import unary


class LockService(v3lock_pb2_grpc.LockServicer):
    def __init__(self, node: Node) -> None:
        self.node = node

    @unary
    async def Lock(self, request, context):
        revision, key = await mutex.lock(self.node, request.name, request.lease)
        return v3lock_pb2.LockResponse(header=header(self.node, revision), key=key)

    @unary
    async def Unlock(self, request, context):
        revision = await mutex.unlock(self.node, request.key)
        return v3lock_pb2.UnlockResponse(header=header(self.node, revision))
