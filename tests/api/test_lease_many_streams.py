"""10,000 LeaseKeepAlive streams opened at once (issue 15, item 6): every one is served.

grpc core queues calls the application has not taken yet and, by default, cancels them past 1,000
waiting (3,000 at once): a burst of a few thousand streams then lost hundreds, which the client
saw as CANCELLED or INTERNAL "Internal error from Core" while grpc-go (etcd) served them all. The
minute-long run with 10,000 streams is ``benchmarks/keepalive_streams.py``."""

from __future__ import annotations

import asyncio
import collections

import grpc

from etcdlite.proto import rpc_pb2, rpc_pb2_grpc

STREAMS = 10_000  # on one connection, past grpc core's default limits (1,000 waiting, 3,000 at most)
RENEWALS = 2


async def _keep_all_alive(endpoint: str) -> collections.Counter:
    outcomes: collections.Counter = collections.Counter()
    async with grpc.aio.insecure_channel(endpoint) as channel:
        lease = rpc_pb2_grpc.LeaseStub(channel)
        ids = [1_000_000 + index for index in range(STREAMS)]
        for start in range(0, STREAMS, 500):
            await asyncio.gather(*[lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(ID=i, TTL=60), timeout=60)
                                   for i in ids[start:start + 500]])
        opened = asyncio.Barrier(STREAMS)

        async def keep(lease_id: int) -> None:
            call = lease.LeaseKeepAlive(timeout=120)
            try:
                await opened.wait()  # every stream open before the first renewal
                for _ in range(RENEWALS):
                    await call.write(rpc_pb2.LeaseKeepAliveRequest(ID=lease_id))
                    answer = await call.read()
                    outcomes["renewed" if answer.ID == lease_id and answer.TTL == 60 else
                             f"answer {answer}"] += 1
                await call.done_writing()
            except grpc.aio.AioRpcError as error:
                outcomes[f"{error.code().name}: {error.details()}"] += 1
            finally:
                call.cancel()

        await asyncio.wait_for(asyncio.gather(*[keep(i) for i in ids]), 150)
    return outcomes


def test_ten_thousand_keep_alive_streams_opened_at_once_are_all_served(target):
    outcomes = asyncio.run(_keep_all_alive(target.endpoint))
    assert outcomes == {"renewed": STREAMS * RENEWALS}, outcomes.most_common(3)
