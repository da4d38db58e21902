"""etcdserverpb.Lease as transport-neutral handlers."""

from __future__ import annotations

from typing import AsyncIterator

from ..auth.caller import Caller
from ..node import Node
from ..proto import rpc_pb2
from .header import header


class LeaseService:
    def __init__(self, node: Node) -> None:
        self.node = node

    def header(self) -> rpc_pb2.ResponseHeader:
        return header(self.node, self.node.durable_revision)

    async def LeaseGrant(self, request: rpc_pb2.LeaseGrantRequest,
                         caller: Caller) -> rpc_pb2.LeaseGrantResponse:
        lease = await self.node.lease_grant(caller, request.ID, request.TTL)
        return rpc_pb2.LeaseGrantResponse(header=self.header(), ID=lease.id, TTL=lease.ttl)

    async def LeaseRevoke(self, request: rpc_pb2.LeaseRevokeRequest,
                          caller: Caller) -> rpc_pb2.LeaseRevokeResponse:
        await self.node.lease_revoke(caller, request.ID)
        return rpc_pb2.LeaseRevokeResponse(header=self.header())

    async def LeaseKeepAlive(self, requests: AsyncIterator[rpc_pb2.LeaseKeepAliveRequest],
                             caller: Caller) -> AsyncIterator[rpc_pb2.LeaseKeepAliveResponse]:
        async for request in requests:
            header = self.header()  # etcd fills it before renewing
            ttl = await self.node.lease_keep_alive(caller, request.ID)
            yield rpc_pb2.LeaseKeepAliveResponse(header=header, ID=request.ID, TTL=ttl)

    async def LeaseTimeToLive(self, request: rpc_pb2.LeaseTimeToLiveRequest,
                              caller: Caller) -> rpc_pb2.LeaseTimeToLiveResponse:
        found = await self.node.lease_time_to_live(caller, request.ID, request.keys)
        if found is None:
            return rpc_pb2.LeaseTimeToLiveResponse(header=self.header(), ID=request.ID, TTL=-1)
        remaining, granted, keys = found
        return rpc_pb2.LeaseTimeToLiveResponse(header=self.header(), ID=request.ID, TTL=remaining,
                                               grantedTTL=granted, keys=keys if request.keys else [])

    async def LeaseLeases(self, request: rpc_pb2.LeaseLeasesRequest,
                          caller: Caller) -> rpc_pb2.LeaseLeasesResponse:
        return rpc_pb2.LeaseLeasesResponse(
            header=self.header(), leases=[rpc_pb2.LeaseStatus(ID=i) for i in self.node.lease_ids()])
