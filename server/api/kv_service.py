"""etcdserverpb.KV on top of the node."""

from __future__ import annotations

from ..node import Node
from ..proto import rpc_pb2, rpc_pb2_grpc
from . import convert
from .status import unary


class KVService(rpc_pb2_grpc.KVServicer):
    def __init__(self, node: Node) -> None:
        self.node = node

    def header(self, revision: int) -> rpc_pb2.ResponseHeader:
        node = self.node
        return rpc_pb2.ResponseHeader(cluster_id=node.cluster_id, member_id=node.member_id,
                                      revision=revision, raft_term=node.raft_term)

    @unary
    async def Range(self, request, context):
        result = self.node.range(convert.range_request(request))
        response = rpc_pb2.RangeResponse(header=self.header(result.revision))
        convert.range_body(result, response)
        return response

    @unary
    async def Put(self, request, context):
        result = await self.node.put(convert.put_request(request), request.ByteSize())
        response = rpc_pb2.PutResponse(header=self.header(result.revision))
        convert.put_body(result, response)
        return response

    @unary
    async def DeleteRange(self, request, context):
        result = await self.node.delete_range(convert.delete_request(request), request.ByteSize())
        response = rpc_pb2.DeleteRangeResponse(header=self.header(result.revision))
        convert.delete_body(result, response)
        return response

    @unary
    async def Txn(self, request, context):
        result = await self.node.txn(convert.txn_request(request), request.ByteSize())
        response = rpc_pb2.TxnResponse(header=self.header(result.revision))
        convert.txn_body(result, response)
        return response

    @unary
    async def Compact(self, request, context):
        revision = await self.node.compact(request.revision)
        return rpc_pb2.CompactionResponse(header=self.header(revision))
