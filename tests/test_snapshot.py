"""etcdlite snapshots (server/snapshot.py): save the whole keyspace to a file, load it into a fresh
server, and every client-visible fact is the same: keys, values, versions, create/mod revisions,
the history (reads at old revisions, watches from the past), revision and compact revision, and
leases (ID, TTL, time left, attached keys)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import grpc
import pytest

from etcd_targets import free_port
from etcdlite import snapshot as snapshots
from etcdlite.embed import EtcdLite
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc
from etcdlite.runtime import StartupError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVERYTHING = dict(key=b"\0", range_end=b"\0")


def _put(key, value, lease=0):
    return rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=value, lease=lease))


def _build_state(channel: grpc.Channel) -> None:
    """History with every kind of change: versions, deletes and re-creations, multi-op revisions,
    a compaction, leases with and without keys, a key moved between leases."""
    kv, lease = rpc_pb2_grpc.KVStub(channel), rpc_pb2_grpc.LeaseStub(channel)
    for i in range(12):
        kv.Put(rpc_pb2.PutRequest(key=b"key/%d" % (i % 4), value=b"value-%d" % i))
    kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"key/1"))
    kv.Put(rpc_pb2.PutRequest(key=b"key/1", value=b"reborn"))
    kv.Txn(rpc_pb2.TxnRequest(success=[_put(b"txn/a", b"1"), _put(b"txn/b", b"2"), _put(b"txn/c", b"\x00\xff")]))
    kv.Compact(rpc_pb2.CompactionRequest(revision=9))
    short = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(ID=0x1234, TTL=30)).ID
    long = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=3600)).ID
    lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(ID=0x777, TTL=120))  # no keys
    kv.Put(rpc_pb2.PutRequest(key=b"lease/short", value=b"s", lease=short))
    kv.Put(rpc_pb2.PutRequest(key=b"lease/long-1", value=b"l1", lease=long))
    kv.Put(rpc_pb2.PutRequest(key=b"lease/long-2", value=b"l2", lease=short))
    kv.Put(rpc_pb2.PutRequest(key=b"lease/long-2", value=b"l2", lease=long))  # moved to the other lease
    kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"txn/b"))
    kv.Put(rpc_pb2.PutRequest(key=b"empty", value=b""))


def _kv(x) -> tuple:
    return (x.key, x.value, x.create_revision, x.mod_revision, x.version, x.lease)


def _observe(channel: grpc.Channel) -> dict:
    """Everything a client can read about the keyspace."""
    kv, lease = rpc_pb2_grpc.KVStub(channel), rpc_pb2_grpc.LeaseStub(channel)
    maintenance = rpc_pb2_grpc.MaintenanceStub(channel)
    now = kv.Range(rpc_pb2.RangeRequest(**EVERYTHING))
    revision = now.header.revision
    hash_kv = maintenance.HashKV(rpc_pb2.HashKVRequest())
    at_revision = {}
    for rev in range(1, revision + 1):
        try:
            got = kv.Range(rpc_pb2.RangeRequest(revision=rev, **EVERYTHING))
            at_revision[rev] = [_kv(x) for x in got.kvs]
        except grpc.RpcError as exc:
            at_revision[rev] = (exc.code(), exc.details())
    leases = {}
    for status in lease.LeaseLeases(rpc_pb2.LeaseLeasesRequest()).leases:
        ttl = lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=status.ID, keys=True))
        leases[status.ID] = (ttl.TTL, ttl.grantedTTL, sorted(ttl.keys))
    return dict(revision=revision, kvs=[_kv(x) for x in now.kvs], at_revision=at_revision,
                compact_revision=hash_kv.compact_revision, hash_kv=hash_kv.hash,
                hash=maintenance.Hash(rpc_pb2.HashRequest()).hash, leases=leases,
                events=_history_events(channel, hash_kv.compact_revision + 1))


def _history_events(channel: grpc.Channel, start: int) -> list:
    stop = threading.Event()

    def requests():
        yield rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(
            start_revision=start, prev_kv=True, **EVERYTHING))
        stop.wait(10)

    stream = rpc_pb2_grpc.WatchStub(channel).Watch(requests(), timeout=10)
    try:
        assert next(stream).created
        events = [(e.type, _kv(e.kv), _kv(e.prev_kv)) for e in next(stream).events]
    finally:
        stop.set()
        stream.cancel()
    return events


@pytest.fixture
def source():
    etcd = EtcdLite(time_control=True).start()
    with grpc.insecure_channel(etcd.endpoint) as channel:
        _build_state(channel)
        etcd.advance(10)  # leases have run down a little: 20 s, 3590 s and 110 s left
        yield etcd, channel
    etcd.stop()


def test_round_trip_keeps_every_key_revision_version_history_and_lease(source, tmp_path):
    etcd, channel = source
    before = _observe(channel)
    assert before["compact_revision"] == 9 and before["revision"] > 20
    assert isinstance(before["at_revision"][8], tuple)  # compacted: the history starts at 9
    assert set(before["leases"]) >= {0x1234, 0x777}
    path = tmp_path / "state.json"
    etcd.save_snapshot(path)

    with EtcdLite(time_control=True) as fresh, grpc.insecure_channel(fresh.endpoint) as other:
        fresh.load_snapshot(path)
        after = _observe(other)
        assert after == before
        # the restored server carries on: new writes follow the saved revision, leases count down
        kv = rpc_pb2_grpc.KVStub(other)
        assert kv.Put(rpc_pb2.PutRequest(key=b"next", value=b"1")).header.revision == before["revision"] + 1
        assert fresh.advance(20) == 1  # 0x1234 had 20 s left
        left = {x.key for x in kv.Range(rpc_pb2.RangeRequest(**EVERYTHING)).kvs}
        assert b"lease/short" not in left and b"lease/long-2" in left


def test_a_server_starts_from_a_snapshot(source, tmp_path):
    etcd, channel = source
    path = tmp_path / "state.json"
    etcd.save_snapshot(path)
    before = _observe(channel)
    with EtcdLite(initial_snapshot=str(path), time_control=True) as seeded, \
            grpc.insecure_channel(seeded.endpoint) as other:
        assert _observe(other) == before


def test_the_command_line_starts_from_a_snapshot(source, tmp_path):
    etcd, channel = source
    path = tmp_path / "state.json"
    etcd.save_snapshot(path)
    expected = rpc_pb2_grpc.KVStub(channel).Range(rpc_pb2.RangeRequest(**EVERYTHING))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "etcdlite", "--memory", "--listen-client-urls", f"http://127.0.0.1:{port}",
         "--initial-snapshot", str(path), "--log-level", "error"],
        cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert "serving on" in proc.stdout.readline()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as other:
            got = rpc_pb2_grpc.KVStub(other).Range(rpc_pb2.RangeRequest(**EVERYTHING), timeout=5)
            assert got.header.revision == expected.header.revision
            assert [_kv(x) for x in got.kvs] == [_kv(x) for x in expected.kvs]
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_the_file_is_the_documented_json(source, tmp_path):
    etcd, channel = source
    path = tmp_path / "state.json"
    snapshot = etcd.save_snapshot(path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "etcdlite-snapshot" and doc["version"] == 1
    assert doc["revision"] == snapshot.revision and doc["compact_revision"] == 9
    assert {"id": 0x777, "ttl": 120, "remaining": 110.0} in doc["leases"]
    first = doc["changes"][0]
    assert set(first) in ({"rev", "sub", "key", "create", "version", "value", "lease"},
                          {"rev", "sub", "key", "deleted"})
    assert any(c.get("deleted") for c in doc["changes"])
    assert [c["rev"] for c in doc["changes"]] == sorted(c["rev"] for c in doc["changes"])


def test_a_snapshot_that_does_not_add_up_is_refused(source, tmp_path):
    etcd, _ = source
    good = tmp_path / "good.json"
    etcd.save_snapshot(good)
    doc = json.loads(good.read_text())

    def write(name: str, changed: dict) -> str:
        path = tmp_path / name
        path.write_text(json.dumps(changed))
        return str(path)

    tampered = dict(doc, changes=[dict(c) for c in doc["changes"]])
    tampered["changes"][-1]["value"] = "dGFtcGVyZWQ="
    orphan = dict(doc, leases=[lease for lease in doc["leases"] if lease["id"] != 0x1234])
    shuffled = dict(doc, changes=list(reversed(doc["changes"])))
    cases = {
        write("tampered.json", tampered): "hash mismatch",
        write("orphan.json", orphan): "missing",
        write("shuffled.json", shuffled): "out of order",
        write("other.json", {"format": "something-else"}): "not an etcdlite-snapshot file",
        write("future.json", dict(doc, version=99)): "unsupported",
        write("garbage.json", {}) + "-missing": "cannot read snapshot",
    }
    (tmp_path / "notjson.json").write_text("{")
    cases[str(tmp_path / "notjson.json")] = "not JSON"
    with EtcdLite() as target:
        for path, message in cases.items():
            with pytest.raises(snapshots.SnapshotError, match=message):
                target.load_snapshot(path)
        assert rpc_pb2_grpc.KVStub(grpc.insecure_channel(target.endpoint)).Range(
            rpc_pb2.RangeRequest(**EVERYTHING), timeout=5).header.revision == 1
        with pytest.raises(StartupError, match="hash mismatch"):
            EtcdLite(initial_snapshot=write("t2.json", tampered)).start()


def test_a_snapshot_seeds_only_an_empty_data_dir(source, tmp_path):
    etcd, _ = source
    path = str(tmp_path / "state.json")
    snapshot = etcd.save_snapshot(path)
    data = str(tmp_path / "data")
    with EtcdLite(data_dir=data, initial_snapshot=path) as seeded:
        revision = rpc_pb2_grpc.KVStub(grpc.insecure_channel(seeded.endpoint)).Range(
            rpc_pb2.RangeRequest(**EVERYTHING), timeout=5).header.revision
        assert revision == snapshot.revision
    with pytest.raises(StartupError, match="not empty"):
        EtcdLite(data_dir=data, initial_snapshot=path).start()


def test_a_snapshot_loaded_into_an_lmdb_server_survives_a_restart(source, tmp_path):
    etcd, channel = source
    path = tmp_path / "state.json"
    etcd.save_snapshot(path)
    expected = _observe(channel)
    data = str(tmp_path / "data")
    with EtcdLite(data_dir=data) as disk, grpc.insecure_channel(disk.endpoint) as other:
        kv = rpc_pb2_grpc.KVStub(other)
        for i in range(30):  # an old history with the same revisions as the snapshot's
            kv.Put(rpc_pb2.PutRequest(key=b"old/%d" % (i % 5), value=b"x"))
        disk.load_snapshot(path)
    with EtcdLite(data_dir=data) as disk, grpc.insecure_channel(disk.endpoint) as other:
        after = _observe(other)
    # a restart gives every lease its full TTL again (plus the election timeout), as etcd does
    for name in ("revision", "kvs", "at_revision", "compact_revision", "hash_kv", "hash", "events"):
        assert after[name] == expected[name], name
    assert {i: (granted, keys) for i, (_, granted, keys) in after["leases"].items()} == \
        {i: (granted, keys) for i, (_, granted, keys) in expected["leases"].items()}


def test_snapshot_api_without_files(source):
    etcd, channel = source
    snapshot = etcd.snapshot()
    assert snapshots.loads(snapshots.dumps(snapshot)) == snapshot
    with EtcdLite(time_control=True) as fresh, grpc.insecure_channel(fresh.endpoint) as other:
        fresh.load_snapshot(snapshot)
        assert _observe(other) == _observe(channel)


def test_the_command_line_refuses_a_bad_snapshot_in_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "etcdlite-snapshot", "version": 1}')
    proc = subprocess.run(
        [sys.executable, "-m", "etcdlite", "--memory", "--listen-client-urls", f"http://127.0.0.1:{free_port()}",
         "--initial-snapshot", str(bad)],
        cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"etcdlite: cannot load snapshot {bad}: "), proc.stderr


def test_save_snapshot_in_etcds_format_round_trips_and_etcds_tools_read_it(tmp_path):
    import grpc

    from etcdlite.proto import rpc_pb2, rpc_pb2_grpc
    from etcd_targets import etcdutl_binary

    path = tmp_path / "backup.db"
    with EtcdLite() as etcd, grpc.insecure_channel(etcd.endpoint) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)
        lease = rpc_pb2_grpc.LeaseStub(channel).LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=90)).ID
        for i in range(20):
            kv.Put(rpc_pb2.PutRequest(key=b"k%d" % (i % 7), value=b"%d" % i, lease=lease if i == 3 else 0))
        kv.Compact(rpc_pb2.CompactionRequest(revision=10))
        saved = etcd.save_snapshot(path, format="etcd")
        before = kv.Range(rpc_pb2.RangeRequest(key=b"\0", range_end=b"\0"))
    assert (saved.revision, saved.compact_revision) == (21, 10)
    with EtcdLite(initial_snapshot=str(path)) as etcd, grpc.insecure_channel(etcd.endpoint) as channel:
        after = rpc_pb2_grpc.KVStub(channel).Range(rpc_pb2.RangeRequest(key=b"\0", range_end=b"\0"))
        assert after == before
        assert rpc_pb2_grpc.LeaseStub(channel).LeaseTimeToLive(
            rpc_pb2.LeaseTimeToLiveRequest(ID=lease)).grantedTTL == 90
    if etcdutl_binary() is not None:
        status = subprocess.run([etcdutl_binary(), "snapshot", "status", str(path), "-w", "json"],
                                capture_output=True, text=True, timeout=60, check=True)
        assert json.loads(status.stdout)["revision"] == 21
    with pytest.raises(ValueError):
        EtcdLite().save_snapshot(path, format="yaml")
