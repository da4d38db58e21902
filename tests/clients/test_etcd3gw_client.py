"""etcd3gw 2.7.0 (a real JSON-gateway client) against etcdlite, etcdlite on LMDB, etcd 3.4.23 and
3.5.1: put/get/delete, prefix reads, leases with keep-alive and TTL, watch streams, txn, lock,
status, members."""

from __future__ import annotations

import threading

import pytest

etcd3gw = pytest.importorskip("etcd3gw")

WATCH_WAIT = 20.0  # seconds a watch test waits for its events at most


@pytest.fixture
def client(target):
    host, port = target.endpoint.rsplit(":", 1)
    return etcd3gw.Etcd3Client(host=host, port=int(port), timeout=30, api_path="/v3/")


def test_put_get_delete(client):
    assert client.put("k", "v") is True
    assert client.get("k") == [b"v"]
    assert client.get("missing") == []
    assert client.delete("k") is True
    assert client.delete("k") is False
    assert client.get("k") == []


def test_prefix_reads_and_delete_prefix(client):
    for index in range(3):
        client.put(f"p/{index}", f"v{index}")
    client.put("q", "x")
    got = client.get_prefix("p/", sort_order="ascend", sort_target="key")
    assert [(value, meta["key"]) for value, meta in got] == \
        [(b"v0", b"p/0"), (b"v1", b"p/1"), (b"v2", b"p/2")]
    assert len(client.get_all()) == 4
    assert client.delete_prefix("p/") is True
    assert client.get_prefix("p/") == []


def test_create_and_replace_are_transactions(client):
    assert client.create("c", "1") is True
    assert client.create("c", "2") is False
    assert client.replace("c", "1", "3") is True
    assert client.replace("c", "1", "4") is False
    assert client.get("c") == [b"3"]


def test_lease_keepalive_and_ttl(client):
    lease = client.lease(ttl=60)
    client.put("leased", "v", lease=lease)
    assert 0 < lease.ttl() <= 60
    assert lease.refresh() == 60
    assert lease.keys() == [b"leased"]
    assert lease.revoke() is True
    assert client.get("leased") == []


def test_watch_stream_sees_puts_and_deletes(client):
    events, cancel = client.watch("w")
    seen = []
    done = threading.Event()

    def read():
        for event in events:
            seen.append(event)
            if len(seen) == 2:
                break
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # the watch may be created after the first put: write until both events are seen
        for attempt in range(50):
            client.put("w", f"v{attempt}")
            if done.wait(0.2):
                break
        assert done.wait(WATCH_WAIT)
    finally:
        cancel()
    assert all(event["kv"]["key"] == b"w" for event in seen)


def test_watch_once_with_prev_kv(client):
    client.put("o", "old")
    result = {}

    def watch():
        result["event"] = client.watch_once("o", timeout=WATCH_WAIT, prev_kv=True)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    for attempt in range(100):
        client.put("o", "new")
        thread.join(0.2)
        if not thread.is_alive():
            break
    event = result["event"]
    assert event["kv"]["value"] == b"new"
    # etcd3gw decodes only kv; prev_kv stays as the gateway sent it (base64)
    assert event["prev_kv"]["value"] in ("b2xk", "bmV3")


def test_txn(client):
    client.put("t", "1")
    reply = client.transaction({
        "compare": [{"key": etcd3gw.utils._encode("t"), "result": "EQUAL", "target": "VALUE",
                     "value": etcd3gw.utils._encode("1")}],
        "success": [{"request_put": {"key": etcd3gw.utils._encode("t"),
                                     "value": etcd3gw.utils._encode("2")}}],
        "failure": []})
    assert reply["succeeded"] is True
    assert client.get("t") == [b"2"]


def test_lock(client):
    lock = client.lock(id="L", ttl=30)
    assert lock.acquire() is True
    assert lock.is_acquired() is True
    other = client.lock(id="L", ttl=30)
    assert other.is_acquired() is False
    assert lock.release() is True
    assert lock.is_acquired() is False


def test_status_and_members(client, target):
    from etcdlite.proto import rpc_pb2
    status = client.status()
    assert status["version"] == target.maintenance.Status(rpc_pb2.StatusRequest()).version
    assert status["leader"] == status["header"]["member_id"]
    members = client.members()
    assert len(members) == 1
    assert members[0]["peerURLs"] == ["http://localhost:2380"]
