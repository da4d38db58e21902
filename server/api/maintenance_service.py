"""etcdserverpb.Maintenance: Status, Hash, HashKV, Alarm, Defragment, MoveLeader."""

from __future__ import annotations

import asyncio
import tempfile
from typing import AsyncIterator

from .. import errors
from .. import ETCD_VERSION
from ..bbolt.etcd_layout import file_messages, write_snapshot_db
from ..auth.caller import Caller
from ..node import ALARM_NAMES, Node
from ..proto import rpc_pb2
from .header import header



class MaintenanceService:
    def __init__(self, node: Node) -> None:
        self.node = node

    def header(self) -> rpc_pb2.ResponseHeader:
        return header(self.node, self.node.durable_revision)

    def _check_admin(self, caller: Caller) -> None:
        """etcd's authMaintenanceServer: the root role, with the auth store's error unconverted."""
        try:
            self.node.check_admin(caller)
        except errors.EtcdError as exc:
            raise errors.unconverted(exc) from None

    async def Status(self, request, caller: Caller):
        node = self.node
        size, in_use = node.db_size()
        return rpc_pb2.StatusResponse(
            header=self.header(), version=ETCD_VERSION, dbSize=size, dbSizeInUse=in_use,
            leader=node.member_id, raftIndex=node.raft_index, raftAppliedIndex=node.raft_index,
            raftTerm=node.raft_term, isLearner=False,
            errors=[f"memberID:{m} alarm:{ALARM_NAMES.get(a, a)} " for m, a in sorted(node.alarms)])

    async def Hash(self, request, caller: Caller):
        self._check_admin(caller)
        return rpc_pb2.HashResponse(header=self.header(), hash=self.node.hash())

    async def HashKV(self, request, caller: Caller):
        self._check_admin(caller)
        value, revision, compact_revision = self.node.hash_kv(request.revision)
        return rpc_pb2.HashKVResponse(header=self.header(), hash=value,
                                      compact_revision=compact_revision, hash_revision=revision)

    async def Alarm(self, request, caller: Caller):
        self.node.identify(caller)  # a raft request: the token is checked, no permission needed
        alarms = await self.node.alarm(request.action, request.memberID, request.alarm)
        return rpc_pb2.AlarmResponse(
            header=self.header(),
            alarms=[rpc_pb2.AlarmMember(memberID=m, alarm=a) for m, a in alarms])

    async def Defragment(self, request, caller: Caller):
        self._check_admin(caller)
        await self.node.defragment()
        return rpc_pb2.DefragmentResponse()

    async def Snapshot(self, request, caller: Caller) -> AsyncIterator[rpc_pb2.SnapshotResponse]:
        """etcd's backend database (bbolt, etcd's layout) in 32 KiB messages, then its SHA-256;
        no headers, as etcd 3.5.1 sends them. The state is taken at once; the file is written in
        a worker thread while the server goes on serving."""
        try:
            state = await self.node.backup_state(caller)
        except errors.EtcdError as exc:
            raise errors.unconverted(exc) from None
        loop = asyncio.get_running_loop()
        with tempfile.TemporaryFile(prefix="etcdlite-snapshot-") as spool:
            size = await loop.run_in_executor(None, write_snapshot_db, state, spool)
            spool.seek(0)
            messages = file_messages(spool, size)
            while True:  # file reads and the SHA-256 off the loop, chunk by chunk
                message = await loop.run_in_executor(None, next, messages, None)
                if message is None:
                    return
                remaining, blob = message
                yield rpc_pb2.SnapshotResponse(remaining_bytes=remaining, blob=blob)

    async def MoveLeader(self, request, caller: Caller):
        if request.targetID != self.node.member_id:
            raise errors.BAD_LEADER_TRANSFEREE
        return rpc_pb2.MoveLeaderResponse()
