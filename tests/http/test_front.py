"""The shared client port (etcdlite.http.front): how a connection is classified, and that what it
forwards arrives whole. etcd's cmux has no such parts to test; what clients see of the shared port
is compared with real etcd in test_side_endpoints.py and the gateway tests."""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time

import grpc
import pytest

from etcdlite import EtcdLite
from etcdlite.http import front, handover
from etcdlite.http.front import GRPC, HTTP, H2_PREFACE, classify_plain, classify_tls
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc
from http_helpers import call


def _client_hello(alpn: list[str] | None) -> bytes:
    """The first flight of a real TLS client (Python's ssl), offering ``alpn``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def _split_into_two_records(flight: bytes) -> bytes:
    """The same ClientHello carried in two TLS records (allowed, and seen from some clients)."""
    header, body = flight[:5], flight[5:5 + int.from_bytes(flight[3:5], "big")]
    half = len(body) // 2
    return b"".join(header[:3] + len(part).to_bytes(2, "big") + part
                    for part in (body[:half], body[half:]))


def test_the_http2_preface_is_grpc_a_prefix_waits_anything_else_is_http():
    assert classify_plain(H2_PREFACE + b"\x00\x00\x00\x04") == GRPC
    for cut in range(1, len(H2_PREFACE)):
        assert classify_plain(H2_PREFACE[:cut]) is None
    for request in (b"GET /health HTTP/1.1\r\n", b"POST /v3/kv/range HTTP/1.1\r\n", b"P", b"PRX"):
        assert classify_plain(request) in (HTTP, None)
    assert classify_plain(b"GET / HTTP/1.1\r\n") == HTTP
    assert classify_plain(b"PRI * HTTP/1.1\r\n") == HTTP


def test_tls_alpn_h2_alone_is_grpc_h2_with_http11_or_nothing_is_http():
    assert classify_tls(_client_hello(["h2"])) == GRPC
    assert classify_tls(_client_hello(["h2", "http/1.1"])) == HTTP
    assert classify_tls(_client_hello(["http/1.1"])) == HTTP
    assert classify_tls(_client_hello(None)) == HTTP
    assert classify_tls(b"GET / HTTP/1.1\r\n") == HTTP  # plain HTTP on a TLS port


def test_a_client_hello_is_read_whole_even_when_cut_or_split_over_records():
    for flight in (_client_hello(["h2"]), _split_into_two_records(_client_hello(["h2"]))):
        for cut in range(1, len(flight)):
            assert classify_tls(flight[:cut]) is None, cut
        assert classify_tls(flight) == GRPC


@pytest.fixture(params=["thread", "thread-forwarding", "process"])
def client_port_front(request, monkeypatch) -> str:
    """Each test of the shared port through both fronts (EtcdLite's and the command line's), and
    through the thread front where it cannot hand connections to grpc core (so it forwards)."""
    if request.param == "thread-forwarding":
        monkeypatch.setattr(handover, "available", lambda: False)
        return "thread"
    return request.param


@pytest.fixture
def served(client_port_front):
    server = EtcdLite(client_port_front=client_port_front).start()
    yield server
    server.stop()


def test_messages_of_a_mebibyte_pass_both_ways_through_the_shared_port(served):
    value = os.urandom(1024 * 1024)
    with grpc.insecure_channel(served.endpoint) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)
        kv.Put(rpc_pb2.PutRequest(key=b"big", value=value))
        assert kv.Range(rpc_pb2.RangeRequest(key=b"big")).kvs[0].value == value


def test_many_grpc_and_http_connections_at_once(served):
    errors: list[BaseException] = []

    def grpc_client(index: int) -> None:
        try:
            with grpc.insecure_channel(served.endpoint) as channel:
                kv = rpc_pb2_grpc.KVStub(channel)
                for round_ in range(5):
                    kv.Put(rpc_pb2.PutRequest(key=b"k%d" % index, value=b"%d" % round_), timeout=20)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def http_client() -> None:
        try:
            for _ in range(5):
                assert call(served.urls[0], "GET", "/health").status == 200
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=grpc_client, args=(i,)) for i in range(30)]
    threads += [threading.Thread(target=http_client) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    with grpc.insecure_channel(served.endpoint) as channel:
        count = rpc_pb2_grpc.KVStub(channel).Range(
            rpc_pb2.RangeRequest(key=b"k", range_end=b"l", count_only=True)).count
    assert count == 30


def test_connections_opened_and_closed_one_after_another_all_get_answers(served):
    """A connection closed in one poll batch frees its fd number for the next one accepted in the
    same batch; the closed one's stale events must not reach the new one (they once reset about
    one fresh connection in 30)."""
    failures = []
    for index in range(600):
        with grpc.insecure_channel(served.endpoint) as channel:
            try:
                rpc_pb2_grpc.MaintenanceStub(channel).Status(rpc_pb2.StatusRequest(), timeout=10)
            except grpc.RpcError as error:
                failures.append((index, error.code(), error.details()))
    assert not failures, failures[:3]


def _connect(endpoint: str) -> socket.socket:
    host, port = endpoint.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10)


def test_a_preface_sent_in_pieces_still_reaches_grpc(served):
    with _connect(served.endpoint) as sock:
        sock.sendall(H2_PREFACE[:5])
        time.sleep(0.2)
        sock.sendall(H2_PREFACE[5:] + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # empty SETTINGS
        frame = sock.recv(9)
    assert len(frame) == 9 and frame[3] == 0x04  # grpc core answers with its SETTINGS frame


def test_a_connection_that_says_nothing_is_closed_after_the_timeout(monkeypatch):
    monkeypatch.setattr(front, "CLASSIFY_TIMEOUT", 0.3)
    server = EtcdLite(client_port_front="thread").start()  # the timeout patched is this process's
    try:
        with _connect(server.endpoint) as sock:
            started = time.monotonic()
            assert sock.recv(1) == b""
            assert time.monotonic() - started < 8
    finally:
        server.stop()


def test_stop_closes_every_connection_releases_the_port_and_removes_the_socket_dir(client_port_front):
    server = EtcdLite(client_port_front=client_port_front).start()
    socket_dir = server._runtime._socket_dir
    host, port = server.endpoint.rsplit(":", 1)
    idle_http = _connect(server.endpoint)
    idle_http.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while not answer.endswith(b"}"):
        answer += idle_http.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 OK")
    silent = _connect(server.endpoint)
    server.stop()
    for sock in (idle_http, silent):
        sock.settimeout(10)
        try:
            assert sock.recv(1) == b""
        except ConnectionResetError:
            pass
        sock.close()
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind((host, int(port)))
    assert socket_dir and not os.path.exists(socket_dir)


def test_plain_http_on_a_tls_port_is_refused_without_hanging(client_port_front):
    server = EtcdLite(tls=True, client_port_front=client_port_front).start()
    try:
        with _connect(server.endpoint) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        assert not data.startswith(b"HTTP/1.1 200")
    finally:
        server.stop()
