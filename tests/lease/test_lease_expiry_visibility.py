"""A lease leaves at the revision that deletes its keys: no reader sees the lease gone while its
keys are still there, or the keys gone while the lease is still there (etcd applies both in one
raft entry). On LMDB a revoke is applied at once and durable later; readers see durable state."""

from __future__ import annotations

import asyncio

from etcdlite import EtcdLite
from etcdlite.auth.caller import INTERNAL
from etcdlite.clock import ManualClock
from etcdlite.mvcc.requests import PutRequest, RangeRequest, TxnRequest

KEYS = 100


async def _attach(node, lease_id: int, trial: int) -> bytes:
    prefix = b"t%03d/" % trial
    await node.txn(INTERNAL, TxnRequest(success=[
        PutRequest(key=prefix + b"%03d" % i, value=b"v", lease=lease_id) for i in range(KEYS)]))
    return prefix


def _visible(node, lease_id: int, prefix: bytes, ttl) -> None:
    count = node.range(INTERNAL, RangeRequest(key=prefix, range_end=prefix[:-1] + b"0",
                                              count_only=True)).count
    listed = lease_id in node.lease_ids()
    if ttl is None:
        assert count == 0 and not listed, "the lease is gone but its keys are still there"
    else:
        assert count == KEYS and listed, "the keys are gone but the lease is still there"


def _agree(node, lease_id: int, prefix: bytes) -> None:
    """Range and the lease list, read at one instant, tell the same story."""
    listed = lease_id in node.lease_ids()
    _visible(node, lease_id, prefix, (0,) if listed else None)


async def _time_to_live_as_seen(node, lease_id: int, prefix: bytes):
    """TimeToLive's answer checked against Range in the same step of the loop that produced it
    (a later check could see a commit that landed after the answer)."""
    ttl = await node.lease_time_to_live(INTERNAL, lease_id, False)
    _visible(node, lease_id, prefix, ttl)
    return ttl


def test_time_to_live_and_range_agree_at_every_step_of_an_expiry(tmp_path):
    clock = ManualClock()

    async def trials() -> None:
        async with EtcdLite(data_dir=str(tmp_path / "data"), clock=clock) as etcd:
            node = etcd.node
            for trial in range(20):
                lease = await node.lease_grant(INTERNAL, 0, 2)
                prefix = await _attach(node, lease.id, trial)
                # a write in flight, so the TimeToLive below waits for the disk while the
                # expiry revokes the lease (applied at once, durable with the next write)
                writing = asyncio.ensure_future(node.put(INTERNAL, PutRequest(key=b"other", value=b"%d" % trial)))
                asking = asyncio.ensure_future(_time_to_live_as_seen(node, lease.id, prefix))
                await asyncio.sleep(0)
                clock.advance(3)
                expiring = asyncio.ensure_future(node.expire_leases())
                for _ in range(100_000):
                    if asking.done() and writing.done() and expiring.done():
                        break
                    await asyncio.sleep(0)
                    _agree(node, lease.id, prefix)
                await asyncio.gather(asking, writing, expiring)
                assert await node.lease_time_to_live(INTERNAL, lease.id, False) is None
                _visible(node, lease.id, prefix, None)

    asyncio.run(asyncio.wait_for(trials(), 120))
