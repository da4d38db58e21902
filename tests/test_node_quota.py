"""The space quota's txn cost is only worked out near the quota; the bound that decides when must
never be below the cost itself."""

from __future__ import annotations

from hypothesis import given, strategies as st

from etcdlite import node
from etcdlite.api import convert
from etcdlite.proto import rpc_pb2

small_bytes = st.binary(max_size=300)
leases = st.sampled_from([0, 1, 2**31, 2**63 - 1, -1])
puts = st.builds(rpc_pb2.PutRequest, key=small_bytes, value=small_bytes, lease=leases,
                 prev_kv=st.booleans())
ops = st.one_of(
    puts.map(lambda p: rpc_pb2.RequestOp(request_put=p)),
    small_bytes.map(lambda k: rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=k))),
    small_bytes.map(lambda k: rpc_pb2.RequestOp(
        request_delete_range=rpc_pb2.DeleteRangeRequest(key=k))))


@given(st.lists(ops, max_size=6), st.lists(ops, max_size=6))
def test_txn_cost_never_exceeds_its_bound_per_encoded_byte(success, failure):
    pb = rpc_pb2.TxnRequest(success=success, failure=failure)
    cost = node._txn_cost(convert.txn_request(pb))
    assert cost <= pb.ByteSize() * node._TXN_COST_PER_BYTE


def test_an_empty_put_is_within_the_bound():
    pb = rpc_pb2.TxnRequest(success=[rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest())])
    assert node._txn_cost(convert.txn_request(pb)) == node.KV_OVERHEAD
    assert pb.ByteSize() * node._TXN_COST_PER_BYTE >= node.KV_OVERHEAD
