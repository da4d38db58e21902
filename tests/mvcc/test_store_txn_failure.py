"""A txn that fails half-way changes nothing (etcd 3.4 would crash; we refuse the whole txn)."""

from __future__ import annotations

import pytest

from etcdlite import errors
from etcdlite.mvcc.requests import DeleteRangeRequest, PutRequest, RangeRequest, TxnRequest
from etcdlite.mvcc.store import MVCCStore


def test_put_with_ignore_value_after_a_from_key_delete_of_its_key_refuses_the_whole_txn():
    store = MVCCStore()
    store.put(PutRequest(b"k", b"1"))
    seen = []
    store.add_listener(seen.append)
    txn = TxnRequest([], [DeleteRangeRequest(b"a", b"\x00"), PutRequest(b"k", ignore_value=True)], [])
    with pytest.raises(errors.KEY_NOT_FOUND):
        store.txn(txn)
    assert seen == []
    assert store.current_revision == 2
    assert [kv.value for kv in store.range(RangeRequest(b"k")).kvs] == [b"1"]
    assert [(c.main, c.sub) for c in store.history()] == [(2, 0)]
    assert store.put(PutRequest(b"k", b"2")).revision == 3
    assert store.get(b"k").version == 2


def test_errors_are_fresh_instances_so_tracebacks_do_not_pile_up():
    store = MVCCStore()
    caught = []
    for _ in range(3):
        with pytest.raises(errors.COMPACTED) as raised:
            store.compact(-5)
        caught.append(raised.value)
    assert caught[0] is not caught[1]
    assert caught[0] == errors.COMPACTED == caught[2]
