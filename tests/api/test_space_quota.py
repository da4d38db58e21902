"""The backend space quota (--quota-backend-bytes): writes that would pass it raise the NOSPACE alarm
and are refused; reads and deletes go on (reference §5.1 step 0, §10.4). When exactly the quota is
reached depends on how each backend grows its file, so the tests write until it is."""

from __future__ import annotations

import grpc
import pytest

from etcd_targets import start_target
from etcdlite.proto import rpc_pb2

QUOTA = 512 * 1024
NO_SPACE = "etcdserver: mvcc: database space exceeded"


@pytest.fixture(params=["etcdlite-lmdb", "etcd-3.4", "etcd-3.5"])
def small_target(request, tmp_path):
    server = start_target(request.param, tmp_path, quota_backend_bytes=QUOTA,
                          etcd_args=["--quota-backend-bytes", str(QUOTA)])
    yield server
    server.close()


def _fill(target) -> int:
    """Put 16 KiB values until the quota refuses one; return how many went in."""
    for i in range(400):
        try:
            target.kv.Put(rpc_pb2.PutRequest(key=b"fill/%04d" % i, value=b"x" * 16384))
        except grpc.RpcError as exc:
            assert (exc.code(), exc.details()) == (grpc.StatusCode.RESOURCE_EXHAUSTED, NO_SPACE)
            return i
    raise AssertionError("the quota never refused a write")


def _refused(call) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    assert (raised.value.code(), raised.value.details()) == (grpc.StatusCode.RESOURCE_EXHAUSTED, NO_SPACE)


def test_passing_the_quota_raises_nospace_and_refuses_puts_txns_and_grants(small_target):
    t = small_target
    written = _fill(t)
    assert 0 < written < 400
    member = t.maintenance.Status(rpc_pb2.StatusRequest()).header.member_id
    alarms = t.maintenance.Alarm(rpc_pb2.AlarmRequest(action=rpc_pb2.AlarmRequest.GET)).alarms
    assert [(a.memberID, a.alarm) for a in alarms] == [(member, rpc_pb2.NOSPACE)]
    _refused(lambda: t.kv.Put(rpc_pb2.PutRequest(key=b"small", value=b"1")))
    txn = rpc_pb2.TxnRequest()
    txn.success.add().request_put.CopyFrom(rpc_pb2.PutRequest(key=b"small", value=b"1"))
    _refused(lambda: t.kv.Txn(txn))
    _refused(lambda: t.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60)))
    # reads and deletes still work
    assert t.kv.Range(rpc_pb2.RangeRequest(key=b"fill/", range_end=b"fill0", count_only=True)).count == written
    deleted = t.kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"fill/", range_end=b"fill0"))
    assert deleted.deleted == written
    # the alarm stays until it is deactivated
    _refused(lambda: t.kv.Put(rpc_pb2.PutRequest(key=b"small", value=b"1")))
