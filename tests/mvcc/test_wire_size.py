"""Encoded sizes of core requests equal protobuf's ByteSize of the same request."""

from __future__ import annotations

from hypothesis import given, strategies as st

from etcdlite.api import convert
from etcdlite.mvcc import wire_size
from etcdlite.proto import rpc_pb2

small_bytes = st.binary(max_size=300)
ints = st.integers(-(2**63), 2**63 - 1)


@given(small_bytes, small_bytes, ints, st.booleans(), st.booleans(), st.booleans())
def test_put_size_matches_protobuf(key, value, lease, prev_kv, ignore_value, ignore_lease):
    pb = rpc_pb2.PutRequest(key=key, value=value, lease=lease, prev_kv=prev_kv,
                            ignore_value=ignore_value, ignore_lease=ignore_lease)
    assert wire_size.put_size(convert.put_request(pb)) == pb.ByteSize()


@given(st.lists(st.tuples(small_bytes, st.integers(0, 4), st.integers(0, 3), ints, small_bytes,
                          small_bytes), max_size=4),
       st.lists(st.tuples(st.integers(0, 3), small_bytes, small_bytes, ints), max_size=4))
def test_txn_size_matches_protobuf(compares, ops):
    pb = rpc_pb2.TxnRequest()
    for key, target, result, number, value, range_end in compares:
        cmp = pb.compare.add(key=key, target=target, result=result, range_end=range_end)
        if target == rpc_pb2.Compare.VALUE:
            cmp.value = value
        elif target == rpc_pb2.Compare.VERSION:
            cmp.version = number
        elif target == rpc_pb2.Compare.CREATE:
            cmp.create_revision = number
        elif target == rpc_pb2.Compare.MOD:
            cmp.mod_revision = number
        else:
            cmp.lease = number
    for kind, key, data, number in ops:
        op = pb.success.add() if number % 2 else pb.failure.add()
        if kind == 0:
            op.request_range.key = key
            op.request_range.range_end = data
            op.request_range.limit = number
        elif kind == 1:
            op.request_put.key = key
            op.request_put.value = data
        elif kind == 2:
            op.request_delete_range.key = key
            op.request_delete_range.prev_kv = bool(number % 3)
        else:
            op.request_txn.success.add().request_put.key = key
    assert wire_size.txn_size(convert.txn_request(pb)) == pb.ByteSize()
