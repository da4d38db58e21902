"""KeyIndex: loading a whole history at once builds what recording it change by change builds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from etcdlite.mvcc.key_index import Change, KeyIndex
from etcdlite.mvcc.kv import KeyValue

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
    return [(key, [(c.main, c.sub, c.kv) for c in index.get(key).changes])
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
