"""Calls etcdlite has no handler for answer as grpc-go (so etcd) does, never as grpcio does
("Method not found!", "Method not implemented!" with a logged traceback)."""

from __future__ import annotations

import logging
import threading

import grpc
import pytest

from etcdlite.proto import rpc_pb2

SHAPES = ["unary", "server-stream", "bidi-stream"]


def _call(channel: grpc.Channel, path: str, shape: str, payload: bytes = b"") -> grpc.RpcError:
    """Call ``path`` with raw bytes in the given shape; return the error it ends with."""
    with pytest.raises(grpc.RpcError) as err:
        if shape == "unary":
            channel.unary_unary(path)(payload, timeout=10)
        elif shape == "server-stream":
            list(channel.unary_stream(path)(payload, timeout=10))
        else:
            list(channel.stream_stream(path)(iter([payload]), timeout=10))
    return err.value


def _status(error: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    return error.code(), error.details()


@pytest.mark.parametrize("shape", SHAPES)
def test_an_unknown_service_is_unimplemented_unknown_service(target, shape):
    for path, service in (("/etcdserverpb.Nope/Range", "etcdserverpb.Nope"),
                          ("/grpc.nothing.v1.Here/Check", "grpc.nothing.v1.Here"),
                          ("/a/b/c", "a/b"),
                          ("/etcdserverpb.KV/Range/x", "etcdserverpb.KV/Range")):
        assert _status(_call(target.channel, path, shape)) == (
            grpc.StatusCode.UNIMPLEMENTED, f"unknown service {service}")


@pytest.mark.parametrize("shape", SHAPES)
def test_an_unknown_method_of_a_served_service_is_unimplemented_unknown_method(target, shape):
    for service in ("etcdserverpb.KV", "etcdserverpb.Watch", "etcdserverpb.Maintenance",
                    "v3lockpb.Lock", "v3electionpb.Election"):
        assert _status(_call(target.channel, f"/{service}/Nope", shape)) == (
            grpc.StatusCode.UNIMPLEMENTED, f"unknown method Nope for service {service}")
    assert _status(_call(target.channel, "/etcdserverpb.KV/", shape)) == (
        grpc.StatusCode.UNIMPLEMENTED, "unknown method  for service etcdserverpb.KV")


def test_a_method_path_without_a_service_is_malformed(target):
    for path in ("/foo", "foo", "/"):
        assert _status(_call(target.channel, path, "unary")) == (
            grpc.StatusCode.RESOURCE_EXHAUSTED, f'malformed method name: "{path}"')


# -- etcd's methods that etcdlite does not serve yet ------------------------------------------

class _LogRecords(logging.Handler):
    """Every log record of the process (grpcio logs handler exceptions through ``logging``)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            self.records.append(record)


@pytest.fixture
def log_records():
    handler = _LogRecords()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler.records
    root.removeHandler(handler)
    root.setLevel(level)


UNSERVED = ["/etcdserverpb.Maintenance/Downgrade"]


def _shape_of(path: str) -> str:
    service, name = path[1:].split("/")
    method = rpc_pb2.DESCRIPTOR.services_by_name[service.split(".")[1]].methods_by_name[name]
    return "server-stream" if method.server_streaming else "unary"


def test_unserved_methods_of_etcds_services_answer_method_not_implemented_and_log_nothing(
        etcdlite_target, log_records):
    for path in UNSERVED:
        name = path.rsplit("/", 1)[1]
        assert _status(_call(etcdlite_target.channel, path, _shape_of(path))) == (
            grpc.StatusCode.UNIMPLEMENTED, f"method {name} not implemented"), path
    written = [r for r in log_records if r.exc_info or "Traceback" in r.getMessage()
               or "NotImplementedError" in r.getMessage() or r.levelno >= logging.WARNING]
    assert written == []


def test_an_unserved_method_decodes_its_request_first_as_grpc_go_does(etcdlite_target):
    error = _call(etcdlite_target.channel, "/etcdserverpb.Maintenance/Downgrade", "unary", b"\xff")
    assert error.code() == grpc.StatusCode.INTERNAL
    assert error.details().startswith("grpc: error unmarshalling request: ")
