"""The browser view's JSON endpoints (/ui/api/*): the key tree and its paging, a key's history,
leases, locks (etcd's recipe and python-etcd3's), elections, watchers, status, auth and the change
stream. etcd has no such endpoints: these test etcdlite alone."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etcdlite import EtcdLite
from ui_helpers import set_up_viewer

from etcdlite.proto import (rpc_pb2, rpc_pb2_grpc, v3election_pb2, v3election_pb2_grpc,
                            v3lock_pb2, v3lock_pb2_grpc)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def shared():
    with EtcdLite(bcrypt_cost=4) as server:
        yield server


@pytest.fixture
def server(shared):
    shared.reset()
    return shared


@pytest.fixture
def stubs(server):
    with grpc.insecure_channel(server.endpoint) as channel:
        yield (rpc_pb2_grpc.KVStub(channel), rpc_pb2_grpc.LeaseStub(channel),
               v3lock_pb2_grpc.LockStub(channel), v3election_pb2_grpc.ElectionStub(channel),
               rpc_pb2_grpc.WatchStub(channel))


def api(server, path: str, token: str | None = None):
    request = urllib.request.Request(server.url + "/ui/api/" + path,
                                     headers={"Authorization": token} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def walk(server, prefix: bytes = b"", token: str | None = None, limit: int = 7) -> list[bytes]:
    """Every key under ``prefix``, found by opening folders and following pages."""
    found, after = [], None
    while True:
        query = f"keys?prefix={b64(prefix)}&limit={limit}" + (f"&after={after}" if after else "")
        status, page = api(server, query, token)
        assert status == 200
        assert len(page["entries"]) <= limit
        for entry in page["entries"]:
            key = base64.b64decode(entry["key"])
            assert key.startswith(prefix)
            found += walk(server, key, token, limit) if entry["folder"] else [key]
        if page["next"] is None or not page["entries"]:
            return found
        after = page["next"]


_segment = st.text(alphabet="ab/", min_size=1, max_size=3).map(str.encode)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.sets(st.lists(_segment, min_size=1, max_size=3).map(b"".join), min_size=1, max_size=25))
def test_walking_the_tree_page_by_page_visits_every_key_once(shared, keys):
    shared.reset()
    with grpc.insecure_channel(shared.endpoint) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)
        for key in keys:
            kv.Put(rpc_pb2.PutRequest(key=key, value=b"v"))
    assert walk(shared) == sorted(keys)


def test_a_folder_is_one_entry_whatever_it_holds(server, stubs):
    kv = stubs[0]
    for i in range(500):
        kv.Put(rpc_pb2.PutRequest(key=b"/big/%04d" % i, value=b"x"))
    kv.Put(rpc_pb2.PutRequest(key=b"/small", value=b"y"))
    status, root = api(server, "keys?prefix=" + b64(b"/"))
    assert status == 200
    assert [(e["folder"], e["text"] if e["folder"] else e["name"]) for e in root["entries"]] == \
        [(True, "big/"), (False, "small")]
    status, page = api(server, "keys?limit=100&prefix=" + b64(b"/big/"))
    assert len(page["entries"]) == 100 and page["next"] == b64(b"/big/0099")


def test_a_keys_history_since_compaction_newest_first(server, stubs):
    kv = stubs[0]
    for value in (b"one", b"two", b"three"):
        kv.Put(rpc_pb2.PutRequest(key=b"k", value=value))
    kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"k"))
    kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"again"))
    status, key = api(server, "key?key=" + b64(b"k"))
    assert status == 200
    assert [h.get("value") and base64.b64decode(h["value"]) for h in key["history"]] == \
        [b"again", None, b"three", b"two", b"one"]
    assert key["history"][1]["deleted"] is True
    kv.Compact(rpc_pb2.CompactionRequest(revision=key["history"][1]["revision"]))
    status, key = api(server, "key?key=" + b64(b"k"))
    assert [h["revision"] for h in key["history"]] == [key["current"]["mod_revision"]]
    assert api(server, "key?key=!!")[0] == 400


def test_locks_show_holder_and_waiters_in_order_and_elections_their_leader(server, stubs):
    kv, lease, lock, election, _ = stubs
    ids = [lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60)).ID for _ in range(4)]
    held = lock.Lock(v3lock_pb2.LockRequest(name=b"jobs", lease=ids[0]))
    threads = []
    for lease_id in ids[1:3]:
        thread = threading.Thread(target=lock.Lock, args=(v3lock_pb2.LockRequest(name=b"jobs", lease=lease_id),),
                                  kwargs={"timeout": 30})
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 10
        while len(api(server, "locks")[1][0]["waiters"]) < len(threads) and time.monotonic() < deadline:
            time.sleep(0.02)
    leader = election.Campaign(v3election_pb2.CampaignRequest(name=b"sched", lease=ids[3], value=b"a"))
    election.Proclaim(v3election_pb2.ProclaimRequest(leader=leader.leader, value=b"b"))
    (jobs,) = api(server, "locks")[1]
    assert jobs["name"] == "jobs" and jobs["holder"]["text"] == "jobs/%x" % ids[0]
    assert [w["text"] for w in jobs["waiters"]] == ["jobs/%x" % i for i in ids[1:3]]
    assert all(w["waited"] is not None and w["waited"] >= 0 for w in jobs["waiters"])
    (sched,) = api(server, "elections")[1]
    assert base64.b64decode(sched["leader"]["value"]) == b"b"
    assert [base64.b64decode(p["value"]) for p in sched["proclamations"]] == [b"b", b"a"]
    lock.Unlock(v3lock_pb2.UnlockRequest(key=held.key))
    threads[0].join(10)
    (jobs,) = api(server, "locks")[1]
    assert jobs["holder"]["text"] == "jobs/%x" % ids[1]
    for lease_id in ids:
        lease.LeaseRevoke(rpc_pb2.LeaseRevokeRequest(ID=lease_id))
    for thread in threads:
        thread.join(10)
    assert api(server, "locks")[1] == [] and api(server, "elections")[1] == []


_PYTHON_ETCD3_LOCK = """
import sys, etcd3
client = etcd3.client(host=sys.argv[1], port=int(sys.argv[2]))
lock = client.lock("deploy", ttl=30)
assert lock.acquire(timeout=5)
print("holding", flush=True)
sys.stdin.readline()
lock.release()
print("released", flush=True)
"""


def test_python_etcd3_locks_show_their_holder_and_watching_waiters(server, stubs):
    """python-etcd3's lock (in its own process: it needs protobuf's Python implementation). Its
    waiters watch the lock key (``watch_once``); python-etcd3 0.12's own waiting is broken with
    current tenacity releases, so a watch on the key stands in for one."""
    import os
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", _PYTHON_ETCD3_LOCK, server.host, str(server.port)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python"))
    try:
        assert proc.stdout.readline() == "holding\n"
        locks = [lock for lock in api(server, "locks")[1] if lock["recipe"] == "python-etcd3"]
        assert [(lock["name"], lock["holder"]["text"], lock["waiters"]) for lock in locks] == \
            [("deploy", "/locks/deploy", [])]
        responses = stubs[4].Watch(iter([rpc_pb2.WatchRequest(
            create_request=rpc_pb2.WatchCreateRequest(key=b"/locks/deploy"))]))
        next(responses)
        (lock,) = [lock for lock in api(server, "locks")[1] if lock["recipe"] == "python-etcd3"]
        assert [w["text"] for w in lock["waiters"]] == ["/locks/deploy"]
        responses.cancel()
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "released\n"
        assert [lock for lock in api(server, "locks")[1] if lock["recipe"] == "python-etcd3"] == []
    finally:
        proc.kill()
        proc.wait(10)


def test_leases_with_their_keys_and_watchers_with_their_ranges(server, stubs):
    kv, lease, _, _, watch = stubs
    granted = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=30)).ID
    kv.Put(rpc_pb2.PutRequest(key=b"session", value=b"x", lease=granted))
    (shown,) = api(server, "leases")[1]
    assert shown["id"] == str(granted) and shown["ttl"] == 30 and 0 < shown["remaining"] <= 30
    assert [k["text"] for k in shown["keys"]] == ["session"]
    requests = iter([rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(
        key=b"/app/", range_end=b"/app0"))] * 2)
    responses = watch.Watch(requests)
    next(responses), next(responses)
    watchers = api(server, "watchers")[1]
    assert watchers["streams"] == 1
    assert [(r["text"], r["range_end_text"], r["watchers"]) for r in watchers["ranges"]] == \
        [("/app/", "/app0", 2)]
    responses.cancel()
    status = api(server, "status")[1]
    assert status["leases"] == 1 and status["version"] == "3.5.0" and status["member"]["id"]


def test_with_auth_a_viewer_logs_in_and_sees_only_what_it_may_read(server, stubs):
    with grpc.insecure_channel(server.endpoint) as channel:
        set_up_viewer(channel, "v", root_password="r")
    assert api(server, "status") == (401, {"error": "login required", "auth_enabled": True})
    assert api(server, "status", token="bogus")[0] == 401

    def login(name: str, password: str):
        request = urllib.request.Request(server.url + "/ui/api/login", method="POST",
                                         data=json.dumps({"name": name, "password": password}).encode())
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    assert login("viewer", "wrong") == (401, {"error": "etcdserver: authentication failed, invalid user ID or password"})
    status, body = login("viewer", "v")
    token = body["token"]
    assert walk(server, token=token) == [b"/public/a"]
    assert api(server, "key?key=" + b64(b"/secret/b"), token)[0] == 403
    root = login("root", "r")[1]["token"]
    assert walk(server, token=root) == [b"/public/a", b"/secret/b"]


def test_the_change_stream_sends_an_event_per_revision(server, stubs):
    kv = stubs[0]
    request = urllib.request.urlopen(server.url + "/ui/api/events", timeout=10)
    assert request.headers["Content-Type"] == "text/event-stream"
    assert request.readline() == b"retry: 2000\n"
    request.readline()
    kv.Put(rpc_pb2.PutRequest(key=b"watched", value=b"x"))
    lines = [request.readline() for _ in range(2)]
    assert lines[0] == b"event: change\n"
    assert json.loads(lines[1][len(b"data: "):])["keys"] == ["watched"]
    request.close()


def test_the_page_and_its_assets_are_served_and_the_flag_turns_the_view_off(server):
    for name, kind in (("", "text/html"), ("app.js", "text/javascript"), ("app.css", "text/css")):
        with urllib.request.urlopen(server.url + "/ui/" + name, timeout=10) as answer:
            assert answer.headers["Content-Type"].startswith(kind) and answer.read()
    with EtcdLite(enable_ui=False) as off:
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(off.url + "/ui/", timeout=10)
        assert error.value.code == 404


def test_a_lock_taken_by_etcdctl_lock_shows_with_its_holder(server):
    import shutil
    import subprocess

    if shutil.which("etcdctl") is None:
        pytest.skip("needs etcdctl")
    proc = subprocess.Popen(["etcdctl", "--endpoints", server.endpoint, "lock", "ctl-lock"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"})
    try:
        held = proc.stdout.readline().strip()  # etcdctl prints the lock key it holds
        assert held.startswith("ctl-lock/")
        (lock,) = [lock for lock in api(server, "locks")[1] if lock["name"] == "ctl-lock"]
        assert lock["holder"]["text"] == held and lock["recipe"] == "etcd"
    finally:
        proc.kill()
        proc.wait(10)
