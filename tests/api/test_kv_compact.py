"""Compact and HashKV: preconditions, what history survives, and HashKV values that must equal
etcd 3.4.23's for the same operations (reference §3.4, §5.6, §10.3, §12.13).

HashKV literals below were observed on a real etcd 3.4.23. Compactions use ``physical=True`` so
that etcd has finished deleting old entries when the RPC returns (the hash depends on it).
"""

from __future__ import annotations

import grpc

from etcd_api_helpers import (COMPACTED, FUTURE_REV, assert_full_header, current_revision, delete,
                              get, kv_tuples, put, rpc_error)
from etcdlite.proto import rpc_pb2

EMPTY_STORE_HASH = 1084519789  # CRC-32C of b"key"


def compact(target, revision: int, physical: bool = True):
    return target.kv.Compact(rpc_pb2.CompactionRequest(revision=revision, physical=physical))


def hash_kv(target, revision: int = 0):
    return target.maintenance.HashKV(rpc_pb2.HashKVRequest(revision=revision))


def test_compact_zero_and_one_succeed_once_on_a_fresh_store(target):
    response = compact(target, 0)
    assert_full_header(response.header, 1)
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, COMPACTED):
        compact(target, 0)
    assert_full_header(compact(target, 1).header, 1)
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, COMPACTED):
        compact(target, 1)
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, FUTURE_REV):
        compact(target, 2)
    assert put(target, b"a", b"1").header.revision == 2


def test_compact_preconditions_and_header_is_current_revision(target):
    assert_full_header(compact(target, 1).header, 1)  # Compact(1) on a fresh store works too
    for key in (b"a", b"b", b"c"):
        put(target, key, b"v")  # current revision 4
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, FUTURE_REV):
        compact(target, 5)
    response = compact(target, 3, physical=False)
    assert_full_header(response.header, 4)
    # compaction never advances the revision
    assert current_revision(target) == 4
    for revision in (3, 2, 1, 0, -1):
        with rpc_error(grpc.StatusCode.OUT_OF_RANGE, COMPACTED):
            compact(target, revision)
    # the current revision itself can be compacted
    assert_full_header(compact(target, 4).header, 4)
    assert put(target, b"d", b"v").header.revision == 5
    assert kv_tuples(get(target, b"a").kvs) == [(b"a", b"v", 2, 2, 1, 0)]


def test_compact_keeps_exact_history_at_and_above_the_compact_revision(target):
    put(target, b"a", b"a1")  # 2
    put(target, b"b", b"b1")  # 3
    put(target, b"a", b"a2")  # 4
    delete(target, b"b")      # 5  (tombstone at exactly the compact revision)
    put(target, b"c", b"c1")  # 6
    delete(target, b"c")      # 7
    put(target, b"d", b"d1")  # 8
    put(target, b"a", b"a3")  # 9
    put(target, b"e", b"e1")  # 10
    delete(target, b"e")      # 11
    expected = {
        5: [(b"a", b"a2", 2, 4, 2, 0)],
        6: [(b"a", b"a2", 2, 4, 2, 0), (b"c", b"c1", 6, 6, 1, 0)],
        7: [(b"a", b"a2", 2, 4, 2, 0)],
        8: [(b"a", b"a2", 2, 4, 2, 0), (b"d", b"d1", 8, 8, 1, 0)],
        9: [(b"a", b"a3", 2, 9, 3, 0), (b"d", b"d1", 8, 8, 1, 0)],
        10: [(b"a", b"a3", 2, 9, 3, 0), (b"d", b"d1", 8, 8, 1, 0), (b"e", b"e1", 10, 10, 1, 0)],
        11: [(b"a", b"a3", 2, 9, 3, 0), (b"d", b"d1", 8, 8, 1, 0)],
    }
    compact(target, 5)
    for revision, kvs in expected.items():
        response = get(target, b"\x00", b"\x00", revision=revision)
        assert kv_tuples(response.kvs) == kvs, revision
        assert response.count == len(kvs)
        assert response.header.revision == 11
    for revision in (4, 2, 1):
        with rpc_error(grpc.StatusCode.OUT_OF_RANGE, COMPACTED):
            get(target, b"\x00", b"\x00", revision=revision)
    compact(target, 8)
    for revision in (8, 9, 10, 11):
        assert kv_tuples(get(target, b"\x00", b"\x00", revision=revision).kvs) == expected[revision]
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, COMPACTED):
        get(target, b"a", revision=7)
    # versions keep counting within a generation after compaction; deleted keys start over
    put(target, b"a", b"a4")  # 12
    put(target, b"b", b"b2")  # 13
    assert kv_tuples(get(target, b"a", b"c").kvs) == [(b"a", b"a4", 2, 12, 4, 0),
                                                    (b"b", b"b2", 13, 13, 1, 0)]


def test_hashkv_on_empty_store_and_after_a_first_compaction(target):
    response = hash_kv(target)
    assert (response.hash, response.compact_revision) == (EMPTY_STORE_HASH, -1)
    assert_full_header(response.header, 1)
    put(target, b"a", b"1")  # 2
    response = hash_kv(target)
    assert (response.hash, response.compact_revision) == (2587454935, -1)
    assert (hash_kv(target, 1).hash, hash_kv(target, 1).compact_revision) == (EMPTY_STORE_HASH, -1)
    compact(target, 1)
    response = hash_kv(target)
    assert (response.hash, response.compact_revision) == (2587454935, 1)
    assert_full_header(response.header, 2)
    assert hash_kv(target, 2).hash == 2587454935
    # at or below the compact revision fails (unlike Range, `<=`); above current is future
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, COMPACTED):
        hash_kv(target, 1)
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, FUTURE_REV):
        hash_kv(target, 3)


def test_hashkv_values_match_etcd_through_history_and_compactions(target):
    put(target, b"a", b"1")  # 2
    put(target, b"b", b"1")  # 3
    put(target, b"a", b"2")  # 4
    delete(target, b"b")     # 5
    put(target, b"c", b"1")  # 6
    put(target, b"b", b"2")  # 7
    delete(target, b"c")     # 8
    put(target, b"d", b"1")  # 9
    observed = {0: 2276732748, 9: 2276732748, 5: 1416966122, 4: 3086679940, 1: EMPTY_STORE_HASH}
    for revision, value in observed.items():
        response = hash_kv(target, revision)
        assert (response.hash, response.compact_revision) == (value, -1), revision
        # the header carries the current revision, not the hashed one
        assert_full_header(response.header, 9)
    compact(target, 5)
    for revision, value in {0: 326969455, 9: 326969455, 6: 709067906}.items():
        response = hash_kv(target, revision)
        assert (response.hash, response.compact_revision) == (value, 5), revision
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, COMPACTED):
        hash_kv(target, 5)
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, FUTURE_REV):
        hash_kv(target, 10)
    compact(target, 8)
    for revision in (0, 9):
        response = hash_kv(target, revision)
        assert (response.hash, response.compact_revision) == (2726634185, 8), revision
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, COMPACTED):
        hash_kv(target, 8)


def test_hashkv_revision_zero_works_when_current_revision_is_compacted(target):
    put(target, b"x", b"1")  # 2
    put(target, b"y", b"1")  # 3
    compact(target, 3)
    # revision 0 means "current" and is not checked against the compact revision
    response = hash_kv(target, 0)
    assert (response.hash, response.compact_revision) == (3390925395, 3)
    assert_full_header(response.header, 3)
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, COMPACTED):
        hash_kv(target, 3)


def test_hashkv_skips_compacted_entries_not_kept_at_the_hashed_revision(target):
    # etcd 3.4.23 hashes an entry at or below the compact revision only if it is also the
    # newest live revision of its key at the *hashed* revision (mvcc kvindex.Keep(rev)), unless
    # that keep set is empty. x@2 survives Compact(3) (it is x's newest entry <= 3) but is left
    # out of the hash once x@4 supersedes it.
    put(target, b"x", b"1")  # 2
    put(target, b"y", b"1")  # 3
    compact(target, 3)
    put(target, b"x", b"2")  # 4
    assert hash_kv(target, 0).hash == 3921463605
    assert hash_kv(target, 4).hash == 3921463605
    delete(target, b"y")  # 5
    assert hash_kv(target, 0).hash == 2719456707
    assert hash_kv(target, 4).hash == 3921463605
    assert kv_tuples(get(target, b"x", revision=3).kvs) == [(b"x", b"1", 2, 2, 1, 0)]


def test_hashkv_after_a_delete_of_the_only_compacted_key(target):
    put(target, b"x", b"1")  # 2
    compact(target, 2)
    delete(target, b"x")  # 3
    # no live key at revision 3: etcd's keep set is empty and x@2 is hashed
    assert hash_kv(target, 0).hash == 2573566874
    assert hash_kv(target, 3).hash == 2573566874
    put(target, b"z", b"1")  # 4
    # z is live at 4, so x@2 (at or below the compact revision, not kept at 4) is skipped
    assert hash_kv(target, 0).hash == 744734565
    assert hash_kv(target, 3).hash == 2573566874
