"""The watch hub without sockets: delivery after durability, ordering, slow streams, compaction."""

from __future__ import annotations

import asyncio

from etcdlite.clock import ManualClock
from etcdlite.mvcc.requests import DeleteRangeRequest, PutRequest, TxnRequest
from etcdlite.mvcc.store import MVCCStore
from etcdlite.watch.events import DELETE, PUT
from etcdlite.watch.watch_hub import EMPTY_RANGE, WatchHub
from etcdlite.watch.watcher import STREAM_BUFFER


class Harness:
    """A store and hub where the test decides when writes become durable."""

    def __init__(self) -> None:
        self.store = MVCCStore()
        self.durable = 1
        self.hub = WatchHub(self.store, lambda: self.durable, ManualClock())
        self.store.add_listener(self.hub.on_commit)

    def make_durable(self) -> None:
        self.durable = self.store.current_revision
        self.hub.on_durable(self.durable)

    def put(self, key: bytes, value: bytes = b"v", durable: bool = True) -> None:
        self.store.put(PutRequest(key, value))
        if durable:
            self.make_durable()


def drain(stream) -> list:
    out = []
    while not stream.outbox.empty():
        response = stream.outbox.get_nowait()
        out.append(response)
    return out


def test_events_are_delivered_only_once_durable():
    h = Harness()
    stream = h.hub.open_stream()
    h.hub.create(stream, b"k")
    assert [r.created for r in drain(stream)] == [True]
    h.put(b"k", durable=False)
    assert drain(stream) == []
    h.make_durable()
    [response] = drain(stream)
    assert (response.revision, [(e.type, e.kv.key) for e in response.events]) == (2, [(PUT, b"k")])


def test_a_txn_is_one_response_in_operation_order():
    h = Harness()
    h.put(b"a")
    stream = h.hub.open_stream()
    h.hub.create(stream, b"a", b"c")
    drain(stream)
    h.store.txn(TxnRequest([], [PutRequest(b"b", b"1"), DeleteRangeRequest(b"a")], []))
    h.make_durable()
    [response] = drain(stream)
    assert [(e.type, e.kv.key, e.kv.mod_revision) for e in response.events] == [
        (PUT, b"b", 3), (DELETE, b"a", 3)]


def test_empty_range_is_rejected_with_watch_id_minus_one():
    h = Harness()
    stream = h.hub.open_stream()
    h.hub.create(stream, b"b", b"a")
    [response] = drain(stream)
    assert (response.watch_id, response.created, response.canceled, response.cancel_reason) == (
        -1, True, True, EMPTY_RANGE)


def test_a_stream_that_stops_reading_falls_behind_and_catches_up_without_gaps_or_repeats():
    async def main() -> None:
        h = Harness()
        slow = h.hub.open_stream()
        fast = h.hub.open_stream()
        h.hub.create(slow, b"k", b"l")
        h.hub.create(fast, b"k", b"l")
        drain(fast)
        total = STREAM_BUFFER + 300
        for i in range(total):
            h.put(b"k%d" % i)
            drain(fast)  # the fast reader keeps up; the slow one reads nothing
        assert slow.pending_events == STREAM_BUFFER
        assert h.hub._unsynced  # the slow watcher left live delivery
        received = []
        for _ in range(50):
            while not slow.outbox.empty():
                response = slow.outbox.get_nowait()
                h.hub.taken(slow, response)
                received.extend(e.kv.mod_revision for e in response.events)
            await asyncio.sleep(0)
            if len(received) == total:
                break
        assert received == list(range(2, 2 + total))
        h.put(b"k-after")
        after = drain(slow)
        assert [e.kv.key for r in after for e in r.events] == [b"k-after"]

    asyncio.run(main())


def test_a_laggard_overtaken_by_compaction_is_cancelled_with_the_compact_revision():
    async def main() -> None:
        h = Harness()
        stream = h.hub.open_stream()
        h.hub.create(stream, b"k", b"l")
        for i in range(STREAM_BUFFER + 10):
            h.put(b"k%d" % i)
        h.store.compact(h.store.current_revision)
        while not stream.outbox.empty():
            h.hub.taken(stream, stream.outbox.get_nowait())
        await asyncio.sleep(0)
        [cancel] = drain(stream)
        assert (cancel.canceled, cancel.compact_revision, cancel.revision) == (
            True, h.store.compact_revision, 0)
        assert not h.hub._unsynced and not h.hub._synced
        h.put(b"k-later")
        assert drain(stream) == []
        # Its ID stays taken until the client cancels it, as in etcd.
        h.hub.cancel(stream, cancel.watch_id)
        [ack] = drain(stream)
        assert (ack.watch_id, ack.canceled) == (cancel.watch_id, True)
        assert h.hub.watcher_count() == 0

    asyncio.run(main())


def test_progress_request_waits_for_unsynced_watchers():
    async def main() -> None:
        h = Harness()
        for i in range(3):
            h.put(b"k%d" % i)
        stream = h.hub.open_stream()
        h.hub.create(stream, b"k", b"l", start_revision=2)
        responses = drain(stream)
        assert [len(r.events) for r in responses] == [0, 3]  # created, then the replay
        h.hub.request_progress(stream)
        [progress] = drain(stream)
        assert (progress.watch_id, progress.revision, progress.events) == (-1, 4, [])

    asyncio.run(main())


def test_periodic_progress_goes_to_idle_synced_watchers_that_asked_and_skips_busy_ones():
    async def main() -> None:
        h = Harness()
        stream = h.hub.open_stream()
        h.hub.create(stream, b"a", progress_notify=True)
        h.hub.create(stream, b"b", progress_notify=True)
        h.hub.create(stream, b"c")  # did not ask
        drain(stream)
        h.put(b"a")  # watcher 0 had events since the last tick: skipped once
        drain(stream)
        h.hub.send_progress_notifications()
        [progress] = drain(stream)
        assert (progress.watch_id, progress.revision, progress.events) == (1, 2, [])
        h.hub.send_progress_notifications()
        assert sorted(r.watch_id for r in drain(stream)) == [0, 1]

    asyncio.run(main())


def test_progress_ticker_runs_at_the_configured_interval():
    async def main() -> None:
        store = MVCCStore()
        hub = WatchHub(store, lambda: store.current_revision, ManualClock(), progress_interval=0.05)
        stream = hub.open_stream()
        hub.create(stream, b"k", progress_notify=True)
        drain(stream)
        ticker = asyncio.ensure_future(hub.run_progress_ticker())
        await asyncio.sleep(0.18)
        ticker.cancel()
        ticks = drain(stream)
        assert 2 <= len(ticks) <= 4 and all(r.watch_id == 0 and not r.events for r in ticks)

    asyncio.run(main())
