"""Txn semantics: compares, branches, nested txns and response headers (reference §5.4)."""

from __future__ import annotations

from etcd_api_helpers import (C, assert_full_header, assert_revision_only_header, cmp,
                              current_revision, delete, get, keys, kv_tuple, kv_tuples, op_delete,
                              op_put, op_range, op_txn, put, txn)


def test_txn_empty_request_succeeds_and_changes_nothing(target):
    put(target, b"a", b"1")
    response = txn(target)
    assert response.succeeded is True
    assert list(response.responses) == []
    assert_full_header(response.header, 2)
    # empty compare list -> success branch
    response = txn(target, success=[op_put(b"b", b"2")], failure=[op_put(b"c", b"3")])
    assert response.succeeded is True
    assert_full_header(response.header, 3)
    assert keys(get(target, b"\x00", b"\x00").kvs) == [b"a", b"b"]


def test_txn_compare_every_target_and_result_on_an_existing_key(target):
    put(target, b"x", b"1")  # 2
    put(target, b"k", b"m")  # 3
    put(target, b"k", b"m")  # 4 -> k: create 3, mod 4, version 2, value "m", lease 0
    cases = [
        (C.VERSION, C.EQUAL, dict(version=2), True), (C.VERSION, C.EQUAL, dict(version=1), False),
        (C.VERSION, C.GREATER, dict(version=1), True),
        (C.VERSION, C.GREATER, dict(version=2), False),
        (C.VERSION, C.LESS, dict(version=3), True), (C.VERSION, C.LESS, dict(version=2), False),
        (C.VERSION, C.NOT_EQUAL, dict(version=1), True),
        (C.VERSION, C.NOT_EQUAL, dict(version=2), False),
        (C.CREATE, C.EQUAL, dict(create_revision=3), True),
        (C.CREATE, C.EQUAL, dict(create_revision=4), False),
        (C.CREATE, C.GREATER, dict(create_revision=2), True),
        (C.CREATE, C.GREATER, dict(create_revision=3), False),
        (C.CREATE, C.LESS, dict(create_revision=4), True),
        (C.CREATE, C.LESS, dict(create_revision=3), False),
        (C.CREATE, C.NOT_EQUAL, dict(create_revision=4), True),
        (C.CREATE, C.NOT_EQUAL, dict(create_revision=3), False),
        (C.MOD, C.EQUAL, dict(mod_revision=4), True), (C.MOD, C.EQUAL, dict(mod_revision=3), False),
        (C.MOD, C.GREATER, dict(mod_revision=3), True),
        (C.MOD, C.GREATER, dict(mod_revision=4), False),
        (C.MOD, C.LESS, dict(mod_revision=5), True), (C.MOD, C.LESS, dict(mod_revision=4), False),
        (C.MOD, C.NOT_EQUAL, dict(mod_revision=3), True),
        (C.MOD, C.NOT_EQUAL, dict(mod_revision=4), False),
        (C.VALUE, C.EQUAL, dict(value=b"m"), True), (C.VALUE, C.EQUAL, dict(value=b"n"), False),
        (C.VALUE, C.GREATER, dict(value=b"l"), True), (C.VALUE, C.GREATER, dict(value=b""), True),
        (C.VALUE, C.GREATER, dict(value=b"m"), False),
        (C.VALUE, C.GREATER, dict(value=b"ma"), False),
        (C.VALUE, C.LESS, dict(value=b"ma"), True), (C.VALUE, C.LESS, dict(value=b"n"), True),
        (C.VALUE, C.LESS, dict(value=b"m"), False),
        (C.VALUE, C.NOT_EQUAL, dict(value=b"x"), True),
        (C.VALUE, C.NOT_EQUAL, dict(value=b"m"), False),
        (C.LEASE, C.EQUAL, dict(lease=0), True), (C.LEASE, C.EQUAL, dict(lease=1), False),
        (C.LEASE, C.GREATER, dict(lease=-1), True), (C.LEASE, C.GREATER, dict(lease=0), False),
        (C.LEASE, C.LESS, dict(lease=1), True), (C.LEASE, C.LESS, dict(lease=0), False),
        (C.LEASE, C.NOT_EQUAL, dict(lease=5), True), (C.LEASE, C.NOT_EQUAL, dict(lease=0), False),
    ]
    for compare_target, result, operand, expected in cases:
        response = txn(target, [cmp(b"k", compare_target, result, **operand)])
        assert response.succeeded is expected, (compare_target, result, operand)
        assert_full_header(response.header, 4)
    # the compare list is a logical AND
    true, false = cmp(b"k", C.VERSION, C.EQUAL, version=2), cmp(b"k", C.VALUE, C.EQUAL, value=b"n")
    assert txn(target, [true, true, cmp(b"x", C.VALUE, C.EQUAL, value=b"1")]).succeeded is True
    assert txn(target, [true, false]).succeeded is False
    assert txn(target, [false, true]).succeeded is False


def test_txn_compare_on_missing_key_uses_zero_and_value_is_always_false(target):
    put(target, b"gone", b"v")
    delete(target, b"gone")  # revision 3
    for key in (b"missing", b"gone"):
        cases = [
            (C.VERSION, C.EQUAL, dict(version=0), True),
            (C.VERSION, C.GREATER, dict(version=0), False),
            (C.VERSION, C.LESS, dict(version=1), True),
            (C.CREATE, C.EQUAL, dict(create_revision=0), True),
            (C.CREATE, C.NOT_EQUAL, dict(create_revision=0), False),
            (C.MOD, C.LESS, dict(mod_revision=3), True),
            (C.MOD, C.GREATER, dict(mod_revision=0), False),
            (C.MOD, C.GREATER, dict(mod_revision=-1), True),
            (C.LEASE, C.EQUAL, dict(lease=0), True),
            (C.LEASE, C.NOT_EQUAL, dict(lease=0), False),
            # VALUE on a missing key is false whatever the operator, NOT_EQUAL included
            (C.VALUE, C.EQUAL, dict(value=b""), False),
            (C.VALUE, C.NOT_EQUAL, dict(value=b"x"), False),
            (C.VALUE, C.NOT_EQUAL, dict(value=b""), False),
            (C.VALUE, C.GREATER, dict(value=b""), False),
            (C.VALUE, C.LESS, dict(value=b"zzz"), False),
            (C.VALUE, C.EQUAL, dict(), False),
        ]
        for compare_target, result, operand, expected in cases:
            response = txn(target, [cmp(key, compare_target, result, **operand)])
            assert response.succeeded is expected, (key, compare_target, result, operand)


def test_txn_compare_operand_comes_from_the_oneof_member_matching_target(target):
    put(target, b"k", b"x")  # create 2, mod 2, version 1, value "x"
    cases = [
        # VERSION target with `value` set compares the version against 0
        (C.VERSION, C.EQUAL, dict(value=b"1"), False),
        (C.VERSION, C.GREATER, dict(value=b"1"), True),
        (C.VERSION, C.GREATER, dict(), True),  # no member set: operand 0
        (C.VERSION, C.EQUAL, dict(create_revision=1), False),
        (C.CREATE, C.EQUAL, dict(version=2), False),
        (C.CREATE, C.GREATER, dict(mod_revision=5), True),
        (C.MOD, C.EQUAL, dict(create_revision=2), False),
        (C.MOD, C.GREATER, dict(version=100), True),
        (C.LEASE, C.EQUAL, dict(version=7), True),  # lease 0 vs operand 0
        # VALUE target with another member set compares against empty bytes
        (C.VALUE, C.EQUAL, dict(version=1), False),
        (C.VALUE, C.GREATER, dict(version=1), True),
        (C.VALUE, C.GREATER, dict(), True),
    ]
    for compare_target, result, operand, expected in cases:
        response = txn(target, [cmp(b"k", compare_target, result, **operand)])
        assert response.succeeded is expected, (compare_target, result, operand)
    # unknown result / target enum values must not break the server (reference §5.4)
    txn(target, [cmp(b"k", C.VERSION, 99, version=1)])
    txn(target, [cmp(b"k", 99, C.EQUAL, version=1)])
    assert get(target, b"k").count == 1


def test_txn_range_compare_requires_every_key_and_empty_range_acts_as_missing_key(target):
    put(target, b"a", b"v")  # 2
    put(target, b"b", b"v")  # 3
    put(target, b"b", b"v")  # 4 -> b version 2
    put(target, b"c", b"v")  # 5
    cases = [
        (b"a", b"d", C.VERSION, C.GREATER, dict(version=0), True),
        (b"a", b"d", C.VERSION, C.EQUAL, dict(version=1), False),  # b has version 2
        (b"a", b"b", C.VERSION, C.EQUAL, dict(version=1), True),
        (b"b", b"\x00", C.VERSION, C.GREATER, dict(version=0), True),  # from key
        (b"b", b"\x00", C.CREATE, C.LESS, dict(create_revision=5), False),  # c created at 5
        (b"\x00", b"\x00", C.MOD, C.LESS, dict(mod_revision=6), True),  # every key
        (b"a", b"d", C.VALUE, C.EQUAL, dict(value=b"v"), True),
        (b"a", b"d", C.VALUE, C.NOT_EQUAL, dict(value=b"v"), False),
        # no key in the range: like a missing key
        (b"x", b"z", C.VERSION, C.EQUAL, dict(version=0), True),
        (b"x", b"z", C.CREATE, C.EQUAL, dict(create_revision=0), True),
        (b"x", b"z", C.MOD, C.GREATER, dict(mod_revision=0), False),
        (b"x", b"z", C.VALUE, C.EQUAL, dict(value=b""), False),
        (b"x", b"z", C.VALUE, C.NOT_EQUAL, dict(value=b"v"), False),
        (b"c", b"a", C.VERSION, C.EQUAL, dict(version=0), True),  # range_end <= key: empty
        (b"c", b"a", C.VALUE, C.NOT_EQUAL, dict(value=b"q"), False),
    ]
    for key, range_end, compare_target, result, operand, expected in cases:
        response = txn(target, [cmp(key, compare_target, result, range_end=range_end, **operand)])
        assert response.succeeded is expected, (key, range_end, compare_target, result, operand)


def test_txn_failure_branch_runs_when_a_compare_fails(target):
    put(target, b"k", b"1")
    response = txn(target, [cmp(b"k", C.VALUE, C.EQUAL, value=b"other")],
                   success=[op_put(b"s", b"yes")],
                   failure=[op_put(b"f", b"yes"), op_range(b"k"), op_delete(b"k")])
    assert response.succeeded is False
    assert [r.WhichOneof("response") for r in response.responses] == [
        "response_put", "response_range", "response_delete_range"]
    assert_full_header(response.header, 3)
    assert kv_tuples(response.responses[1].response_range.kvs) == [(b"k", b"1", 2, 2, 1, 0)]
    assert response.responses[2].response_delete_range.deleted == 1
    assert kv_tuples(get(target, b"\x00", b"\x00").kvs) == [(b"f", b"yes", 3, 3, 1, 0)]
    # a false compare with an empty failure branch changes nothing
    response = txn(target, [cmp(b"k", C.VERSION, C.GREATER, version=0)],
                   success=[op_put(b"s", b"yes")])
    assert (response.succeeded, list(response.responses)) == (False, [])
    assert_full_header(response.header, 3)


def test_txn_ops_run_in_order_under_one_revision_and_see_earlier_ops(target):
    put(target, b"a", b"old")  # 2
    put(target, b"c", b"gone")  # 3
    response = txn(target, success=[
        op_put(b"a", b"new", prev_kv=True), op_put(b"b", b"2"), op_range(b"a"),
        op_delete(b"c", prev_kv=True), op_range(b"\x00", b"\x00"), op_put(b"d", b"4")])
    assert response.succeeded is True
    assert_full_header(response.header, 4)
    put_a, put_b, range_a, del_c, range_all, put_d = response.responses
    assert kv_tuple(put_a.response_put.prev_kv) == (b"a", b"old", 2, 2, 1, 0)
    assert not put_b.response_put.HasField("prev_kv")
    assert kv_tuples(range_a.response_range.kvs) == [(b"a", b"new", 2, 4, 2, 0)]
    assert del_c.response_delete_range.deleted == 1
    assert kv_tuples(del_c.response_delete_range.prev_kvs) == [(b"c", b"gone", 3, 3, 1, 0)]
    assert kv_tuples(range_all.response_range.kvs) == [(b"a", b"new", 2, 4, 2, 0),
                                                       (b"b", b"2", 4, 4, 1, 0)]
    assert range_all.response_range.count == 2
    assert kv_tuples(get(target, b"\x00", b"\x00").kvs) == [
        (b"a", b"new", 2, 4, 2, 0), (b"b", b"2", 4, 4, 1, 0), (b"d", b"4", 4, 4, 1, 0)]
    assert_revision_only_header(put_d.response_put, 4)
    assert current_revision(target) == 4


def test_txn_sub_response_headers_match_reference_example(target):
    for i in range(3):
        put(target, b"k%d" % i, b"v")  # current revision 4
    response = txn(target, success=[
        op_range(b"k0"), op_delete(b"nothing"), op_put(b"p", b"1"), op_range(b"p"),
        op_delete(b"nothing-either"), op_txn(success=[op_range(b"p")])])
    assert response.succeeded is True
    assert_full_header(response.header, 5)
    ops = response.responses
    assert_revision_only_header(ops[0].response_range, 4)
    assert_revision_only_header(ops[1].response_delete_range, 4)
    assert_revision_only_header(ops[2].response_put, 5)
    assert_revision_only_header(ops[3].response_range, 5)
    assert_revision_only_header(ops[4].response_delete_range, 5)
    nested = ops[5].response_txn
    # a nested TxnResponse carries a header message with every field zero
    assert nested.HasField("header")
    assert (nested.header.cluster_id, nested.header.member_id, nested.header.revision,
            nested.header.raft_term) == (0, 0, 0, 0)
    assert nested.succeeded is True
    assert_revision_only_header(nested.responses[0].response_range, 5)
    assert keys(nested.responses[0].response_range.kvs) == [b"p"]
    # a delete that hits a key before any other change reports the new revision
    response = txn(target, success=[op_range(b"k0"), op_delete(b"k0"), op_range(b"k0"),
                                    op_delete(b"k0")])
    assert_full_header(response.header, 6)
    assert_revision_only_header(response.responses[0].response_range, 5)
    assert_revision_only_header(response.responses[1].response_delete_range, 6)
    assert response.responses[1].response_delete_range.deleted == 1
    assert_revision_only_header(response.responses[2].response_range, 6)
    assert response.responses[2].response_range.count == 0
    assert_revision_only_header(response.responses[3].response_delete_range, 6)
    assert response.responses[3].response_delete_range.deleted == 0


def test_txn_read_only_and_no_op_txns_leave_revision_unchanged(target):
    put(target, b"a", b"1")  # 2
    put(target, b"a", b"2")  # 3
    response = txn(target, [cmp(b"a", C.VERSION, C.EQUAL, version=2)],
                   success=[op_range(b"a"), op_range(b"a", revision=2)],
                   failure=[op_range(b"z")])
    assert response.succeeded is True
    assert_full_header(response.header, 3)
    assert kv_tuples(response.responses[0].response_range.kvs) == [(b"a", b"2", 2, 3, 2, 0)]
    # a range at an old revision inside a txn still reports the txn's read point
    old = response.responses[1].response_range
    assert kv_tuples(old.kvs) == [(b"a", b"1", 2, 2, 1, 0)]
    assert_revision_only_header(old, 3)
    # deletes of nothing, nested no-op txns
    response = txn(target, success=[op_delete(b"zz"), op_txn(success=[op_delete(b"a", b"a")])])
    assert_full_header(response.header, 3)
    assert_revision_only_header(response.responses[0].response_delete_range, 3)
    assert response.responses[1].response_txn.responses[0].response_delete_range.deleted == 0
    assert current_revision(target) == 3


def test_nested_txn_compares_are_decided_against_pre_txn_state(target):
    put(target, b"exists", b"1")  # 2
    response = txn(target, success=[
        op_put(b"new", b"1"),
        op_txn([cmp(b"new", C.VERSION, C.EQUAL, version=0)],  # false after the put above
               success=[op_put(b"x", b"saw-missing")], failure=[op_put(b"x", b"saw-put")]),
        op_delete(b"exists"),
        op_txn([cmp(b"exists", C.CREATE, C.GREATER, create_revision=0)],  # deleted just above
               success=[op_range(b"exists"), op_put(b"y", b"saw-existing")],
               failure=[op_put(b"y", b"saw-deleted")]),
    ])
    assert response.succeeded is True
    assert_full_header(response.header, 3)
    first, second = response.responses[1].response_txn, response.responses[3].response_txn
    assert first.succeeded is True
    assert second.succeeded is True
    assert_revision_only_header(first.responses[0].response_put, 3)
    # the nested range runs at its position: the key is already deleted
    assert second.responses[0].response_range.count == 0
    assert kv_tuples(get(target, b"\x00", b"\x00").kvs) == [
        (b"new", b"1", 3, 3, 1, 0), (b"x", b"saw-missing", 3, 3, 1, 0),
        (b"y", b"saw-existing", 3, 3, 1, 0)]


def test_nested_txn_failure_branch_and_deeper_nesting(target):
    put(target, b"k", b"1")  # 2
    response = txn(target, [cmp(b"k", C.VALUE, C.EQUAL, value=b"1")], success=[
        op_txn([cmp(b"k", C.VALUE, C.EQUAL, value=b"2")],
               success=[op_put(b"a", b"then")],
               failure=[op_put(b"a", b"else"),
                        op_txn(success=[op_put(b"b", b"deep"), op_range(b"a")])]),
    ])
    assert response.succeeded is True
    nested = response.responses[0].response_txn
    assert nested.succeeded is False
    assert [r.WhichOneof("response") for r in nested.responses] == ["response_put",
                                                                     "response_txn"]
    deeper = nested.responses[1].response_txn
    assert deeper.succeeded is True
    assert kv_tuples(deeper.responses[1].response_range.kvs) == [(b"a", b"else", 3, 3, 1, 0)]
    assert keys(get(target, b"\x00", b"\x00").kvs) == [b"a", b"b", b"k"]
    assert current_revision(target) == 3
