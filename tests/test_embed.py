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


# -- calls from asyncio code and from the server's own loop -------------------------------------

def test_every_call_has_an_async_twin():
    public = {name for name, value in vars(EtcdLite).items()
              if callable(value) and not name.startswith("_") and not name.endswith("_async")}
    assert public >= {"reset", "advance", "snapshot", "save_snapshot", "load_snapshot", "inject_error",
                      "inject_delay", "remove_fault", "clear_faults", "pause", "resume", "paused",
                      "drop_connections", "start", "stop"}
    # now() only reads the clock, channel_credentials() only reads the certificate files
    assert {name for name in public if not hasattr(EtcdLite, name + "_async")} == \
        {"now", "channel_credentials"}


def _aio_put(endpoint: str, **call: object):
    async def put(key: bytes = b"k") -> int:
        async with grpc.aio.insecure_channel(endpoint) as channel:
            return (await rpc_pb2_grpc.KVStub(channel).Put(rpc_pb2.PutRequest(key=key, value=b"v"),
                                                           timeout=5, **call)).header.revision
    return put


def test_on_the_servers_own_loop_fault_calls_work_as_plain_calls():
    async def main():
        async with EtcdLite() as etcd:
            put = _aio_put(etcd.endpoint)
            fault = etcd.inject_error("Put", grpc.StatusCode.UNAVAILABLE, "etcdserver: leader changed")
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await put()
            assert (err.value.code(), err.value.details()) == (grpc.StatusCode.UNAVAILABLE,
                                                                "etcdserver: leader changed")
            assert etcd.active_faults == [fault]
            etcd.remove_fault(fault)
            delay = etcd.inject_delay("Put", 0.2)
            started = asyncio.get_running_loop().time()
            assert await put() == 2
            assert asyncio.get_running_loop().time() - started >= 0.2
            etcd.clear_faults()
            assert etcd.active_faults == [] and delay.fired == 1
            etcd.pause()
            held = asyncio.ensure_future(put())
            await asyncio.sleep(0.2)
            assert not held.done() and etcd.is_paused
            etcd.resume()
            assert await held == 3
            with etcd.paused():
                assert etcd.is_paused
            assert not etcd.is_paused

    asyncio.run(main())


def test_drop_connections_works_from_the_servers_own_loop():
    async def main():
        async with EtcdLite() as etcd:
            async with grpc.aio.insecure_channel(etcd.endpoint) as channel:
                kv = rpc_pb2_grpc.KVStub(channel)
                await kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v"), timeout=5)
                assert channel.get_state() == grpc.ChannelConnectivity.READY
                assert etcd.drop_connections() >= 1
                for _ in range(200):
                    if channel.get_state() != grpc.ChannelConnectivity.READY:
                        break
                    await asyncio.sleep(0.01)
                assert channel.get_state() != grpc.ChannelConnectivity.READY
                assert (await kv.Range(rpc_pb2.RangeRequest(key=b"k"), timeout=5,
                                       wait_for_ready=True)).count == 1
                assert await etcd.drop_connections_async() >= 1

    asyncio.run(main())


def test_calls_that_wait_refuse_on_the_servers_own_loop_naming_their_async_twin(tmp_path):
    async def main():
        async with EtcdLite(time_control=True) as etcd:
            refused = {
                "reset": lambda: etcd.reset(),
                "advance": lambda: etcd.advance(1),
                "snapshot": lambda: etcd.snapshot(),
                "save_snapshot": lambda: etcd.save_snapshot(tmp_path / "s.json"),
                "load_snapshot": lambda: etcd.load_snapshot(tmp_path / "s.json"),
                "stop": lambda: etcd.stop(),
            }
            for name, call in refused.items():
                with pytest.raises(RuntimeError, match=rf"`await etcd\.{name}_async\(\.\.\.\)`"):
                    call()
            assert not (tmp_path / "s.json").exists()
            # the twins do it, and the server is still serving
            assert await _aio_put(etcd.endpoint)() == 2
            await etcd.save_snapshot_async(tmp_path / "s.json")
            await etcd.reset_async()
            assert (await etcd.snapshot_async()).revision == 1
            await etcd.load_snapshot_async(tmp_path / "s.json")
            assert (await etcd.snapshot_async()).revision == 2
            assert await etcd.advance_async(5) == 0
            async with etcd.paused_async():
                assert etcd.is_paused
            fault = await etcd.inject_error_async("Range", "UNAVAILABLE", "x")
            await etcd.inject_delay_async("Put", 0.01)
            await etcd.remove_fault_async(fault)
            assert len(etcd.active_faults) == 1
            await etcd.pause_async()
            await etcd.resume_async()
            await etcd.clear_faults_async()
            assert etcd.active_faults == []
            port = etcd.port
        return port

    port = asyncio.run(main())
    with EtcdLite(port=port) as again:  # released
        assert again.port == port


def test_an_asyncio_server_takes_plain_calls_from_other_threads():
    async def main():
        async with EtcdLite(time_control=True) as etcd:
            loop = asyncio.get_running_loop()
            assert await _aio_put(etcd.endpoint)() == 2
            await loop.run_in_executor(None, etcd.reset)
            assert await _aio_put(etcd.endpoint)() == 2
            assert await loop.run_in_executor(None, etcd.advance, 1) == 0
            fault = await loop.run_in_executor(None, etcd.inject_error, "Put", "UNAVAILABLE", "down")
            with pytest.raises(grpc.aio.AioRpcError):
                await _aio_put(etcd.endpoint)()
            assert fault.fired == 1
            await loop.run_in_executor(None, etcd.stop)
            assert await etcd.stop_async() is None  # already stopped

    asyncio.run(main())


def test_a_threaded_server_takes_async_calls_from_any_loop_and_stops_from_it():
    etcd = EtcdLite(time_control=True).start()
    port = etcd.port

    async def main():
        put = _aio_put(etcd.endpoint)
        assert await put() == 2
        await etcd.reset_async()
        fault = await etcd.inject_error_async("Put", grpc.StatusCode.UNAVAILABLE, "down", times=1)
        with pytest.raises(grpc.aio.AioRpcError):
            await put()
        assert fault.fired == 1 and await put() == 2
        assert await etcd.advance_async(1) == 0
        async with etcd.paused_async():
            held = asyncio.ensure_future(put())
            await asyncio.sleep(0.2)
            assert not held.done()
        assert await held == 3
        assert await etcd.drop_connections_async() >= 0
        await etcd.stop_async()

    asyncio.run(main())
    assert etcd._thread is None
    # released (a plain bind would fail on the dropped connections' TIME_WAIT; grpc reuses addresses)
    with EtcdLite(port=port) as again:
        assert again.port == port


# -- TLS ----------------------------------------------------------------------------------------

def test_tls_true_serves_https_with_generated_test_certificates():
    with EtcdLite(tls=True, client_cert_auth=True, client_common_name="alice") as etcd:
        assert etcd.url == f"https://{etcd.endpoint}" and etcd.tls
        from cryptography import x509

        client = x509.load_pem_x509_certificate(open(etcd.client_cert_file, "rb").read())
        assert client.subject.rfc4514_string().startswith("CN=alice")
        with grpc.secure_channel(etcd.endpoint, etcd.channel_credentials()) as channel:
            put = rpc_pb2_grpc.KVStub(channel).Put(rpc_pb2.PutRequest(key=b"k", value=b"v"),
                                                   timeout=5)
        assert put.header.revision == 2
        ca = open(etcd.ca_file, "rb").read()
        with grpc.secure_channel(etcd.endpoint, grpc.ssl_channel_credentials(ca)) as channel:
            with pytest.raises(grpc.RpcError) as refused:  # no client certificate
                rpc_pb2_grpc.KVStub(channel).Range(rpc_pb2.RangeRequest(key=b"k"), timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_plain_servers_have_no_certificates_and_tls_needs_no_config():
    etcd = EtcdLite()
    assert etcd.ca_file is None and etcd.client_cert_file is None
    with pytest.raises(TypeError):
        EtcdLite(client_common_name="alice")
    with pytest.raises(TypeError):
        from etcdlite.config import Config
        EtcdLite(config=Config(), tls=True)


def test_https_without_a_certificate_is_etcds_error():
    from etcdlite.runtime import StartupError

    with pytest.raises(StartupError, match=r"^TLS key/cert \(--cert-file, --key-file\) must be "
                                            r"provided for client url https://127.0.0.1:0 with HTTPS"):
        EtcdLite(listen_client_urls=["https://127.0.0.1:0"]).start()


def test_http_and_https_on_one_port_are_refused_saying_why(tmp_path):
    from etcdlite.runtime import StartupError
    from etcdlite.tls import make_test_certificates

    certs = make_test_certificates(tmp_path)
    with pytest.raises(StartupError, match="cannot serve both http and https on 127.0.0.1:2"):
        EtcdLite(tls=certs, listen_client_urls=["http://127.0.0.1:23999",
                                                "https://127.0.0.1:23999"]).start()
