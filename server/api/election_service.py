"""v3electionpb.Election on top of the election recipe in the core."""

from __future__ import annotations

from ..concurrency import election
from ..concurrency.errors import LEADER_REQUIRED, unknown
from ..node import Node
from ..proto import v3election_pb2, v3election_pb2_grpc
from . import convert
from .header import header
from .status import guard_stream, unary


def _leader_key(request) -> election.LeaderKey:
    if not request.HasField("leader"):
        raise unknown(LEADER_REQUIRED)
    pb = request.leader
    return election.LeaderKey(pb.name, pb.key, pb.rev, pb.lease)


class ElectionService(v3election_pb2_grpc.ElectionServicer):
    def __init__(self, node: Node) -> None:
        self.node = node

    @unary
    async def Campaign(self, request, context):
        revision, leader = await election.campaign(self.node, request.name, request.lease, request.value)
        return v3election_pb2.CampaignResponse(
            header=header(self.node, revision),
            leader=v3election_pb2.LeaderKey(name=leader.name, key=leader.key, rev=leader.rev,
                                            lease=leader.lease))

    @unary
    async def Proclaim(self, request, context):
        revision = await election.proclaim(self.node, _leader_key(request), request.value)
        return v3election_pb2.ProclaimResponse(header=header(self.node, revision))

    @unary
    async def Resign(self, request, context):
        revision = await election.resign(self.node, _leader_key(request))
        return v3election_pb2.ResignResponse(header=header(self.node, revision))

    @unary
    async def Leader(self, request, context):
        revision, kv = election.leader(self.node, request.name)
        return v3election_pb2.LeaderResponse(header=header(self.node, revision), kv=convert.key_value(kv))

    @guard_stream
    async def Observe(self, request, context):
        async for revision, kv in election.observe(self.node, request.name):
            yield v3election_pb2.LeaderResponse(header=header(self.node, revision),
                                                kv=convert.key_value(kv))
