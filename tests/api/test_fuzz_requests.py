"""Fuzzing every method etcdlite serves with random request bytes and random well-formed requests
(unknown enum numbers, edge integers, odd keys, nested messages; hypothesis): each call ends with
a response or a status, the server stays up, and nothing is logged with a traceback (a handler
that fails on a request is a bug: etcd answers bad input with its own errors). Bounded in time:
a few dozen examples per method, half-second deadlines for the calls that may wait."""

from __future__ import annotations

import logging

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etcdlite import EtcdLite
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc, v3election_pb2, v3lock_pb2

#: calls that may legitimately wait (a lock held, an election led, a stream that stays open)
WAITING = {"Lock", "Campaign", "Observe", "Watch", "LeaseKeepAlive", "Snapshot"}
_INTS = {
    FieldDescriptor.TYPE_INT32: (-2**31, 2**31 - 1), FieldDescriptor.TYPE_SINT32: (-2**31, 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-2**31, 2**31 - 1), FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1), FieldDescriptor.TYPE_INT64: (-2**63, 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-2**63, 2**63 - 1), FieldDescriptor.TYPE_SFIXED64: (-2**63, 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1), FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
_KEYS = st.one_of(st.sampled_from([b"", b"\0", b"a", b"b", b"a/", b"\xff"]), st.binary(max_size=6))


def _value(field: FieldDescriptor, depth: int):
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return _message(field.message_type, depth + 1)
    if field.type == FieldDescriptor.TYPE_ENUM:
        return st.integers(-2, 12)  # names etcd does not know too
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type == FieldDescriptor.TYPE_STRING:
        return st.text(max_size=6)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return _KEYS
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=False, width=32)
    low, high = _INTS[field.type]
    return st.one_of(st.integers(-3, 3).filter(lambda v: low <= v <= high), st.integers(low, high))


def _repeated(field: FieldDescriptor) -> bool:
    if hasattr(field, "is_repeated"):  # protobuf 6+
        return field.is_repeated
    return field.label == FieldDescriptor.LABEL_REPEATED


@st.composite
def _message(draw, descriptor, depth: int = 0):
    """A message of ``descriptor`` with random fields (unknown enum numbers, edge integers and
    keys, nested messages three deep)."""
    cls = GetMessageClass(descriptor)
    message = cls()
    for field in descriptor.fields:
        if depth >= 3 and field.type == FieldDescriptor.TYPE_MESSAGE:
            continue
        if not draw(st.booleans()):
            continue
        if _repeated(field):
            for item in draw(st.lists(_value(field, depth), max_size=3)):
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    getattr(message, field.name).add().CopyFrom(item)
                else:
                    getattr(message, field.name).append(item)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            getattr(message, field.name).CopyFrom(draw(_value(field, depth)))
        else:
            setattr(message, field.name, draw(_value(field, depth)))
    return message


def _request_bytes(method) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=64),
                     _message(method.input_type).map(lambda m: m.SerializeToString()))


def _methods() -> list[tuple[str, str, bool, bool]]:
    services = list(rpc_pb2.DESCRIPTOR.services_by_name.values())
    services += [v3lock_pb2.DESCRIPTOR.services_by_name["Lock"],
                 v3election_pb2.DESCRIPTOR.services_by_name["Election"]]
    return [(service.full_name, method, method.client_streaming, method.server_streaming)
            for service in services for method in service.methods]


@pytest.fixture(scope="module")
def server():
    with EtcdLite(bcrypt_cost=4) as etcd:
        yield etcd


def _call(channel: grpc.Channel, service: str, method: str, client_streaming: bool,
          server_streaming: bool, messages: list[bytes]) -> None:
    path = f"/{service}/{method}"
    timeout = 0.5 if method in WAITING else 10.0
    identity = {"request_serializer": None, "response_deserializer": None}
    try:
        if not client_streaming and not server_streaming:
            channel.unary_unary(path, **identity)(messages[0], timeout=timeout)
        elif not client_streaming:
            for _ in channel.unary_stream(path, **identity)(messages[0], timeout=timeout):
                pass
        elif not server_streaming:
            channel.stream_unary(path, **identity)(iter(messages), timeout=timeout)
        else:
            for _ in channel.stream_stream(path, **identity)(iter(messages), timeout=timeout):
                pass
    except grpc.RpcError as error:
        assert error.code() is not None  # a status, whatever it is


@pytest.mark.parametrize("service,method,client_streaming,server_streaming", _methods(),
                         ids=[f"{s.split('.')[-1]}.{m.name}" for s, m, _, _ in _methods()])
def test_random_request_bytes_get_an_answer_and_no_traceback(server, caplog, service, method,
                                                             client_streaming, server_streaming):
    caplog.set_level(logging.ERROR)

    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(messages=st.lists(_request_bytes(method), min_size=1, max_size=3))
    def fuzz(messages: list[bytes]) -> None:
        with grpc.insecure_channel(server.endpoint) as channel:
            _call(channel, service, method.name, client_streaming, server_streaming, messages)

    fuzz()
    tracebacks = [r for r in caplog.records if r.exc_info and r.name.startswith("etcdlite")]
    assert not tracebacks, tracebacks[0].getMessage()
    with grpc.insecure_channel(server.endpoint) as channel:  # still serving
        rpc_pb2_grpc.MaintenanceStub(channel).Status(rpc_pb2.StatusRequest(), timeout=10)
