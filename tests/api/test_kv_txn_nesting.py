"""Deeply nested txns: etcd decodes any depth and spends at least one op of --max-txn-ops per level,
so 127 levels (plus the innermost put) pass and 128 get "too many operations"; etcdlite answers the
same although protobuf's Python decoder stops at 100 nested messages by default (a txn 50 deep)."""

from __future__ import annotations

import grpc
import pytest

from etcdlite.proto import rpc_pb2

TOO_MANY = (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: too many operations in txn request")


def _nested_bytes(depth: int) -> bytes:
    """A txn nested ``depth`` levels around one put, serialized (Python's protobuf needs its
    oversize switch to build one this deep; it is switched off again at once)."""
    from google._upb import _message

    _message.SetAllowOversizeProtos(True)
    try:
        txn = rpc_pb2.TxnRequest(success=[rpc_pb2.RequestOp(
            request_put=rpc_pb2.PutRequest(key=b"deep", value=b"%d" % depth))])
        for _ in range(depth):
            txn = rpc_pb2.TxnRequest(success=[rpc_pb2.RequestOp(request_txn=txn)])
        return txn.SerializeToString()
    finally:
        _message.SetAllowOversizeProtos(False)


def _txn(target, data: bytes):
    call = target.channel.unary_unary("/etcdserverpb.KV/Txn", request_serializer=None,
                                      response_deserializer=None)  # as deep as the request
    try:
        return call(data, timeout=30)
    except grpc.RpcError as error:
        return error.code(), error.details()


@pytest.mark.parametrize("depth", [49, 60, 127])
def test_txns_nested_within_the_op_budget_are_applied(target, depth):
    pytest.importorskip("google._upb._message")
    answer = _txn(target, _nested_bytes(depth))
    assert isinstance(answer, bytes), answer
    value = target.kv.Range(rpc_pb2.RangeRequest(key=b"deep")).kvs[0].value
    assert value == b"%d" % depth


@pytest.mark.parametrize("depth", [128, 300, 5000])
def test_txns_nested_beyond_the_op_budget_are_too_many_operations(target, depth):
    pytest.importorskip("google._upb._message")
    assert _txn(target, _nested_bytes(depth)) == TOO_MANY
    assert target.kv.Range(rpc_pb2.RangeRequest(key=b"deep")).count == 0
