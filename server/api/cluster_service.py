"""etcdserverpb.Cluster for a cluster of exactly one member.

Membership changes that would need a second etcdlite process are refused with the errors etcd
gives in the same situations (reference §10.7); the rest behaves as etcd's.
"""

from __future__ import annotations

import grpc

from .. import errors
from ..node import Node
from ..proto import rpc_pb2, rpc_pb2_grpc
from ..urls import valid_urls
from .header import header
from .status import unary


class ClusterService(rpc_pb2_grpc.ClusterServicer):
    def __init__(self, node: Node) -> None:
        self.node = node

    def header(self) -> rpc_pb2.ResponseHeader:
        return header(self.node, 0)  # etcd's Cluster responses carry revision 0

    def members(self) -> list[rpc_pb2.Member]:
        m = self.node.member
        return [rpc_pb2.Member(ID=m.id, name=m.name, peerURLs=m.peer_urls, clientURLs=m.client_urls,
                               isLearner=m.is_learner)]

    @unary
    async def MemberList(self, request, context):
        return rpc_pb2.MemberListResponse(header=self.header(), members=self.members())

    @unary
    async def MemberAdd(self, request, context):
        if not valid_urls(list(request.peerURLs)):
            raise errors.INVALID_MEMBER_URLS
        if set(request.peerURLs) & set(self.node.member.peer_urls):
            raise errors.PEER_URL_EXISTS
        raise errors.EtcdError("FAILED_PRECONDITION", errors.RECONFIG_NOT_ENOUGH_MEMBERS)

    @unary
    async def MemberRemove(self, request, context):
        if request.ID != self.node.member_id:
            raise errors.MEMBER_NOT_FOUND
        # etcd lets this error escape as a non-status error, hence code Unknown.
        await context.abort(grpc.StatusCode.UNKNOWN, errors.RECONFIG_NOT_ENOUGH_MEMBERS)

    @unary
    async def MemberUpdate(self, request, context):
        if request.ID != self.node.member_id:
            raise errors.MEMBER_NOT_FOUND
        self.node.member.peer_urls = list(request.peerURLs)
        return rpc_pb2.MemberUpdateResponse(header=self.header(), members=self.members())

    @unary
    async def MemberPromote(self, request, context):
        if request.ID != self.node.member_id:
            raise errors.MEMBER_NOT_FOUND
        raise errors.MEMBER_NOT_LEARNER
