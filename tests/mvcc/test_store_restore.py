"""MVCCStore.restore: a loaded history is the store's own; what it was loaded from stays as it was."""

from __future__ import annotations

from etcdlite.mvcc.requests import PutRequest, RangeRequest
from etcdlite.mvcc.store import MVCCStore


def test_writes_after_a_restore_do_not_reach_the_history_it_was_restored_from():
    source = MVCCStore()
    source.put(PutRequest(b"a", b"1"))
    source.put(PutRequest(b"a", b"2"))
    history = source.history()
    first, second = MVCCStore(), MVCCStore()
    first.restore(history, source.compact_revision)
    first.put(PutRequest(b"b", b"3"))
    assert len(history) == 2
    second.restore(history, source.compact_revision)
    assert second.current_revision == 3
    assert second.range(RangeRequest(b"b")).kvs == []
    assert [kv.value for kv in second.range(RangeRequest(b"a")).kvs] == [b"2"]
    assert second.live_keys == 1
