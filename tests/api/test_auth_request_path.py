"""The order of the request path's stages, seen from a client: which error wins when a request
fails more than one stage (etcd: quota → validate → identify → request size → alarm gate →
authorize → apply). Dual-target: etcdlite and real etcd 3.4.23 / 3.5.1 answer alike."""

from __future__ import annotations

import grpc
import pytest

from auth_helpers import (INVALID_TOKEN, PERMISSION_DENIED, READWRITE, enable_auth_with_user,
                          error_of, login)
from etcd_api_helpers import BidiStream
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc

KEY_NOT_PROVIDED = (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: key is not provided")
TOO_LARGE = (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: request is too large")
NO_SPACE = (grpc.StatusCode.RESOURCE_EXHAUSTED, "etcdserver: mvcc: database space exceeded")


@pytest.fixture
def alice(target):
    """Auth enabled; alice may read and write ``a/`` only. Returns (root md, alice md)."""
    enable_auth_with_user(target, perms=[(READWRITE, b"a/", b"a0")])
    return login(target, "root", "rootpw"), login(target, "alice", "apw")


def test_an_invalid_request_is_refused_as_invalid_before_permissions_are_looked_at(target, alice):
    _, alice_md = alice
    assert error_of(target.kv.Put, rpc_pb2.PutRequest(key=b""), metadata=alice_md) == KEY_NOT_PROVIDED
    assert error_of(target.kv.DeleteRange, rpc_pb2.DeleteRangeRequest(key=b""),
                    metadata=alice_md) == KEY_NOT_PROVIDED


def test_an_invalid_token_is_refused_before_the_request_size_is_checked(target, alice):
    big = b"x" * (1024 * 1024 + 600 * 1024)  # over --max-request-bytes, under gRPC's own limit
    assert error_of(target.kv.Put, rpc_pb2.PutRequest(key=b"a/big", value=big),
                    metadata=[("token", "not-a-token")]) == INVALID_TOKEN
    _, alice_md = alice
    assert error_of(target.kv.Put, rpc_pb2.PutRequest(key=b"a/big", value=big),
                    metadata=alice_md) == TOO_LARGE


def test_permission_is_checked_before_the_lease_is_looked_up(target, alice):
    _, alice_md = alice
    assert error_of(target.kv.Put, rpc_pb2.PutRequest(key=b"b/k", lease=0x1234),
                    metadata=alice_md) == PERMISSION_DENIED
    assert error_of(target.kv.Put, rpc_pb2.PutRequest(key=b"a/k", lease=0x1234),
                    metadata=alice_md) == (grpc.StatusCode.NOT_FOUND, "etcdserver: requested lease not found")


def test_a_txn_with_one_forbidden_op_changes_nothing(target, alice):
    root_md, alice_md = alice
    before = target.kv.Range(rpc_pb2.RangeRequest(key=b"a/"), metadata=root_md).header.revision
    txn = rpc_pb2.TxnRequest(success=[
        rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"a/ok")),
        rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"b/forbidden"))])
    assert error_of(target.kv.Txn, txn, metadata=alice_md) == PERMISSION_DENIED
    after = target.kv.Range(rpc_pb2.RangeRequest(key=b"a/ok"), metadata=root_md)
    assert (after.header.revision, after.count) == (before, 0)


def test_a_forbidden_compare_refuses_the_txn_even_when_its_branch_is_allowed(target, alice):
    _, alice_md = alice
    txn = rpc_pb2.TxnRequest(
        compare=[rpc_pb2.Compare(key=b"b/secret", target=rpc_pb2.Compare.VERSION,
                                 result=rpc_pb2.Compare.EQUAL, version=0)],
        success=[rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"a/k"))])
    assert error_of(target.kv.Txn, txn, metadata=alice_md) == PERMISSION_DENIED


def test_puts_are_refused_for_space_before_permissions_under_a_nospace_alarm(target, alice):
    root_md, alice_md = alice
    target.maintenance.Alarm(rpc_pb2.AlarmRequest(action=rpc_pb2.AlarmRequest.ACTIVATE,
                                                  alarm=rpc_pb2.NOSPACE), metadata=root_md)
    assert error_of(target.kv.Put, rpc_pb2.PutRequest(key=b"b/k"), metadata=alice_md) == NO_SPACE
    assert error_of(target.kv.Put, rpc_pb2.PutRequest(key=b"a/k"), metadata=alice_md) == NO_SPACE


def test_permissions_still_hold_while_an_alarm_is_active(target, alice):
    """A deliberate deviation. etcd 3.4.23 and 3.5.1, once an alarm is raised at run time, apply
    writes through an applier chain without the auth applier (``newApplierV3Capped(a)`` wraps the
    backend applier), so until a restart every permission and admin check is skipped: a user
    without permission deletes others' keys and even disables auth. etcdlite keeps checking."""
    root_md, alice_md = alice
    target.kv.Put(rpc_pb2.PutRequest(key=b"b/k", value=b"v"), metadata=root_md)
    target.maintenance.Alarm(rpc_pb2.AlarmRequest(action=rpc_pb2.AlarmRequest.ACTIVATE,
                                                  alarm=rpc_pb2.NOSPACE), metadata=root_md)
    delete = rpc_pb2.DeleteRangeRequest(key=b"b/k")
    if target.etcd_version in ("3.4", "3.5"):
        assert target.kv.DeleteRange(delete, metadata=alice_md).deleted == 1
    else:
        assert error_of(target.kv.DeleteRange, delete, metadata=alice_md) == PERMISSION_DENIED
        assert error_of(rpc_pb2_grpc.AuthStub(target.channel).AuthDisable,
                        rpc_pb2.AuthDisableRequest(), metadata=alice_md) == PERMISSION_DENIED


def test_a_from_key_watch_is_checked_on_its_start_key_only_as_etcd_does(target, alice):
    """etcd's watch server turns a from-key range_end "\\0" into an empty one before the
    permission check, so only the start key is checked, and the watcher then sees every key
    after it (etcd 3.4.23 and 3.5.1 alike; etcdlite keeps the behaviour). A bounded range
    beyond the permission is refused."""
    root_md, alice_md = alice
    with BidiStream(lambda requests: target.watch.Watch(requests, metadata=alice_md)) as stream:
        stream.send(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(
            key=b"a/x", range_end=b"\0")))
        created = stream.next()
        assert (created.created, created.canceled) == (True, False)
        target.kv.Put(rpc_pb2.PutRequest(key=b"b/secret", value=b"s"), metadata=root_md)
        assert [e.kv.key for e in stream.next().events] == [b"b/secret"]
    with BidiStream(lambda requests: target.watch.Watch(requests, metadata=alice_md)) as stream:
        stream.send(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(
            key=b"a/x", range_end=b"zz")))
        refused = stream.next()
        assert (refused.created, refused.canceled, refused.cancel_reason) == (
            True, True, "rpc error: code = PermissionDenied desc = etcdserver: permission denied")
