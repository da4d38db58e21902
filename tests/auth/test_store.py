"""The auth store's rules and errors, as etcd 3.5's auth store has them."""

from __future__ import annotations

import pytest

from etcdlite import errors
from etcdlite.auth.permissions import READ, READWRITE, WRITE, KeyPermission
from etcdlite.auth.store import AuthInfo, AuthStore


def _raises(error, call, *args):
    with pytest.raises(errors.EtcdError) as raised:
        call(*args)
    assert raised.value == error


@pytest.fixture
def store() -> AuthStore:
    s = AuthStore()
    s.user_add("root", b"hash")
    s.user_grant_role("root", "root")
    return s


def test_enable_needs_user_root_with_role_root():
    s = AuthStore()
    _raises(errors.AUTH_ROOT_USER_NOT_EXIST, s.auth_enable)
    s.user_add("root", b"h")
    _raises(errors.AUTH_ROOT_ROLE_NOT_EXIST, s.auth_enable)
    s.user_grant_role("root", "root")  # the role root need not exist
    s.auth_enable()
    assert s.enabled


def test_every_change_moves_the_revision_by_one_and_enable_does_not(store):
    start = store.revision
    store.role_add("r")
    store.role_grant_permission("r", KeyPermission(READ, b"a"))
    store.user_add("u", b"h")
    store.user_grant_role("u", "r")
    store.user_grant_role("u", "r")  # already granted: no change
    assert store.revision == start + 4
    store.auth_enable()
    assert store.revision == start + 4
    store.auth_disable()
    assert store.revision == start + 5


def test_management_errors(store):
    _raises(errors.AUTH_USER_EMPTY, store.user_add, "", b"h")
    _raises(errors.AUTH_USER_ALREADY_EXIST, store.user_add, "root", b"h")
    _raises(errors.AUTH_USER_NOT_FOUND, store.user_get, "nobody")
    _raises(errors.AUTH_USER_NOT_FOUND, store.user_delete, "")
    _raises(errors.AUTH_ROLE_EMPTY, store.role_add, "")
    _raises(errors.AUTH_ROLE_NOT_FOUND, store.user_grant_role, "root", "missing")
    store.role_add("r")
    _raises(errors.AUTH_ROLE_ALREADY_EXIST, store.role_add, "r")
    _raises(errors.AUTH_ROLE_NOT_GRANTED, store.user_revoke_role, "root", "r")
    _raises(errors.AUTH_PERMISSION_NOT_GRANTED, store.role_revoke_permission, "r", b"a", b"")
    _raises(errors.AUTH_PERMISSION_NOT_GIVEN, store.role_grant_permission, "r", None)


def test_root_cannot_be_removed_while_auth_is_enabled(store):
    store.role_add("root")
    store.auth_enable()
    _raises(errors.AUTH_INVALID_MGMT, store.user_delete, "root")
    _raises(errors.AUTH_INVALID_MGMT, store.user_revoke_role, "root", "root")
    _raises(errors.AUTH_INVALID_MGMT, store.role_delete, "root")


def test_role_delete_takes_the_role_from_every_user(store):
    store.role_add("r")
    store.user_add("u", b"h")
    store.user_grant_role("u", "r")
    store.role_delete("r")
    assert store.user_get("u") == []


def test_grant_of_the_same_key_and_range_updates_the_type(store):
    store.role_add("r")
    store.role_grant_permission("r", KeyPermission(READ, b"b"))
    store.role_grant_permission("r", KeyPermission(READ, b"a", b"c"))
    store.role_grant_permission("r", KeyPermission(WRITE, b"b"))
    assert store.role_get("r") == [KeyPermission(READ, b"a", b"c"), KeyPermission(WRITE, b"b")]
    _raises(errors.AUTH_ROLE_NOT_FOUND, store.role_get, "root")  # granted to root, never added
    store.role_add("root")
    assert store.role_get("root") == []  # etcd 3.5.1 and 3.4.23 list no permission for root


def test_checks_follow_roles_and_apply_at_once(store):
    store.role_add("reader")
    store.role_grant_permission("reader", KeyPermission(READ, b"k/", b"k0"))
    store.user_add("u", b"h")
    store.user_grant_role("u", "reader")
    store.auth_enable()
    u = AuthInfo("u", store.revision)
    store.check_read(u, b"k/1")
    _raises(errors.AUTH_PERMISSION_DENIED, store.check_write, u, b"k/1")
    store.role_grant_permission("reader", KeyPermission(READWRITE, b"k/", b"k0"))
    _raises(errors.AUTH_OLD_REVISION, store.check_write, u, b"k/1")  # a JWT of the old revision
    store.check_write(AuthInfo("u", store.revision), b"k/1")
    _raises(errors.AUTH_USER_EMPTY, store.check_read, None, b"k/1")
    _raises(errors.AUTH_PERMISSION_DENIED, store.check_read, AuthInfo("ghost", store.revision), b"k")
    store.check_write(AuthInfo("root", store.revision), b"anything", b"\0")


def test_admin_checks(store):
    store.user_add("u", b"h")
    store.check_admin(None)  # auth off
    store.auth_enable()
    _raises(errors.AUTH_USER_EMPTY, store.check_admin, None)
    _raises(errors.AUTH_USER_NOT_FOUND, store.check_admin, AuthInfo("ghost", 1))
    _raises(errors.AUTH_PERMISSION_DENIED, store.check_admin, AuthInfo("u", store.revision))
    store.check_admin(AuthInfo("root", 1))


def test_password_lookup(store):
    _raises(errors.AUTH_NOT_ENABLED, store.password_hash, "root")
    store.user_add("np", b"", no_password=True)
    store.auth_enable()
    assert store.password_hash("root") == (b"hash", store.revision)
    _raises(errors.AUTH_FAILED, store.password_hash, "nobody")
    _raises(errors.AUTH_NO_PASSWORD_USER, store.password_hash, "np")


def test_state_round_trips(store):
    store.role_add("r")
    store.role_grant_permission("r", KeyPermission(READWRITE, b"\xff\x00", b"\0"))
    store.user_add("u", b"$2b$10$x")
    store.user_grant_role("u", "r")
    store.auth_enable()
    again = AuthStore.from_state(store.state())
    assert again.state() == store.state()
    again.check_write(AuthInfo("u", again.revision), b"\xff\x01")
