"""Handing gRPC connections of the shared client port to grpc core itself (etcdlite.http.handover):
that it happens, that what grpc core then serves on the TCP socket is whole, and that every step
that does not match falls back to forwarding."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import grpc
import pytest

from etcdlite import EtcdLite
from etcdlite.http import handover
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc
from etcd_targets import free_port

pytestmark = pytest.mark.skipif(not handover.available(), reason="no hand-over on this platform")


def _handovers(server: EtcdLite) -> handover.HandoverSet:
    return server._runtime._front._handovers


def _pairs(server: EtcdLite) -> int:
    return len(server._runtime._front._pairs)


#: a connection of its own per channel (grpc shares one between channels to the same target)
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


def _wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_a_grpc_connection_is_served_by_grpc_core_on_the_tcp_socket_itself(tls):
    with EtcdLite(tls=tls) as server:
        credentials = server.channel_credentials() if tls else None
        channel = (grpc.secure_channel(server.endpoint, credentials) if tls
                   else grpc.insecure_channel(server.endpoint))
        with channel:
            kv = rpc_pb2_grpc.KVStub(channel)
            for index in range(50):
                kv.Put(rpc_pb2.PutRequest(key=b"k%d" % index, value=b"v"))
            assert kv.Range(rpc_pb2.RangeRequest(key=b"k", range_end=b"l", count_only=True)).count == 50
            assert (_handovers(server).handed_over, _handovers(server).forwarded) == (1, 0)
            assert _pairs(server) == 0


def test_streams_and_large_messages_pass_whole_after_the_hand_over():
    value = os.urandom(1024 * 1024)
    with EtcdLite() as server, grpc.insecure_channel(server.endpoint) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)
        watch = rpc_pb2_grpc.WatchStub(channel)
        requests = iter([rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"big"))])
        stream = watch.Watch(requests, timeout=20)
        assert next(stream).created
        kv.Put(rpc_pb2.PutRequest(key=b"big", value=value))
        assert next(stream).events[0].kv.value == value
        assert kv.Range(rpc_pb2.RangeRequest(key=b"big")).kvs[0].value == value
        stream.cancel()
        assert _handovers(server).handed_over == 1


def test_many_connections_opened_at_once_are_all_handed_over():
    errors: list[BaseException] = []
    with EtcdLite() as server:
        def client(index: int) -> None:
            try:
                with grpc.insecure_channel(server.endpoint, OWN_CONNECTION) as channel:
                    kv = rpc_pb2_grpc.KVStub(channel)
                    for round_ in range(5):
                        kv.Put(rpc_pb2.PutRequest(key=b"k%d" % index, value=b"%d" % round_), timeout=20)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors
        assert _handovers(server).handed_over == 40
        assert _handovers(server).forwarded == 0


def test_a_burst_of_connections_shares_the_looks_at_the_process():
    """Each look scans every descriptor (~1 ms per 300): 500 connections opened at once (etcdctl
    check perf --load=l) once cost a look each and kept the front busy for seconds (a request
    waited 16 s); now one look serves every waiting connection and looks are spaced out."""
    count = 120
    channels = []
    with EtcdLite() as server:
        try:
            barrier = threading.Barrier(count)
            errors: list[BaseException] = []

            def client() -> None:
                channel = grpc.insecure_channel(server.endpoint, OWN_CONNECTION)
                channels.append(channel)
                try:
                    barrier.wait(20)
                    rpc_pb2_grpc.KVStub(channel).Put(rpc_pb2.PutRequest(key=b"k", value=b"v"), timeout=30)
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=client) for _ in range(count)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert not errors
            handovers = _handovers(server)
            assert handovers.handed_over + handovers.forwarded == count
            assert handovers.looks < count // 2
        finally:
            for channel in channels:
                channel.close()


def test_no_descriptor_is_left_behind_by_connections_handed_over_and_closed():
    with EtcdLite() as server:
        def open_fds() -> int:
            return len(os.listdir("/proc/self/fd"))

        for _ in range(3):  # grpc core's own lazily made descriptors
            with grpc.insecure_channel(server.endpoint, OWN_CONNECTION) as channel:
                rpc_pb2_grpc.MaintenanceStub(channel).Status(rpc_pb2.StatusRequest(), timeout=10)
        before = open_fds()
        for _ in range(40):
            with grpc.insecure_channel(server.endpoint, OWN_CONNECTION) as channel:
                rpc_pb2_grpc.MaintenanceStub(channel).Status(rpc_pb2.StatusRequest(), timeout=10)
        _wait_for(lambda: open_fds() <= before + 2)  # grpc core closes its side on its own time
        handovers = _handovers(server)
        # a connection grpc core did not accept within DEADLINE (a loaded machine) is forwarded:
        # its descriptors must be gone as well
        assert handovers.handed_over + handovers.forwarded == 43
        assert handovers.handed_over > 0


def test_a_client_that_leaves_before_the_hand_over_costs_nothing(monkeypatch):
    with EtcdLite() as server:
        host, port = server.endpoint.rsplit(":", 1)
        for _ in range(20):
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        with grpc.insecure_channel(server.endpoint) as channel:
            rpc_pb2_grpc.MaintenanceStub(channel).Status(rpc_pb2.StatusRequest(), timeout=10)
        _wait_for(lambda: not _handovers(server) and _pairs(server) == 0)


def test_when_grpc_core_is_not_found_the_connection_is_forwarded_instead(monkeypatch):
    monkeypatch.setattr(handover, "DEADLINE", 0.2)
    monkeypatch.setattr(handover._ProcessView, "__init__", _sees_nothing)
    with EtcdLite() as server, grpc.insecure_channel(server.endpoint) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)
        kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v"), timeout=10)
        assert kv.Range(rpc_pb2.RangeRequest(key=b"k")).kvs[0].value == b"v"
        assert (_handovers(server).handed_over, _handovers(server).forwarded) == (0, 1)
        assert _pairs(server) == 2  # both sockets of the forwarded pair


def _sees_nothing(self, prefix: bytes, own: set[int], grpc_paths: set[str]) -> None:
    self.peers, self.registered = {}, {}


def test_after_stop_handing_over_connections_are_forwarded():
    with EtcdLite() as server:
        server._runtime._front.stop_handing_over()
        with grpc.insecure_channel(server.endpoint) as channel:
            rpc_pb2_grpc.MaintenanceStub(channel).Status(rpc_pb2.StatusRequest(), timeout=10)
        assert (_handovers(server).handed_over, _handovers(server).forwarded) == (0, 1)


def test_grpc_core_polling_without_epoll_gets_its_connections_forwarded(tmp_path):
    """GRPC_POLL_STRATEGY=poll: grpc core registers no descriptor in an epoll set, so no hand-over
    step matches; the command line's thread front forwards after the deadline."""
    port = free_port()
    env = dict(os.environ, GRPC_POLL_STRATEGY="poll")
    proc = subprocess.Popen(
        [sys.executable, "-m", "etcdlite", "--memory", "--client-port-front", "thread",
         "--listen-client-urls", f"http://127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert "serving on" in proc.stdout.readline()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            kv = rpc_pb2_grpc.KVStub(channel)
            assert kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v"), timeout=20).header.revision == 2
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert proc.returncode == 0
