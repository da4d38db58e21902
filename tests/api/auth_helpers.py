"""Shared set-up for the dual-target Auth tests (tests/api/test_auth_*.py).

Not a test module. Every auth test server hashes passwords with bcrypt cost 4 (etcd's lowest,
``--bcrypt-cost 4`` on both 3.4.23 and 3.5.1; etcdlite's ``bcrypt_cost``), so logins are fast.

Messages and codes below are what real etcd 3.4.23 and 3.5.1 answer (observed), not what the
reference says where the two disagree.
"""

from __future__ import annotations

import grpc
import pytest

from etcd_targets import Target, start_target
from etcdlite.proto import auth_pb2, rpc_pb2, rpc_pb2_grpc

TARGETS = ["etcdlite", "etcdlite-lmdb", "etcd-3.4", "etcd-3.5"]

BCRYPT_ARGS = ["--bcrypt-cost", "4"]
ROOT_PASSWORD = "rootpw"

Perm = auth_pb2.Permission
READ, WRITE, READWRITE = Perm.READ, Perm.WRITE, Perm.READWRITE

# -- exact gRPC errors (code, message) ------------------------------------------------------------
PERMISSION_DENIED = (grpc.StatusCode.PERMISSION_DENIED, "etcdserver: permission denied")
USER_EMPTY = (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: user name is empty")
INVALID_TOKEN = (grpc.StatusCode.UNAUTHENTICATED, "etcdserver: invalid auth token")
AUTH_FAILED = (grpc.StatusCode.INVALID_ARGUMENT,
               "etcdserver: authentication failed, invalid user ID or password")
AUTH_NOT_ENABLED = (grpc.StatusCode.FAILED_PRECONDITION, "etcdserver: authentication is not enabled")
USER_EXISTS = (grpc.StatusCode.FAILED_PRECONDITION, "etcdserver: user name already exists")
USER_NOT_FOUND = (grpc.StatusCode.FAILED_PRECONDITION, "etcdserver: user name not found")
ROLE_EXISTS = (grpc.StatusCode.FAILED_PRECONDITION, "etcdserver: role name already exists")
ROLE_NOT_FOUND = (grpc.StatusCode.FAILED_PRECONDITION, "etcdserver: role name not found")
ROLE_EMPTY = (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: role name is empty")
ROLE_NOT_GRANTED = (grpc.StatusCode.FAILED_PRECONDITION, "etcdserver: role is not granted to the user")
PERM_NOT_GRANTED = (grpc.StatusCode.FAILED_PRECONDITION,
                    "etcdserver: permission is not granted to the role")
ROOT_USER_MISSING = (grpc.StatusCode.FAILED_PRECONDITION, "etcdserver: root user does not exist")
ROOT_ROLE_MISSING = (grpc.StatusCode.FAILED_PRECONDITION,
                     "etcdserver: root user does not have root role")
INVALID_AUTH_MGMT = (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: invalid auth management")
NO_PASSWORD_USER = (grpc.StatusCode.UNKNOWN,
                    "auth: authentication failed, password was given for no password user")
# Maintenance's admin-only calls answer with the auth store's raw error (etcd 3.4/3.5)
RAW_PERMISSION_DENIED = (grpc.StatusCode.UNKNOWN, "auth: permission denied")
RAW_USER_EMPTY = (grpc.StatusCode.UNKNOWN, "auth: user name is empty")
# Lock and Election relabel every error Unknown, keeping the text
LOCK_PERMISSION_DENIED = (grpc.StatusCode.UNKNOWN, "etcdserver: permission denied")
LOCK_USER_EMPTY = (grpc.StatusCode.UNKNOWN, "etcdserver: user name is empty")


def start_auth_target(name: str, tmp_path=None, etcd_args: list[str] | None = None,
                      **options) -> Target:
    """A fresh server with fast bcrypt; ``etcd_args``/``options`` add real-etcd flags / etcdlite
    Config fields."""
    return start_target(name, tmp_path, bcrypt_cost=4, **options,
                        etcd_args=[*BCRYPT_ARGS, *(etcd_args or [])])


def auth_stub(target: Target) -> rpc_pb2_grpc.AuthStub:
    return rpc_pb2_grpc.AuthStub(target.channel)


def token_md(token: str) -> list[tuple[str, str]]:
    return [("token", token)]


def error_of(call, *args, **kwargs) -> tuple[grpc.StatusCode, str]:
    """Call; it must fail; return (code, details)."""
    with pytest.raises(grpc.RpcError) as info:
        call(*args, **kwargs)
    return info.value.code(), info.value.details()


def login(target: Target, user: str, password: str) -> list[tuple[str, str]]:
    """Authenticate and return the token metadata to pass as ``metadata=``."""
    response = auth_stub(target).Authenticate(rpc_pb2.AuthenticateRequest(name=user,
                                                                          password=password))
    return token_md(response.token)


def add_user(target: Target, name: str, password: str = "", roles=(), metadata=None,
             no_password: bool = False) -> None:
    auth = auth_stub(target)
    options = auth_pb2.UserAddOptions(no_password=True) if no_password else None
    auth.UserAdd(rpc_pb2.AuthUserAddRequest(name=name, password=password, options=options),
                 metadata=metadata)
    for role in roles:
        auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user=name, role=role), metadata=metadata)


def add_role(target: Target, name: str, perms=(), metadata=None) -> None:
    """``perms``: (type, key, range_end) triples."""
    auth = auth_stub(target)
    auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name=name), metadata=metadata)
    for perm_type, key, range_end in perms:
        grant_perm(target, name, perm_type, key, range_end, metadata=metadata)


def grant_perm(target: Target, role: str, perm_type, key: bytes, range_end: bytes = b"",
               metadata=None):
    return auth_stub(target).RoleGrantPermission(rpc_pb2.AuthRoleGrantPermissionRequest(
        name=role, perm=Perm(permType=perm_type, key=key, range_end=range_end)), metadata=metadata)


def enable_root(target: Target) -> None:
    """User root (password ROOT_PASSWORD) with role root."""
    add_user(target, "root", ROOT_PASSWORD, roles=["root"])


def enable_auth_with_user(target: Target, perms=(), user: str = "alice", password: str = "apw"):
    """root + a role ``r`` with ``perms`` granted to ``user``; auth enabled. Returns the token
    metadata of (root, user)."""
    enable_root(target)
    add_role(target, "r", perms)
    add_user(target, user, password, roles=["r"])
    auth_stub(target).AuthEnable(rpc_pb2.AuthEnableRequest())
    return login(target, "root", ROOT_PASSWORD), login(target, user, password)


def auth_status(target: Target, metadata) -> rpc_pb2.AuthStatusResponse:
    return auth_stub(target).AuthStatus(rpc_pb2.AuthStatusRequest(), metadata=metadata)


def auth_revision(target: Target, metadata=None) -> int | None:
    """AuthStatus's authRevision (etcd 3.5, etcdlite); None on etcd 3.4.23 (no AuthStatus)."""
    if target.etcd_version == "3.4":
        return None
    return auth_status(target, metadata).authRevision
