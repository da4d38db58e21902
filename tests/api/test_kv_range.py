"""Range: key-range conventions, limit/more/count, count_only/keys_only, sorting, filters and
reading at old revisions (reference §3.3, §4)."""

from __future__ import annotations

import grpc

from etcd_api_helpers import (COMPACTED, FUTURE_REV, R, assert_full_header, delete, get, keys,
                              kv_tuples, put, rpc_error)
from etcdlite.proto import rpc_pb2


def _abcd(target) -> None:
    for key in [b"a", b"b", b"c", b"d"]:
        put(target, key, b"v" + key)  # a@2 b@3 c@4 d@5


# -- single keys and key-range conventions (§4.1) -------------------------------------------


def test_range_single_key_missing_key_zero_byte_key_and_empty_store(target):
    response = get(target, b"\x00", b"\x00")
    assert_full_header(response.header, 1)  # an empty store is at revision 1
    assert (list(response.kvs), response.count, response.more) == ([], 0, False)

    put(target, b"a", b"1")
    put(target, b"a", b"2")
    put(target, b"ab", b"x")
    response = get(target, b"a")
    assert_full_header(response.header, 4)
    assert kv_tuples(response.kvs) == [(b"a", b"2", 2, 3, 2, 0)]
    assert (response.count, response.more) == (1, False)

    response = get(target, b"b")
    assert_full_header(response.header, 4)
    assert (list(response.kvs), response.count, response.more) == ([], 0, False)

    # serializable changes nothing observable on a single node
    response = get(target, b"a", serializable=True)
    assert_full_header(response.header, 4)
    assert kv_tuples(response.kvs) == [(b"a", b"2", 2, 3, 2, 0)]

    # "\0" is a valid single key
    put(target, b"\x00", b"zero")
    put(target, b"\x00\x00", b"two zeros")
    assert kv_tuples(get(target, b"\x00").kvs) == [(b"\x00", b"zero", 5, 5, 1, 0)]


def test_range_end_conventions_exclusive_from_key_all_keys_empty_and_prefix(target):
    _abcd(target)
    put(target, b"\x00", b"zero")   # 6
    put(target, b"\xff\xff", b"ff")  # 7
    # [key, range_end) is half-open
    response = get(target, b"b", b"d")
    assert keys(response.kvs) == [b"b", b"c"]
    assert response.count == 2
    # range_end "\0": every key >= key
    response = get(target, b"b", b"\x00")
    assert keys(response.kvs) == [b"b", b"c", b"d", b"\xff\xff"]
    assert response.count == 4
    # key "\0" and range_end "\0": every key
    response = get(target, b"\x00", b"\x00")
    assert keys(response.kvs) == [b"\x00", b"a", b"b", b"c", b"d", b"\xff\xff"]
    assert response.count == 6
    # range_end <= key: empty, not an error
    for range_end in (b"c", b"b", b"a", b"\x01"):
        response = get(target, b"c", range_end)
        assert (list(response.kvs), response.count, response.more) == ([], 0, False), range_end
        assert_full_header(response.header, 7)
    # prefixes are client-side successor ranges
    for key in (b"a\xff", b"a\xff\x01", b"aa", b"ab"):
        put(target, key, b"x")
    # prefix "a\xff" -> range_end "b"; prefix "a" -> range_end "b"; prefix "aa" -> "ab"
    assert keys(get(target, b"a\xff", b"b").kvs) == [b"a\xff", b"a\xff\x01"]
    assert keys(get(target, b"a", b"b").kvs) == [b"a", b"aa", b"ab", b"a\xff", b"a\xff\x01"]
    assert keys(get(target, b"aa", b"ab").kvs) == [b"aa"]


# -- limit, more, count, count_only, keys_only (§4.2, §4.3) -------------------------------------


def test_range_limit_sets_more_count_ignores_limit_and_nonpositive_limit_is_unlimited(target):
    _abcd(target)
    for limit, expected in ((1, [b"a"]), (2, [b"a", b"b"]), (3, [b"a", b"b", b"c"])):
        response = get(target, b"a", b"\x00", limit=limit)
        assert keys(response.kvs) == expected
        assert (response.more, response.count) == (True, 4), limit
    for limit in (4, 5, 100, 0, -1, -100):
        response = get(target, b"a", b"\x00", limit=limit)
        assert keys(response.kvs) == [b"a", b"b", b"c", b"d"], limit
        assert (response.more, response.count) == (False, 4), limit


def test_range_count_only_and_keys_only(target):
    put(target, b"a", b"1")
    put(target, b"a", b"2")
    put(target, b"b", b"3")
    put(target, b"c", b"4")
    # count_only: no kvs, count of the range, more false even with a limit
    response = get(target, b"a", b"\x00", count_only=True, limit=1)
    assert list(response.kvs) == []
    assert (response.count, response.more) == (3, False)
    assert_full_header(response.header, 5)
    response = get(target, b"b", b"c", count_only=True)
    assert (list(response.kvs), response.count, response.more) == ([], 1, False)
    # keys_only: value blank, every other field returned
    response = get(target, b"a", b"c", keys_only=True)
    assert kv_tuples(response.kvs) == [(b"a", b"", 2, 3, 2, 0), (b"b", b"", 4, 4, 1, 0)]
    assert (response.count, response.more) == (2, False)
    response = get(target, b"a", b"\x00", keys_only=True, limit=1)
    assert kv_tuples(response.kvs) == [(b"a", b"", 2, 3, 2, 0)]
    assert (response.count, response.more) == (3, True)


def test_range_count_ignores_limit_and_filters_while_more_reflects_filtered_set(target):
    _abcd(target)  # mod revisions 2..5
    # reference §4.3: 4 keys, min_mod_revision keeping 2, limit=1 -> 1 kv, more, count 4
    response = get(target, b"a", b"\x00", min_mod_revision=4, limit=1)
    assert keys(response.kvs) == [b"c"]
    assert (response.more, response.count) == (True, 4)
    # the filter leaves exactly `limit` kvs: more is false although the range holds more keys
    response = get(target, b"a", b"\x00", min_mod_revision=4, limit=2)
    assert keys(response.kvs) == [b"c", b"d"]
    assert (response.more, response.count) == (False, 4)
    # everything filtered away
    response = get(target, b"a", b"\x00", min_mod_revision=6)
    assert (list(response.kvs), response.more, response.count) == ([], False, 4)


def test_range_mod_and_create_revision_filters_are_inclusive(target):
    put(target, b"a", b"1")  # a create 2
    put(target, b"b", b"1")  # b create 3
    put(target, b"c", b"1")  # c create 4
    put(target, b"a", b"2")  # a mod 5
    # a: create 2 mod 5; b: create 3 mod 3; c: create 4 mod 4
    every = dict(key=b"a", range_end=b"\x00")
    assert keys(get(target, **every, min_mod_revision=4).kvs) == [b"a", b"c"]
    assert keys(get(target, **every, max_mod_revision=4).kvs) == [b"b", b"c"]
    assert keys(get(target, **every, min_mod_revision=3, max_mod_revision=4).kvs) == [b"b", b"c"]
    assert keys(get(target, **every, min_create_revision=3).kvs) == [b"b", b"c"]
    assert keys(get(target, **every, max_create_revision=3).kvs) == [b"a", b"b"]
    assert keys(get(target, **every, min_create_revision=3, max_create_revision=3).kvs) == [b"b"]
    assert keys(get(target, **every, min_create_revision=3, min_mod_revision=4).kvs) == [b"c"]
    response = get(target, **every, max_create_revision=3, min_mod_revision=5)
    assert keys(response.kvs) == [b"a"]
    assert response.count == 3


# -- sorting (§4.3) -------------------------------------------------------------------------------


def _sort_fixture(target) -> None:
    """Four keys whose KEY, VERSION, CREATE, MOD and VALUE orders all differ and have no ties.

    a: create 3, mod 7, version 3, value "4"
    b: create 5, mod 5, version 1, value "2"
    c: create 2, mod 8, version 2, value "3"
    d: create 4, mod 11, version 4, value "1"
    """
    for key, value in ((b"c", b"3"), (b"a", b"4"), (b"d", b"1"), (b"b", b"2"), (b"a", b"4"),
                       (b"a", b"4"), (b"c", b"3"), (b"d", b"1"), (b"d", b"1"), (b"d", b"1")):
        put(target, key, value)


ASCENDING = {
    R.KEY: [b"a", b"b", b"c", b"d"],
    R.VERSION: [b"b", b"c", b"a", b"d"],
    R.CREATE: [b"c", b"a", b"d", b"b"],
    R.MOD: [b"b", b"a", b"c", b"d"],
    R.VALUE: [b"d", b"b", b"c", b"a"],
}


def test_range_sort_every_target_and_order(target):
    _sort_fixture(target)
    for sort_target, order in ASCENDING.items():
        response = get(target, b"a", b"\x00", sort_target=sort_target, sort_order=R.ASCEND)
        assert keys(response.kvs) == order, sort_target
        response = get(target, b"a", b"\x00", sort_target=sort_target, sort_order=R.DESCEND)
        assert keys(response.kvs) == order[::-1], sort_target
        assert (response.count, response.more) == (4, False)
        # order NONE: key order for KEY, ascending for every other target
        response = get(target, b"a", b"\x00", sort_target=sort_target, sort_order=R.NONE)
        assert keys(response.kvs) == order, sort_target
    # with ASCEND/DESCEND the whole range is sorted before the limit applies
    response = get(target, b"a", b"\x00", sort_target=R.KEY, sort_order=R.DESCEND, limit=2)
    assert keys(response.kvs) == [b"d", b"c"]
    assert (response.more, response.count) == (True, 4)
    response = get(target, b"a", b"\x00", sort_target=R.VALUE, sort_order=R.ASCEND, limit=2)
    assert keys(response.kvs) == [b"d", b"b"]
    assert (response.more, response.count) == (True, 4)
    response = get(target, b"a", b"\x00", sort_target=R.CREATE, sort_order=R.DESCEND, limit=1)
    assert keys(response.kvs) == [b"b"]
    assert (response.more, response.count) == (True, 4)
    # sorting after filters, with keys_only
    response = get(target, b"a", b"\x00", sort_target=R.MOD, sort_order=R.DESCEND,
                   min_create_revision=3, keys_only=True)
    assert kv_tuples(response.kvs) == [(b"d", b"", 4, 11, 4, 0), (b"a", b"", 3, 7, 3, 0),
                                       (b"b", b"", 5, 5, 1, 0)]
    assert response.count == 4


def test_range_sort_order_none_with_limit_sorts_only_first_limit_plus_one_keys(target):
    _sort_fixture(target)
    # fetches a, b, c (limit + 1 in key order), sorts them by value ("4", "2", "3"), keeps 2
    response = get(target, b"a", b"\x00", sort_target=R.VALUE, sort_order=R.NONE, limit=2)
    assert keys(response.kvs) == [b"b", b"c"]
    assert (response.more, response.count) == (True, 4)
    # limit 1 -> a, b fetched; by create revision (3, 5) -> a, although c has the smallest
    response = get(target, b"a", b"\x00", sort_target=R.CREATE, sort_order=R.NONE, limit=1)
    assert keys(response.kvs) == [b"a"]
    assert (response.more, response.count) == (True, 4)
    # any revision filter makes etcd fetch the whole range first (§4.3 step 1)
    response = get(target, b"a", b"\x00", sort_target=R.VALUE, sort_order=R.NONE, limit=2,
                   min_mod_revision=1)
    assert keys(response.kvs) == [b"d", b"b"]
    assert (response.more, response.count) == (True, 4)


# -- old revisions (§3.3) -------------------------------------------------------------------------


def _history(target) -> None:
    put(target, b"a", b"a1")  # 2: a gen 1 v1
    put(target, b"a", b"a2")  # 3: a gen 1 v2
    put(target, b"b", b"b1")  # 4
    delete(target, b"a")      # 5: a deleted
    put(target, b"a", b"a3")  # 6: a gen 2 v1
    put(target, b"b", b"b2")  # 7
    put(target, b"a", b"a4")  # 8: a gen 2 v2


def test_range_at_old_revisions_returns_each_generation_with_current_header(target):
    _history(target)
    expected = {
        1: [],
        2: [(b"a", b"a1", 2, 2, 1, 0)],
        3: [(b"a", b"a2", 2, 3, 2, 0)],
        4: [(b"a", b"a2", 2, 3, 2, 0), (b"b", b"b1", 4, 4, 1, 0)],
        5: [(b"b", b"b1", 4, 4, 1, 0)],
        6: [(b"a", b"a3", 6, 6, 1, 0), (b"b", b"b1", 4, 4, 1, 0)],
        7: [(b"a", b"a3", 6, 6, 1, 0), (b"b", b"b2", 4, 7, 2, 0)],
        8: [(b"a", b"a4", 6, 8, 2, 0), (b"b", b"b2", 4, 7, 2, 0)],
    }
    for revision, kvs in expected.items():
        response = get(target, b"\x00", b"\x00", revision=revision)
        assert kv_tuples(response.kvs) == kvs, revision
        assert response.count == len(kvs)
        # the header carries the current revision, not the one read
        assert_full_header(response.header, 8)
    # a single key deleted at that revision
    assert (list(get(target, b"a", revision=5).kvs), get(target, b"a", revision=5).count) == ([], 0)
    assert kv_tuples(get(target, b"a", revision=4).kvs) == [(b"a", b"a2", 2, 3, 2, 0)]
    # revision 0 and negative revisions read the current revision
    for revision in (0, -1, -100):
        response = get(target, b"\x00", b"\x00", revision=revision)
        assert kv_tuples(response.kvs) == expected[8], revision
        assert response.header.revision == 8


def test_range_old_revision_applies_limit_filters_and_sort(target):
    _history(target)
    response = get(target, b"\x00", b"\x00", revision=7, limit=1)
    assert keys(response.kvs) == [b"a"]
    assert (response.more, response.count) == (True, 2)
    response = get(target, b"\x00", b"\x00", revision=7, sort_target=R.MOD, sort_order=R.DESCEND)
    assert keys(response.kvs) == [b"b", b"a"]
    response = get(target, b"\x00", b"\x00", revision=4, max_create_revision=3)
    assert keys(response.kvs) == [b"a"]
    assert response.count == 2
    response = get(target, b"\x00", b"\x00", revision=3, count_only=True)
    assert (list(response.kvs), response.count) == ([], 1)


def test_range_future_and_compacted_revisions_are_out_of_range(target):
    _history(target)
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, FUTURE_REV):
        get(target, b"a", revision=9)
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, FUTURE_REV):
        get(target, b"a", revision=1000, count_only=True)
    target.kv.Compact(rpc_pb2.CompactionRequest(revision=6, physical=True))
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, COMPACTED):
        get(target, b"a", revision=5)
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, COMPACTED):
        get(target, b"\x00", b"\x00", revision=1)
    # exactly the compact revision still works
    response = get(target, b"\x00", b"\x00", revision=6)
    assert kv_tuples(response.kvs) == [(b"a", b"a3", 6, 6, 1, 0), (b"b", b"b1", 4, 4, 1, 0)]
    assert response.header.revision == 8
    # negative still means "current" for a standalone Range after compaction
    assert kv_tuples(get(target, b"a", revision=-1).kvs) == [(b"a", b"a4", 6, 8, 2, 0)]
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, FUTURE_REV):
        get(target, b"a", revision=9)
