"""Group commit: one durable write for many concurrent requests; reads only see durable data."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from etcdlite.auth.caller import INTERNAL
from etcdlite.config import Config
from etcdlite.mvcc.requests import CMP_CREATE, CMP_GREATER, Compare, PutRequest, RangeRequest, TxnRequest
from etcdlite.node import Node
from etcdlite.storage.backend import Batch
from etcdlite.storage.group_commit import INLINE_SECONDS, LAZY_SECONDS, PROBE_EVERY, SEQUENTIAL_AFTER
from etcdlite.storage.memory import MemoryBackend
from recording_backend import recording_node


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


class TimedBackend(MemoryBackend):
    """A disk whose writes take ``seconds`` and that records the thread each write ran on."""

    instant = False

    def __init__(self, seconds: float = 0.0, quick: bool = True) -> None:
        super().__init__()
        self.seconds = seconds
        self.quick = quick
        self.threads: list[str] = []

    def write(self, batch: Batch) -> None:
        if self.seconds:
            time.sleep(self.seconds)
        self.threads.append(threading.current_thread().name)
        super().write(batch)

    def write_is_quick(self) -> bool:
        return self.quick

    def on_loop(self) -> list[bool]:
        return [name == "MainThread" for name in self.threads]


async def _puts(node: Node, clients: int, each: int) -> None:
    async def client(number: int) -> None:
        for i in range(each):
            await node.put(INTERNAL, PutRequest(b"c%d-%d" % (number, i), b"v"))

    await asyncio.wait_for(asyncio.gather(*(client(n) for n in range(clients))), 30)


def test_a_sequential_load_is_written_on_the_event_loop_with_a_probe_on_the_thread_now_and_then():
    async def main() -> None:
        backend = TimedBackend()
        node = Node(Config(), backend, client_urls=["http://127.0.0.1:2379"])
        backend.threads.clear()
        await _puts(node, 1, 200)
        on_loop = backend.on_loop()
        assert len(on_loop) == 200
        assert not any(on_loop[:SEQUENTIAL_AFTER])  # the thread shows first that nothing else arrives
        thread_writes = [i for i, inline in enumerate(on_loop) if not inline]
        assert len(thread_writes) <= SEQUENTIAL_AFTER + 200 // PROBE_EVERY + 1
        assert all(b - a <= PROBE_EVERY for a, b in zip(thread_writes, thread_writes[1:] + [200]))
        assert node.committer.inline_writes == on_loop.count(True)
        await node.close()

    asyncio.run(main())


def test_concurrent_writers_are_never_written_on_the_event_loop():
    async def main() -> None:
        backend = TimedBackend(seconds=0.0005)
        node = Node(Config(), backend, client_urls=["http://127.0.0.1:2379"])
        backend.threads.clear()
        await _puts(node, 8, 40)
        assert not any(backend.on_loop())
        assert len(backend.threads) < 8 * 40  # they shared syncs
        await node.close()

    asyncio.run(main())


def test_a_sequential_load_turning_concurrent_goes_back_to_the_thread():
    async def main() -> None:
        backend = TimedBackend(seconds=0.0002)
        node = Node(Config(), backend, client_urls=["http://127.0.0.1:2379"])
        await _puts(node, 1, 50)
        assert node.committer.inline_writes > 0
        backend.threads.clear()
        await _puts(node, 16, 20)
        # at most one probe interval's lone writes before a batch of two shows the concurrency
        assert backend.on_loop().count(True) <= PROBE_EVERY
        assert not any(backend.on_loop()[-100:])
        await node.close()

    asyncio.run(main())


def test_a_lock_hand_off_chain_counts_as_sequential_though_each_sync_carries_a_waiters_key():
    """Under a contended lock each holder's deletion shares its sync with the key of the client
    that queues up again; that key's caller waits for its turn, not for the disk, so the chain
    of deletions is still one writer's sequential load."""
    async def main() -> None:
        backend = TimedBackend()
        node = Node(Config(), backend, client_urls=["http://127.0.0.1:2379"])
        backend.threads.clear()
        waiters = []
        for i in range(100):
            waiters.append(asyncio.create_task(_lazy_put(node, b"waiter-%d" % i)))
            await asyncio.sleep(0)
            await node.put(INTERNAL, PutRequest(b"holder-%d" % i, b"v"))
        await asyncio.wait_for(asyncio.gather(*waiters), 5)
        on_loop = backend.on_loop()
        assert len(on_loop) == 100  # each waiter's key went with the next urgent write
        assert on_loop.count(True) >= 100 - SEQUENTIAL_AFTER - 100 // PROBE_EVERY - 1
        await node.close()

    asyncio.run(main())


def test_slow_writes_and_writes_the_backend_calls_long_stay_on_the_thread():
    async def main(backend: TimedBackend) -> None:
        node = Node(Config(), backend, client_urls=["http://127.0.0.1:2379"])
        backend.threads.clear()
        await _puts(node, 1, 20)
        assert not any(backend.on_loop())
        await node.close()

    asyncio.run(main(TimedBackend(seconds=INLINE_SECONDS * 2)))
    asyncio.run(main(TimedBackend(quick=False)))


def test_the_lmdb_backend_calls_the_write_that_starts_the_log_over_long(tmp_path, monkeypatch):
    from etcdlite.storage import lmdb_backend

    backend = lmdb_backend.LmdbBackend(str(tmp_path / "data"))
    try:
        assert backend.write_is_quick()
        monkeypatch.setattr(lmdb_backend, "LOG_LIMIT", 0)
        backend.write(Batch(1, meta={"raft_index": 1}))
        assert not backend.write_is_quick()
    finally:
        backend.close()


async def _lazy_put(node: Node, key: bytes):
    """A put that says it can wait (as a lock waiter's does)."""
    return await node.txn(INTERNAL, TxnRequest([], [PutRequest(key, b"v")], []),
                          can_wait=lambda result: True)


def test_a_lazy_write_waits_for_company_at_most_lazy_seconds_then_is_written_alone():
    async def main() -> None:
        node, backend = recording_node()
        began = time.monotonic()
        result = await asyncio.wait_for(_lazy_put(node, b"lazy"), 5)
        assert backend.keys() == [[b"lazy"]]
        assert backend.times[0] - began >= LAZY_SECONDS * 0.9
        assert node.range(INTERNAL, RangeRequest(b"lazy")).revision == result.revision
        await node.close()

    asyncio.run(main())


@pytest.mark.usefixtures("no_lazy_timer")
def test_a_lazy_write_is_invisible_until_it_shares_the_next_urgent_write():
    async def main() -> None:
        node, backend = recording_node()
        lazy = asyncio.create_task(_lazy_put(node, b"lazy"))
        await asyncio.sleep(0)
        assert not node.range(INTERNAL, RangeRequest(b"lazy")).kvs
        assert backend.batches == []
        await asyncio.wait_for(node.put(INTERNAL, PutRequest(b"urgent", b"v")), 5)
        assert backend.keys() == [[b"lazy", b"urgent"]]
        await asyncio.wait_for(lazy, 1)
        assert [kv.key for kv in node.range(INTERNAL, RangeRequest(b"a", b"z")).kvs] == [b"lazy", b"urgent"]
        await node.close()

    asyncio.run(main())


@pytest.mark.usefixtures("no_lazy_timer")
def test_waiting_on_a_lazy_write_urges_it():
    async def main() -> None:
        node, backend = recording_node()
        asyncio.create_task(_lazy_put(node, b"lazy"))
        await asyncio.sleep(0)
        await asyncio.wait_for(node.committer.wait(), 5)
        assert backend.keys() == [[b"lazy"]]
        await node.close()

    asyncio.run(main())


@pytest.mark.usefixtures("no_lazy_timer")
def test_a_write_whose_caller_cannot_wait_is_urgent_though_applied_lazily():
    async def main() -> None:
        node, backend = recording_node()
        await asyncio.wait_for(node.txn(INTERNAL, TxnRequest([], [PutRequest(b"k", b"v")], []),
                                        can_wait=lambda result: False), 5)
        assert backend.keys() == [[b"k"]]
        await node.close()

    asyncio.run(main())


@pytest.mark.usefixtures("no_lazy_timer")
def test_closing_writes_a_pending_lazy_write_at_once():
    async def main() -> None:
        node, backend = recording_node()
        asyncio.create_task(_lazy_put(node, b"lazy"))
        await asyncio.sleep(0)
        await asyncio.wait_for(node.close(), 5)
        assert backend.keys() == [[b"lazy"]]

    asyncio.run(main())


@pytest.mark.usefixtures("no_lazy_timer")
def test_a_write_that_may_wait_but_changes_nothing_does_not_hold_back_a_pending_lazy_one():
    async def main() -> None:
        node, backend = recording_node()
        lazy = asyncio.create_task(_lazy_put(node, b"lazy"))
        await asyncio.sleep(0)
        nothing = TxnRequest([Compare(b"absent", target=CMP_CREATE, result=CMP_GREATER, create_revision=0)],
                             [PutRequest(b"never", b"v")], [])
        result = await asyncio.wait_for(node.txn(INTERNAL, nothing, can_wait=lambda result: True), 5)
        assert not result.succeeded
        assert backend.keys() == [[b"lazy"]]
        await asyncio.wait_for(lazy, 1)
        await node.close()

    asyncio.run(main())
