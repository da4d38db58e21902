"""The auth store: users, roles, key permissions, the enabled flag and the auth revision, with
etcd 3.5's rules and errors (server/auth/store.go), and the permission checks every request path
stage asks.

Plain Python: no gRPC, no protobuf, no I/O. Passwords arrive already hashed (etcd 3.5 hashes in its
API layer, before the change is applied) and are compared by the caller (bcrypt is slow by design
and must not run on the event loop); tokens are :mod:`etcdlite.auth.tokens`' business. Every change
bumps the revision by one, as etcd's ``commitRevision`` does, and the caller persists
:meth:`AuthStore.state` after it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from .. import errors
from .permissions import READ, WRITE, KeyPermission, UserPermissions

ROOT_USER = "root"
ROOT_ROLE = "root"


@dataclass(frozen=True)
class AuthInfo:
    """Who is asking: the user of a token (or a TLS client certificate's CN) and the auth revision
    the credential carries (a JWT's is fixed when issued; a simple token's is the current one)."""

    username: str
    revision: int


@dataclass
class User:
    name: str
    password: bytes = b""  # bcrypt hash; empty for a user made with no_password
    roles: list[str] = field(default_factory=list)  # sorted, as etcd keeps them
    no_password: bool = False


@dataclass
class Role:
    name: str
    permissions: list[KeyPermission] = field(default_factory=list)  # sorted by key


class AuthStore:
    def __init__(self) -> None:
        self.enabled = False
        self.revision = 1  # etcd's NewAuthStore commits revision 1 into a new backend
        self.users: dict[str, User] = {}
        self.roles: dict[str, Role] = {}
        self._permissions: dict[str, UserPermissions] = {}

    # -- state ----------------------------------------------------------------------------------

    def _changed(self, *, users: tuple[str, ...] | None = None) -> None:
        """One committed change: next revision; drop the merged permissions it may affect."""
        self.revision += 1
        if users is None:
            self._permissions.clear()
        else:
            for name in users:
                self._permissions.pop(name, None)

    def state(self) -> dict[str, Any]:
        """Everything to persist, JSON-friendly (bytes as latin-1 strings)."""
        return {
            "enabled": self.enabled,
            "revision": self.revision,
            "users": [{"name": u.name, "password": u.password.decode("latin-1"), "roles": u.roles,
                       "no_password": u.no_password} for u in self.users.values()],
            "roles": [{"name": r.name, "permissions": [
                [p.perm_type, p.key.decode("latin-1"), p.range_end.decode("latin-1")]
                for p in r.permissions]} for r in self.roles.values()],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "AuthStore":
        store = cls()
        store.enabled = bool(state["enabled"])
        store.revision = int(state["revision"])
        for u in state["users"]:
            store.users[u["name"]] = User(u["name"], u["password"].encode("latin-1"),
                                          sorted(u["roles"]), bool(u["no_password"]))
        for r in state["roles"]:
            store.roles[r["name"]] = Role(r["name"], [
                KeyPermission(int(t), k.encode("latin-1"), e.encode("latin-1"))
                for t, k, e in r["permissions"]])
        return store

    # -- enable / disable -------------------------------------------------------------------------

    def auth_enable(self) -> None:
        if self.enabled:
            return
        root = self.users.get(ROOT_USER)
        if root is None:
            raise errors.AUTH_ROOT_USER_NOT_EXIST
        if ROOT_ROLE not in root.roles:
            raise errors.AUTH_ROOT_ROLE_NOT_EXIST
        self.enabled = True  # etcd 3.5 does not commit a revision here
        self._permissions.clear()

    def auth_disable(self) -> None:
        if not self.enabled:
            return
        self.enabled = False
        self._changed()

    # -- users ----------------------------------------------------------------------------------

    def user_add(self, name: str, password_hash: bytes, no_password: bool = False) -> None:
        if not name:
            raise errors.AUTH_USER_EMPTY
        if name in self.users:
            raise errors.AUTH_USER_ALREADY_EXIST
        self.users[name] = User(name, b"" if no_password else password_hash, [], no_password)
        self._changed(users=(name,))

    def _user(self, name: str) -> User:
        user = self.users.get(name)
        if user is None:
            raise errors.AUTH_USER_NOT_FOUND
        return user

    def _role(self, name: str) -> Role:
        role = self.roles.get(name)
        if role is None:
            raise errors.AUTH_ROLE_NOT_FOUND
        return role

    def user_delete(self, name: str) -> None:
        if self.enabled and name == ROOT_USER:
            raise errors.AUTH_INVALID_MGMT
        self._user(name)
        del self.users[name]
        self._changed(users=(name,))

    def user_change_password(self, name: str, password_hash: bytes) -> None:
        user = self._user(name)
        if not user.no_password:
            user.password = password_hash
        self._changed(users=(name,))

    def user_grant_role(self, name: str, role: str) -> None:
        user = self._user(name)
        if role != ROOT_ROLE:
            self._role(role)
        i = bisect.bisect_left(user.roles, role)
        if i < len(user.roles) and user.roles[i] == role:
            return  # already granted: etcd ignores it (no revision change)
        user.roles.insert(i, role)
        self._changed(users=(name,))

    def user_revoke_role(self, name: str, role: str) -> None:
        if self.enabled and name == ROOT_USER and role == ROOT_ROLE:
            raise errors.AUTH_INVALID_MGMT
        user = self._user(name)
        if role not in user.roles:
            raise errors.AUTH_ROLE_NOT_GRANTED
        user.roles = [r for r in user.roles if r != role]
        self._changed(users=(name,))

    def user_get(self, name: str) -> list[str]:
        return list(self._user(name).roles)

    def user_list(self) -> list[str]:
        return sorted(self.users)

    # -- roles ----------------------------------------------------------------------------------

    def role_add(self, name: str) -> None:
        if not name:
            raise errors.AUTH_ROLE_EMPTY
        if name in self.roles:
            raise errors.AUTH_ROLE_ALREADY_EXIST
        self.roles[name] = Role(name)
        self._changed(users=())

    def role_delete(self, name: str) -> None:
        if self.enabled and name == ROOT_ROLE:
            raise errors.AUTH_INVALID_MGMT
        self._role(name)
        del self.roles[name]
        holders = tuple(u.name for u in self.users.values() if name in u.roles)
        for holder in holders:
            user = self.users[holder]
            user.roles = [r for r in user.roles if r != name]
        self._changed(users=holders)

    def role_get(self, name: str) -> list[KeyPermission]:
        """The role's own permissions; the root role lists none (3.5.1 and 3.4.23; its power is
        implied by its name)."""
        return list(self._role(name).permissions)

    def role_list(self) -> list[str]:
        return sorted(self.roles)

    def role_grant_permission(self, name: str, permission: KeyPermission | None) -> None:
        if permission is None:
            raise errors.AUTH_PERMISSION_NOT_GIVEN
        role = self._role(name)
        keys = [p.key for p in role.permissions]
        i = bisect.bisect_left(keys, permission.key)
        if i < len(keys) and keys[i] == permission.key and \
                role.permissions[i].range_end == permission.range_end:
            role.permissions[i] = permission  # etcd updates the type of the first match only
        else:
            role.permissions.insert(bisect.bisect_right(keys, permission.key), permission)
        self._changed()

    def role_revoke_permission(self, name: str, key: bytes, range_end: bytes) -> None:
        role = self._role(name)
        kept = [p for p in role.permissions if (p.key, p.range_end) != (key, range_end)]
        if len(kept) == len(role.permissions):
            raise errors.AUTH_PERMISSION_NOT_GRANTED
        role.permissions = kept
        self._changed()

    # -- authentication -------------------------------------------------------------------------

    def password_hash(self, name: str) -> tuple[bytes, int]:
        """The stored hash to check a password against, and the revision it was read at (etcd's
        CheckPassword before the bcrypt comparison, which the caller runs off the event loop)."""
        if not self.enabled:
            raise errors.AUTH_NOT_ENABLED
        user = self.users.get(name)
        if user is None:
            raise errors.AUTH_FAILED
        if user.no_password:
            raise errors.AUTH_NO_PASSWORD_USER
        return user.password, self.revision

    def check_authenticate(self, name: str) -> None:
        """etcd's Authenticate, after the password matched: the user must still be there."""
        if not self.enabled:
            raise errors.AUTH_NOT_ENABLED
        user = self.users.get(name)
        if user is None or user.no_password:
            raise errors.AUTH_FAILED

    # -- permission checks ----------------------------------------------------------------------

    def user_has_role(self, name: str, role: str) -> bool:
        user = self.users.get(name)
        return user is not None and role in user.roles

    def has_root_role(self, name: str) -> bool:
        user = self.users.get(name)
        return user is not None and ROOT_ROLE in user.roles

    def _merged(self, user: User) -> UserPermissions:
        merged = self._permissions.get(user.name)
        if merged is None:
            perms = [p for r in user.roles if r in self.roles for p in self.roles[r].permissions]
            merged = self._permissions[user.name] = UserPermissions(perms)
        return merged

    def check(self, caller: AuthInfo | None, perm_type: int, key: bytes, range_end: bytes = b"") -> None:
        """Raise etcd's error unless ``caller`` may do ``perm_type`` on the key or range."""
        if not self.enabled:
            return
        if caller is None or caller.revision == 0:
            raise errors.AUTH_USER_EMPTY
        if caller.revision < self.revision:
            raise errors.AUTH_OLD_REVISION
        user = self.users.get(caller.username)
        if user is None:
            raise errors.AUTH_PERMISSION_DENIED
        if ROOT_ROLE in user.roles:
            return
        if not self._merged(user).allows(perm_type, key, range_end):
            raise errors.AUTH_PERMISSION_DENIED

    def check_read(self, caller: AuthInfo | None, key: bytes, range_end: bytes = b"") -> None:
        self.check(caller, READ, key, range_end)

    def check_write(self, caller: AuthInfo | None, key: bytes, range_end: bytes = b"") -> None:
        self.check(caller, WRITE, key, range_end)

    def check_admin(self, caller: AuthInfo | None) -> None:
        """etcd's IsAdminPermitted: the root role (no revision check)."""
        if not self.enabled:
            return
        if caller is None or not caller.username:
            raise errors.AUTH_USER_EMPTY
        user = self.users.get(caller.username)
        if user is None:
            raise errors.AUTH_USER_NOT_FOUND
        if ROOT_ROLE not in user.roles:
            raise errors.AUTH_PERMISSION_DENIED
