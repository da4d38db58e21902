"""A request that is not valid protobuf: etcd (grpc-go) answers Internal "grpc: error unmarshalling
request: …" (unary) or "grpc: failed to unmarshal the received message …" (streams); the text after
the prefix is the decoder's own and differs between the two."""

from __future__ import annotations

import queue

import grpc
import pytest

from etcdlite.proto import rpc_pb2

GARBAGE = b"\x0a\x05ab"  # a key field that claims 5 bytes and has 2
PREFIX = "grpc: error unmarshalling request: "


@pytest.mark.parametrize("path", ["/etcdserverpb.KV/Put", "/etcdserverpb.KV/Range",
                                  "/etcdserverpb.Lease/LeaseGrant", "/v3lockpb.Lock/Lock"])
def test_unparsable_unary_request_is_internal_unmarshalling_error(target, path):
    call = target.channel.unary_unary(path, request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.RpcError) as raised:
        call(GARBAGE, timeout=5)
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert raised.value.details().startswith(PREFIX)
    # the server goes on serving
    assert target.kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v")).header.revision == 2


@pytest.mark.parametrize("path", ["/etcdserverpb.Watch/Watch", "/etcdserverpb.Lease/LeaseKeepAlive"])
def test_unparsable_message_on_a_stream_ends_it_with_internal(target, path):
    requests: queue.Queue = queue.Queue()
    requests.put(GARBAGE)

    def iterator():
        while True:
            item = requests.get(timeout=10)
            if item is None:
                return
            yield item

    call = target.channel.stream_stream(path, request_serializer=None, response_deserializer=None)(
        iterator(), timeout=10)
    with pytest.raises(grpc.RpcError) as raised:
        for _ in call:
            pass
    requests.put(None)
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert raised.value.details().startswith("grpc: failed to unmarshal the received message ")
