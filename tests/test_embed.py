"""The in-process API: threaded and asyncio use, ephemeral ports, release on stop."""

from __future__ import annotations

import asyncio
import socket

import grpc
import pytest

from etcdlite.embed import EtcdLite
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc
from etcdlite.runtime import StartupError


def _put_and_get(endpoint: str) -> tuple[int, bytes]:
    with grpc.insecure_channel(endpoint) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)
        revision = kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v")).header.revision
        return revision, kv.Range(rpc_pb2.RangeRequest(key=b"k")).kvs[0].value


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_threaded_server_serves_on_an_ephemeral_port_and_releases_it():
    with EtcdLite() as etcd:
        assert etcd.port > 0
        assert etcd.endpoint == f"127.0.0.1:{etcd.port}"
        assert _put_and_get(etcd.endpoint) == (2, b"v")
        port = etcd.port
    assert _port_is_free(port)


def test_asyncio_server_runs_on_the_callers_loop():
    async def main() -> tuple[int, bytes]:
        async with EtcdLite() as etcd:
            channel = grpc.aio.insecure_channel(etcd.endpoint)
            kv = rpc_pb2_grpc.KVStub(channel)
            put = await kv.Put(rpc_pb2.PutRequest(key=b"a", value=b"1"))
            got = await kv.Range(rpc_pb2.RangeRequest(key=b"a"))
            await channel.close()
            return put.header.revision, got.kvs[0].value

    assert asyncio.run(main()) == (2, b"1")


def test_data_dir_server_keeps_data_across_instances_and_releases_the_dir(tmp_path):
    data = str(tmp_path / "data")
    with EtcdLite(data_dir=data) as etcd:
        _put_and_get(etcd.endpoint)
    with EtcdLite(data_dir=data) as etcd:
        with grpc.insecure_channel(etcd.endpoint) as channel:
            got = rpc_pb2_grpc.KVStub(channel).Range(rpc_pb2.RangeRequest(key=b"k"))
    assert (got.header.revision, got.kvs[0].value) == (2, b"v")


def test_two_servers_cannot_share_a_data_dir(tmp_path):
    data = str(tmp_path / "data")
    with EtcdLite(data_dir=data):
        with pytest.raises(StartupError, match="in use by another etcdlite process"):
            EtcdLite(data_dir=data).start()


def test_a_port_in_use_is_a_startup_error():
    with EtcdLite() as first:
        with pytest.raises(StartupError, match="cannot listen on"):
            EtcdLite(port=first.port).start()


def test_stopped_server_refuses_access_to_its_node():
    etcd = EtcdLite().start()
    etcd.stop()
    with pytest.raises(RuntimeError, match="not running"):
        etcd.endpoint
