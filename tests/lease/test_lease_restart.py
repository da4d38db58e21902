"""Leases survive restarts: attached keys stay attached, TTLs start again, expiry still deletes."""

from __future__ import annotations

import grpc

from etcdlite.clock import ManualClock
from etcdlite.embed import EtcdLite
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc


def _stubs(endpoint: str):
    channel = grpc.insecure_channel(endpoint)
    return channel, rpc_pb2_grpc.KVStub(channel), rpc_pb2_grpc.LeaseStub(channel)


def test_lease_keys_and_ttl_survive_a_restart_and_expiry_then_deletes_the_keys(tmp_path):
    data = str(tmp_path / "data")
    with EtcdLite(data_dir=data, clock=ManualClock()) as etcd:
        channel, kv, lease = _stubs(etcd.endpoint)
        lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(ID=42, TTL=20))
        kv.Put(rpc_pb2.PutRequest(key=b"a", value=b"1", lease=42))      # 2
        kv.Put(rpc_pb2.PutRequest(key=b"b", value=b"2", lease=42))      # 3
        kv.Put(rpc_pb2.PutRequest(key=b"c", value=b"3"))                # 4
        etcd.clock.advance(15)
        channel.close()

    clock = ManualClock()
    with EtcdLite(data_dir=data, clock=clock) as etcd:
        channel, kv, lease = _stubs(etcd.endpoint)
        ttl = lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=42, keys=True))
        assert (ttl.TTL, ttl.grantedTTL, sorted(ttl.keys)) == (21, 20, [b"a", b"b"])
        clock.advance(20)
        assert kv.Range(rpc_pb2.RangeRequest(key=b"a")).kvs[0].lease == 42
        clock.advance(1.5)
        deadline_passed = kv.Range(rpc_pb2.RangeRequest(key=b"\x00", range_end=b"\x00"))
        for _ in range(100):
            if len(deadline_passed.kvs) == 1:
                break
            deadline_passed = kv.Range(rpc_pb2.RangeRequest(key=b"\x00", range_end=b"\x00"))
        assert [x.key for x in deadline_passed.kvs] == [b"c"]
        assert deadline_passed.header.revision == 5
        assert lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=42)).TTL == -1
        channel.close()

    with EtcdLite(data_dir=data) as etcd:
        channel, kv, lease = _stubs(etcd.endpoint)
        assert lease.LeaseLeases(rpc_pb2.LeaseLeasesRequest()).leases == []
        channel.close()
