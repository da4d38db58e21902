"""What each KV request needs, as etcd's auth applier checks it (with later releases' fixes)."""

from __future__ import annotations

import pytest

from etcdlite import errors
from etcdlite.auth.authorize import authorize
from etcdlite.auth.permissions import READ, WRITE, KeyPermission
from etcdlite.auth.store import AuthInfo, AuthStore
from etcdlite.mvcc.requests import Compare, DeleteRangeRequest, PutRequest, RangeRequest, TxnRequest

LEASES = {7: [b"secret"], 8: [b"w/1"]}


@pytest.fixture
def alice():
    s = AuthStore()
    s.user_add("root", b"h")
    s.user_grant_role("root", "root")
    s.role_add("r")
    s.role_grant_permission("r", KeyPermission(READ, b"r/", b"r0"))
    s.role_grant_permission("r", KeyPermission(WRITE, b"w/", b"w0"))
    s.user_add("alice", b"h")
    s.user_grant_role("alice", "r")
    s.auth_enable()
    return s, AuthInfo("alice", s.revision)


def allowed(setup, request) -> bool:
    store, caller = setup
    try:
        authorize(store, caller, request, lambda lease: LEASES.get(lease, []))
        return True
    except errors.EtcdError as exc:
        assert exc == errors.AUTH_PERMISSION_DENIED
        return False


def test_range_put_and_delete(alice):
    assert allowed(alice, RangeRequest(b"r/", b"r0"))
    assert not allowed(alice, RangeRequest(b"w/", b"w0"))
    assert allowed(alice, PutRequest(b"w/1"))
    assert not allowed(alice, PutRequest(b"w/1", prev_kv=True))  # needs read on w/1
    assert allowed(alice, DeleteRangeRequest(b"w/", b"w0"))
    assert not allowed(alice, DeleteRangeRequest(b"w/", b"w0", prev_kv=True))


def test_a_put_that_joins_a_lease_needs_write_on_its_keys(alice):
    assert allowed(alice, PutRequest(b"w/2", lease=8))
    assert not allowed(alice, PutRequest(b"w/2", lease=7))


def test_txn_checks_compares_and_every_op_of_nested_txns(alice):
    ok = TxnRequest([Compare(b"r/x")], [PutRequest(b"w/1")], [RangeRequest(b"r/y")])
    assert allowed(alice, ok)
    assert not allowed(alice, TxnRequest([Compare(b"w/1")], [], []))
    nested = TxnRequest([], [], [TxnRequest([], [PutRequest(b"r/1")], [])])
    assert not allowed(alice, nested)


def test_without_a_user_the_answer_is_user_name_is_empty(alice):
    store, _ = alice
    with pytest.raises(errors.EtcdError) as raised:
        authorize(store, None, RangeRequest(b"r/"), lambda lease: [])
    assert raised.value == errors.AUTH_USER_EMPTY
