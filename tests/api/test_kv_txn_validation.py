"""Txn validation: op budgets, empty keys/ops, duplicate-key rules, lease / ignore_value checks
against the pre-txn state and range revision checks (reference §5.3, §11.1, §12.12)."""

from __future__ import annotations

import grpc

from etcd_api_helpers import (C, COMPACTED, DUPLICATE_KEY, EMPTY_KEY, FUTURE_REV, KEY_NOT_FOUND,
                              LEASE_NOT_FOUND, LEASE_PROVIDED, TOO_MANY_OPS, VALUE_PROVIDED, cmp,
                              current_revision, get, keys, kv_tuples, op_delete, op_put, op_range,
                              op_txn, put, rpc_error, txn)
from etcdlite.proto import rpc_pb2


def _ranges(n: int) -> list:
    return [op_range(b"r%d" % i) for i in range(n)]


def test_txn_at_most_128_ops_per_level(target):
    response = txn(target, success=[op_put(b"k%03d" % i, b"v") for i in range(128)])
    assert response.header.revision == 2
    assert len(response.responses) == 128
    assert get(target, b"k", b"l").count == 128
    for request in (
        dict(success=[op_put(b"x%03d" % i, b"v") for i in range(129)]),
        dict(failure=_ranges(129)),
        dict(compare=[cmp(b"k000", C.VERSION, C.GREATER)] * 129),
    ):
        with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, TOO_MANY_OPS):
            txn(target, **request)
    assert txn(target, compare=[cmp(b"k000", C.VERSION, C.GREATER)] * 128).succeeded is True
    assert current_revision(target) == 2


def test_nested_txn_budget_is_parent_budget_minus_parent_op_count(target):
    # reference §5.3: a parent with 100 ranges + 1 nested txn (n = 101) leaves 27 for the child
    response = txn(target, success=_ranges(100) + [op_txn(success=_ranges(27))])
    assert len(response.responses[100].response_txn.responses) == 27
    with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, TOO_MANY_OPS):
        txn(target, success=_ranges(100) + [op_txn(success=_ranges(28))])
    with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, TOO_MANY_OPS):
        txn(target, success=_ranges(100) + [op_txn(compare=[cmp(b"a", C.VERSION, C.EQUAL)] * 28)])
    # the parent's n is the largest of its three lists; the failure branch is checked too
    with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, TOO_MANY_OPS):
        txn(target, compare=[cmp(b"a", C.VERSION, C.EQUAL)] * 101,
            failure=[op_txn(failure=_ranges(28))])
    response = txn(target, compare=[cmp(b"a", C.VERSION, C.EQUAL)] * 101,
                   failure=[op_txn(failure=_ranges(27))])
    assert response.succeeded is True


def test_txn_ops_get_standalone_checks_in_both_branches_and_empty_op_is_key_not_found(
        target):
    requests = [
        dict(compare=[cmp(b"", C.VERSION, C.EQUAL)]),
        dict(compare=[cmp(b"a", C.VERSION, C.EQUAL), cmp(b"", C.VALUE, C.EQUAL, value=b"x")]),
        dict(success=[op_range(b"")]),
        dict(success=[op_put(b"", b"v")]),
        dict(success=[op_delete(b"")]),
        dict(failure=[op_put(b"a", b"v"), op_range(b"", b"z")]),  # branch not taken: still checked
        dict(success=[op_txn(failure=[op_delete(b"", b"\x00")])]),
        dict(success=[op_txn(compare=[cmp(b"", C.MOD, C.LESS)])]),
    ]
    for request in requests:
        with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, EMPTY_KEY):
            txn(target, **request)
    # a RequestOp with no operation set: "key not found" (sic)
    for request in (dict(success=[rpc_pb2.RequestOp()]),
                    dict(failure=[op_put(b"a", b"1"), rpc_pb2.RequestOp()]),
                    dict(success=[op_txn(success=[rpc_pb2.RequestOp()])])):
        with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, KEY_NOT_FOUND):
            txn(target, **request)
    # put flag checks, also in the branch that will not run and in nested txns
    with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, VALUE_PROVIDED):
        txn(target, failure=[op_put(b"a", b"v", ignore_value=True)])
    with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, LEASE_PROVIDED):
        txn(target, success=[op_txn(success=[op_put(b"a", lease=5, ignore_lease=True)])])
    assert current_revision(target) == 1


def test_txn_duplicate_puts_and_puts_inside_deletes_at_one_level(target):
    rejected = [
        [op_put(b"a", b"1"), op_put(b"a", b"2")],
        [op_put(b"a", b"1"), op_range(b"b"), op_put(b"a", b"1")],
        [op_delete(b"a", b"c"), op_put(b"b", b"1")],  # put inside a delete range, both orders
        [op_put(b"b", b"1"), op_delete(b"a", b"c")],
        [op_delete(b"a"), op_put(b"a", b"1")],  # empty range_end: the single key
        [op_put(b"a", b"1"), op_delete(b"a")],
    ]
    for ops in rejected:
        for branch in ("success", "failure"):
            with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, DUPLICATE_KEY):
                txn(target, **{branch: ops})
    assert current_revision(target) == 1


def test_txn_duplicate_key_rules_for_nested_txns(target):
    rejected = [
        # nested puts conflict with the enclosing level's puts and delete ranges
        [op_put(b"a", b"1"), op_txn(success=[op_put(b"a", b"2")])],
        [op_txn(success=[op_put(b"a", b"2")]), op_put(b"a", b"1")],
        [op_delete(b"a", b"c"), op_txn(failure=[op_put(b"b", b"2")])],
        # ... and with puts of sibling nested txns
        [op_txn(success=[op_put(b"a", b"1")]), op_txn(success=[op_put(b"a", b"2")])],
        [op_txn(success=[op_put(b"a", b"1")]), op_txn(failure=[op_put(b"a", b"2")])],
        # nested delete ranges join the enclosing set and conflict with later-checked puts
        [op_txn(success=[op_delete(b"a", b"c")]), op_put(b"b", b"1")],
        [op_put(b"b", b"1"), op_txn(failure=[op_delete(b"a", b"c")])],
        [op_txn(success=[op_delete(b"a", b"c")]), op_txn(success=[op_put(b"b", b"1")])],
        # rules apply inside nested levels as well
        [op_txn(success=[op_put(b"a", b"1"), op_put(b"a", b"2")])],
        [op_txn(failure=[op_txn(success=[op_delete(b"a"), op_put(b"a", b"2")])])],
    ]
    for ops in rejected:
        with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, DUPLICATE_KEY):
            txn(target, success=ops)
    assert current_revision(target) == 1


def test_txn_accepted_overlaps(target):
    put(target, b"a", b"0")  # 2
    put(target, b"b", b"0")  # 3
    put(target, b"c", b"0")  # 4
    # the success and failure lists of one txn may put the same key (one branch runs)
    response = txn(target, [cmp(b"a", C.VALUE, C.EQUAL, value=b"0")],
                   success=[op_put(b"a", b"then")], failure=[op_put(b"a", b"else")])
    assert (response.succeeded, response.header.revision) == (True, 5)
    response = txn(target, success=[
        op_txn([cmp(b"a", C.VALUE, C.EQUAL, value=b"x")],
               success=[op_put(b"n", b"then")], failure=[op_put(b"n", b"else")])])
    assert response.header.revision == 6
    assert kv_tuples(get(target, b"n").kvs) == [(b"n", b"else", 6, 6, 1, 0)]
    # overlapping delete ranges are fine: the second finds fewer keys
    response = txn(target, success=[op_delete(b"a", b"c"), op_delete(b"b", b"d"),
                                    op_delete(b"b")])
    assert [r.response_delete_range.deleted for r in response.responses] == [2, 1, 0]
    assert response.header.revision == 7
    # ranges never conflict with puts or deletes
    response = txn(target, success=[op_put(b"a", b"1"), op_range(b"a"), op_range(b"\x00", b"\x00"),
                                    op_delete(b"n"), op_range(b"n")])
    assert kv_tuples(response.responses[1].response_range.kvs) == [(b"a", b"1", 8, 8, 1, 0)]
    assert response.responses[4].response_range.count == 0
    # a nested delete range conflicts only with puts checked after it: an earlier sibling's put
    # is accepted, and the delete then removes the key
    response = txn(target, success=[op_txn(success=[op_put(b"b", b"1")]),
                                    op_txn(success=[op_delete(b"a", b"c")])])
    assert response.header.revision == 9
    assert response.responses[1].response_txn.responses[0].response_delete_range.deleted == 2
    assert keys(get(target, b"\x00", b"\x00").kvs) == []


def test_txn_delete_from_key_conflicts_with_nothing_and_runs_in_order(target):
    put(target, b"a", b"0")  # 2
    put(target, b"k", b"0")  # 3
    put(target, b"z", b"0")  # 4
    # quirk: range_end "\0" is taken as the literal interval [key, "\0"), which is empty
    response = txn(target, success=[op_delete(b"a", b"\x00"), op_put(b"k", b"new")])
    assert response.header.revision == 5
    assert response.responses[0].response_delete_range.deleted == 3
    assert kv_tuples(get(target, b"\x00", b"\x00").kvs) == [(b"k", b"new", 5, 5, 1, 0)]
    response = txn(target, success=[op_put(b"m", b"1"), op_delete(b"b", b"\x00")])
    assert response.responses[1].response_delete_range.deleted == 2
    assert get(target, b"\x00", b"\x00").count == 0
    response = txn(target, success=[op_txn(success=[op_delete(b"a", b"\x00")]),
                                    op_put(b"q", b"1")])
    assert kv_tuples(get(target, b"\x00", b"\x00").kvs) == [(b"q", b"1", 7, 7, 1, 0)]
    # "every key" (key "\0", range_end "\0") is the empty interval ["\0", "\0") as well
    response = txn(target, success=[op_delete(b"\x00", b"\x00"), op_put(b"r", b"1")])
    assert response.responses[0].response_delete_range.deleted == 1
    assert kv_tuples(get(target, b"\x00", b"\x00").kvs) == [(b"r", b"1", 8, 8, 1, 0)]


def test_txn_unknown_lease_fails_only_on_the_chosen_path(target):
    put(target, b"a", b"1")  # 2
    with rpc_error(grpc.StatusCode.NOT_FOUND, LEASE_NOT_FOUND):
        txn(target, success=[op_put(b"b", b"1"), op_put(b"c", b"1", lease=424242)])
    with rpc_error(grpc.StatusCode.NOT_FOUND, LEASE_NOT_FOUND):
        txn(target, success=[op_put(b"b", b"1"),
                             op_txn(success=[op_put(b"c", b"1", lease=424242)])])
    assert current_revision(target) == 2
    assert get(target, b"b").count == 0
    # not on the chosen path: no error
    response = txn(target, [cmp(b"a", C.VALUE, C.EQUAL, value=b"1")],
                   success=[op_put(b"b", b"1"),
                            op_txn([cmp(b"a", C.VERSION, C.EQUAL, version=1)],
                                   failure=[op_put(b"c", b"1", lease=424242)])],
                   failure=[op_put(b"d", b"1", lease=424242)])
    assert response.succeeded is True
    assert response.header.revision == 3
    assert keys(get(target, b"\x00", b"\x00").kvs) == [b"a", b"b"]


def test_txn_ignore_value_and_ignore_lease_check_the_pre_txn_state(target):
    put(target, b"a", b"1")  # 2
    for flags in (dict(ignore_value=True), dict(ignore_lease=True, value=b"v")):
        with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, KEY_NOT_FOUND):
            txn(target, success=[op_put(b"other", b"1"), op_put(b"missing", **flags)])
        with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, KEY_NOT_FOUND):
            txn(target, failure=[op_txn(success=[op_put(b"missing", **flags)])],
                compare=[cmp(b"a", C.VERSION, C.EQUAL)])
    assert current_revision(target) == 2
    assert get(target, b"other").count == 0
    # an existing key keeps its value; a missing key in the branch not taken is no error
    response = txn(target, [cmp(b"a", C.VERSION, C.EQUAL, version=1)],
                   success=[op_put(b"a", ignore_value=True, prev_kv=True)],
                   failure=[op_put(b"missing", ignore_value=True)])
    assert response.succeeded is True
    assert kv_tuples([response.responses[0].response_put.prev_kv]) == [(b"a", b"1", 2, 2, 1, 0)]
    assert kv_tuples(get(target, b"a").kvs) == [(b"a", b"1", 2, 3, 2, 0)]


def test_txn_range_revision_checks_before_any_compaction(target):
    put(target, b"a", b"1")  # 2
    put(target, b"a", b"2")  # 3
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, FUTURE_REV):
        txn(target, success=[op_range(b"a", revision=4)])
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, FUTURE_REV):
        txn(target, success=[op_put(b"b", b"1"), op_range(b"a", revision=4)])
    # the compact revision is -1 until the first compaction: -1 reads the current revision,
    # -2 and below are "compacted"
    response = txn(target, success=[op_range(b"a", revision=-1), op_range(b"a", revision=2)])
    assert kv_tuples(response.responses[0].response_range.kvs) == [(b"a", b"2", 2, 3, 2, 0)]
    assert kv_tuples(response.responses[1].response_range.kvs) == [(b"a", b"1", 2, 2, 1, 0)]
    for revision in (-2, -100):
        with rpc_error(grpc.StatusCode.OUT_OF_RANGE, COMPACTED):
            txn(target, success=[op_range(b"a", revision=revision)])
    # only the chosen path is checked
    response = txn(target, success=[op_range(b"a")], failure=[op_range(b"a", revision=99),
                                                              op_range(b"a", revision=-5)])
    assert response.succeeded is True
    assert current_revision(target) == 3


def test_txn_range_revision_checks_after_compaction(target):
    put(target, b"a", b"1")  # 2
    put(target, b"a", b"2")  # 3
    put(target, b"a", b"3")  # 4
    target.kv.Compact(rpc_pb2.CompactionRequest(revision=3, physical=True))
    for revision in (2, 1, -1, -2):
        with rpc_error(grpc.StatusCode.OUT_OF_RANGE, COMPACTED):
            txn(target, success=[op_range(b"a", revision=revision)])
        with rpc_error(grpc.StatusCode.OUT_OF_RANGE, COMPACTED):
            txn(target, success=[op_txn(success=[op_put(b"b", b"1"),
                                                 op_range(b"a", revision=revision)])])
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, FUTURE_REV):
        txn(target, success=[op_range(b"a", revision=5)])
    response = txn(target, success=[op_range(b"a", revision=3), op_range(b"a", revision=0)])
    assert kv_tuples(response.responses[0].response_range.kvs) == [(b"a", b"2", 2, 3, 2, 0)]
    assert kv_tuples(response.responses[1].response_range.kvs) == [(b"a", b"3", 2, 4, 3, 0)]
    assert current_revision(target) == 4
