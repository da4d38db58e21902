"""etcdserverpb.Maintenance: Status, Hash, HashKV, Alarm, Defragment, MoveLeader."""

from __future__ import annotations

from .. import errors
from .. import ETCD_VERSION
from ..node import Node
from ..proto import rpc_pb2, rpc_pb2_grpc
from .header import header
from .status import unary

_ALARM_NAMES = {0: "NONE", 1: "NOSPACE", 2: "CORRUPT"}


class MaintenanceService(rpc_pb2_grpc.MaintenanceServicer):
    def __init__(self, node: Node) -> None:
        self.node = node

    def header(self) -> rpc_pb2.ResponseHeader:
        return header(self.node, self.node.durable_revision)

    @unary
    async def Status(self, request, context):
        node = self.node
        size, in_use = node.db_size()
        return rpc_pb2.StatusResponse(
            header=self.header(), version=ETCD_VERSION, dbSize=size, dbSizeInUse=in_use,
            leader=node.member_id, raftIndex=node.raft_index, raftAppliedIndex=node.raft_index,
            raftTerm=node.raft_term, isLearner=False,
            errors=[f"memberID:{m} alarm:{_ALARM_NAMES.get(a, a)} " for m, a in sorted(node.alarms)])

    @unary
    async def Hash(self, request, context):
        return rpc_pb2.HashResponse(header=self.header(), hash=self.node.hash())

    @unary
    async def HashKV(self, request, context):
        value, revision, compact_revision = self.node.hash_kv(request.revision)
        return rpc_pb2.HashKVResponse(header=self.header(), hash=value,
                                      compact_revision=compact_revision, hash_revision=revision)

    @unary
    async def Alarm(self, request, context):
        alarms = await self.node.alarm(request.action, request.memberID, request.alarm)
        return rpc_pb2.AlarmResponse(
            header=self.header(),
            alarms=[rpc_pb2.AlarmMember(memberID=m, alarm=a) for m, a in alarms])

    @unary
    async def Defragment(self, request, context):
        await self.node.defragment()
        return rpc_pb2.DefragmentResponse()

    @unary
    async def MoveLeader(self, request, context):
        if request.targetID != self.node.member_id:
            raise errors.BAD_LEADER_TRANSFEREE
        return rpc_pb2.MoveLeaderResponse()
