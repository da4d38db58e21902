#!/usr/bin/env python3
"""Many LeaseKeepAlive streams on one server: N streams (over C channels, grpc.aio client), each
renewing its own lease every --interval seconds for --seconds; counts streams that ended with an
error (and which) and leases that expired. Starts its own etcdlite (or uses --endpoint).

  python benchmarks/keepalive_streams.py --streams 10000 --channels 10 --seconds 60
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import grpc  # noqa: E402

from etcdlite.proto import rpc_pb2, rpc_pb2_grpc  # noqa: E402


async def run(args) -> dict:
    channels = [grpc.aio.insecure_channel(args.endpoint, options=[
        ("grpc.max_concurrent_streams", 100000)]) for _ in range(args.channels)]
    stubs = [rpc_pb2_grpc.LeaseStub(c) for c in channels]
    granted: list[int] = []
    for start in range(0, args.streams, 200):
        ids = await asyncio.gather(*[stubs[i % len(stubs)].LeaseGrant(
            rpc_pb2.LeaseGrantRequest(TTL=args.ttl)) for i in range(start, min(args.streams, start + 200))])
        granted += [r.ID for r in ids]
    errors: collections.Counter = collections.Counter()
    renewed = 0
    deadline = time.monotonic() + args.seconds
    opened = asyncio.Event()
    open_count = 0

    async def keep(index: int, lease_id: int) -> None:
        nonlocal renewed, open_count
        queue: asyncio.Queue = asyncio.Queue()

        async def requests():
            while True:
                item = await queue.get()
                if item is None:
                    return
                yield item

        call = stubs[index % len(stubs)].LeaseKeepAlive(requests())
        try:
            open_count += 1
            if open_count == len(granted):
                opened.set()
            while time.monotonic() < deadline:
                queue.put_nowait(rpc_pb2.LeaseKeepAliveRequest(ID=lease_id))
                answer = await asyncio.wait_for(call.read(), 30)
                if answer is grpc.aio.EOF:
                    errors["EOF"] += 1
                    return
                if answer.TTL <= 0:
                    errors["expired"] += 1
                    return
                renewed += 1
                await asyncio.sleep(args.interval)
            queue.put_nowait(None)
        except grpc.aio.AioRpcError as error:
            errors[f"{error.code().name}: {error.details()}"] += 1
        except asyncio.TimeoutError:
            errors["no answer in 30 s"] += 1
        finally:
            call.cancel()

    started = time.monotonic()
    await asyncio.gather(*[keep(i, lease) for i, lease in enumerate(granted)])
    for channel in channels:
        await channel.close()
    return {"streams": args.streams, "channels": args.channels, "seconds": args.seconds,
            "interval": args.interval, "renewals": renewed, "failed_streams": sum(errors.values()),
            "errors": dict(errors), "wall_s": round(time.monotonic() - started, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--streams", type=int, default=10000)
    p.add_argument("--channels", type=int, default=10)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--ttl", type=int, default=10)
    p.add_argument("--endpoint", default="")
    args = p.parse_args()
    proc = None
    if not args.endpoint:
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([sys.executable, "-m", "etcdlite", "--memory", "--listen-client-urls",
                                 f"http://127.0.0.1:{port}", "--log-level", "error"],
                                stdout=subprocess.PIPE, text=True, cwd=str(HERE.parent))
        proc.stdout.readline()
        args.endpoint = f"127.0.0.1:{port}"
    try:
        result = asyncio.run(run(args))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    print(json.dumps(result, indent=1))
    return 0 if result["failed_streams"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
