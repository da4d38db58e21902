"""The client port's front in a process of its own (etcdlite.http.front_process): it serves what
the front thread serves, ends with the server however the server ends, and when it cannot start
or dies, a front thread serves the same ports."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time

import grpc
import pytest

from etcd_targets import free_port
from etcdlite import EtcdLite
from etcdlite.http import front_process
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc
from http_helpers import call

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _children(pid: int) -> list[int]:
    """The children of every thread of `pid` (a child is listed under the thread that forked it)."""
    children = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as fh:
            children += [int(child) for child in fh.read().split()]
    return children


def _cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        return fh.read().replace(b"\0", b" ").decode()


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":  # exited, not reaped yet
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.02)
    return False


def _serves_grpc_and_http(server_endpoint: str, url: str) -> None:
    with grpc.insecure_channel(server_endpoint) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)
        kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v"), timeout=20)
        assert kv.Range(rpc_pb2.RangeRequest(key=b"k"), timeout=20).kvs[0].value == b"v"
    assert call(url, "GET", "/health").status == 200


def _child_pid(server: EtcdLite) -> int | None:
    return server._runtime._front.pid


def _wait_ready(server: EtcdLite) -> None:
    deadline = time.monotonic() + 20
    while not server._runtime._front.ready and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server._runtime._front.ready


@pytest.fixture
def in_process():
    server = EtcdLite(client_port_front="process").start()
    yield server
    server.stop()


def test_the_command_line_serves_its_client_port_from_a_process_of_its_own_when_asked(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "etcdlite", "--data-dir", str(tmp_path / "data"),
         "--client-port-front", "process", "--listen-client-urls", f"http://127.0.0.1:{port}"], start_new_session=True,
        text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=REPO))
    try:
        assert "serving on" in server.stdout.readline()
        _serves_grpc_and_http(f"127.0.0.1:{port}", f"http://127.0.0.1:{port}")
        fronts = [pid for pid in _children(server.pid) if "front_child.py" in _cmdline(pid)]
        assert len(fronts) == 1
        os.killpg(server.pid, signal.SIGINT)  # a terminal's Ctrl-C: to the server's whole group
        assert server.wait(30) == 0
        assert _gone(fronts[0], 10)
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate(timeout=30)


def test_the_front_process_ends_and_frees_the_port_when_the_server_is_killed(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "etcdlite", "--memory", "--client-port-front", "process",
         "--listen-client-urls", f"http://127.0.0.1:{port}"],
        text=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=REPO))
    try:
        assert "serving on" in server.stdout.readline()
        _serves_grpc_and_http(f"127.0.0.1:{port}", f"http://127.0.0.1:{port}")
        fronts = _children(server.pid)
        assert fronts
        server.kill()
        server.wait(30)
        assert all(_gone(pid, 10) for pid in fronts)
        again = EtcdLite(port=port, client_port_front="process").start()  # the port is free
        try:
            _serves_grpc_and_http(again.endpoint, again.url)
        finally:
            again.stop()
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate(timeout=30)


def test_grpc_and_http_are_served_through_the_front_process(in_process):
    _wait_ready(in_process)
    assert _child_pid(in_process) in _children(os.getpid())
    _serves_grpc_and_http(in_process.endpoint, in_process.url)


def test_tls_grpc_and_https_are_served_through_the_front_process():
    server = EtcdLite(tls=True, client_port_front="process").start()
    try:
        certificates = server.certificates
        credentials = grpc.ssl_channel_credentials(certificates.ca_file.read_bytes())
        with grpc.secure_channel(server.endpoint, credentials) as channel:
            rpc_pb2_grpc.KVStub(channel).Put(rpc_pb2.PutRequest(key=b"k", value=b"v"), timeout=20)
        context = ssl.create_default_context(cafile=str(certificates.ca_file))
        assert call(server.url, "GET", "/health", context=context).status == 200
    finally:
        server.stop()


def test_drop_connections_ends_the_grpc_streams_the_front_process_forwards(in_process):
    with grpc.insecure_channel(in_process.endpoint) as channel:
        watch = rpc_pb2_grpc.WatchStub(channel).Watch(
            iter([rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"w"))]),
            timeout=30)
        assert next(watch).created
        assert in_process.drop_connections() >= 1
        with pytest.raises(grpc.RpcError) as ended:
            next(watch)
        assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
        # the listener stayed: the same channel connects again
        rpc_pb2_grpc.KVStub(channel).Put(rpc_pb2.PutRequest(key=b"k", value=b"v"), timeout=20,
                                         wait_for_ready=True)


def test_a_front_thread_serves_the_ports_when_the_front_process_dies(in_process):
    _wait_ready(in_process)
    child = _child_pid(in_process)
    os.kill(child, signal.SIGKILL)
    assert _gone(child, 10)
    deadline = time.monotonic() + 20
    while _child_pid(in_process) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _child_pid(in_process) is None
    _serves_grpc_and_http(in_process.endpoint, in_process.url)


def test_a_front_thread_serves_the_ports_when_the_front_process_cannot_start(monkeypatch):
    monkeypatch.setattr(front_process, "CHILD_SCRIPT", "/nonexistent/front_child.py")
    server = EtcdLite(client_port_front="process").start()
    try:
        _serves_grpc_and_http(server.endpoint, server.url)
        assert _child_pid(server) is None
    finally:
        server.stop()


def test_a_front_thread_serves_the_ports_when_no_process_can_be_spawned(monkeypatch):
    def refuse(argv, inherited):
        raise OSError("no processes here")

    monkeypatch.setattr(front_process, "_spawn", refuse)
    server = EtcdLite(client_port_front="process").start()
    try:
        assert _child_pid(server) is None
        _serves_grpc_and_http(server.endpoint, server.url)
    finally:
        server.stop()


def test_a_stopped_server_frees_its_port_for_the_next_one_at_once():
    port = free_port()
    for _ in range(3):
        server = EtcdLite(port=port, client_port_front="process").start()
        try:
            _serves_grpc_and_http(server.endpoint, server.url)
        finally:
            server.stop()
