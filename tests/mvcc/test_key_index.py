"""KeyIndex: loading a whole history at once builds what recording it change by change builds.
Change: one flat tuple per stored revision that gives back the KeyValue it was made of."""

from __future__ import annotations

import copy
import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from etcdlite.mvcc.key_index import Change, KeyIndex
from etcdlite.mvcc.kv import KeyValue, encode_key_value
from etcdlite.mvcc.revision import revision_to_bytes

keys = st.binary(min_size=1, max_size=3)


@st.composite
def histories(draw) -> list[Change]:
    """Changes in revision order: puts and deletes of a few keys, several per main revision."""
    changes, main = [], 1
    for _ in range(draw(st.integers(0, 40))):
        main += 1
        for sub in range(draw(st.integers(1, 3))):
            key = draw(keys)
            deleted = draw(st.booleans()) and draw(st.booleans())
            changes.append(Change(main, sub, key, None if deleted else KeyValue(key, main, main, 1, b"v")))
    return changes


def _state(index: KeyIndex) -> list:
    return [(key, [(c.main, c.sub, c.kv) for c in index.get(key)])
            for key in index.keys_in_range(b"\0", b"\0")]


@settings(max_examples=200)
@given(histories())
def test_record_all_builds_the_index_that_recording_one_change_at_a_time_builds(changes):
    one_by_one, at_once = KeyIndex(), KeyIndex()
    for change in changes:
        one_by_one.record(change)
    at_once.record_all(changes)
    assert _state(at_once) == _state(one_by_one)
    assert list(at_once.keys_in_range(b"\0", b"\0")) == sorted({c.key for c in changes})
    assert at_once.live_keys() == sum(1 for key in {c.key for c in changes}
                                      if one_by_one.get(key).latest() is not None)
    assert len(at_once) == len(one_by_one)


key_values = st.builds(KeyValue, st.binary(max_size=4), st.integers(1, 2**63 - 1), st.integers(1, 2**63 - 1),
                       st.integers(1, 2**63 - 1), st.binary(max_size=8), st.integers(-2**63, 2**63 - 1))


@given(st.integers(1, 2**63 - 1), st.integers(0, 2**63 - 1), key_values)
def test_a_change_gives_back_the_key_value_it_was_made_of(main, sub, kv):
    change = Change(main, sub, kv.key, kv)
    assert (change.main, change.sub, change.key, change.kv) == (main, sub, kv.key, kv)
    assert type(change.kv) is KeyValue
    assert not change.deleted
    assert (change.version, change.value, change.lease) == (kv.version, kv.value, kv.lease)
    assert change.storage_key() == revision_to_bytes(main, sub)
    assert change.storage_value() == encode_key_value(kv)
    assert pickle.loads(pickle.dumps(change)) == change == copy.deepcopy(change)
    assert eval(repr(change)) == change


@given(st.integers(1, 2**63 - 1), st.integers(0, 2**63 - 1), st.binary(max_size=4))
def test_a_tombstone_has_no_key_value_and_is_stored_as_etcd_stores_one(main, sub, key):
    change = Change(main, sub, key, None)
    assert change.kv is None and change.deleted
    assert change.storage_key() == revision_to_bytes(main, sub, tombstone=True)
    assert change.storage_value() == encode_key_value(KeyValue(key, 0, 0, 0, b"", 0))
    assert pickle.loads(pickle.dumps(change)) == change
    assert change != Change(main, sub, key, KeyValue(key, 0, 0, 0, b"", 0))
