"""Group commit: one durable write for many concurrent requests; reads only see durable data."""

from __future__ import annotations

import asyncio
import threading

from etcdlite.auth.caller import INTERNAL
from etcdlite.config import Config
from etcdlite.mvcc.requests import PutRequest, RangeRequest
from etcdlite.node import Node
from etcdlite.storage.backend import Batch
from etcdlite.storage.memory import MemoryBackend


class GatedBackend(MemoryBackend):
    """A disk whose writes block until the test opens the gate."""

    instant = False

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.batches: list[Batch] = []

    def write(self, batch: Batch) -> None:
        self.gate.wait(10)
        self.batches.append(batch)
        super().write(batch)


def _node(backend: GatedBackend) -> Node:
    backend.gate.set()  # the node's start-up write
    node = Node(Config(), backend, client_urls=["http://127.0.0.1:2379"])
    backend.gate.clear()
    backend.batches.clear()
    return node


def test_a_put_is_acknowledged_only_after_its_write_is_durable():
    async def main() -> None:
        backend = GatedBackend()
        node = _node(backend)
        put = asyncio.create_task(node.put(INTERNAL, PutRequest(b"k", b"v")))
        await asyncio.sleep(0.05)
        assert not put.done()
        backend.gate.set()
        result = await asyncio.wait_for(put, 5)
        assert result.revision == 2
        assert [c.key for c in backend.batches[0].changes] == [b"k"]
        await node.close()

    asyncio.run(main())


def test_readers_never_see_a_write_that_is_not_yet_durable():
    async def main() -> None:
        backend = GatedBackend()
        node = _node(backend)
        put = asyncio.create_task(node.put(INTERNAL, PutRequest(b"k", b"v")))
        await asyncio.sleep(0.05)
        before = node.range(INTERNAL, RangeRequest(b"k"))
        assert (before.revision, before.kvs) == (1, [])
        backend.gate.set()
        await asyncio.wait_for(put, 5)
        after = node.range(INTERNAL, RangeRequest(b"k"))
        assert (after.revision, [kv.value for kv in after.kvs]) == (2, [b"v"])
        await node.close()

    asyncio.run(main())


def test_writes_arriving_during_a_sync_share_the_next_one():
    async def main() -> None:
        backend = GatedBackend()
        node = _node(backend)
        first = asyncio.create_task(node.put(INTERNAL, PutRequest(b"first", b"1")))
        await asyncio.sleep(0.02)  # the first write is now in flight, blocked on the gate
        others = [asyncio.create_task(node.put(INTERNAL, PutRequest(b"k%d" % i, b"v"))) for i in range(50)]
        await asyncio.sleep(0.02)
        backend.gate.set()
        results = await asyncio.wait_for(asyncio.gather(first, *others), 5)
        assert [r.revision for r in results] == list(range(2, 53))
        assert len(backend.batches) == 2
        assert len(backend.batches[1].changes) == 50
        assert backend.batches[1].meta["raft_index"] == node.raft_index
        await node.close()

    asyncio.run(main())


def test_watchers_get_each_event_once_when_writes_share_a_sync():
    async def main() -> None:
        backend = GatedBackend()
        node = _node(backend)
        stream = node.watch_hub.open_stream()
        node.watch_hub.create(stream, b"k", b"l")
        first = asyncio.create_task(node.put(INTERNAL, PutRequest(b"k0", b"v")))
        await asyncio.sleep(0.02)  # in flight, blocked on the gate
        others = [asyncio.create_task(node.put(INTERNAL, PutRequest(b"k%d" % i, b"v"))) for i in range(1, 30)]
        await asyncio.sleep(0.02)
        backend.gate.set()
        await asyncio.wait_for(asyncio.gather(first, *others), 5)
        delivered = []
        while not stream.outbox.empty():
            response = stream.outbox.get_nowait()
            for event in response.events:
                assert event.kv.mod_revision <= response.revision
                delivered.append(event.kv.mod_revision)
        assert delivered == list(range(2, 32))
        await node.close()

    asyncio.run(main())


def test_compaction_cannot_pass_the_durable_revision():
    async def main() -> None:
        from etcdlite import errors
        import pytest
        backend = GatedBackend()
        node = _node(backend)
        put = asyncio.create_task(node.put(INTERNAL, PutRequest(b"a", b"1")))  # revision 2, in flight
        await asyncio.sleep(0.02)
        compact = asyncio.create_task(node.compact(INTERNAL, 3))
        await asyncio.sleep(0.01)
        later = asyncio.create_task(node.put(INTERNAL, PutRequest(b"b", b"2")))  # revision 3, applied in memory
        await asyncio.sleep(0.01)
        backend.gate.set()
        with pytest.raises(errors.FUTURE_REV):
            await asyncio.wait_for(compact, 5)
        await asyncio.wait_for(asyncio.gather(put, later), 5)
        assert [kv.value for kv in node.range(INTERNAL, RangeRequest(b"a")).kvs] == [b"1"]
        await node.close()

    asyncio.run(main())


def test_keep_alive_and_time_to_live_do_not_report_a_revoke_before_it_is_durable():
    """Seen with the Node.js etcd3 client's own tests: a keep-alive answered TTL 0 while the
    revoke was still on its way to the disk (and could have been lost)."""
    async def main() -> None:
        backend = GatedBackend()
        node = _node(backend)
        backend.gate.set()
        lease = await node.lease_grant(INTERNAL, 0, 60)
        backend.gate.clear()
        revoke = asyncio.create_task(node.lease_revoke(INTERNAL, lease.id))
        await asyncio.sleep(0.05)  # applied in memory, its write held at the gate
        keep_alive = asyncio.create_task(node.lease_keep_alive(INTERNAL, lease.id))
        time_to_live = asyncio.create_task(node.lease_time_to_live(INTERNAL, lease.id, False))
        await asyncio.sleep(0.05)
        assert not keep_alive.done() and not time_to_live.done()
        backend.gate.set()
        assert await keep_alive == 0
        assert await time_to_live is None
        assert lease.id not in backend.leases  # durable by the time they answered
        await revoke
        await node.close()

    asyncio.run(main())
