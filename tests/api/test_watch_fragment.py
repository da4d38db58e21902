"""Large watch responses: split into fragments when the watcher asked for it (reference §7.3)."""

from __future__ import annotations

import queue
import threading

from etcdlite.proto import rpc_pb2

VALUE = b"x" * 1_000_000  # three of them exceed one 2 MiB response, two do not


def _responses(target, create: rpc_pb2.WatchCreateRequest, count: int) -> list:
    requests: queue.Queue = queue.Queue()
    requests.put(rpc_pb2.WatchRequest(create_request=create))

    def iterator():
        while True:
            item = requests.get()
            if item is None:
                return
            yield item

    call = target.watch.Watch(iterator())
    got: queue.Queue = queue.Queue()

    def read():
        try:
            for response in call:
                got.put(response)
        except Exception:
            pass

    threading.Thread(target=read, daemon=True).start()
    out = []
    try:
        for _ in range(count):
            out.append(got.get(timeout=20))
    finally:
        call.cancel()
        requests.put(None)
    return out


def _history(target) -> None:
    for i in range(3):
        target.kv.Put(rpc_pb2.PutRequest(key=b"big/%d" % i, value=VALUE))  # revisions 2, 3, 4


def test_replay_over_the_size_limit_is_split_into_fragments_when_asked(target):
    _history(target)
    created, first, last = _responses(target, rpc_pb2.WatchCreateRequest(
        key=b"big/", range_end=b"big0", start_revision=2, fragment=True), 3)
    assert created.created
    assert (first.fragment, [e.kv.mod_revision for e in first.events]) == (True, [2, 3])
    assert (last.fragment, [e.kv.mod_revision for e in last.events]) == (False, [4])
    assert first.watch_id == last.watch_id == created.watch_id
    assert first.header.revision == last.header.revision == 4


def test_replay_over_the_size_limit_comes_whole_without_the_fragment_flag(target):
    _history(target)
    created, whole = _responses(target, rpc_pb2.WatchCreateRequest(
        key=b"big/", range_end=b"big0", start_revision=2), 2)
    assert created.created
    assert (whole.fragment, [e.kv.mod_revision for e in whole.events]) == (False, [2, 3, 4])
