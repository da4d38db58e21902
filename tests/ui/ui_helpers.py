"""Shared set-up of the browser view's tests (not a test module)."""

from __future__ import annotations

from etcdlite.proto import auth_pb2, rpc_pb2, rpc_pb2_grpc


def set_up_viewer(channel, viewer_password: str, root_password: str = "rootpw") -> None:
    """Keys /public/a and /secret/b; users root and viewer (who may read /public/ only); auth on."""
    kv, auth = rpc_pb2_grpc.KVStub(channel), rpc_pb2_grpc.AuthStub(channel)
    kv.Put(rpc_pb2.PutRequest(key=b"/public/a", value=b"visible"))
    kv.Put(rpc_pb2.PutRequest(key=b"/secret/b", value=b"hidden"))
    auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="root", password=root_password))
    auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="root"))
    auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="root", role="root"))
    auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="viewer", password=viewer_password))
    auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="public"))
    auth.RoleGrantPermission(rpc_pb2.AuthRoleGrantPermissionRequest(name="public", perm=auth_pb2.Permission(
        permType=auth_pb2.Permission.READ, key=b"/public/", range_end=b"/public0")))
    auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="viewer", role="public"))
    auth.AuthEnable(rpc_pb2.AuthEnableRequest())
