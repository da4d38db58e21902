"""etcdserverpb.Lease on top of the node."""

from __future__ import annotations

from ..node import Node
from ..proto import rpc_pb2, rpc_pb2_grpc
from .header import header
from .status import guard_stream, unary


class LeaseService(rpc_pb2_grpc.LeaseServicer):
    def __init__(self, node: Node) -> None:
        self.node = node

    def header(self) -> rpc_pb2.ResponseHeader:
        return header(self.node, self.node.durable_revision)

    @unary
    async def LeaseGrant(self, request, context):
        lease = await self.node.lease_grant(request.ID, request.TTL)
        return rpc_pb2.LeaseGrantResponse(header=self.header(), ID=lease.id, TTL=lease.ttl)

    @unary
    async def LeaseRevoke(self, request, context):
        await self.node.lease_revoke(request.ID)
        return rpc_pb2.LeaseRevokeResponse(header=self.header())

    @guard_stream
    async def LeaseKeepAlive(self, request_iterator, context):
        async for request in request_iterator:
            header = self.header()  # etcd fills it before renewing
            ttl = await self.node.lease_keep_alive(request.ID)
            yield rpc_pb2.LeaseKeepAliveResponse(header=header, ID=request.ID, TTL=ttl)

    @unary
    async def LeaseTimeToLive(self, request, context):
        found = self.node.lessor.time_to_live(request.ID)
        if found is None:
            return rpc_pb2.LeaseTimeToLiveResponse(header=self.header(), ID=request.ID, TTL=-1)
        remaining, granted, keys = found
        return rpc_pb2.LeaseTimeToLiveResponse(header=self.header(), ID=request.ID, TTL=remaining,
                                               grantedTTL=granted, keys=keys if request.keys else [])

    @unary
    async def LeaseLeases(self, request, context):
        return rpc_pb2.LeaseLeasesResponse(
            header=self.header(),
            leases=[rpc_pb2.LeaseStatus(ID=lease.id) for lease in self.node.lessor.leases_by_expiry()])
