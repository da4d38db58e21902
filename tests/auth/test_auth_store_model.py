"""The auth store against a small model under random management sequences: users, roles, grants,
revokes, deletes and enable/disable; after every step each check answers as the model says.

The model keeps plain sets and answers permission questions with the linear interval-tree algorithm
of test_permissions (etcd's), so the store's merged-range cache and its invalidation are what is
under test."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from etcdlite import errors
from etcdlite.auth.permissions import READ, READWRITE, WRITE, KeyPermission
from etcdlite.auth.store import AuthInfo, AuthStore

from test_permissions import model_allows

USERS = st.sampled_from(["root", "u1", "u2"])
ROLES = st.sampled_from(["root", "r1", "r2"])
KEYS = st.sampled_from([b"a", b"b", b"b\0", b"c", b"d"])
ENDS = st.sampled_from([b"", b"\0", b"b", b"c", b"e"])
PERMS = st.builds(KeyPermission, st.sampled_from([READ, WRITE, READWRITE]), KEYS, ENDS)


class AuthModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = AuthStore()
        self.users: dict[str, set[str]] = {}
        #: role -> [(key, range_end, type)] sorted by key, as etcd keeps a role's permissions
        self.roles: dict[str, list[tuple[bytes, bytes, int]]] = {}
        self.enabled = False

    def _try(self, call, *args):
        try:
            call(*args)
            return None
        except errors.EtcdError as exc:
            return exc

    @rule(user=USERS)
    def add_user(self, user):
        err = self._try(self.store.user_add, user, b"h")
        assert (err == errors.AUTH_USER_ALREADY_EXIST) == (user in self.users)
        self.users.setdefault(user, set())

    @rule(user=USERS)
    def delete_user(self, user):
        err = self._try(self.store.user_delete, user)
        if self.enabled and user == "root":
            assert err == errors.AUTH_INVALID_MGMT
        elif user not in self.users:
            assert err == errors.AUTH_USER_NOT_FOUND
        else:
            assert err is None
            del self.users[user]

    @rule(role=ROLES)
    def add_role(self, role):
        err = self._try(self.store.role_add, role)
        assert (err == errors.AUTH_ROLE_ALREADY_EXIST) == (role in self.roles)
        self.roles.setdefault(role, [])

    @rule(role=ROLES)
    def delete_role(self, role):
        err = self._try(self.store.role_delete, role)
        if self.enabled and role == "root":
            assert err == errors.AUTH_INVALID_MGMT
        elif role not in self.roles:
            assert err == errors.AUTH_ROLE_NOT_FOUND
        else:
            assert err is None
            del self.roles[role]
            for held in self.users.values():
                held.discard(role)

    @rule(user=USERS, role=ROLES)
    def grant_role(self, user, role):
        err = self._try(self.store.user_grant_role, user, role)
        if user not in self.users:
            assert err == errors.AUTH_USER_NOT_FOUND
        elif role != "root" and role not in self.roles:
            assert err == errors.AUTH_ROLE_NOT_FOUND
        else:
            assert err is None
            self.users[user].add(role)

    @rule(user=USERS, role=ROLES)
    def revoke_role(self, user, role):
        err = self._try(self.store.user_revoke_role, user, role)
        if self.enabled and user == "root" and role == "root":
            assert err == errors.AUTH_INVALID_MGMT
        elif user not in self.users:
            assert err == errors.AUTH_USER_NOT_FOUND
        elif role not in self.users[user]:
            assert err == errors.AUTH_ROLE_NOT_GRANTED
        else:
            assert err is None
            self.users[user].discard(role)

    @rule(role=ROLES, perm=PERMS)
    def grant_permission(self, role, perm):
        err = self._try(self.store.role_grant_permission, role, perm)
        if role not in self.roles:
            assert err == errors.AUTH_ROLE_NOT_FOUND
        else:
            assert err is None
            perms = self.roles[role]
            # etcd looks only at the first permission with that key: same range end -> new type,
            # otherwise a further entry (so one key and range can end up listed twice)
            first = next((i for i, p in enumerate(perms) if p[0] >= perm.key), len(perms))
            if first < len(perms) and perms[first][:2] == (perm.key, perm.range_end):
                perms[first] = (perm.key, perm.range_end, perm.perm_type)
            else:
                perms.append((perm.key, perm.range_end, perm.perm_type))
                perms.sort(key=lambda p: p[0])

    @rule(role=ROLES, key=KEYS, end=ENDS)
    def revoke_permission(self, role, key, end):
        err = self._try(self.store.role_revoke_permission, role, key, end)
        if role not in self.roles:
            assert err == errors.AUTH_ROLE_NOT_FOUND
        elif not any(p[:2] == (key, end) for p in self.roles[role]):
            assert err == errors.AUTH_PERMISSION_NOT_GRANTED
        else:
            assert err is None
            self.roles[role] = [p for p in self.roles[role] if p[:2] != (key, end)]

    @rule()
    def enable(self):
        err = self._try(self.store.auth_enable)
        if self.enabled:
            assert err is None
        elif "root" not in self.users:
            assert err == errors.AUTH_ROOT_USER_NOT_EXIST
        elif "root" not in self.users["root"]:
            assert err == errors.AUTH_ROOT_ROLE_NOT_EXIST
        else:
            assert err is None
            self.enabled = True

    @rule()
    def disable(self):
        self.store.auth_disable()
        self.enabled = False

    @invariant()
    def listings_match(self):
        assert self.store.user_list() == sorted(self.users)
        assert self.store.role_list() == sorted(self.roles)
        for user, held in self.users.items():
            assert self.store.user_get(user) == sorted(held)
        for role, perms in self.roles.items():
            if role != "root":
                assert [(p.key, p.range_end, p.perm_type) for p in self.store.role_get(role)] == perms

    @invariant()
    def checks_match(self):
        for user in ["root", "u1", "u2", "ghost"]:
            caller = AuthInfo(user, self.store.revision)
            perms = [KeyPermission(t, k, e) for r in self.users.get(user, ()) if r in self.roles
                     for k, e, t in self.roles[r]]
            for perm_type in (READ, WRITE):
                for key, end in [(b"a", b""), (b"b", b""), (b"a", b"c"), (b"b", b"\0"), (b"c", b"e")]:
                    if not self.enabled:
                        expected = True
                    elif user not in self.users:
                        expected = False
                    elif "root" in self.users[user]:
                        expected = True
                    else:
                        expected = model_allows(perms, perm_type, key, end)
                    err = self._try(self.store.check, caller, perm_type, key, end)
                    assert (err is None) == expected, (user, perm_type, key, end, err)
                    if err is not None:
                        assert err == errors.AUTH_PERMISSION_DENIED


TestAuthModel = AuthModel.TestCase
TestAuthModel.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
