"""Protobuf messages ↔ the store's request and result types."""

from __future__ import annotations

from ..mvcc import requests as core
from ..mvcc.kv import KeyValue
from .. import errors
from ..proto import kv_pb2, rpc_pb2

PbKeyValue = kv_pb2.KeyValue
PbHeader = rpc_pb2.ResponseHeader


def range_request(pb: rpc_pb2.RangeRequest) -> core.RangeRequest:
    return core.RangeRequest(
        pb.key, pb.range_end, pb.limit, pb.revision, pb.sort_order, pb.sort_target,
        pb.serializable, pb.keys_only, pb.count_only, pb.min_mod_revision, pb.max_mod_revision,
        pb.min_create_revision, pb.max_create_revision)


def put_request(pb: rpc_pb2.PutRequest) -> core.PutRequest:
    return core.PutRequest(pb.key, pb.value, pb.lease, pb.prev_kv, pb.ignore_value, pb.ignore_lease)


def delete_request(pb: rpc_pb2.DeleteRangeRequest) -> core.DeleteRangeRequest:
    return core.DeleteRangeRequest(pb.key, pb.range_end, pb.prev_kv)


def compare(pb: rpc_pb2.Compare) -> core.Compare:
    cmp = core.Compare(pb.key, pb.target, pb.result, pb.range_end)
    operand = pb.WhichOneof("target_union")
    if operand is not None:
        setattr(cmp, operand, getattr(pb, operand))
    return cmp


#: nested txns deeper than this are answered "too many operations" without converting them: etcd
#: spends at least one op of its budget (--max-txn-ops, default 128) per level, so with a budget up
#: to this deep it refuses them anyway, and deeper recursion would exhaust Python's stack
NESTING_LIMIT = 200


def request_op(pb: rpc_pb2.RequestOp, depth: int = 0) -> core.RequestOp:
    kind = pb.WhichOneof("request")
    if kind == "request_range":
        return range_request(pb.request_range)
    if kind == "request_put":
        return put_request(pb.request_put)
    if kind == "request_delete_range":
        return delete_request(pb.request_delete_range)
    if kind == "request_txn":
        return txn_request(pb.request_txn, depth + 1)
    return None


def txn_request(pb: rpc_pb2.TxnRequest, depth: int = 0) -> core.TxnRequest:
    if depth > NESTING_LIMIT:
        raise errors.TOO_MANY_OPS
    return core.TxnRequest(
        [compare(c) for c in pb.compare],
        [request_op(op, depth) for op in pb.success],
        [request_op(op, depth) for op in pb.failure])


def key_value(kv: KeyValue) -> kv_pb2.KeyValue:
    return PbKeyValue(key=kv.key, create_revision=kv.create_revision, mod_revision=kv.mod_revision,
                      version=kv.version, value=kv.value, lease=kv.lease)


def range_body(result: core.RangeResult, response: rpc_pb2.RangeResponse) -> None:
    if result.kvs:
        response.kvs.extend([key_value(kv) for kv in result.kvs])
    response.more = result.more
    response.count = result.count


def put_body(result: core.PutResult, response: rpc_pb2.PutResponse) -> None:
    if result.prev_kv is not None:
        response.prev_kv.CopyFrom(key_value(result.prev_kv))


def delete_body(result: core.DeleteRangeResult, response: rpc_pb2.DeleteRangeResponse) -> None:
    response.deleted = result.deleted
    if result.prev_kvs:
        response.prev_kvs.extend([key_value(kv) for kv in result.prev_kvs])


def txn_body(result: core.TxnResult, response: rpc_pb2.TxnResponse) -> None:
    """Fill a TxnResponse except its outer header; sub-headers carry only their revision."""
    response.succeeded = result.succeeded
    for sub in result.responses:
        op = response.responses.add()
        if isinstance(sub, core.RangeResult):
            body = op.response_range
            body.header.revision = sub.revision
            range_body(sub, body)
        elif isinstance(sub, core.PutResult):
            body = op.response_put
            body.header.revision = sub.revision
            put_body(sub, body)
        elif isinstance(sub, core.DeleteRangeResult):
            body = op.response_delete_range
            body.header.revision = sub.revision
            delete_body(sub, body)
        else:
            body = op.response_txn
            body.header.SetInParent()
            txn_body(sub, body)
