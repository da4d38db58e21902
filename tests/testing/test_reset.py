"""EtcdLite.reset: the same server, as if freshly started; what was in flight ends with CANCELLED."""

from __future__ import annotations

import asyncio
import threading
import time

import grpc
import pytest

from etcdlite.embed import EtcdLite
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc, v3election_pb2, v3election_pb2_grpc, v3lock_pb2, v3lock_pb2_grpc

EVERYTHING = dict(key=b"\0", range_end=b"\0")


@pytest.fixture
def etcd():
    server = EtcdLite().start()
    yield server
    server.stop()


def _fresh_state(channel: grpc.Channel) -> dict:
    kv = rpc_pb2_grpc.KVStub(channel)
    maintenance = rpc_pb2_grpc.MaintenanceStub(channel)
    got = kv.Range(rpc_pb2.RangeRequest(**EVERYTHING), timeout=5)
    status = maintenance.Status(rpc_pb2.StatusRequest(), timeout=5)
    hash_kv = maintenance.HashKV(rpc_pb2.HashKVRequest(), timeout=5)
    return dict(
        revision=got.header.revision, count=got.count, raft_term=got.header.raft_term,
        raft_index=status.raftIndex, alarms=list(status.errors),
        compact_revision=hash_kv.compact_revision, hash=hash_kv.hash,
        leases=list(rpc_pb2_grpc.LeaseStub(channel).LeaseLeases(rpc_pb2.LeaseLeasesRequest(), timeout=5).leases))


def test_reset_gives_exactly_the_state_of_a_new_server(etcd):
    with EtcdLite() as new, grpc.insecure_channel(new.endpoint) as new_channel:
        expected = _fresh_state(new_channel)
    with grpc.insecure_channel(etcd.endpoint) as channel:
        kv, lease = rpc_pb2_grpc.KVStub(channel), rpc_pb2_grpc.LeaseStub(channel)
        assert _fresh_state(channel) == expected
        for i in range(20):
            kv.Put(rpc_pb2.PutRequest(key=b"k%02d" % (i % 7), value=b"%d" % i))
        kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"k03"))
        kv.Compact(rpc_pb2.CompactionRequest(revision=10))
        lease_id = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=100)).ID
        kv.Put(rpc_pb2.PutRequest(key=b"leased", value=b"x", lease=lease_id))
        rpc_pb2_grpc.MaintenanceStub(channel).Alarm(rpc_pb2.AlarmRequest(action=1, memberID=1, alarm=1))
        assert _fresh_state(channel) != expected

        etcd.reset()

        assert _fresh_state(channel) == expected
        # history is gone: old revisions are in the future again
        with pytest.raises(grpc.RpcError) as err:
            kv.Range(rpc_pb2.RangeRequest(key=b"k00", revision=5))
        assert err.value.code() == grpc.StatusCode.OUT_OF_RANGE
        # and it behaves as a new server (the alarm no longer refuses puts; lease IDs are unknown)
        assert kv.Put(rpc_pb2.PutRequest(key=b"a", value=b"1")).header.revision == 2
        assert lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=lease_id)).TTL == -1
        with pytest.raises(grpc.RpcError) as err:
            kv.Put(rpc_pb2.PutRequest(key=b"b", value=b"1", lease=lease_id))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_reset_ends_streams_and_waiters_with_cancelled(etcd):
    with grpc.insecure_channel(etcd.endpoint) as channel:
        lease = rpc_pb2_grpc.LeaseStub(channel)
        lock = v3lock_pb2_grpc.LockStub(channel)
        election = v3election_pb2_grpc.ElectionStub(channel)
        first = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60)).ID
        second = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60)).ID
        lock.Lock(v3lock_pb2.LockRequest(name=b"l", lease=first))
        waiter = lock.Lock.future(v3lock_pb2.LockRequest(name=b"l", lease=second))
        election.Campaign(v3election_pb2.CampaignRequest(name=b"e", lease=first, value=b"1"))
        campaign = election.Campaign.future(v3election_pb2.CampaignRequest(name=b"e", lease=second, value=b"2"))
        observe = election.Observe(v3election_pb2.LeaderRequest(name=b"e"))
        assert next(observe).kv.value == b"1"
        stop = threading.Event()

        def requests(request):
            yield request
            stop.wait(30)

        watch = rpc_pb2_grpc.WatchStub(channel).Watch(
            requests(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"a"))))
        assert next(watch).created
        keep_alive = lease.LeaseKeepAlive(requests(rpc_pb2.LeaseKeepAliveRequest(ID=first)))
        assert next(keep_alive).TTL == 60
        time.sleep(0.05)  # the waiters are waiting
        assert not waiter.done() and not campaign.done()

        etcd.reset()

        for call in (waiter, campaign):
            with pytest.raises(grpc.RpcError) as err:
                call.result(timeout=5)
            assert err.value.code() == grpc.StatusCode.CANCELLED
            assert err.value.details().startswith("etcdlite: keyspace reset")
        for stream in (watch, keep_alive, observe):
            with pytest.raises(grpc.RpcError) as err:
                next(stream)
            assert err.value.code() == grpc.StatusCode.CANCELLED
        stop.set()
        # nothing the cancelled waiters did on their way out touched the new keyspace
        state = rpc_pb2_grpc.KVStub(channel).Range(rpc_pb2.RangeRequest(**EVERYTHING))
        assert state.header.revision == 1 and state.count == 0
        assert rpc_pb2_grpc.MaintenanceStub(channel).Status(rpc_pb2.StatusRequest()).raftIndex == 1
        assert etcd._runtime.node.watch_hub.watcher_count() == 0


def test_reset_is_fast(etcd):
    with grpc.insecure_channel(etcd.endpoint) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)
        timings = []
        for round in range(20):
            for i in range(50):
                kv.Put(rpc_pb2.PutRequest(key=b"k%d" % i, value=b"v"))
            started = time.perf_counter()
            etcd.reset()
            timings.append(time.perf_counter() - started)
            assert kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v")).header.revision == 2
    timings.sort()
    assert timings[len(timings) // 2] < 0.05, timings


def test_reset_of_an_lmdb_server_is_persisted(tmp_path):
    data = str(tmp_path / "data")
    with EtcdLite(data_dir=data) as etcd, grpc.insecure_channel(etcd.endpoint) as channel:
        kv, lease = rpc_pb2_grpc.KVStub(channel), rpc_pb2_grpc.LeaseStub(channel)
        for i in range(10):
            kv.Put(rpc_pb2.PutRequest(key=b"old%d" % (i % 3), value=b"%d" % i))
        kv.Compact(rpc_pb2.CompactionRequest(revision=5))
        lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(ID=77, TTL=100))
        etcd.reset()
        kv.Put(rpc_pb2.PutRequest(key=b"new", value=b"1"))
        kv.Put(rpc_pb2.PutRequest(key=b"new", value=b"2"))
    with EtcdLite(data_dir=data) as etcd, grpc.insecure_channel(etcd.endpoint) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)
        got = kv.Range(rpc_pb2.RangeRequest(**EVERYTHING))
        assert [(x.key, x.value, x.create_revision, x.mod_revision, x.version) for x in got.kvs] == [
            (b"new", b"2", 2, 3, 2)]
        assert got.header.revision == 3
        assert kv.Range(rpc_pb2.RangeRequest(key=b"new", revision=2)).kvs[0].value == b"1"
        assert rpc_pb2_grpc.LeaseStub(channel).LeaseLeases(rpc_pb2.LeaseLeasesRequest()).leases == []
        hash_kv = rpc_pb2_grpc.MaintenanceStub(channel).HashKV(rpc_pb2.HashKVRequest())
        assert hash_kv.compact_revision == -1


def test_reset_async_on_the_callers_loop():
    async def main() -> tuple[int, int]:
        async with EtcdLite() as etcd:
            channel = grpc.aio.insecure_channel(etcd.endpoint)
            kv = rpc_pb2_grpc.KVStub(channel)
            await kv.Put(rpc_pb2.PutRequest(key=b"a", value=b"1"))
            await kv.Put(rpc_pb2.PutRequest(key=b"a", value=b"2"))
            with pytest.raises(RuntimeError, match="_async"):
                etcd.reset()  # would block the loop the server runs on
            await etcd.reset_async()
            got = await kv.Range(rpc_pb2.RangeRequest(key=b"a"))
            put = await kv.Put(rpc_pb2.PutRequest(key=b"a", value=b"3"))
            await channel.close()
            return got.count, put.header.revision

    assert asyncio.run(main()) == (0, 2)


def _enable_auth(channel: grpc.Channel) -> list[tuple[str, str]]:
    auth = rpc_pb2_grpc.AuthStub(channel)
    auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="root", password="pw"))
    auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="root", role="root"))
    auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="reader"))
    auth.AuthEnable(rpc_pb2.AuthEnableRequest())
    return [("token", auth.Authenticate(rpc_pb2.AuthenticateRequest(name="root", password="pw")).token)]


def test_reset_forgets_users_and_roles_disables_auth_and_voids_tokens(tmp_path):
    data = str(tmp_path / "data")
    with EtcdLite(data_dir=data, bcrypt_cost=4) as etcd, grpc.insecure_channel(etcd.endpoint) as channel:
        root = _enable_auth(channel)
        auth, kv = rpc_pb2_grpc.AuthStub(channel), rpc_pb2_grpc.KVStub(channel)
        kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v"), metadata=root)
        etcd.reset()
        status = auth.AuthStatus(rpc_pb2.AuthStatusRequest())
        assert (status.enabled, status.authRevision) == (False, 1)
        assert list(auth.UserList(rpc_pb2.AuthUserListRequest()).users) == []
        assert list(auth.RoleList(rpc_pb2.AuthRoleListRequest()).roles) == []
        kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v"))  # no credentials needed any more
        _enable_auth(channel)
        with pytest.raises(grpc.RpcError) as stale:
            kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v"), metadata=root)
        assert (stale.value.code(), stale.value.details()) == (
            grpc.StatusCode.UNAUTHENTICATED, "etcdserver: invalid auth token")
    with EtcdLite(data_dir=data) as etcd, grpc.insecure_channel(etcd.endpoint) as channel:
        status = rpc_pb2_grpc.AuthStub(channel).AuthStatus(rpc_pb2.AuthStatusRequest(), metadata=[
            ("token", rpc_pb2_grpc.AuthStub(channel).Authenticate(
                rpc_pb2.AuthenticateRequest(name="root", password="pw")).token)])
        assert status.enabled  # the state after the reset is what persisted
