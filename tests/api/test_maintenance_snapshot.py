"""Maintenance/Snapshot: a backup in etcd's own format, on etcdlite as on real etcd 3.4.23/3.5.1.

The same writes go to each target; ``etcdctl snapshot save`` takes the backup, ``snapshot status``
reads it, ``snapshot restore`` turns it into a data dir and a real etcd started there serves the
same keys (create and mod revisions, versions, values, leases) and the same compaction as the
source did.
"""

from __future__ import annotations

import sys
from pathlib import Path

import grpc
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bbolt"))

from bbolt_real_etcd import restore, start_etcd_on, tool_status  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))
from etcdlite.proto import rpc_pb2  # noqa: E402

EVERYTHING = dict(key=b"\0", range_end=b"\0")


def _write(target) -> int:
    """Writes, a lease with a key, deletes, a txn and a compaction; returns the lease ID."""
    lease = target.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=600)).ID
    for i in range(40):
        target.kv.Put(rpc_pb2.PutRequest(key=b"k%02d" % (i % 12), value=b"v%d" % i))
    target.kv.Put(rpc_pb2.PutRequest(key=b"leased", value=b"x", lease=lease))
    target.kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"k10", range_end=b"k12"))
    target.kv.Txn(rpc_pb2.TxnRequest(success=[
        rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"t1", value=b"a")),
        rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"t2", value=b"b"))]))
    target.kv.Compact(rpc_pb2.CompactionRequest(revision=30, physical=True))
    target.kv.Put(rpc_pb2.PutRequest(key=b"k00", value=b"last"))
    return lease


def _kvs(target, **extra) -> list[tuple]:
    got = target.kv.Range(rpc_pb2.RangeRequest(**EVERYTHING, **extra))
    return [(kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease)
            for kv in got.kvs]


def test_etcdctl_snapshot_save_status_and_restore_into_real_etcd(target, tmp_path):
    lease = _write(target)
    revision = target.kv.Range(rpc_pb2.RangeRequest(key=b"k00")).header.revision
    saved = target.etcdctl("snapshot", "save", str(tmp_path / "backup.db"))
    assert saved.stdout == f"Snapshot saved at {tmp_path / 'backup.db'}\n"
    for version in ("3.4", "3.5"):
        status = tool_status(version, str(tmp_path / "backup.db"))
        assert status["revision"] == revision
    expected = _kvs(target)
    history = _kvs(target, revision=31)
    for version in ("3.4", "3.5"):
        restore(version, str(tmp_path / "backup.db"), str(tmp_path / f"restored-{version}"))
        restored = start_etcd_on(version, str(tmp_path / f"restored-{version}"))
        try:
            assert _kvs(restored) == expected
            assert _kvs(restored, revision=31) == history
            with pytest.raises(grpc.RpcError) as compacted:
                restored.kv.Range(rpc_pb2.RangeRequest(key=b"k00", revision=29))
            assert compacted.value.code() == grpc.StatusCode.OUT_OF_RANGE
            ttl = restored.lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=lease, keys=True))
            assert (ttl.grantedTTL, list(ttl.keys)) == (600, [b"leased"])
            assert restored.kv.Put(rpc_pb2.PutRequest(key=b"next")).header.revision == revision + 1
        finally:
            restored.close()


def test_users_roles_and_permissions_travel_in_the_snapshot(target, tmp_path):
    from auth_helpers import PERMISSION_DENIED, READWRITE, enable_auth_with_user, error_of, login

    enable_auth_with_user(target, perms=[(READWRITE, b"app/", b"app0")])
    root = login(target, "root", "rootpw")
    target.kv.Put(rpc_pb2.PutRequest(key=b"app/x", value=b"1"), metadata=root)
    target.etcdctl("--user", "root:rootpw", "snapshot", "save", str(tmp_path / "backup.db"))
    restore("3.5", str(tmp_path / "backup.db"), str(tmp_path / "restored"))
    restored = start_etcd_on("3.5", str(tmp_path / "restored"))
    try:
        alice = login(restored, "alice", "apw")
        assert restored.kv.Range(rpc_pb2.RangeRequest(key=b"app/x"), metadata=alice).kvs[0].value == b"1"
        assert error_of(restored.kv.Put, rpc_pb2.PutRequest(key=b"other"), metadata=alice) == (
            PERMISSION_DENIED)
    finally:
        restored.close()


def test_snapshot_messages_are_32_kib_chunks_then_the_sha256_without_headers(target):
    for i in range(300):
        target.kv.Put(rpc_pb2.PutRequest(key=b"key%04d" % i, value=b"x" * 200))
    messages = list(target.maintenance.Snapshot(rpc_pb2.SnapshotRequest(), timeout=30))
    *data, digest = messages
    import hashlib
    blob = b"".join(m.blob for m in data)
    assert [len(m.blob) for m in data[:-1]] == [32 * 1024] * (len(data) - 1)
    assert [m.remaining_bytes for m in data] == [len(blob) - sum(len(m.blob) for m in data[:i + 1])
                                                 for i in range(len(data))]
    assert (digest.remaining_bytes, digest.blob) == (0, hashlib.sha256(blob).digest())
    assert not any(m.HasField("header") for m in messages)


def test_hash_kv_of_the_restored_etcd_equals_the_sources(target, tmp_path):
    _write(target)
    source = target.maintenance.HashKV(rpc_pb2.HashKVRequest())
    target.etcdctl("snapshot", "save", str(tmp_path / "backup.db"))
    restore("3.5", str(tmp_path / "backup.db"), str(tmp_path / "restored"))
    restored = start_etcd_on("3.5", str(tmp_path / "restored"))
    try:
        got = restored.maintenance.HashKV(rpc_pb2.HashKVRequest(revision=source.header.revision))
        assert (got.hash, got.compact_revision) == (source.hash, source.compact_revision)
    finally:
        restored.close()


@pytest.mark.parametrize("source_name", ["etcdlite", "etcd-3.4", "etcd-3.5"])
def test_etcdlite_starts_from_a_snapshot_saved_from_etcd_with_keys_history_leases_and_auth(
        source_name, tmp_path):
    from auth_helpers import READWRITE, auth_stub, enable_auth_with_user, login
    from etcd_targets import start_target
    from etcdlite import EtcdLite

    source = start_target(source_name, tmp_path, bcrypt_cost=4, etcd_args=["--bcrypt-cost", "4"])
    try:
        lease = _write(source)
        enable_auth_with_user(source, perms=[(READWRITE, b"k0", b"k1")])
        root = login(source, "root", "rootpw")
        expected = [_kvs_as(source, root), _kvs_as(source, root, revision=31)]
        hash_kv = source.maintenance.HashKV(rpc_pb2.HashKVRequest(), metadata=root)
        source.etcdctl("--user", "root:rootpw", "snapshot", "save", str(tmp_path / "etcd.db"))
    finally:
        source.close()
    with EtcdLite(initial_snapshot=str(tmp_path / "etcd.db"), bcrypt_cost=4) as etcd:
        from etcd_targets import Target
        restored = Target("etcdlite", etcd.endpoint, lambda: None)
        try:
            root = login(restored, "root", "rootpw")
            assert [_kvs_as(restored, root), _kvs_as(restored, root, revision=31)] == expected
            got = restored.maintenance.HashKV(rpc_pb2.HashKVRequest(), metadata=root)
            assert (got.hash, got.compact_revision, got.header.revision) == (
                hash_kv.hash, hash_kv.compact_revision, hash_kv.header.revision)
            ttl = restored.lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=lease, keys=True),
                                                 metadata=root)
            assert (ttl.grantedTTL, list(ttl.keys)) == (600, [b"leased"])
            alice = login(restored, "alice", "apw")
            assert restored.kv.Range(rpc_pb2.RangeRequest(key=b"k00"), metadata=alice).count == 1
            with pytest.raises(grpc.RpcError) as denied:
                restored.kv.Range(rpc_pb2.RangeRequest(key=b"t1"), metadata=alice)
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert auth_stub(restored).AuthStatus(rpc_pb2.AuthStatusRequest(), metadata=root).enabled
        finally:
            restored.channel.close()


def _kvs_as(target, metadata, **extra) -> list[tuple]:
    got = target.kv.Range(rpc_pb2.RangeRequest(**EVERYTHING, **extra), metadata=metadata)
    return [(kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease)
            for kv in got.kvs]
