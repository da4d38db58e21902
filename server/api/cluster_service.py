"""etcdserverpb.Cluster for a cluster of exactly one member.

Membership changes that would need a second etcdlite process are refused with the errors etcd
gives in the same situations (reference §10.7); the rest behaves as etcd's.
"""

from __future__ import annotations

from .. import errors
from ..auth.caller import Caller
from ..node import Node
from ..proto import rpc_pb2
from ..urls import valid_urls
from .header import header


class ClusterService:
    def __init__(self, node: Node) -> None:
        self.node = node

    def header(self) -> rpc_pb2.ResponseHeader:
        return header(self.node, 0)  # etcd's Cluster responses carry revision 0

    def members(self) -> list[rpc_pb2.Member]:
        m = self.node.member
        return [rpc_pb2.Member(ID=m.id, name=m.name, peerURLs=m.peer_urls, clientURLs=m.client_urls,
                               isLearner=m.is_learner)]

    async def MemberList(self, request, caller: Caller):
        return rpc_pb2.MemberListResponse(header=self.header(), members=self.members())

    async def MemberAdd(self, request, caller: Caller):
        if not valid_urls(list(request.peerURLs)):
            raise errors.INVALID_MEMBER_URLS
        self.node.check_admin(caller)
        if set(request.peerURLs) & set(self.node.member.peer_urls):
            raise errors.PEER_URL_EXISTS
        raise errors.EtcdError("FAILED_PRECONDITION", errors.RECONFIG_NOT_ENOUGH_MEMBERS)

    async def MemberRemove(self, request, caller: Caller):
        self.node.check_admin(caller)
        if request.ID != self.node.member_id:
            raise errors.MEMBER_NOT_FOUND
        # etcd lets this error escape as a non-status error, hence code Unknown.
        raise errors.EtcdError("UNKNOWN", errors.RECONFIG_NOT_ENOUGH_MEMBERS)

    async def MemberUpdate(self, request, caller: Caller):
        self.node.check_admin(caller)
        if request.ID != self.node.member_id:
            raise errors.MEMBER_NOT_FOUND
        self.node.member.peer_urls = list(request.peerURLs)
        return rpc_pb2.MemberUpdateResponse(header=self.header(), members=self.members())

    async def MemberPromote(self, request, caller: Caller):
        self.node.check_admin(caller)
        if request.ID != self.node.member_id:
            raise errors.MEMBER_NOT_FOUND
        raise errors.MEMBER_NOT_LEARNER
