"""A lock waiter's or a campaigner's key does not take a sync of its own: it shares the release of
the holder or leader it waits behind."""

from __future__ import annotations

import asyncio
import time

from etcdlite.auth.caller import INTERNAL
from etcdlite.concurrency import election, mutex
from etcdlite.config import Config
from etcdlite.mvcc.requests import RangeRequest
from etcdlite.node import Node
from etcdlite.storage.backend import Batch
from etcdlite.storage import group_commit
from etcdlite.storage.group_commit import LAZY_SECONDS
from etcdlite.storage.memory import MemoryBackend


class RecordingBackend(MemoryBackend):
    instant = False  # written on the writer thread, as a disk is

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[list[tuple[bytes, bool]]] = []  # (key, deleted) per write

    def write(self, batch: Batch) -> None:
        self.writes.append([(c.key, c.kv is None) for c in batch.changes])
        super().write(batch)


#: long enough that a test passing under it never relied on the lazy timer
NEVER = 60.0


def test_a_waiters_key_is_written_with_the_holders_unlock_and_the_waiter_then_holds(monkeypatch):
    monkeypatch.setattr(group_commit, "LAZY_SECONDS", NEVER)

    async def main() -> None:
        backend = RecordingBackend()
        node = Node(Config(), backend, client_urls=["http://127.0.0.1:2379"])
        first, second = [(await node.lease_grant(INTERNAL, 0, 60)).id for _ in range(2)]
        _, holder_key = await mutex.lock(node, INTERNAL, b"name", first)
        backend.writes.clear()
        waiter = asyncio.create_task(mutex.lock(node, INTERNAL, b"name", second))
        await asyncio.sleep(0.05)
        assert backend.writes == []  # applied, waiting for company
        assert [kv.key for kv in node.range(INTERNAL, RangeRequest(b"name/", b"name0")).kvs] == [holder_key]
        await mutex.unlock(node, INTERNAL, holder_key)
        _, waiter_key = await asyncio.wait_for(waiter, 5)
        assert backend.writes == [[(waiter_key, False), (holder_key, True)]]
        await node.close()

    asyncio.run(main())


def test_a_waiters_key_is_durable_within_lazy_seconds_while_the_holder_keeps_the_lock():
    async def main() -> None:
        backend = RecordingBackend()
        node = Node(Config(), backend, client_urls=["http://127.0.0.1:2379"])
        first, second = [(await node.lease_grant(INTERNAL, 0, 60)).id for _ in range(2)]
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


def test_an_uncontended_lock_is_written_at_once(monkeypatch):
    monkeypatch.setattr(group_commit, "LAZY_SECONDS", NEVER)

    async def main() -> None:
        backend = RecordingBackend()
        node = Node(Config(), backend, client_urls=["http://127.0.0.1:2379"])
        lease = (await node.lease_grant(INTERNAL, 0, 60)).id
        backend.writes.clear()
        await asyncio.wait_for(mutex.lock(node, INTERNAL, b"name", lease), 5)
        assert len(backend.writes) == 1
        await node.close()

    asyncio.run(main())


def test_a_campaigners_key_is_written_with_the_leaders_resignation(monkeypatch):
    monkeypatch.setattr(group_commit, "LAZY_SECONDS", NEVER)

    async def main() -> None:
        backend = RecordingBackend()
        node = Node(Config(), backend, client_urls=["http://127.0.0.1:2379"])
        first, second = [(await node.lease_grant(INTERNAL, 0, 60)).id for _ in range(2)]
        _, leader = await asyncio.wait_for(election.campaign(node, INTERNAL, b"e", first, b"a"), 5)
        backend.writes.clear()
        follower = asyncio.create_task(election.campaign(node, INTERNAL, b"e", second, b"b"))
        await asyncio.sleep(0.05)
        assert backend.writes == []
        await election.resign(node, INTERNAL, leader)
        _, next_leader = await asyncio.wait_for(follower, 5)
        assert backend.writes == [[(next_leader.key, False), (leader.key, True)]]
        await node.close()

    asyncio.run(main())


def test_an_uncontended_campaign_is_written_at_once(monkeypatch):
    monkeypatch.setattr(group_commit, "LAZY_SECONDS", NEVER)

    async def main() -> None:
        backend = RecordingBackend()
        node = Node(Config(), backend, client_urls=["http://127.0.0.1:2379"])
        lease = (await node.lease_grant(INTERNAL, 0, 60)).id
        backend.writes.clear()
        await asyncio.wait_for(election.campaign(node, INTERNAL, b"e", lease, b"a"), 5)
        assert len(backend.writes) == 1
        await node.close()

    asyncio.run(main())
