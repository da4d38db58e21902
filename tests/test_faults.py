"""Fault injection through the in-process API, each fault seen by real clients (grpc stubs and
aetcd) exactly as injected: errors, delays, a paused server, dropped connections. Off by default."""

from __future__ import annotations

import asyncio
import threading
import time

import grpc
import pytest

from etcdlite.auth.caller import INTERNAL
from etcdlite import faults
from etcdlite.embed import EtcdLite
from etcdlite.mvcc.requests import PutRequest
from etcdlite.proto import (etcdlite_admin_pb2, etcdlite_admin_pb2_grpc, rpc_pb2, rpc_pb2_grpc,
                          v3lock_pb2, v3lock_pb2_grpc)

aetcd = pytest.importorskip("aetcd")


@pytest.fixture(scope="module")
def server():
    etcd = EtcdLite(time_control=True).start()
    yield etcd
    etcd.stop()


@pytest.fixture
def etcd(server):
    server.reset()
    yield server
    server.clear_faults()


@pytest.fixture
def channel(etcd):
    with grpc.insecure_channel(etcd.endpoint) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        yield channel


def _aetcd(etcd: EtcdLite, scenario):
    """Run ``scenario(client)`` with a connected aetcd client, bounded in time."""
    async def main():
        async with aetcd.Client(host=etcd.host, port=etcd.port) as client:
            return await asyncio.wait_for(scenario(client), 20)

    return asyncio.run(main())


def _watch(channel: grpc.Channel, key: bytes, stop: threading.Event):
    def requests():
        yield rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=key))
        stop.wait(20)

    stream = rpc_pb2_grpc.WatchStub(channel).Watch(requests(), timeout=20)
    assert next(stream).created
    return stream


# -- off by default ---------------------------------------------------------------------------

def test_no_faults_by_default_and_plain_calls_take_the_fast_path(etcd, channel):
    assert etcd.active_faults == [] and not etcd.is_paused
    kv = rpc_pb2_grpc.KVStub(channel)
    for i in range(20):
        kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"%d" % i))
        kv.Range(rpc_pb2.RangeRequest(key=b"k"))
    # unary calls were handed their registered handler, unwrapped; only long-lived methods (here
    # none was called) would be wrapped
    wrapped = set(etcd._runtime.calls._wrapped)
    assert wrapped <= faults.long_lived_methods()
    assert "/etcdserverpb.KV/Put" not in wrapped and "/etcdserverpb.KV/Range" not in wrapped


def test_method_names(etcd):
    paths = faults.resolve_methods
    assert paths("Put") == paths("KV/Put") == paths("KV.Put") == paths("etcdserverpb.KV/Put") \
        == paths("/etcdserverpb.KV/Put") == {"/etcdserverpb.KV/Put"}
    assert paths("Lock") == {"/v3lockpb.Lock/Lock"}
    assert paths(["Range", "Txn"]) == {"/etcdserverpb.KV/Range", "/etcdserverpb.KV/Txn"}
    assert paths("*") is None
    with pytest.raises(ValueError, match="unknown gRPC method 'Putt'"):
        etcd.inject_error("Putt", grpc.StatusCode.INTERNAL)
    with pytest.raises(ValueError):
        etcd.inject_error("Put", grpc.StatusCode.OK)
    with pytest.raises(ValueError):
        etcd.inject_delay("Put", -1)
    with pytest.raises(ValueError):
        etcd.inject_error("Put", "UNAVAILABLE", times=0)


# -- errors -----------------------------------------------------------------------------------

def test_an_injected_error_is_what_a_grpc_client_sees_n_times(etcd, channel):
    kv = rpc_pb2_grpc.KVStub(channel)
    fault = etcd.inject_error("Put", grpc.StatusCode.UNAVAILABLE, "etcdserver: leader changed", times=2)
    for _ in range(2):
        with pytest.raises(grpc.RpcError) as err:
            kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v"), timeout=5)
        assert (err.value.code(), err.value.details()) == (grpc.StatusCode.UNAVAILABLE,
                                                            "etcdserver: leader changed")
        # nothing was applied, and other methods are served
        assert kv.Range(rpc_pb2.RangeRequest(key=b"k"), timeout=5).header.revision == 1
    assert kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v"), timeout=5).header.revision == 2
    assert fault.fired == 2 and fault.remaining == 0 and etcd.active_faults == []


def test_an_error_for_every_method_until_cleared(etcd, channel):
    etcd.inject_error("*", "RESOURCE_EXHAUSTED", "etcdserver: too many requests")
    kv, lease = rpc_pb2_grpc.KVStub(channel), rpc_pb2_grpc.LeaseStub(channel)
    for call, request in ((kv.Range, rpc_pb2.RangeRequest(key=b"k")),
                          (lease.LeaseGrant, rpc_pb2.LeaseGrantRequest(TTL=10)),
                          (v3lock_pb2_grpc.LockStub(channel).Lock, v3lock_pb2.LockRequest(name=b"l"))):
        with pytest.raises(grpc.RpcError) as err:
            call(request, timeout=5)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert err.value.details() == "etcdserver: too many requests"
    # a streaming call gets it too, before any message
    stop = threading.Event()
    with pytest.raises(grpc.RpcError) as err:
        _watch(channel, b"k", stop)
    stop.set()
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # the admin service is never affected
    assert etcdlite_admin_pb2_grpc.AdminStub(channel).Now(etcdlite_admin_pb2.NowRequest(), timeout=5).now > 0
    etcd.clear_faults()
    assert kv.Range(rpc_pb2.RangeRequest(key=b"k"), timeout=5).count == 0


def test_an_injected_error_is_what_aetcd_sees(etcd):
    fault = etcd.inject_error("Range", grpc.StatusCode.UNAVAILABLE, "etcdserver: request timed out", times=1)

    async def scenario(client):
        await client.put(b"k", b"v")
        with pytest.raises(aetcd.ConnectionFailedError) as err:
            await client.get(b"k")
        cause = err.value.__cause__
        assert (cause.code(), cause.details()) == (grpc.StatusCode.UNAVAILABLE, "etcdserver: request timed out")
        return (await client.get(b"k")).value

    assert _aetcd(etcd, scenario) == b"v"
    assert fault.fired == 1

    etcd.inject_error("Put", grpc.StatusCode.FAILED_PRECONDITION, "etcdserver: requested lease not found")

    async def refused(client):
        with pytest.raises(aetcd.PreconditionFailedError, match="requested lease not found"):
            await client.put(b"k", b"w")
        return (await client.get(b"k")).value

    assert _aetcd(etcd, refused) == b"v"


# -- delays -----------------------------------------------------------------------------------

def test_an_injected_delay_holds_only_the_chosen_method(etcd, channel):
    kv = rpc_pb2_grpc.KVStub(channel)
    kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v"))
    fault = etcd.inject_delay("Range", 0.4, times=2)
    started = time.monotonic()
    assert kv.Range(rpc_pb2.RangeRequest(key=b"k"), timeout=5).kvs[0].value == b"v"
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    kv.Put(rpc_pb2.PutRequest(key=b"other", value=b"v"), timeout=5)
    assert time.monotonic() - started < 0.3
    # a client deadline shorter than the delay expires, exactly as with a slow etcd
    with pytest.raises(grpc.RpcError) as err:
        kv.Range(rpc_pb2.RangeRequest(key=b"k"), timeout=0.1)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert fault.fired == 2
    started = time.monotonic()
    kv.Range(rpc_pb2.RangeRequest(key=b"k"), timeout=5)
    assert time.monotonic() - started < 0.3


def test_an_injected_delay_as_aetcd_sees_it(etcd):
    etcd.inject_delay("Put", 0.3)

    async def scenario(client):
        started = time.monotonic()
        await client.put(b"k", b"v")
        slow = time.monotonic() - started
        started = time.monotonic()
        await client.get(b"k")
        return slow, time.monotonic() - started

    slow, fast = _aetcd(etcd, scenario)
    assert slow >= 0.3 and fast < 0.25


# -- pause ------------------------------------------------------------------------------------

def test_a_paused_server_holds_calls_and_stream_messages_until_resumed(etcd, channel):
    kv = rpc_pb2_grpc.KVStub(channel)
    stop = threading.Event()
    stream = _watch(channel, b"k", stop)
    etcd.pause()
    put = kv.Put.future(rpc_pb2.PutRequest(key=b"k", value=b"v"), timeout=10)
    get = kv.Range.future(rpc_pb2.RangeRequest(key=b"k"), timeout=10)
    time.sleep(0.3)
    assert not put.done() and not get.done()
    etcd.resume()
    assert put.result(timeout=5).header.revision == 2
    assert get.result(timeout=5).header.revision in (1, 2)
    event = next(stream).events[0]
    assert (event.kv.key, event.kv.value) == (b"k", b"v")
    stop.set()
    stream.cancel()


def test_a_pause_holds_watch_events_of_an_open_stream(etcd, channel):
    stop = threading.Event()
    stream = _watch(channel, b"k", stop)
    received = []
    reader = threading.Thread(target=lambda: received.append(next(stream)), daemon=True)
    reader.start()
    etcd.pause()
    # the write comes from inside the server (in process), so only the stream is held
    etcd._call("put", etcd._runtime.node.put, INTERNAL, PutRequest(b"k", b"v"))
    time.sleep(0.3)
    assert received == []
    etcd.resume()
    reader.join(5)
    assert received and received[0].events[0].kv.value == b"v"
    stop.set()
    stream.cancel()


def test_a_paused_server_as_aetcd_sees_it(etcd):
    async def scenario(client):
        await client.put(b"k", b"v")
        etcd.pause()
        get = asyncio.ensure_future(client.get(b"k"))
        await asyncio.sleep(0.3)
        held = not get.done()
        etcd.resume()
        return held, (await get).value

    assert _aetcd(etcd, scenario) == (True, b"v")


def test_paused_block(etcd, channel):
    kv = rpc_pb2_grpc.KVStub(channel)
    with etcd.paused():
        call = kv.Range.future(rpc_pb2.RangeRequest(key=b"k"), timeout=10)
        time.sleep(0.2)
        assert not call.done()
    assert call.result(timeout=5).header.revision == 1
    assert not etcd.is_paused


# -- dropped connections ----------------------------------------------------------------------

def test_dropped_connections_fail_calls_in_flight_and_clients_reconnect(etcd, channel):
    kv = rpc_pb2_grpc.KVStub(channel)
    lease = rpc_pb2_grpc.LeaseStub(channel)
    holder = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60)).ID
    waiter = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60)).ID
    lock = v3lock_pb2_grpc.LockStub(channel)
    lock.Lock(v3lock_pb2.LockRequest(name=b"l", lease=holder))
    waiting = lock.Lock.future(v3lock_pb2.LockRequest(name=b"l", lease=waiter), timeout=10)
    stop = threading.Event()
    stream = _watch(channel, b"k", stop)
    time.sleep(0.05)

    assert etcd.drop_connections() >= 1

    with pytest.raises(grpc.RpcError) as err:
        next(stream)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    with pytest.raises(grpc.RpcError) as err:
        waiting.result(timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    stop.set()
    # the same channel reconnects by itself
    assert kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v"), timeout=5).header.revision > 1
    # and the server let go of the dropped watch
    deadline = time.monotonic() + 5
    while etcd._runtime.node.watch_hub.watcher_count() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert etcd._runtime.node.watch_hub.watcher_count() == 0


def test_dropped_connections_as_aetcd_sees_them(etcd):
    async def scenario(client):
        await client.put(b"k", b"v")
        channel = client.channel
        before = channel.get_state()
        dropped = await asyncio.get_running_loop().run_in_executor(None, etcd.drop_connections)
        # the connection is gone; the next call reconnects
        for _ in range(100):
            if channel.get_state() != before:
                break
            await asyncio.sleep(0.01)
        after_drop = channel.get_state()
        value = (await client.get(b"k")).value
        return dropped, before, after_drop, value

    dropped, before, after_drop, value = _aetcd(etcd, scenario)
    assert dropped >= 1 and value == b"v"
    assert before == grpc.ChannelConnectivity.READY and after_drop != grpc.ChannelConnectivity.READY


def test_where_connections_cannot_be_found_the_listeners_restart(etcd, channel, monkeypatch):
    import etcdlite.runtime as runtime

    monkeypatch.setattr(runtime, "drop_client_connections", lambda ports: None)
    kv = rpc_pb2_grpc.KVStub(channel)
    stop = threading.Event()
    stream = _watch(channel, b"k", stop)
    port = etcd.port
    assert etcd.drop_connections() == -1
    with pytest.raises(grpc.RpcError) as err:
        next(stream)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    stop.set()
    assert etcd.port == port
    assert kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v"), timeout=5, wait_for_ready=True).header.revision == 2
