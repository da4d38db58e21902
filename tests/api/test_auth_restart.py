"""Auth state survives a restart on the same data dir: users, roles, permissions, the enabled flag
and the auth revision; simple tokens do not (etcd 3.4.23 and 3.5.1 both reject a token issued
before the restart, observed). Targets: etcdlite on LMDB and real etcd (restarted here with the
same data dir)."""

from __future__ import annotations

import shutil
import tempfile

import grpc
import pytest

from auth_helpers import (BCRYPT_ARGS, INVALID_TOKEN, PERMISSION_DENIED, READ, ROOT_PASSWORD,
                          USER_EMPTY, auth_revision, auth_stub, enable_auth_with_user, error_of,
                          login)
from etcd_targets import Target, require_etcd, start_etcdlite, start_real_etcd
from etcdlite.proto import rpc_pb2


@pytest.fixture(params=["etcdlite-lmdb", "etcd-3.4", "etcd-3.5"])
def restartable(request, tmp_path):
    """A function that (re)starts the same server on the same data dir."""
    name = request.param
    data_dir = str(tmp_path / "data") if name == "etcdlite-lmdb" else tempfile.mkdtemp(
        prefix="etcd-auth-restart-")
    running: list[Target] = []

    def start() -> Target:
        for server in running:
            server.close()
        running.clear()
        if name == "etcdlite-lmdb":
            server = start_etcdlite(data_dir, bcrypt_cost=4)
        else:
            version = name.removeprefix("etcd-")
            server = start_real_etcd(require_etcd(version), BCRYPT_ARGS, version=version,
                                     data_dir=data_dir)
        running.append(server)
        return server

    yield start
    for server in running:
        server.close()
    if name != "etcdlite-lmdb":
        shutil.rmtree(data_dir, ignore_errors=True)


def test_users_roles_permissions_and_enabled_flag_survive_a_restart(restartable):
    target = restartable()
    root, alice = enable_auth_with_user(target, [(READ, b"r/", b"r0")])
    target.kv.Put(rpc_pb2.PutRequest(key=b"r/a", value=b"1"), metadata=root)
    revision_before = auth_revision(target, root)

    target = restartable()
    assert error_of(target.kv.Range, rpc_pb2.RangeRequest(key=b"r/a")) == USER_EMPTY
    # simple tokens live in memory only
    assert error_of(target.kv.Range, rpc_pb2.RangeRequest(key=b"r/a"), metadata=alice) == (
        INVALID_TOKEN)
    alice = login(target, "alice", "apw")
    root = login(target, "root", ROOT_PASSWORD)
    assert target.kv.Range(rpc_pb2.RangeRequest(key=b"r/a"), metadata=alice).kvs[0].value == b"1"
    assert error_of(target.kv.Put, rpc_pb2.PutRequest(key=b"r/a"), metadata=alice) == (
        PERMISSION_DENIED)
    auth = auth_stub(target)
    assert list(auth.UserList(rpc_pb2.AuthUserListRequest(), metadata=root).users) == [
        "alice", "root"]
    assert list(auth.RoleList(rpc_pb2.AuthRoleListRequest(), metadata=root).roles) == ["r"]
    perms = auth.RoleGet(rpc_pb2.AuthRoleGetRequest(role="r"), metadata=root).perm
    assert [(p.permType, p.key, p.range_end) for p in perms] == [(READ, b"r/", b"r0")]
    assert auth_revision(target, root) == revision_before
    if target.etcd_version != "3.4":
        assert auth_revision(target, root) == 7


def test_auth_disabled_and_a_changed_password_survive_a_restart(restartable):
    target = restartable()
    root, _ = enable_auth_with_user(target, [(READ, b"r/", b"r0")])
    auth = auth_stub(target)
    auth.UserChangePassword(rpc_pb2.AuthUserChangePasswordRequest(name="alice", password="new"),
                            metadata=root)
    auth.AuthDisable(rpc_pb2.AuthDisableRequest(), metadata=root)

    target = restartable()
    assert target.kv.Put(rpc_pb2.PutRequest(key=b"free")).header.revision == 2
    auth = auth_stub(target)
    auth.AuthEnable(rpc_pb2.AuthEnableRequest())
    login(target, "alice", "new")
    with pytest.raises(grpc.RpcError):
        login(target, "alice", "apw")
