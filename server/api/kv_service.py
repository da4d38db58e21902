"""etcdserverpb.KV on top of the node."""

from __future__ import annotations

from ..node import Node
from ..proto import rpc_pb2, rpc_pb2_grpc
from . import convert
from .header import header
from .status import unary


class KVService(rpc_pb2_grpc.KVServicer):
    def __init__(self, node: Node) -> None:
        self.node = node

    @unary
    async def Range(self, request, context):
        result = self.node.range(convert.range_request(request))
        response = rpc_pb2.RangeResponse(header=header(self.node, result.revision))
        convert.range_body(result, response)
        return response

    @unary
    async def Put(self, request, context):
        result = await self.node.put(convert.put_request(request), request.ByteSize())
        response = rpc_pb2.PutResponse(header=header(self.node, result.revision))
        convert.put_body(result, response)
        return response

    @unary
    async def DeleteRange(self, request, context):
        result = await self.node.delete_range(convert.delete_request(request), request.ByteSize())
        response = rpc_pb2.DeleteRangeResponse(header=header(self.node, result.revision))
        convert.delete_body(result, response)
        return response

    @unary
    async def Txn(self, request, context):
        result = await self.node.txn(convert.txn_request(request), request.ByteSize())
        response = rpc_pb2.TxnResponse(header=header(self.node, result.revision))
        convert.txn_body(result, response)
        return response

    @unary
    async def Compact(self, request, context):
        revision = await self.node.compact(request.revision)
        return rpc_pb2.CompactionResponse(header=header(self.node, revision))
