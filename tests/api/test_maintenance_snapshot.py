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
    restore("3.5", str(tmp_path / "backup.db"), str(tmp_path / "restored"))
    restored = start_etcd_on("3.5", str(tmp_path / "restored"))
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
