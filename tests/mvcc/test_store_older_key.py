"""MVCCStore.has_older_key: the recipes' hint that a new key waits behind an older one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from etcdlite.mvcc.requests import (SORT_ASCEND, TARGET_CREATE, DeleteRangeRequest, PutRequest,
                                    RangeRequest)
from etcdlite.mvcc.store import MVCCStore


def test_only_live_keys_of_the_range_created_before_the_revision_count():
    store = MVCCStore()
    store.put(PutRequest(b"other", b""))  # 2, outside the range
    store.put(PutRequest(b"p/a", b""))  # 3
    store.put(PutRequest(b"p/b", b""))  # 4
    store.delete_range(DeleteRangeRequest(b"p/a"))  # 5
    assert not store.has_older_key(b"p/", b"p0", 4)  # p/a is gone, p/b is not older than 4
    assert store.has_older_key(b"p/", b"p0", 5)
    ranges = store.counts.ranges
    store.has_older_key(b"p/", b"p0", 5)
    assert store.counts.ranges == ranges  # not a client's read


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from([b"p/a", b"p/b", b"p/c", b"q"])), max_size=20),
       st.integers(1, 25))
def test_agrees_with_the_oldest_key_a_range_by_create_revision_finds(ops, revision):
    store = MVCCStore()
    for put, key in ops:
        if put:
            store.put(PutRequest(key, b""))
        else:
            store.delete_range(DeleteRangeRequest(key))
    oldest = store.range(RangeRequest(b"p/", b"p0", limit=1, sort_order=SORT_ASCEND,
                                      sort_target=TARGET_CREATE)).kvs
    assert store.has_older_key(b"p/", b"p0", revision) == bool(oldest and oldest[0].create_revision < revision)
