"""DeleteRange: counts, prev_kvs, revisions and range forms (reference §3.1, §4.1, §5.2)."""

from __future__ import annotations

from etcd_api_helpers import (assert_full_header, current_revision, delete, get, keys, kv_tuple,
                              kv_tuples, put)


def test_delete_single_key_creates_one_revision_and_ends_the_generation(target):
    put(target, b"a", b"1")
    put(target, b"ab", b"2")
    response = delete(target, b"a")
    assert_full_header(response.header, 4)
    assert response.deleted == 1
    assert list(response.prev_kvs) == []  # only with prev_kv
    assert keys(get(target, b"\x00", b"\x00").kvs) == [b"ab"]
    # a put after the delete starts a new generation; the old one is still readable
    put(target, b"a", b"3")  # 5
    assert kv_tuples(get(target, b"a").kvs) == [(b"a", b"3", 5, 5, 1, 0)]
    assert kv_tuples(get(target, b"a", revision=3).kvs) == [(b"a", b"1", 2, 2, 1, 0)]
    assert get(target, b"a", revision=4).count == 0


def test_delete_of_nothing_leaves_revision_unchanged(target):
    put(target, b"a", b"1")
    for key, range_end in ((b"b", b""), (b"b", b"z"), (b"c", b"b"), (b"a", b"a"),
                           (b"b", b"\x00")):
        response = delete(target, key, range_end, prev_kv=True)
        assert_full_header(response.header, 2)
        assert (response.deleted, list(response.prev_kvs)) == (0, [])
    # deleting an already deleted key is also a no-op
    delete(target, b"a")
    response = delete(target, b"a")
    assert (response.deleted, response.header.revision) == (0, 3)
    assert current_revision(target) == 3


def test_delete_range_returns_prev_kvs_in_key_order_under_one_revision(target):
    put(target, b"c", b"3")  # 2
    put(target, b"a", b"1")  # 3
    put(target, b"b", b"2")  # 4
    put(target, b"a", b"1b")  # 5
    put(target, b"d", b"4")  # 6
    response = delete(target, b"a", b"d", prev_kv=True)
    assert_full_header(response.header, 7)
    assert response.deleted == 3
    assert kv_tuples(response.prev_kvs) == [(b"a", b"1b", 3, 5, 2, 0), (b"b", b"2", 4, 4, 1, 0),
                                            (b"c", b"3", 2, 2, 1, 0)]
    assert kv_tuples(get(target, b"\x00", b"\x00").kvs) == [(b"d", b"4", 6, 6, 1, 0)]
    # only live keys count: deleting the whole range again removes just d
    response = delete(target, b"\x00", b"\x00", prev_kv=True)
    assert (response.deleted, response.header.revision) == (1, 8)
    assert kv_tuple(response.prev_kvs[0]) == (b"d", b"4", 6, 6, 1, 0)


def test_delete_range_forms_from_key_all_keys_and_prefix(target):
    for key in (b"\x00", b"a", b"aa", b"ab", b"b", b"c"):
        put(target, key, b"x")  # revisions 2..7
    response = delete(target, b"aa", b"ab")  # prefix "aa"
    assert (response.deleted, response.header.revision) == (1, 8)
    response = delete(target, b"b", b"\x00")  # from key
    assert (response.deleted, response.header.revision) == (2, 9)
    assert keys(get(target, b"\x00", b"\x00").kvs) == [b"\x00", b"a", b"ab"]
    response = delete(target, b"\x00", b"\x00", prev_kv=True)  # every key
    assert (response.deleted, response.header.revision) == (3, 10)
    assert keys(response.prev_kvs) == [b"\x00", b"a", b"ab"]
    assert get(target, b"\x00", b"\x00").count == 0

