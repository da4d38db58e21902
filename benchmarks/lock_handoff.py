"""Lock and Election services side by side: etcdlite vs real etcd.

Measures: uncontended Lock+Unlock latency; contended hand-offs per second with N contenders on one
name, and hand-off latency (Unlock of the holder → the next waiter's Lock returns); election
Campaign/Resign cycles per second; Observe latency (Proclaim sent → observer receives it).

    python benchmarks/lock_handoff.py [--targets etcdlite,etcd] [--contenders 8] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import grpc

from servers import benchmark_main, percentiles
from etcdlite.proto import (rpc_pb2, rpc_pb2_grpc, v3election_pb2, v3election_pb2_grpc, v3lock_pb2,
                          v3lock_pb2_grpc)


async def uncontended(endpoint: str, rounds: int) -> dict:
    async with grpc.aio.insecure_channel(endpoint) as channel:
        lock = v3lock_pb2_grpc.LockStub(channel)
        lease = (await rpc_pb2_grpc.LeaseStub(channel).LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60))).ID
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            key = (await lock.Lock(v3lock_pb2.LockRequest(name=b"solo", lease=lease))).key
            await lock.Unlock(v3lock_pb2.UnlockRequest(key=key))
            samples.append((time.perf_counter() - start) * 1000)
        return percentiles(samples)


async def contended(endpoint: str, contenders: int, seconds: float) -> dict:
    """Each contender loops Lock → Unlock on one name; hand-off = holder's Unlock sent → next Lock back."""
    released_at: list[float] = []
    handoffs: list[float] = []
    count = 0
    stop = time.perf_counter() + seconds

    async def contender(channel: grpc.aio.Channel) -> None:
        nonlocal count
        lock = v3lock_pb2_grpc.LockStub(channel)
        lease = (await rpc_pb2_grpc.LeaseStub(channel).LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60))).ID
        while time.perf_counter() < stop:
            key = (await lock.Lock(v3lock_pb2.LockRequest(name=b"hot", lease=lease))).key
            acquired = time.perf_counter()
            if released_at:
                handoffs.append((acquired - released_at[-1]) * 1000)
            count += 1
            released_at.append(time.perf_counter())
            await lock.Unlock(v3lock_pb2.UnlockRequest(key=key))

    channels = [grpc.aio.insecure_channel(endpoint) for _ in range(contenders)]
    began = time.perf_counter()
    await asyncio.gather(*(contender(c) for c in channels))
    elapsed = time.perf_counter() - began
    for channel in channels:
        await channel.close()
    return {"acquisitions_per_s": round(count / elapsed, 1), "handoff_ms": percentiles(handoffs)}


async def election_cycles(endpoint: str, seconds: float) -> dict:
    async with grpc.aio.insecure_channel(endpoint) as channel:
        election = v3election_pb2_grpc.ElectionStub(channel)
        lease = (await rpc_pb2_grpc.LeaseStub(channel).LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60))).ID
        cycles = 0
        stop = time.perf_counter() + seconds
        began = time.perf_counter()
        while time.perf_counter() < stop:
            leader = (await election.Campaign(v3election_pb2.CampaignRequest(name=b"e", lease=lease, value=b"v"))).leader
            await election.Resign(v3election_pb2.ResignRequest(leader=leader))
            cycles += 1
        return {"campaign_resign_per_s": round(cycles / (time.perf_counter() - began), 1)}


async def observe_latency(endpoint: str, rounds: int) -> dict:
    async with grpc.aio.insecure_channel(endpoint) as channel:
        election = v3election_pb2_grpc.ElectionStub(channel)
        lease = (await rpc_pb2_grpc.LeaseStub(channel).LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60))).ID
        leader = (await election.Campaign(v3election_pb2.CampaignRequest(name=b"o", lease=lease, value=b"0"))).leader
        stream = election.Observe(v3election_pb2.LeaderRequest(name=b"o"))
        await stream.read()  # the current leader
        samples = []
        for i in range(1, rounds + 1):
            start = time.perf_counter()
            await election.Proclaim(v3election_pb2.ProclaimRequest(leader=leader, value=b"%d" % i))
            while (await stream.read()).kv.value != b"%d" % i:
                pass
            samples.append((time.perf_counter() - start) * 1000)
        stream.cancel()
        return percentiles(samples)


async def measure(endpoint: str, args) -> dict:
    return {
        "lock_uncontended_ms": await uncontended(endpoint, args.rounds),
        "lock_contended": await contended(endpoint, args.contenders, args.seconds),
        "election": await election_cycles(endpoint, args.seconds),
        "observe_ms": await observe_latency(endpoint, args.rounds),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contenders", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=300)
    benchmark_main(parser, measure)


if __name__ == "__main__":
    main()
