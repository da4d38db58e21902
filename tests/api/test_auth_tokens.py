"""Auth tokens: simple tokens (metadata key ``token``), their invalidation and expiry, and JWT tokens
signed with RS256 and ES256 keys made here (observed on etcd 3.4.23 and 3.5.1).
"""

from __future__ import annotations

import base64
import json
import time

import grpc
import pytest

from auth_helpers import (INVALID_TOKEN, PERMISSION_DENIED, READ, TARGETS, USER_EMPTY,
                          auth_revision, auth_stub, enable_auth_with_user, error_of, grant_perm,
                          login, start_auth_target, token_md)
from etcd_api_helpers import assert_full_header
from etcdlite.proto import rpc_pb2

PERMS = [(READ, b"r/", b"r0")]


def _read(target, md, key=b"r/a"):
    return target.kv.Range(rpc_pb2.RangeRequest(key=key), metadata=md)


def test_the_token_travels_in_metadata_key_token(target):
    root, alice = enable_auth_with_user(target, PERMS)
    assert_full_header(_read(target, alice).header, 1)
    assert error_of(_read, target, [("other", alice[0][1])]) == USER_EMPTY


def test_an_unknown_token_is_unauthenticated_invalid_auth_token(target):
    enable_auth_with_user(target, PERMS)
    for token in ["garbage", "AAAAAAAAAAAAAAAA.1", "a.b.c"]:
        assert error_of(_read, target, token_md(token)) == INVALID_TOKEN, token
        assert error_of(target.kv.Put, rpc_pb2.PutRequest(key=b"r/a"),
                        metadata=token_md(token)) == INVALID_TOKEN
    # Status needs no user and never looks at the token
    assert target.maintenance.Status(rpc_pb2.StatusRequest(),
                                     metadata=token_md("garbage")).header.revision == 1


def test_permission_changes_apply_to_issued_tokens_at_once(target):
    root, alice = enable_auth_with_user(target, PERMS)
    auth = auth_stub(target)
    _read(target, alice)
    auth.RoleRevokePermission(rpc_pb2.AuthRoleRevokePermissionRequest(
        role="r", key=b"r/", range_end=b"r0"), metadata=root)
    assert error_of(_read, target, alice) == PERMISSION_DENIED
    grant_perm(target, "r", READ, b"r/", b"r0", metadata=root)
    _read(target, alice)
    auth.UserRevokeRole(rpc_pb2.AuthUserRevokeRoleRequest(name="alice", role="r"), metadata=root)
    assert error_of(_read, target, alice) == PERMISSION_DENIED
    auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="alice", role="root"), metadata=root)
    _read(target, alice, b"anything")
    # unrelated changes leave the token valid (simple tokens carry no auth revision)
    auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="other"), metadata=root)
    auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="bob", password="x"), metadata=root)
    _read(target, alice)
    _read(target, root)


def test_changing_a_password_even_to_the_same_value_invalidates_that_users_tokens(target):
    root, alice = enable_auth_with_user(target, PERMS)
    other_alice = login(target, "alice", "apw")
    auth_stub(target).UserChangePassword(rpc_pb2.AuthUserChangePasswordRequest(
        name="alice", password="apw"), metadata=root)
    assert error_of(_read, target, alice) == INVALID_TOKEN
    assert error_of(_read, target, other_alice) == INVALID_TOKEN
    _read(target, root)  # other users' tokens stay valid
    _read(target, login(target, "alice", "apw"))


def test_deleting_a_user_invalidates_its_tokens_even_if_the_user_is_added_again(target):
    root, alice = enable_auth_with_user(target, PERMS)
    auth = auth_stub(target)
    auth.UserDelete(rpc_pb2.AuthUserDeleteRequest(name="alice"), metadata=root)
    assert error_of(_read, target, alice) == INVALID_TOKEN
    auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="alice", password="apw"), metadata=root)
    assert error_of(_read, target, alice) == INVALID_TOKEN
    assert error_of(_read, target, login(target, "alice", "apw")) == PERMISSION_DENIED  # no role


def test_auth_disable_invalidates_every_token(target):
    root, alice = enable_auth_with_user(target, PERMS)
    auth = auth_stub(target)
    auth.AuthDisable(rpc_pb2.AuthDisableRequest(), metadata=root)
    _read(target, None)
    # etcd 3.4.23 and 3.5.1 (and etcdlite) refuse a request that carries a simple token while auth
    # is disabled: they are all void then (3.4.28+/3.5.10+ ignore tokens while auth is disabled)
    assert error_of(_read, target, alice) == INVALID_TOKEN
    # and they stay void
    auth.AuthEnable(rpc_pb2.AuthEnableRequest())
    assert error_of(_read, target, alice) == INVALID_TOKEN
    assert error_of(_read, target, root) == INVALID_TOKEN
    _read(target, login(target, "alice", "apw"))


def test_auth_calls_answer_the_kv_revision_and_auth_status_the_auth_revision(target):
    root, alice = enable_auth_with_user(target, PERMS)
    auth = auth_stub(target)
    put = target.kv.Put(rpc_pb2.PutRequest(key=b"k"), metadata=root)
    assert put.header.revision == 2
    for response in [auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="x"), metadata=root),
                     auth.Authenticate(rpc_pb2.AuthenticateRequest(name="alice", password="apw")),
                     auth.UserGet(rpc_pb2.AuthUserGetRequest(name="alice"), metadata=alice)]:
        assert_full_header(response.header, 2)
    if target.etcd_version != "3.4":
        # root: UserAdd, UserGrantRole (root role before it exists); RoleAdd r, grant, UserAdd
        # alice, UserGrantRole = 7 after the fresh 1; AuthEnable does not count; RoleAdd x = 8
        assert auth_revision(target, root) == 8


@pytest.fixture(params=["etcdlite", "etcd-3.4", "etcd-3.5"])
def ttl_target(request, tmp_path):
    server = start_auth_target(request.param, tmp_path, etcd_args=["--auth-token-ttl", "2"],
                               auth_token_ttl=2)
    yield server
    server.close()


def test_simple_token_ttl_slides_with_use_and_expires_when_idle(ttl_target):
    """``--auth-token-ttl 2``: each use renews the token; two idle seconds (checked once a
    second) expire it."""
    target = ttl_target
    root, alice = enable_auth_with_user(target, PERMS)
    for _ in range(3):
        time.sleep(1.0)
        _read(target, alice)
    # root's token was never used after login: expired by now (3 s idle)
    assert error_of(_read, target, root) == INVALID_TOKEN
    time.sleep(4.5)
    assert error_of(_read, target, alice) == INVALID_TOKEN
    _read(target, login(target, "alice", "apw"))


# -- JWT ------------------------------------------------------------------------------------------

def _write_keys(tmp_path, algorithm: str) -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    if algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        private = ec.generate_private_key(ec.SECP256R1())
    priv_path, pub_path = tmp_path / f"{algorithm}.key", tmp_path / f"{algorithm}.pub"
    priv_path.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                                serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    pub_path.write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return str(priv_path), str(pub_path)


def _b64json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@pytest.fixture(params=[(name, alg) for name in TARGETS for alg in ["RS256", "ES256"]],
                ids=lambda p: f"{p[0]}-{p[1]}")
def jwt_target(request, tmp_path):
    name, algorithm = request.param
    priv, pub = _write_keys(tmp_path, algorithm)
    spec = f"jwt,pub-key={pub},priv-key={priv},sign-method={algorithm},ttl=5m"
    server = start_auth_target(name, tmp_path, etcd_args=["--auth-token", spec], auth_token=spec)
    server.jwt_algorithm = algorithm
    yield server
    server.close()


def test_jwt_token_carries_username_auth_revision_and_expiry(jwt_target):
    target = jwt_target
    before = int(time.time())
    root, alice = enable_auth_with_user(target, PERMS)
    token = alice[0][1]
    parts = token.split(".")
    assert len(parts) == 3
    assert _b64json(parts[0]) == {"alg": target.jwt_algorithm, "typ": "JWT"}
    claims = _b64json(parts[1])
    assert set(claims) == {"exp", "revision", "username"}
    # auth revision 7 at login: see test_auth_calls_answer_the_kv_revision_...
    assert (claims["username"], claims["revision"]) == ("alice", 7)
    assert before + 300 <= claims["exp"] <= int(time.time()) + 301
    _read(target, alice)
    assert error_of(_read, target, token_md(token[:-4] + "AAAA")) == INVALID_TOKEN


def test_jwt_tokens_are_stale_after_any_auth_change(jwt_target):
    target = jwt_target
    root, alice = enable_auth_with_user(target, PERMS)
    _read(target, alice)
    auth_stub(target).RoleAdd(rpc_pb2.AuthRoleAddRequest(name="unrelated"), metadata=root)
    if target.etcd_version in ("3.4", None):
        # etcdlite answers as 3.4.23 and 3.5.2+ do (a deliberate deviation from 3.5.1): clients
        # such as clientv3 know this status and authenticate again
        stale = (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: revision of auth store is old")
    else:
        # 3.5.1 leaves the auth store's own error unconverted
        stale = (grpc.StatusCode.UNKNOWN, "auth: revision in header is old")
    assert error_of(_read, target, alice) == stale
    # admin calls do not compare the revision: root's stale token still manages auth
    auth_stub(target).RoleAdd(rpc_pb2.AuthRoleAddRequest(name="another"), metadata=root)
    _read(target, login(target, "alice", "apw"))
    assert target.maintenance.Status(rpc_pb2.StatusRequest(), metadata=alice).header.revision == 1
