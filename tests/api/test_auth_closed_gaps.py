"""Permission gaps of etcd 3.4.23 and 3.5.1 that later releases closed, and etcdlite closes too
(a deliberate deviation, listed in the README): each test shows the gap on the real etcd and the
refusal on etcdlite, which answers as the fixed releases (3.5.9+/3.4.26+) do."""

from __future__ import annotations

import pytest

from auth_helpers import (PERMISSION_DENIED, READWRITE, USER_EMPTY, enable_auth_with_user, error_of,
                          login)
from etcdlite.proto import rpc_pb2


@pytest.fixture
def alice(target):
    enable_auth_with_user(target, perms=[(READWRITE, b"a/", b"a0")])
    return login(target, "root", "rootpw"), login(target, "alice", "apw")


def _old_release(target) -> bool:
    return target.etcd_version in ("3.4", "3.5")


def test_every_op_of_a_nested_txn_is_checked(target, alice):
    root_md, alice_md = alice
    inner = rpc_pb2.TxnRequest(success=[rpc_pb2.RequestOp(
        request_put=rpc_pb2.PutRequest(key=b"b/x", value=b"v"))])
    outer = rpc_pb2.TxnRequest(success=[rpc_pb2.RequestOp(request_txn=inner)])
    if _old_release(target):
        target.kv.Txn(outer, metadata=alice_md)  # 3.5.1/3.4.23 check the outer level only
        assert target.kv.Range(rpc_pb2.RangeRequest(key=b"b/x"), metadata=root_md).count == 1
    else:
        assert error_of(target.kv.Txn, outer, metadata=alice_md) == PERMISSION_DENIED
        assert target.kv.Range(rpc_pb2.RangeRequest(key=b"b/x"), metadata=root_md).count == 0


def test_lease_time_to_live_needs_read_permission_on_the_leases_keys(target, alice):
    root_md, alice_md = alice
    lease = target.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=100), metadata=root_md).ID
    target.kv.Put(rpc_pb2.PutRequest(key=b"b/leased", value=b"v", lease=lease), metadata=root_md)
    request = rpc_pb2.LeaseTimeToLiveRequest(ID=lease, keys=True)
    if _old_release(target):
        assert list(target.lease.LeaseTimeToLive(request, metadata=alice_md).keys) == [b"b/leased"]
        assert list(target.lease.LeaseTimeToLive(request).keys) == [b"b/leased"]
    else:
        assert error_of(target.lease.LeaseTimeToLive, request, metadata=alice_md) == PERMISSION_DENIED
        assert error_of(target.lease.LeaseTimeToLive, request) == USER_EMPTY
        assert target.lease.LeaseTimeToLive(request, metadata=root_md).keys == [b"b/leased"]
