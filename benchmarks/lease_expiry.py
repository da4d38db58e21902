"""Mass lease expiry: N leases, each with one key, falling due together.

Grants N leases (TTL --ttl) and puts one key on each, as fast as --concurrency clients can; a prefix
watch records when each key's DELETE arrives. Expiry lag = DELETE received − (grant acknowledged +
TTL). A prober issues a Range every 10 ms throughout, to show whether the server stays responsive.

A Python client grants only a few thousand leases a second, so in real time the deadlines spread
over seconds. With ``--same-instant`` etcdlite runs on its manual clock (``--enable-time-control``)
and one AdvanceClock call makes all N leases due at the same instant; the lag is then measured from
that call, which is the worst case. Real etcd has no such control and is measured in real time.

    python benchmarks/lease_expiry.py [--targets etcdlite,etcd] [--leases 10000] [--ttl 10] [--same-instant]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import grpc

from servers import benchmark_main, percentiles
from etcdlite.proto import etcdlite_admin_pb2, etcdlite_admin_pb2_grpc, rpc_pb2, rpc_pb2_grpc


async def run(endpoint: str, leases: int, ttl: int, concurrency: int, same_instant: bool = False) -> dict:
    channels = [grpc.aio.insecure_channel(endpoint) for _ in range(8)]
    deadline_of: dict[bytes, float] = {}
    deleted_at: dict[bytes, float] = {}
    done = asyncio.Event()

    watch_stub = rpc_pb2_grpc.WatchStub(channels[0])
    requests: asyncio.Queue = asyncio.Queue()
    requests.put_nowait(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(
        key=b"lease/", range_end=b"lease0", filters=[rpc_pb2.WatchCreateRequest.NOPUT])))

    async def request_iterator():
        while True:
            yield await requests.get()

    async def watcher() -> None:
        call = watch_stub.Watch(request_iterator())
        async for response in call:
            now = time.perf_counter()
            for event in response.events:
                deleted_at[event.kv.key] = now
            if len(deleted_at) >= leases:
                done.set()

    watch_task = asyncio.ensure_future(watcher())
    next_index = 0

    async def granter(channel: grpc.aio.Channel) -> None:
        nonlocal next_index
        lease_stub, kv = rpc_pb2_grpc.LeaseStub(channel), rpc_pb2_grpc.KVStub(channel)
        while next_index < leases:
            index = next_index
            next_index += 1
            granted = await lease_stub.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=ttl))
            acknowledged = time.perf_counter()
            key = b"lease/%06d" % index
            await kv.Put(rpc_pb2.PutRequest(key=key, value=b"v", lease=granted.ID))
            deadline_of[key] = acknowledged + ttl

    began = time.perf_counter()
    await asyncio.gather(*(granter(channels[i % len(channels)]) for i in range(concurrency)))
    grant_seconds = time.perf_counter() - began
    if same_instant:
        admin = etcdlite_admin_pb2_grpc.AdminStub(channels[2])
        due = time.perf_counter()
        deadline_of = dict.fromkeys(deadline_of, due)
        advance = asyncio.ensure_future(admin.AdvanceClock(etcdlite_admin_pb2.AdvanceClockRequest(seconds=ttl + 1)))

    probes: list[float] = []
    kv = rpc_pb2_grpc.KVStub(channels[1])
    give_up = time.perf_counter() + ttl + 30
    while not done.is_set() and time.perf_counter() < give_up:
        start = time.perf_counter()
        await kv.Range(rpc_pb2.RangeRequest(key=b"probe"))
        probes.append((time.perf_counter() - start) * 1000)
        await asyncio.sleep(0.01)
    if same_instant:
        await advance
    watch_task.cancel()
    for channel in channels:
        await channel.close()
    lags = [(deleted_at[k] - deadline_of[k]) * 1000 for k in deadline_of if k in deleted_at]
    deadlines = sorted(deadline_of.values())
    return {
        "leases": leases, "ttl_s": ttl, "grant_and_put_s": round(grant_seconds, 2),
        "deadline_spread_s": round(deadlines[-1] - deadlines[0], 2), "same_instant": same_instant,
        "expired_observed": len(lags), "expiry_lag_ms": percentiles(lags),
        "range_during_expiry_ms": percentiles(probes),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leases", type=int, default=10000)
    parser.add_argument("--ttl", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--same-instant", action="store_true",
                        help="etcdlite only: make every lease due at one instant with its manual clock")

    def same_instant(args) -> bool:
        return args.same_instant and args.targets != "etcd"

    benchmark_main(parser,
                   lambda endpoint, args: run(endpoint, args.leases, args.ttl, args.concurrency, same_instant(args)),
                   lambda args: ["--enable-time-control"] if same_instant(args) else None)


if __name__ == "__main__":
    main()
