"""etcdserverpb.KV as transport-neutral handlers: ``(request message, caller) -> response``."""

from __future__ import annotations

from ..auth.caller import Caller
from ..node import Node
from ..proto import rpc_pb2
from . import convert
from .header import fill_header, header


class KVService:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def Range(self, request: rpc_pb2.RangeRequest, caller: Caller) -> rpc_pb2.RangeResponse:
        result = self.node.range(caller, convert.range_request(request))
        response = rpc_pb2.RangeResponse()
        fill_header(response.header, self.node, result.revision)
        convert.range_body(result, response)
        return response

    async def Put(self, request: rpc_pb2.PutRequest, caller: Caller) -> rpc_pb2.PutResponse:
        result = await self.node.put(caller, convert.put_request(request), request.ByteSize())
        response = rpc_pb2.PutResponse()
        fill_header(response.header, self.node, result.revision)
        convert.put_body(result, response)
        return response

    async def DeleteRange(self, request: rpc_pb2.DeleteRangeRequest,
                          caller: Caller) -> rpc_pb2.DeleteRangeResponse:
        result = await self.node.delete_range(caller, convert.delete_request(request), request.ByteSize())
        response = rpc_pb2.DeleteRangeResponse()
        fill_header(response.header, self.node, result.revision)
        convert.delete_body(result, response)
        return response

    async def Txn(self, request: rpc_pb2.TxnRequest, caller: Caller) -> rpc_pb2.TxnResponse:
        result = await self.node.txn(caller, convert.txn_request(request), request.ByteSize())
        response = rpc_pb2.TxnResponse()
        fill_header(response.header, self.node, result.revision)
        convert.txn_body(result, response)
        return response

    async def Compact(self, request: rpc_pb2.CompactionRequest,
                      caller: Caller) -> rpc_pb2.CompactionResponse:
        revision = await self.node.compact(caller, request.revision)
        return rpc_pb2.CompactionResponse(header=header(self.node, revision))
