"""Request size limits through the gateway, as etcd answers them: over --max-request-bytes the
request path's "request is too large"; over what etcd's gRPC server receives (+512 KiB) grpc-go's
ResourceExhausted "grpc: received message larger than max (N vs. M)" (HTTP 429)."""

from __future__ import annotations

import base64
import json

from gateway_helpers import post, status_for

LIMIT = 1536 * 1024 + 512 * 1024


def _put(target, size: int):
    return post(target, "/v3/kv/put", {"key": base64.b64encode(b"k").decode(),
                                       "value": base64.b64encode(b"v" * size).decode()})


def test_a_put_over_max_request_bytes_is_too_large(target):
    answer = _put(target, 1536 * 1024 + 10)
    assert answer.status == status_for(3, target.etcd_version)
    assert json.loads(answer.body)["message"] == "etcdserver: request is too large"


def test_a_put_over_the_grpc_receive_limit_is_resource_exhausted(target):
    size = LIMIT + 1000
    answer = _put(target, size)
    assert answer.status == 429
    body = json.loads(answer.body)
    assert body["code"] == 8
    message_size = 1 + 1 + 1 + 1 + len(_varint(size)) + size
    assert body["message"] == f"grpc: received message larger than max ({message_size} vs. {LIMIT})"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
