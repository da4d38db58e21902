"""A lock waiter's or a campaigner's key does not take a sync of its own: it shares the release of
the holder or leader it waits behind."""

from __future__ import annotations

import asyncio
import time

import pytest

from etcdlite.auth.caller import INTERNAL
from etcdlite.concurrency import election, mutex
from etcdlite.mvcc.requests import RangeRequest
from etcdlite.node import Node
from etcdlite.storage.group_commit import LAZY_SECONDS
from recording_backend import RecordingBackend, recording_node


async def _contended_node() -> tuple[Node, RecordingBackend, int, int]:
    """A recording node and two leases to contend with."""
    node, backend = recording_node()
    first, second = [(await node.lease_grant(INTERNAL, 0, 60)).id for _ in range(2)]
    return node, backend, first, second


@pytest.mark.usefixtures("no_lazy_timer")
def test_a_waiters_key_is_written_with_the_holders_unlock_and_the_waiter_then_holds():
    async def main() -> None:
        node, backend, first, second = await _contended_node()
        _, holder_key = await mutex.lock(node, INTERNAL, b"name", first)
        backend.clear()
        waiter = asyncio.create_task(mutex.lock(node, INTERNAL, b"name", second))
        await asyncio.sleep(0.05)
        assert backend.batches == []  # applied, waiting for company
        assert [kv.key for kv in node.range(INTERNAL, RangeRequest(b"name/", b"name0")).kvs] == [holder_key]
        await mutex.unlock(node, INTERNAL, holder_key)
        _, waiter_key = await asyncio.wait_for(waiter, 5)
        assert backend.changes() == [[(waiter_key, False), (holder_key, True)]]
        await node.close()

    asyncio.run(main())


def test_a_waiters_key_is_durable_within_lazy_seconds_while_the_holder_keeps_the_lock():
    async def main() -> None:
        node, backend, first, second = await _contended_node()
        _, holder_key = await mutex.lock(node, INTERNAL, b"name", first)
        waiter = asyncio.create_task(mutex.lock(node, INTERNAL, b"name", second))
        deadline = time.monotonic() + 5
        while len(node.range(INTERNAL, RangeRequest(b"name/", b"name0")).kvs) < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(LAZY_SECONDS / 5)
        assert not waiter.done()
        waiter.cancel()
        await node.close()

    asyncio.run(main())


@pytest.mark.usefixtures("no_lazy_timer")
def test_an_uncontended_lock_is_written_at_once():
    async def main() -> None:
        node, backend = recording_node()
        lease = (await node.lease_grant(INTERNAL, 0, 60)).id
        backend.clear()
        await asyncio.wait_for(mutex.lock(node, INTERNAL, b"name", lease), 5)
        assert len(backend.batches) == 1
        await node.close()

    asyncio.run(main())


@pytest.mark.usefixtures("no_lazy_timer")
def test_a_campaigners_key_is_written_with_the_leaders_resignation():
    async def main() -> None:
        node, backend, first, second = await _contended_node()
        _, leader = await asyncio.wait_for(election.campaign(node, INTERNAL, b"e", first, b"a"), 5)
        backend.clear()
        follower = asyncio.create_task(election.campaign(node, INTERNAL, b"e", second, b"b"))
        await asyncio.sleep(0.05)
        assert backend.batches == []
        await election.resign(node, INTERNAL, leader)
        _, next_leader = await asyncio.wait_for(follower, 5)
        assert backend.changes() == [[(next_leader.key, False), (leader.key, True)]]
        await node.close()

    asyncio.run(main())


@pytest.mark.usefixtures("no_lazy_timer")
def test_an_uncontended_campaign_is_written_at_once():
    async def main() -> None:
        node, backend = recording_node()
        lease = (await node.lease_grant(INTERNAL, 0, 60)).id
        backend.clear()
        await asyncio.wait_for(election.campaign(node, INTERNAL, b"e", lease, b"a"), 5)
        assert len(backend.batches) == 1
        await node.close()

    asyncio.run(main())
