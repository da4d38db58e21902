"""Watch at scale: many watchers on many streams; event delivery latency and server memory.

10,000 watchers over 1,000 streams (10 per stream, on 10 channels), watching 1,000 keys (each key
watched by 10 watchers on different streams). A writer puts random keys at a fixed rate; each put
fans out to 10 watchers. Latency = event received − put sent. Also: progress of a Range issued
meanwhile (responsiveness) and peak server RSS.

    python benchmarks/watch_scale.py [--targets etcdlite,etcd] [--streams 1000] [--per-stream 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

import grpc

from servers import benchmark_main, percentiles
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc


async def run(endpoint: str, streams: int, per_stream: int, keys: int, rate: float, seconds: float) -> dict:
    channels = [grpc.aio.insecure_channel(endpoint) for _ in range(10)]
    sent: dict[int, float] = {}  # revision -> send time
    received: list[tuple[int, float]] = []  # (revision, receive time); matched with ``sent`` later
    created = 0
    watchers_of: dict[bytes, int] = {}
    all_created = asyncio.Event()
    total_watchers = streams * per_stream

    async def watch_stream(index: int) -> None:
        nonlocal created
        stub = rpc_pb2_grpc.WatchStub(channels[index % len(channels)])
        requests: asyncio.Queue = asyncio.Queue()
        for j in range(per_stream):
            key = b"key/%05d" % ((index * per_stream + j * 97) % keys)
            watchers_of[key] = watchers_of.get(key, 0) + 1
            requests.put_nowait(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=key)))

        async def request_iterator():
            while True:
                yield await requests.get()

        call = stub.Watch(request_iterator())
        try:
            async for response in call:
                if response.created:
                    created += 1
                    if created == total_watchers:
                        all_created.set()
                    continue
                now = time.perf_counter()
                for event in response.events:
                    received.append((event.kv.mod_revision, now))
        except (asyncio.CancelledError, grpc.aio.AioRpcError):
            pass
        finally:
            call.cancel()

    tasks = [asyncio.ensure_future(watch_stream(i)) for i in range(streams)]
    setup_began = time.perf_counter()
    await asyncio.wait_for(all_created.wait(), 120)
    setup_seconds = time.perf_counter() - setup_began

    kv = rpc_pb2_grpc.KVStub(channels[0])
    range_latencies = []
    writes = 0
    expected = 0
    deadline = time.perf_counter() + seconds
    interval = 1 / rate
    while time.perf_counter() < deadline:
        key = b"key/%05d" % random.randrange(keys)
        start = time.perf_counter()
        response = await kv.Put(rpc_pb2.PutRequest(key=key, value=b"x" * 16))
        sent[response.header.revision] = start
        writes += 1
        expected += watchers_of.get(key, 0)
        probe = time.perf_counter()
        await kv.Range(rpc_pb2.RangeRequest(key=b"probe"))
        range_latencies.append((time.perf_counter() - probe) * 1000)
        await asyncio.sleep(max(0.0, start + interval - time.perf_counter()))
    await asyncio.sleep(2)  # let the last events arrive
    latencies = [(at - sent[rev]) * 1000 for rev, at in received if rev in sent]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for channel in channels:
        await channel.close()
    return {
        "watchers": total_watchers, "streams": streams, "watch_setup_s": round(setup_seconds, 2),
        "writes": writes, "events_expected": expected,
        "events_received": len(latencies), "delivery_ms": percentiles(latencies),
        "range_during_load_ms": percentiles(range_latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--per-stream", type=int, default=10)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100, help="puts per second")
    parser.add_argument("--seconds", type=float, default=10)
    benchmark_main(parser, lambda endpoint, args: run(
        endpoint, args.streams, args.per_stream, args.keys, args.rate, args.seconds))


if __name__ == "__main__":
    main()
