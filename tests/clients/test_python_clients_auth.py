"""python-etcd3 and aetcd with user name and password against a server with auth enabled.

The server is prepared over gRPC (root, role ``app`` with READWRITE on prefix ``app/``, user alice).
python-etcd3 runs in a fresh interpreter (its generated code needs the pure-Python protobuf runtime,
PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python); over plaintext it works only once its gRPC call
credentials are dropped (see the test). aetcd runs in this process.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

from etcd_targets import start_target
from etcdlite.proto import auth_pb2, rpc_pb2, rpc_pb2_grpc

TARGETS = ["etcdlite", "etcdlite-lmdb", "etcd-3.4", "etcd-3.5"]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(params=TARGETS)
def target(request, tmp_path):
    server = start_target(request.param, tmp_path, bcrypt_cost=4, etcd_args=["--bcrypt-cost", "4"])
    auth = rpc_pb2_grpc.AuthStub(server.channel)
    auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="root", password="rootpw"))
    auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="root", role="root"))
    auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="alice", password="apw"))
    auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="app"))
    auth.RoleGrantPermission(rpc_pb2.AuthRoleGrantPermissionRequest(name="app", perm=auth_pb2.Permission(
        permType=auth_pb2.Permission.READWRITE, key=b"app/", range_end=b"app0")))
    auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="alice", role="app"))
    auth.AuthEnable(rpc_pb2.AuthEnableRequest())
    yield server
    server.close()


def _run_python_etcd3(target, code: str) -> str:
    if importlib.util.find_spec("etcd3") is None:
        pytest.skip("etcd3 is not installed")
    host, port = target.endpoint.rsplit(":", 1)
    program = f"HOST, PORT = {host!r}, {int(port)}\n" + textwrap.dedent(code)
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=60, cwd=REPO,
                          env=dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python"))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_python_etcd3_with_user_and_password_reads_and_writes_its_prefix_and_is_denied_elsewhere(
        target):
    out = _run_python_etcd3(target, """
        import etcd3, grpc
        client = etcd3.client(host=HOST, port=PORT, user="alice", password="apw")
        # python-etcd3 sends its token twice: as metadata and as gRPC call credentials, which
        # grpcio refuses to send over a plaintext channel (client-side, before any request)
        try:
            client.put("app/x", "0")
        except grpc.RpcError as error:
            print(error.code(), error.details())
        client.call_credentials = None  # the metadata token alone, as etcd's own clients send
        client.put("app/x", "1")
        value, meta = client.get("app/x")
        print(value.decode(), meta.version)
        print(sorted(m.key.decode() for _, m in client.get_prefix("app/")))
        for call in [lambda: client.put("other", "1"), lambda: client.get("other")]:
            try:
                call()
                print("allowed")
            except grpc.RpcError as error:
                print(error.code(), error.details())
            except Exception as error:  # python-etcd3 wraps some errors
                print(type(error).__name__, error)
        client.close()
        for password in ["wrong"]:
            try:
                etcd3.client(host=HOST, port=PORT, user="alice", password=password)
                print("logged in")
            except Exception as error:
                print(type(error).__name__, getattr(error, "details", lambda: "")())
        anonymous = etcd3.client(host=HOST, port=PORT)
        try:
            anonymous.get("app/x")
        except Exception as error:
            print(type(error).__name__, error.code(), error.details())
    """)
    assert out.splitlines() == [
        "StatusCode.UNAUTHENTICATED Established channel does not have a sufficient security level"
        " to transfer call credential.",
        "1 1",
        "['app/x']",
        "StatusCode.PERMISSION_DENIED etcdserver: permission denied",
        "StatusCode.PERMISSION_DENIED etcdserver: permission denied",
        "_InactiveRpcError etcdserver: authentication failed, invalid user ID or password",
        "_InactiveRpcError StatusCode.INVALID_ARGUMENT etcdserver: user name is empty",
    ]


def _run_aetcd(target, scenario, **credentials):
    aetcd = pytest.importorskip("aetcd")

    async def main():
        host, port = target.endpoint.rsplit(":", 1)
        client = aetcd.Client(host=host, port=int(port), **credentials)
        await client.connect()
        try:
            return await asyncio.wait_for(scenario(aetcd, client), 20)
        finally:
            await client.close()

    return asyncio.run(main())


def test_aetcd_with_username_and_password_reads_and_writes_its_prefix(target):
    async def scenario(aetcd, client):
        put = await client.put(b"app/a", b"1")
        got = await client.get(b"app/a")
        listing = [kv.key async for kv in _aiter(await client.get_prefix(b"app/"))]
        return put.header.revision, got.value, listing

    assert _run_aetcd(target, scenario, username="alice", password="apw") == (
        2, b"1", [b"app/a"])


async def _aiter(items):
    for item in items:
        yield item


def test_aetcd_denied_request_raises_its_permission_error(target):
    async def scenario(aetcd, client):
        errors = []
        for call in [lambda: client.put(b"other", b"1"), lambda: client.get(b"other")]:
            try:
                await call()
                errors.append("allowed")
            except aetcd.exceptions.ClientError as error:
                errors.append((type(error).__name__, str(error)))
        return errors

    result = _run_aetcd(target, scenario, username="alice", password="apw")
    assert [name for name, _ in result] == ["ClientError", "ClientError"]  # aetcd maps no code
    assert all("etcdserver: permission denied" in text for _, text in result), result


def test_aetcd_wrong_password_fails_on_connect(target):
    aetcd = pytest.importorskip("aetcd")

    async def main():
        host, port = target.endpoint.rsplit(":", 1)
        client = aetcd.Client(host=host, port=int(port), username="alice", password="wrong")
        try:
            await client.connect()
            return "connected"
        except aetcd.exceptions.ClientError as error:
            return type(error).__name__, str(error)
        finally:
            await client.close()

    name, text = asyncio.run(main())
    assert "etcdserver: authentication failed, invalid user ID or password" in text, (name, text)
