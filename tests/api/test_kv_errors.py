"""KV request validation shared by Range, Put and DeleteRange (reference §4.1, §4.3, §11.1)."""

from __future__ import annotations

import grpc

from etcd_api_helpers import EMPTY_KEY, R, current_revision, delete, get, keys, put, rpc_error
from etcdlite.proto import rpc_pb2


def test_empty_key_is_rejected_by_range_put_and_delete_range(target):
    put(target, b"a", b"1")
    for range_end in (b"", b"\x00", b"z"):
        with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, EMPTY_KEY):
            get(target, b"", range_end)
        with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, EMPTY_KEY):
            delete(target, b"", range_end, prev_kv=True)
    with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, EMPTY_KEY):
        get(target, b"", count_only=True, revision=1)
    for value in (b"", b"v"):
        with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, EMPTY_KEY):
            put(target, b"", value, prev_kv=True)
    assert current_revision(target) == 2
    assert keys(get(target, b"\x00", b"\x00").kvs) == [b"a"]


def test_unknown_sort_enums_are_invalid_sort_option(etcdlite_target):
    # Documented deviation (reference §4.3, §11.1): etcd 3.4.23 and 3.5.1 crash on an unknown
    # sort_target and ignore an unknown sort_order (observed); etcdlite answers like 3.6. No real
    # etcd here.
    target = etcdlite_target
    put(target, b"a", b"1")
    for request in (dict(sort_target=99), dict(sort_target=5, sort_order=R.ASCEND),
                    dict(sort_order=3), dict(sort_order=-1, sort_target=R.VALUE)):
        with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: invalid sort option"):
            target.kv.Range(rpc_pb2.RangeRequest(key=b"a", **request))
    with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: invalid sort option"):
        target.kv.Txn(rpc_pb2.TxnRequest(success=[rpc_pb2.RequestOp(
            request_range=rpc_pb2.RangeRequest(key=b"a", sort_target=7))]))
    assert current_revision(target) == 2
