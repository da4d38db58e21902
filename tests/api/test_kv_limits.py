"""Request size limits (reference §5.5, §12.22): writes are limited to 1.5 MiB after etcd wraps
them, anything above 2 MiB is rejected by the gRPC transport; reads only see the transport limit."""

from __future__ import annotations

import grpc

from etcd_api_helpers import (MAX_REQUEST_BYTES, TOO_LARGE, current_revision, get, op_put,
                              op_range, put, rpc_error, txn)


def test_put_request_size_limit_is_one_and_a_half_mebibytes(target):
    response = put(target, b"a", b"x" * (MAX_REQUEST_BYTES - 100))
    assert response.header.revision == 2
    assert len(get(target, b"a").kvs[0].value) == MAX_REQUEST_BYTES - 100
    with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, TOO_LARGE):
        put(target, b"b", b"x" * MAX_REQUEST_BYTES)
    with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, TOO_LARGE):
        txn(target, success=[op_put(b"b", b"x" * MAX_REQUEST_BYTES)])
    assert current_revision(target) == 2


def test_messages_above_two_mebibytes_are_resource_exhausted_and_reads_are_not_size_checked(
        target):
    # Only the code is compared: the transport's message text differs between grpc-go
    # ("grpc: received message larger than max (N vs. 2097152)") and grpc core (reference §5.5).
    with rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, None):
        put(target, b"b", b"x" * (2 * 1024 * 1024 + 100))
    with rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, None):
        get(target, b"k" * (2 * 1024 * 1024 + 100))
    # reads and read-only txns only see the transport limit
    big_key = b"k" * (1800 * 1024)  # 1.8 MiB: above the write limit, below the transport limit
    response = get(target, big_key)
    assert (list(response.kvs), response.count) == ([], 0)
    response = txn(target, success=[op_range(big_key)])
    assert response.succeeded
    assert response.responses[0].response_range.count == 0
    assert current_revision(target) == 1
