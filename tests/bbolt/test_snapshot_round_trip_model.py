"""Random histories survive etcdlite → etcd's snapshot format → etcdlite, and → real etcd 3.5.1:
every key at every revision since the compaction, HashKV, and leases with their keys."""

from __future__ import annotations

import grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bbolt_real_etcd import remove, restore, start_etcd_on
from etcd_targets import Target, etcd_binary, etcdutl_binary
from etcdlite.embed import EtcdLite
from etcdlite.proto import rpc_pb2

KEYS = [b"a", b"b", b"c", b"d/1", b"d/2"]

op = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(KEYS), st.binary(max_size=20), st.booleans()),
    st.tuples(st.just("delete"), st.sampled_from(KEYS), st.booleans()),
    st.tuples(st.just("txn"), st.sampled_from(KEYS), st.sampled_from(KEYS)),
    st.tuples(st.just("compact"), st.floats(0.0, 1.0)),
    st.tuples(st.just("grant"), st.integers(10, 1000)),
    st.tuples(st.just("revoke")),
)


def _apply(target: Target, ops: list[tuple]) -> None:
    leases: list[int] = []
    for o in ops:
        kind = o[0]
        if kind == "put":
            lease = leases[-1] if o[3] and leases else 0
            target.kv.Put(rpc_pb2.PutRequest(key=o[1], value=o[2], lease=lease))
        elif kind == "delete":
            end = b"\0" if o[2] else b""
            target.kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=o[1], range_end=end))
        elif kind == "txn":
            target.kv.Txn(rpc_pb2.TxnRequest(success=[
                rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=o[1], value=b"t")),
                rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(key=o[2]))]
                if o[1] != o[2] else [rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=o[1]))]))
        elif kind == "compact":
            current = target.kv.Range(rpc_pb2.RangeRequest(key=b"a")).header.revision
            try:
                target.kv.Compact(rpc_pb2.CompactionRequest(revision=max(1, int(current * o[1]))))
            except grpc.RpcError as error:  # at or below the last compaction, as etcd answers
                assert error.code() == grpc.StatusCode.OUT_OF_RANGE
        elif kind == "grant":
            leases.append(target.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=o[1])).ID)
        elif kind == "revoke" and leases:
            target.lease.LeaseRevoke(rpc_pb2.LeaseRevokeRequest(ID=leases.pop()))


def _observed(target: Target) -> dict:
    """Everything a client can read: all keys at every revision since the compaction, HashKV,
    the leases with their TTLs and keys."""
    hash_kv = target.maintenance.HashKV(rpc_pb2.HashKVRequest())
    current, compacted = hash_kv.header.revision, hash_kv.compact_revision
    revisions = {}
    for revision in range(max(1, compacted), current + 1):
        got = target.kv.Range(rpc_pb2.RangeRequest(key=b"\0", range_end=b"\0", revision=revision))
        revisions[revision] = [(kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version,
                                kv.lease) for kv in got.kvs]
    leases = {}
    for status in target.lease.LeaseLeases(rpc_pb2.LeaseLeasesRequest()).leases:
        ttl = target.lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=status.ID, keys=True))
        leases[status.ID] = (ttl.grantedTTL, sorted(ttl.keys))
    return dict(current=current, compacted=compacted, hash=hash_kv.hash, revisions=revisions,
                leases=leases)


def _etcdlite(**options) -> tuple[EtcdLite, Target]:
    server = EtcdLite(**options).start()
    return server, Target("etcdlite", server.endpoint, server.stop)


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(op, max_size=25))
def test_a_history_survives_etcdlite_to_etcds_format_to_etcdlite(tmp_path_factory, ops):
    path = tmp_path_factory.mktemp("snap") / "backup.db"
    server, target = _etcdlite()
    try:
        _apply(target, ops)
        expected = _observed(target)
        server.save_snapshot(path, format="etcd")
    finally:
        target.close()
    server, target = _etcdlite(initial_snapshot=str(path))
    try:
        assert _observed(target) == expected
    finally:
        target.close()


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(op, min_size=5, max_size=25))
def test_a_history_survives_etcdlite_to_etcds_format_to_real_etcd_3_5(tmp_path_factory, ops):
    import pytest
    if etcd_binary("3.5") is None or etcdutl_binary() is None:
        pytest.skip("real etcd 3.5 not installed (scripts/install_real_etcd.sh)")
    directory = tmp_path_factory.mktemp("snap")
    server, target = _etcdlite()
    try:
        _apply(target, ops)
        expected = _observed(target)
        server.save_snapshot(directory / "backup.db", format="etcd")
    finally:
        target.close()
    restore("3.5", str(directory / "backup.db"), str(directory / "restored"))
    real = start_etcd_on("3.5", str(directory / "restored"))
    try:
        assert _observed(real) == expected
    finally:
        real.close()
        remove(str(directory / "restored"))
