"""Time control: a manual clock moved in process (EtcdLite.advance) or over gRPC (the admin service of
a server started with --enable-time-control). Leases expire, locks pass on and leadership is handed
over the moment the clock passes the deadline; nothing here sleeps for a lease."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import grpc
import pytest

from etcd_targets import free_port
from etcdlite.embed import EtcdLite
from etcdlite.proto import (etcdlite_admin_pb2, etcdlite_admin_pb2_grpc, rpc_pb2, rpc_pb2_grpc,
                          v3election_pb2, v3election_pb2_grpc, v3lock_pb2, v3lock_pb2_grpc)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOUR = 3600


@pytest.fixture
def etcd():
    server = EtcdLite(time_control=True).start()
    channel = grpc.insecure_channel(server.endpoint)
    grpc.channel_ready_future(channel).result(timeout=10)
    server.test_channel = channel
    yield server
    channel.close()
    server.stop()


def _grant(channel: grpc.Channel, ttl: int) -> int:
    return rpc_pb2_grpc.LeaseStub(channel).LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=ttl), timeout=5).ID


def test_a_one_hour_lease_expires_when_the_clock_passes_an_hour(etcd):
    channel = etcd.test_channel
    kv, lease = rpc_pb2_grpc.KVStub(channel), rpc_pb2_grpc.LeaseStub(channel)
    started = time.monotonic()
    lease_id = _grant(channel, HOUR)
    kv.Put(rpc_pb2.PutRequest(key=b"session", value=b"alive", lease=lease_id))

    assert etcd.advance(HOUR - 1) == 0
    assert lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=lease_id)).TTL == 1
    assert kv.Range(rpc_pb2.RangeRequest(key=b"session")).count == 1

    assert etcd.advance(2) == 1  # 3601 s in all: revoked before advance returns
    assert kv.Range(rpc_pb2.RangeRequest(key=b"session")).count == 0
    assert lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=lease_id)).TTL == -1
    assert time.monotonic() - started < 2


def test_advance_in_one_step(etcd):
    channel = etcd.test_channel
    lease_id = _grant(channel, HOUR)
    rpc_pb2_grpc.KVStub(channel).Put(rpc_pb2.PutRequest(key=b"k", value=b"v", lease=lease_id))
    before = etcd.now()
    assert etcd.advance(HOUR + 1) == 1
    assert etcd.now() == before + HOUR + 1
    assert rpc_pb2_grpc.KVStub(channel).Range(rpc_pb2.RangeRequest(key=b"k")).count == 0


def test_a_lock_held_with_an_expiring_lease_passes_to_the_next_waiter(etcd):
    channel = etcd.test_channel
    lock = v3lock_pb2_grpc.LockStub(channel)
    kv = rpc_pb2_grpc.KVStub(channel)
    holder_lease, waiter_lease = _grant(channel, HOUR), _grant(channel, 2 * HOUR)
    held = lock.Lock(v3lock_pb2.LockRequest(name=b"jobs", lease=holder_lease), timeout=5)
    waiting = lock.Lock.future(v3lock_pb2.LockRequest(name=b"jobs", lease=waiter_lease), timeout=10)
    time.sleep(0.05)
    assert not waiting.done()

    etcd.advance(HOUR + 1)

    acquired = waiting.result(timeout=5)
    assert acquired.key == b"jobs/" + format(waiter_lease, "x").encode()
    assert kv.Range(rpc_pb2.RangeRequest(key=held.key)).count == 0
    owner = kv.Range(rpc_pb2.RangeRequest(key=b"jobs/", range_end=b"jobs0"))
    assert [x.key for x in owner.kvs] == [acquired.key]


def test_an_election_leader_whose_lease_expires_hands_over_to_the_next_campaigner(etcd):
    channel = etcd.test_channel
    election = v3election_pb2_grpc.ElectionStub(channel)
    first_lease, second_lease = _grant(channel, HOUR), _grant(channel, 2 * HOUR)
    first = election.Campaign(v3election_pb2.CampaignRequest(name=b"svc", lease=first_lease, value=b"a"),
                              timeout=5)
    observe = election.Observe(v3election_pb2.LeaderRequest(name=b"svc"), timeout=10)
    assert next(observe).kv.value == b"a"
    second = election.Campaign.future(
        v3election_pb2.CampaignRequest(name=b"svc", lease=second_lease, value=b"b"), timeout=10)
    time.sleep(0.05)
    assert not second.done()

    etcd.advance(HOUR + 1)

    leader = second.result(timeout=5).leader
    assert leader.lease == second_lease and leader.rev > first.leader.rev
    assert next(observe).kv.value == b"b"
    answer = election.Leader(v3election_pb2.LeaderRequest(name=b"svc"), timeout=5)
    assert answer.kv.value == b"b" and answer.kv.lease == second_lease
    observe.cancel()


def test_the_real_clock_cannot_be_advanced():
    with EtcdLite() as etcd:
        with pytest.raises(RuntimeError, match="time_control=True"):
            etcd.advance(1)


def test_admin_calls_are_refused_without_time_control():
    with EtcdLite() as etcd, grpc.insecure_channel(etcd.endpoint) as channel:
        admin = etcdlite_admin_pb2_grpc.AdminStub(channel)
        for call, request in ((admin.AdvanceClock, etcdlite_admin_pb2.AdvanceClockRequest(seconds=1)),
                              (admin.Now, etcdlite_admin_pb2.NowRequest())):
            with pytest.raises(grpc.RpcError) as err:
                call(request, timeout=5)
            assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert err.value.details().startswith("etcdlite: time control is disabled")
            assert "--enable-time-control" in err.value.details()


# -- the command line -------------------------------------------------------------------------

def _serve(*flags: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "etcdlite", "--memory", "--listen-client-urls", f"http://127.0.0.1:{port}",
         "--log-level", "error", *flags],
        cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = proc.stdout.readline()
    if "serving on" not in line:
        proc.kill()
        raise AssertionError(f"etcdlite did not start: {line}{proc.communicate()[1]}")
    return proc, f"127.0.0.1:{port}"


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def test_command_line_time_control_through_the_admin_service():
    proc, endpoint = _serve("--enable-time-control")
    try:
        with grpc.insecure_channel(endpoint) as channel:
            admin = etcdlite_admin_pb2_grpc.AdminStub(channel)
            kv = rpc_pb2_grpc.KVStub(channel)
            lease_id = _grant(channel, HOUR)
            kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v", lease=lease_id), timeout=5)
            start = admin.Now(etcdlite_admin_pb2.NowRequest(), timeout=5).now

            moved = admin.AdvanceClock(etcdlite_admin_pb2.AdvanceClockRequest(seconds=HOUR - 1), timeout=5)
            assert moved.now == start + HOUR - 1 and moved.expired_leases == 0
            assert kv.Range(rpc_pb2.RangeRequest(key=b"k"), timeout=5).count == 1

            moved = admin.AdvanceClock(etcdlite_admin_pb2.AdvanceClockRequest(seconds=2), timeout=5)
            assert moved.expired_leases == 1
            assert kv.Range(rpc_pb2.RangeRequest(key=b"k"), timeout=5).count == 0
            assert admin.Now(etcdlite_admin_pb2.NowRequest(), timeout=5).now == start + HOUR + 1

            with pytest.raises(grpc.RpcError) as err:
                admin.AdvanceClock(etcdlite_admin_pb2.AdvanceClockRequest(seconds=-1), timeout=5)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        _stop(proc)


def test_command_line_without_the_flag_refuses_time_control():
    proc, endpoint = _serve()
    try:
        with grpc.insecure_channel(endpoint) as channel:
            with pytest.raises(grpc.RpcError) as err:
                etcdlite_admin_pb2_grpc.AdminStub(channel).AdvanceClock(
                    etcdlite_admin_pb2.AdvanceClockRequest(seconds=10), timeout=5)
            assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "--enable-time-control" in err.value.details()
            # leases still run on the real clock
            lease_id = _grant(channel, 60)
            ttl = rpc_pb2_grpc.LeaseStub(channel).LeaseTimeToLive(
                rpc_pb2.LeaseTimeToLiveRequest(ID=lease_id), timeout=5).TTL
            assert 58 <= ttl <= 60
    finally:
        _stop(proc)
