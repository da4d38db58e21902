"""etcdserverpb.Auth as transport-neutral handlers over the node's auth store.

Passwords are hashed here, before the change is applied, as etcd 3.5 does in its API layer (which
also ignores a client's ``hashedPassword``: 3.5.1 overwrites it with the hash of ``password``); the
node hashes and checks in a worker thread. Who may do what (the root role; a user about itself and
its own roles for UserGet and RoleGet) is the node's request path's business.
"""

from __future__ import annotations

from ..auth.caller import Caller
from ..auth.permissions import KeyPermission
from ..auth.store import AuthInfo, AuthStore
from ..node import Node
from ..proto import auth_pb2, rpc_pb2
from .header import header


def _permission(pb: auth_pb2.Permission) -> KeyPermission:
    return KeyPermission(pb.permType, pb.key, pb.range_end)


class AuthService:
    def __init__(self, node: Node) -> None:
        self.node = node

    def header(self) -> rpc_pb2.ResponseHeader:
        return header(self.node, self.node.durable_revision)

    async def AuthEnable(self, request, caller: Caller) -> rpc_pb2.AuthEnableResponse:
        await self.node.auth_request(caller, lambda auth, _: auth.auth_enable())
        return rpc_pb2.AuthEnableResponse(header=self.header())

    async def AuthDisable(self, request, caller: Caller) -> rpc_pb2.AuthDisableResponse:
        await self.node.auth_request(caller, lambda auth, _: auth.auth_disable())
        return rpc_pb2.AuthDisableResponse(header=self.header())

    async def AuthStatus(self, request, caller: Caller) -> rpc_pb2.AuthStatusResponse:
        enabled, revision = await self.node.auth_request(
            caller, lambda auth, _: (auth.enabled, auth.revision))
        return rpc_pb2.AuthStatusResponse(header=self.header(), enabled=enabled, authRevision=revision)

    async def Authenticate(self, request, caller: Caller) -> rpc_pb2.AuthenticateResponse:
        token = await self.node.authenticate(request.name, request.password)
        return rpc_pb2.AuthenticateResponse(header=self.header(), token=token)

    async def UserAdd(self, request, caller: Caller) -> rpc_pb2.AuthUserAddResponse:
        no_password = request.options.no_password
        hashed = b"" if no_password else await self.node.hash_password(request.password)
        await self.node.auth_request(
            caller, lambda auth, _: auth.user_add(request.name, hashed, no_password))
        return rpc_pb2.AuthUserAddResponse(header=self.header())

    async def UserGet(self, request, caller: Caller) -> rpc_pb2.AuthUserGetResponse:
        roles = await self.node.auth_request(
            caller, lambda auth, _: auth.user_get(request.name),
            admin=lambda info: request.name != (info.username if info else ""))
        return rpc_pb2.AuthUserGetResponse(header=self.header(), roles=roles)

    async def UserList(self, request, caller: Caller) -> rpc_pb2.AuthUserListResponse:
        users = await self.node.auth_request(caller, lambda auth, _: auth.user_list())
        return rpc_pb2.AuthUserListResponse(header=self.header(), users=users)

    async def UserDelete(self, request, caller: Caller) -> rpc_pb2.AuthUserDeleteResponse:
        def delete(auth: AuthStore, _: AuthInfo | None) -> None:
            auth.user_delete(request.name)
            self.node.invalidate_tokens(request.name)

        await self.node.auth_request(caller, delete)
        return rpc_pb2.AuthUserDeleteResponse(header=self.header())

    async def UserChangePassword(self, request, caller: Caller) -> rpc_pb2.AuthUserChangePasswordResponse:
        hashed = await self.node.hash_password(request.password)

        def change(auth: AuthStore, _: AuthInfo | None) -> None:
            auth.user_change_password(request.name, hashed)
            self.node.invalidate_tokens(request.name)

        await self.node.auth_request(caller, change)
        return rpc_pb2.AuthUserChangePasswordResponse(header=self.header())

    async def UserGrantRole(self, request, caller: Caller) -> rpc_pb2.AuthUserGrantRoleResponse:
        await self.node.auth_request(caller, lambda auth, _: auth.user_grant_role(request.user, request.role))
        return rpc_pb2.AuthUserGrantRoleResponse(header=self.header())

    async def UserRevokeRole(self, request, caller: Caller) -> rpc_pb2.AuthUserRevokeRoleResponse:
        await self.node.auth_request(caller, lambda auth, _: auth.user_revoke_role(request.name, request.role))
        return rpc_pb2.AuthUserRevokeRoleResponse(header=self.header())

    async def RoleAdd(self, request, caller: Caller) -> rpc_pb2.AuthRoleAddResponse:
        await self.node.auth_request(caller, lambda auth, _: auth.role_add(request.name))
        return rpc_pb2.AuthRoleAddResponse(header=self.header())

    async def RoleGet(self, request, caller: Caller) -> rpc_pb2.AuthRoleGetResponse:
        node = self.node
        permissions = await node.auth_request(
            caller, lambda auth, _: auth.role_get(request.role),
            admin=lambda info: not node.auth.user_has_role(info.username if info else "", request.role))
        return rpc_pb2.AuthRoleGetResponse(header=self.header(), perm=[
            auth_pb2.Permission(permType=p.perm_type, key=p.key, range_end=p.range_end)
            for p in permissions])

    async def RoleList(self, request, caller: Caller) -> rpc_pb2.AuthRoleListResponse:
        roles = await self.node.auth_request(caller, lambda auth, _: auth.role_list())
        return rpc_pb2.AuthRoleListResponse(header=self.header(), roles=roles)

    async def RoleDelete(self, request, caller: Caller) -> rpc_pb2.AuthRoleDeleteResponse:
        await self.node.auth_request(caller, lambda auth, _: auth.role_delete(request.role))
        return rpc_pb2.AuthRoleDeleteResponse(header=self.header())

    async def RoleGrantPermission(self, request, caller: Caller) -> rpc_pb2.AuthRoleGrantPermissionResponse:
        permission = _permission(request.perm) if request.HasField("perm") else None
        await self.node.auth_request(
            caller, lambda auth, _: auth.role_grant_permission(request.name, permission))
        return rpc_pb2.AuthRoleGrantPermissionResponse(header=self.header())

    async def RoleRevokePermission(self, request, caller: Caller) -> rpc_pb2.AuthRoleRevokePermissionResponse:
        await self.node.auth_request(
            caller, lambda auth, _: auth.role_revoke_permission(request.role, request.key, request.range_end))
        return rpc_pb2.AuthRoleRevokePermissionResponse(header=self.header())

