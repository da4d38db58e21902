"""The Auth service: users, roles, permissions, AuthEnable/AuthDisable/AuthStatus, Authenticate.

Every expectation is what real etcd 3.4.23 and 3.5.1 answer; ``target.etcd_version`` branches mark
where the two releases differ (etcdlite, ``None``, behaves as 3.5.1). Auth responses carry a full
header whose revision is the KV store's revision (auth changes do not move it); the auth store's
own revision is only visible through AuthStatus (3.5) and in JWT claims.
"""

from __future__ import annotations

import re

import grpc
import pytest

from auth_helpers import (AUTH_FAILED, AUTH_NOT_ENABLED, INVALID_AUTH_MGMT, INVALID_TOKEN,
                          NO_PASSWORD_USER, PERM_NOT_GRANTED, PERMISSION_DENIED, READ, READWRITE,
                          ROLE_EMPTY, ROLE_EXISTS, ROLE_NOT_FOUND, ROLE_NOT_GRANTED, ROOT_PASSWORD,
                          ROOT_ROLE_MISSING, ROOT_USER_MISSING, USER_EMPTY, USER_EXISTS,
                          USER_NOT_FOUND, WRITE, Perm, add_role, add_user, auth_revision,
                          auth_status, auth_stub, enable_auth_with_user, enable_root, error_of,
                          grant_perm, login, token_md)
from etcd_api_helpers import assert_full_header, put
from etcdlite.proto import auth_pb2, rpc_pb2

SIMPLE_TOKEN = re.compile(r"^[A-Za-z]{16}\.[0-9]+$")
AUTH_STATUS_UNIMPLEMENTED = (grpc.StatusCode.UNIMPLEMENTED,
                             "unknown method AuthStatus for service etcdserverpb.Auth")


def test_fresh_server_auth_status_is_disabled_at_auth_revision_1(target):
    auth = auth_stub(target)
    if target.etcd_version == "3.4":
        # etcd 3.4.23 has no AuthStatus (added in 3.4.31 and 3.5)
        assert error_of(auth.AuthStatus, rpc_pb2.AuthStatusRequest()) == AUTH_STATUS_UNIMPLEMENTED
        return
    status = auth.AuthStatus(rpc_pb2.AuthStatusRequest())
    assert_full_header(status.header, 1)
    assert (status.enabled, status.authRevision) == (False, 1)


def test_user_and_role_management_while_disabled_answers_full_headers_at_the_kv_revision(target):
    auth = auth_stub(target)
    put(target, b"k", b"v")  # revision 2: auth changes never move it
    responses = [
        auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="alice", password="pw")),
        auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="reader")),
        grant_perm(target, "reader", READ, b"k"),
        auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="alice", role="reader")),
        auth.UserGet(rpc_pb2.AuthUserGetRequest(name="alice")),
        auth.UserList(rpc_pb2.AuthUserListRequest()),
        auth.RoleGet(rpc_pb2.AuthRoleGetRequest(role="reader")),
        auth.RoleList(rpc_pb2.AuthRoleListRequest()),
        auth.UserChangePassword(rpc_pb2.AuthUserChangePasswordRequest(name="alice", password="p2")),
        auth.RoleRevokePermission(rpc_pb2.AuthRoleRevokePermissionRequest(role="reader", key=b"k")),
        auth.UserRevokeRole(rpc_pb2.AuthUserRevokeRoleRequest(name="alice", role="reader")),
        auth.RoleDelete(rpc_pb2.AuthRoleDeleteRequest(role="reader")),
        auth.UserDelete(rpc_pb2.AuthUserDeleteRequest(name="alice")),
        auth.AuthDisable(rpc_pb2.AuthDisableRequest()),  # already disabled: success
    ]
    for response in responses:
        assert_full_header(response.header, 2)


def test_user_list_and_role_list_while_disabled_list_everything_sorted(target):
    auth = auth_stub(target)
    for name in ["zed", "alice", "Bob", "mallory"]:
        auth.UserAdd(rpc_pb2.AuthUserAddRequest(name=name, password="pw"))
    for name in ["writer", "admin", "Readers"]:
        auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name=name))
    assert list(auth.UserList(rpc_pb2.AuthUserListRequest()).users) == [
        "Bob", "alice", "mallory", "zed"]
    assert list(auth.RoleList(rpc_pb2.AuthRoleListRequest()).roles) == [
        "Readers", "admin", "writer"]


def test_management_errors_have_etcds_codes_and_messages(target):
    auth = auth_stub(target)
    auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="alice", password="pw"))
    auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="r"))
    cases = [
        (auth.UserAdd, rpc_pb2.AuthUserAddRequest(name="alice", password="x"), USER_EXISTS),
        (auth.UserAdd, rpc_pb2.AuthUserAddRequest(name="", password="x"), USER_EMPTY),
        (auth.RoleAdd, rpc_pb2.AuthRoleAddRequest(name="r"), ROLE_EXISTS),
        (auth.RoleAdd, rpc_pb2.AuthRoleAddRequest(name=""), ROLE_EMPTY),
        (auth.UserGet, rpc_pb2.AuthUserGetRequest(name="nobody"), USER_NOT_FOUND),
        # an empty name is "user name is empty" only for UserAdd; elsewhere it is just not found
        (auth.UserGet, rpc_pb2.AuthUserGetRequest(name=""), USER_NOT_FOUND),
        (auth.UserDelete, rpc_pb2.AuthUserDeleteRequest(name="nobody"), USER_NOT_FOUND),
        (auth.UserDelete, rpc_pb2.AuthUserDeleteRequest(name=""), USER_NOT_FOUND),
        (auth.UserChangePassword, rpc_pb2.AuthUserChangePasswordRequest(name="nobody", password="x"),
         USER_NOT_FOUND),
        (auth.UserGrantRole, rpc_pb2.AuthUserGrantRoleRequest(user="nobody", role="r"),
         USER_NOT_FOUND),
        (auth.UserGrantRole, rpc_pb2.AuthUserGrantRoleRequest(user="", role="r"), USER_NOT_FOUND),
        (auth.UserGrantRole, rpc_pb2.AuthUserGrantRoleRequest(user="alice", role="nope"),
         ROLE_NOT_FOUND),
        (auth.UserRevokeRole, rpc_pb2.AuthUserRevokeRoleRequest(name="nobody", role="r"),
         USER_NOT_FOUND),
        (auth.UserRevokeRole, rpc_pb2.AuthUserRevokeRoleRequest(name="alice", role="r"),
         ROLE_NOT_GRANTED),
        (auth.RoleGet, rpc_pb2.AuthRoleGetRequest(role="nope"), ROLE_NOT_FOUND),
        (auth.RoleDelete, rpc_pb2.AuthRoleDeleteRequest(role="nope"), ROLE_NOT_FOUND),
        (auth.RoleGrantPermission, rpc_pb2.AuthRoleGrantPermissionRequest(
            name="nope", perm=Perm(permType=READ, key=b"k")), ROLE_NOT_FOUND),
        (auth.RoleRevokePermission, rpc_pb2.AuthRoleRevokePermissionRequest(role="nope", key=b"k"),
         ROLE_NOT_FOUND),
        (auth.RoleRevokePermission, rpc_pb2.AuthRoleRevokePermissionRequest(role="r", key=b"k"),
         PERM_NOT_GRANTED),
        (auth.Authenticate, rpc_pb2.AuthenticateRequest(name="alice", password="pw"),
         AUTH_NOT_ENABLED),
    ]
    for method, request, expected in cases:
        assert error_of(method, request) == expected, (method, request)


def test_role_grant_permission_without_perm_is_invalid_argument(target):
    if target.etcd_version == "3.4":
        # etcd 3.4.23 dereferences the missing perm and crashes (again on every restart)
        pytest.skip("crashes etcd 3.4.23")
    auth = auth_stub(target)
    auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="r"))
    assert error_of(auth.RoleGrantPermission, rpc_pb2.AuthRoleGrantPermissionRequest(name="r")) == (
        grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: permission not given")


def test_role_get_lists_permissions_sorted_by_key_and_a_regrant_of_the_same_range_replaces_its_type(
        target):
    auth = auth_stub(target)
    auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="r"))
    grant_perm(target, "r", READ, b"m", b"n")
    grant_perm(target, "r", WRITE, b"a")
    grant_perm(target, "r", READ, b"z", b"\x00")
    grant_perm(target, "r", READWRITE, b"m", b"n")  # same key and range_end: type replaced
    perms = auth.RoleGet(rpc_pb2.AuthRoleGetRequest(role="r")).perm
    assert [(p.permType, p.key, p.range_end) for p in perms] == [
        (WRITE, b"a", b""), (READWRITE, b"m", b"n"), (READ, b"z", b"\x00")]


def test_user_get_lists_roles_sorted_and_a_second_grant_of_a_role_changes_nothing(target):
    auth = auth_stub(target)
    auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="alice", password="pw"))
    for role in ["zeta", "alpha", "mid"]:
        auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name=role))
        auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="alice", role=role))
    before = auth_revision(target)
    auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="alice", role="mid"))
    assert auth_revision(target) == before
    assert list(auth.UserGet(rpc_pb2.AuthUserGetRequest(name="alice")).roles) == [
        "alpha", "mid", "zeta"]


def test_role_delete_removes_the_role_from_every_user(target):
    auth = auth_stub(target)
    add_role(target, "r", [(READ, b"k", b"")])
    add_role(target, "s")
    add_user(target, "alice", "pw", roles=["r", "s"])
    add_user(target, "bob", "pw", roles=["r"])
    auth.RoleDelete(rpc_pb2.AuthRoleDeleteRequest(role="r"))
    assert list(auth.UserGet(rpc_pb2.AuthUserGetRequest(name="alice")).roles) == ["s"]
    assert list(auth.UserGet(rpc_pb2.AuthUserGetRequest(name="bob")).roles) == []
    assert list(auth.RoleList(rpc_pb2.AuthRoleListRequest()).roles) == ["s"]


def test_auth_enable_needs_user_root_holding_role_root(target):
    auth = auth_stub(target)
    assert error_of(auth.AuthEnable, rpc_pb2.AuthEnableRequest()) == ROOT_USER_MISSING
    auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="root", password=ROOT_PASSWORD))
    assert error_of(auth.AuthEnable, rpc_pb2.AuthEnableRequest()) == ROOT_ROLE_MISSING
    # role root may be granted before it exists; granting does not create it
    auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="root", role="root"))
    assert list(auth.RoleList(rpc_pb2.AuthRoleListRequest()).roles) == []
    response = auth.AuthEnable(rpc_pb2.AuthEnableRequest())
    assert_full_header(response.header, 1)
    root = login(target, "root", ROOT_PASSWORD)
    assert list(auth.UserGet(rpc_pb2.AuthUserGetRequest(name="root"), metadata=root).roles) == [
        "root"]


def test_auth_enable_while_enabled_needs_a_token_and_then_succeeds(target):
    root, alice = enable_auth_with_user(target)
    auth = auth_stub(target)
    assert error_of(auth.AuthEnable, rpc_pb2.AuthEnableRequest()) == USER_EMPTY
    assert error_of(auth.AuthEnable, rpc_pb2.AuthEnableRequest(), metadata=alice) == (
        PERMISSION_DENIED)
    assert_full_header(auth.AuthEnable(rpc_pb2.AuthEnableRequest(), metadata=root).header, 1)


def test_auth_status_while_enabled_needs_role_root(target):
    root, alice = enable_auth_with_user(target)
    auth = auth_stub(target)
    if target.etcd_version == "3.4":
        assert error_of(auth.AuthStatus, rpc_pb2.AuthStatusRequest(), metadata=root) == (
            AUTH_STATUS_UNIMPLEMENTED)
        return
    assert error_of(auth.AuthStatus, rpc_pb2.AuthStatusRequest()) == USER_EMPTY
    assert error_of(auth.AuthStatus, rpc_pb2.AuthStatusRequest(), metadata=alice) == (
        PERMISSION_DENIED)
    status = auth.AuthStatus(rpc_pb2.AuthStatusRequest(), metadata=root)
    assert status.enabled is True
    assert_full_header(status.header, 1)


def test_authenticate_returns_a_simple_token_with_a_full_header(target):
    enable_root(target)
    auth = auth_stub(target)
    auth.AuthEnable(rpc_pb2.AuthEnableRequest())
    put_rev = target.kv.Put(rpc_pb2.PutRequest(key=b"k"),
                            metadata=login(target, "root", ROOT_PASSWORD)).header.revision
    response = auth.Authenticate(rpc_pb2.AuthenticateRequest(name="root", password=ROOT_PASSWORD))
    assert SIMPLE_TOKEN.match(response.token), response.token
    assert_full_header(response.header, put_rev)
    other = auth.Authenticate(rpc_pb2.AuthenticateRequest(name="root", password=ROOT_PASSWORD))
    assert other.token != response.token


def test_authenticate_with_a_wrong_password_or_unknown_user_fails_alike(target):
    enable_auth_with_user(target)
    auth = auth_stub(target)
    for name, password in [("alice", "wrong"), ("alice", ""), ("nobody", "apw"), ("", "")]:
        assert error_of(auth.Authenticate, rpc_pb2.AuthenticateRequest(
            name=name, password=password)) == AUTH_FAILED


def test_authenticate_a_user_created_without_password_is_refused_with_the_raw_auth_error(target):
    enable_root(target)
    add_user(target, "svc", no_password=True)
    auth = auth_stub(target)
    auth.AuthEnable(rpc_pb2.AuthEnableRequest())
    for password in ["", "anything"]:
        assert error_of(auth.Authenticate, rpc_pb2.AuthenticateRequest(
            name="svc", password=password)) == NO_PASSWORD_USER


def test_authenticate_carrying_a_bad_token(target):
    enable_auth_with_user(target)
    auth = auth_stub(target)
    request = rpc_pb2.AuthenticateRequest(name="alice", password="apw")
    if target.etcd_version == "3.4":
        # 3.4.23 checks the token of every request, Authenticate included
        assert error_of(auth.Authenticate, request, metadata=token_md("garbage")) == INVALID_TOKEN
    else:
        # 3.5 ignores the token on Authenticate
        assert SIMPLE_TOKEN.match(auth.Authenticate(request, metadata=token_md("garbage")).token)


def test_root_user_and_role_are_protected_while_auth_is_enabled(target):
    root, _ = enable_auth_with_user(target)
    auth = auth_stub(target)
    for method, request in [
            (auth.UserRevokeRole, rpc_pb2.AuthUserRevokeRoleRequest(name="root", role="root")),
            (auth.UserDelete, rpc_pb2.AuthUserDeleteRequest(name="root")),
            (auth.RoleDelete, rpc_pb2.AuthRoleDeleteRequest(role="root"))]:
        assert error_of(method, request, metadata=root) == INVALID_AUTH_MGMT
    auth.UserChangePassword(rpc_pb2.AuthUserChangePasswordRequest(name="root", password="new"),
                            metadata=root)
    login(target, "root", "new")


def test_root_can_be_deleted_while_auth_is_disabled_and_then_auth_cannot_be_enabled(target):
    enable_root(target)
    auth = auth_stub(target)
    auth.UserDelete(rpc_pb2.AuthUserDeleteRequest(name="root"))
    assert error_of(auth.AuthEnable, rpc_pb2.AuthEnableRequest()) == ROOT_USER_MISSING


def test_without_role_root_every_management_call_is_permission_denied(target):
    root, alice = enable_auth_with_user(target, [(READWRITE, b"a", b"z")])
    auth = auth_stub(target)
    calls = [
        (auth.UserAdd, rpc_pb2.AuthUserAddRequest(name="eve", password="x")),
        (auth.UserDelete, rpc_pb2.AuthUserDeleteRequest(name="root")),
        (auth.UserChangePassword, rpc_pb2.AuthUserChangePasswordRequest(name="alice", password="x")),
        (auth.UserGrantRole, rpc_pb2.AuthUserGrantRoleRequest(user="alice", role="root")),
        (auth.UserRevokeRole, rpc_pb2.AuthUserRevokeRoleRequest(name="alice", role="r")),
        (auth.UserList, rpc_pb2.AuthUserListRequest()),
        (auth.UserGet, rpc_pb2.AuthUserGetRequest(name="root")),
        (auth.UserGet, rpc_pb2.AuthUserGetRequest(name="nobody")),
        (auth.RoleAdd, rpc_pb2.AuthRoleAddRequest(name="x")),
        (auth.RoleDelete, rpc_pb2.AuthRoleDeleteRequest(role="r")),
        (auth.RoleGrantPermission, rpc_pb2.AuthRoleGrantPermissionRequest(
            name="r", perm=Perm(permType=READ, key=b"\x00", range_end=b"\x00"))),
        (auth.RoleRevokePermission, rpc_pb2.AuthRoleRevokePermissionRequest(
            role="r", key=b"a", range_end=b"z")),
        (auth.RoleList, rpc_pb2.AuthRoleListRequest()),
        (auth.RoleGet, rpc_pb2.AuthRoleGetRequest(role="root")),
        (auth.RoleGet, rpc_pb2.AuthRoleGetRequest(role="nope")),
        (auth.AuthDisable, rpc_pb2.AuthDisableRequest()),
    ]
    for method, request in calls:
        assert error_of(method, request, metadata=alice) == PERMISSION_DENIED, request
        assert error_of(method, request) == USER_EMPTY, request
    # nothing changed
    assert list(auth.UserList(rpc_pb2.AuthUserListRequest(), metadata=root).users) == [
        "alice", "root"]


def test_a_user_may_get_itself_and_its_own_roles(target):
    _, alice = enable_auth_with_user(target, [(READWRITE, b"a", b"z")])
    auth = auth_stub(target)
    assert list(auth.UserGet(rpc_pb2.AuthUserGetRequest(name="alice"), metadata=alice).roles) == [
        "r"]
    perms = auth.RoleGet(rpc_pb2.AuthRoleGetRequest(role="r"), metadata=alice).perm
    assert [(p.permType, p.key, p.range_end) for p in perms] == [(READWRITE, b"a", b"z")]


def test_auth_disable_with_root_token_then_everything_works_without_token(target):
    root, _ = enable_auth_with_user(target)
    auth = auth_stub(target)
    response = auth.AuthDisable(rpc_pb2.AuthDisableRequest(), metadata=root)
    assert_full_header(response.header, 1)
    assert put(target, b"k", b"v").header.revision == 2
    assert list(auth.UserList(rpc_pb2.AuthUserListRequest()).users) == ["alice", "root"]
    assert_full_header(auth.AuthDisable(rpc_pb2.AuthDisableRequest()).header, 2)
    assert error_of(auth.Authenticate, rpc_pb2.AuthenticateRequest(
        name="root", password=ROOT_PASSWORD)) == AUTH_NOT_ENABLED
    if target.etcd_version != "3.4":
        assert auth_status(target, None).enabled is False


def test_auth_revision_moves_by_one_per_effective_change_and_auth_disable_but_not_auth_enable(
        target):
    if target.etcd_version == "3.4":
        pytest.skip("etcd 3.4.23 has no AuthStatus to read the auth revision")
    auth = auth_stub(target)
    steps = [
        (lambda: auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="root", password=ROOT_PASSWORD)), 1),
        (lambda: auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="root")), 1),
        (lambda: auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="root", role="root")), 1),
        (lambda: auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="root", role="root")), 0),
        (lambda: auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="r")), 1),
        (lambda: grant_perm(target, "r", READ, b"a"), 1),
        (lambda: grant_perm(target, "r", READ, b"a"), 1),  # the same grant again still counts
        (lambda: auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="u", password="p")), 1),
        (lambda: auth.UserChangePassword(rpc_pb2.AuthUserChangePasswordRequest(
            name="u", password="p")), 1),
        (lambda: auth.UserGet(rpc_pb2.AuthUserGetRequest(name="u")), 0),
        (lambda: auth.UserList(rpc_pb2.AuthUserListRequest()), 0),
        (lambda: auth.RoleGet(rpc_pb2.AuthRoleGetRequest(role="r")), 0),
        (lambda: auth.AuthDisable(rpc_pb2.AuthDisableRequest()), 0),  # already disabled: no-op
        (lambda: auth.AuthEnable(rpc_pb2.AuthEnableRequest()), 0),
    ]
    revision = auth_revision(target)
    assert revision == 1
    for number, (step, delta) in enumerate(steps, 1):
        step()
        enabled = number == len(steps)  # the last step enabled auth: AuthStatus needs root now
        now = auth_revision(target, root_md(target) if enabled else None)
        assert now == revision + delta, number
        revision = now
    root = root_md(target)
    for failing in [lambda: auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="u", password="p"),
                                         metadata=root),
                    lambda: auth.RoleDelete(rpc_pb2.AuthRoleDeleteRequest(role="nope"),
                                            metadata=root),
                    lambda: auth.Authenticate(rpc_pb2.AuthenticateRequest(name="u", password="x"))]:
        with pytest.raises(grpc.RpcError):
            failing()
    login(target, "u", "p")
    assert auth_revision(target, root) == revision
    auth.RoleDelete(rpc_pb2.AuthRoleDeleteRequest(role="r"), metadata=root)
    assert auth_revision(target, root) == revision + 1
    auth.AuthDisable(rpc_pb2.AuthDisableRequest(), metadata=root)
    assert auth_status(target, None).authRevision == revision + 2


def root_md(target):
    return login(target, "root", ROOT_PASSWORD)


def test_user_add_options_no_password_is_kept_and_the_user_can_still_get_roles(target):
    auth = auth_stub(target)
    auth.UserAdd(rpc_pb2.AuthUserAddRequest(
        name="svc", options=auth_pb2.UserAddOptions(no_password=True)))
    auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="r"))
    auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="svc", role="r"))
    assert list(auth.UserGet(rpc_pb2.AuthUserGetRequest(name="svc")).roles) == ["r"]
