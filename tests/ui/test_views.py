"""The browser view's record of when recipe keys were created ("waiting since")."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from etcdlite.mvcc.key_index import Change
from etcdlite.mvcc.kv import KeyValue
from etcdlite.ui.views import CreationTimes

KEYS = [b"lock/a", b"lock/b", b"lock/c"]

# a put (of a key, with or without a lease) or a deletion of a key
operations = st.lists(st.tuples(st.sampled_from(["put", "delete"]), st.sampled_from(KEYS),
                                st.sampled_from([0, 7])), max_size=40)


@settings(max_examples=300)
@given(operations)
def test_a_key_has_a_creation_time_exactly_while_its_leased_incarnation_lives(ops):
    times = CreationTimes()
    live: dict[bytes, KeyValue] = {}
    revision = 1
    for op, key, lease in ops:
        revision += 1
        old = live.get(key)
        if op == "delete":
            if old is None:
                continue
            del live[key]
            change = Change(revision, 0, key, None)
        else:
            create, version = (old.create_revision, old.version + 1) if old else (revision, 1)
            live[key] = KeyValue(key, create, revision, version, b"v", lease)
            change = Change(revision, 0, key, live[key])
        times.record(revision, [change])
        assert set(times.seen) <= set(live)
    for key, kv in live.items():
        assert (times.of(kv) is not None) == _created_with_lease(ops, key)


def _created_with_lease(ops, key) -> bool:
    """Whether the put that began the key's current incarnation carried a lease."""
    leased = False
    exists = False
    for op, k, lease in ops:
        if k != key:
            continue
        if op == "delete":
            exists = False
        elif not exists:
            exists, leased = True, bool(lease)
    return exists and leased


def test_deleted_keys_have_no_creation_time_and_leave_no_entry():
    """The record holds live keys only (a revoke of many leased keys empties it)."""
    times = CreationTimes()
    kvs = [KeyValue(b"k%d" % i, i + 2, i + 2, 1, b"v", 7) for i in range(2000)]
    times.record(2001, [Change(kv.mod_revision, 0, kv.key, kv) for kv in kvs])
    assert len(times.seen) == 2000
    times.record(4002, [Change(4002, i, kv.key, None) for i, kv in enumerate(kvs)])
    assert times.seen == {}
    assert all(times.of(kv) is None for kv in kvs)
