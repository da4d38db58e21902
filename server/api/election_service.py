"""v3electionpb.Election as transport-neutral handlers over the election recipe in the core."""

from __future__ import annotations

from typing import AsyncIterator

from ..auth.caller import Caller
from ..concurrency import election
from ..concurrency.errors import LEADER_REQUIRED, unknown
from ..node import Node
from ..proto import v3election_pb2
from . import convert
from .header import header


def _leader_key(request) -> election.LeaderKey:
    if not request.HasField("leader"):
        raise unknown(LEADER_REQUIRED)
    pb = request.leader
    return election.LeaderKey(pb.name, pb.key, pb.rev, pb.lease)


class ElectionService:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def Campaign(self, request: v3election_pb2.CampaignRequest,
                       caller: Caller) -> v3election_pb2.CampaignResponse:
        revision, leader = await election.campaign(self.node, caller, request.name, request.lease,
                                                   request.value)
        return v3election_pb2.CampaignResponse(
            header=header(self.node, revision),
            leader=v3election_pb2.LeaderKey(name=leader.name, key=leader.key, rev=leader.rev,
                                            lease=leader.lease))

    async def Proclaim(self, request: v3election_pb2.ProclaimRequest,
                       caller: Caller) -> v3election_pb2.ProclaimResponse:
        revision = await election.proclaim(self.node, caller, _leader_key(request), request.value)
        return v3election_pb2.ProclaimResponse(header=header(self.node, revision))

    async def Resign(self, request: v3election_pb2.ResignRequest,
                     caller: Caller) -> v3election_pb2.ResignResponse:
        revision = await election.resign(self.node, caller, _leader_key(request))
        return v3election_pb2.ResignResponse(header=header(self.node, revision))

    async def Leader(self, request: v3election_pb2.LeaderRequest,
                     caller: Caller) -> v3election_pb2.LeaderResponse:
        revision, kv = election.leader(self.node, caller, request.name)
        return v3election_pb2.LeaderResponse(header=header(self.node, revision), kv=convert.key_value(kv))

    async def Observe(self, request: v3election_pb2.LeaderRequest,
                      caller: Caller) -> AsyncIterator[v3election_pb2.LeaderResponse]:
        async for revision, kv in election.observe(self.node, caller, request.name):
            yield v3election_pb2.LeaderResponse(header=header(self.node, revision),
                                                kv=convert.key_value(kv))
