"""etcd's client-visible errors: a gRPC status code name and the exact message text.

The core raises :class:`EtcdError`; the gRPC layer turns it into a status with the same code and
message. Clients depend on both (the Go client matches the message text, python clients the code),
so the strings here are byte-exact copies of etcd's.
"""

from __future__ import annotations


class EtcdError(Exception):
    """An error etcd reports to clients as a gRPC status.

    The constants below are subclasses, one per error: ``raise errors.KEY_NOT_FOUND`` makes a fresh
    instance each time (a shared instance would collect every traceback it was raised with).
    """

    code: str = "UNKNOWN"  # a grpc.StatusCode member name, e.g. "INVALID_ARGUMENT"
    message: str = ""

    def __init__(self, code: str | None = None, message: str | None = None) -> None:
        if code is not None:
            self.code = code
        if message is not None:
            self.message = message
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"EtcdError({self.code}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EtcdError) or (isinstance(other, type) and issubclass(other, EtcdError)):
            return (self.code, self.message) == (other.code, other.message)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.code, self.message))


def _err(code: str, message: str) -> type[EtcdError]:
    return type("EtcdError", (EtcdError,), {"code": code, "message": message})


# KV, Txn, Compact
KEY_NOT_PROVIDED = _err("INVALID_ARGUMENT", "etcdserver: key is not provided")
KEY_NOT_FOUND = _err("INVALID_ARGUMENT", "etcdserver: key not found")
VALUE_PROVIDED = _err("INVALID_ARGUMENT", "etcdserver: value is provided")
LEASE_PROVIDED = _err("INVALID_ARGUMENT", "etcdserver: lease is provided")
TOO_MANY_OPS = _err("INVALID_ARGUMENT", "etcdserver: too many operations in txn request")
DUPLICATE_KEY = _err("INVALID_ARGUMENT", "etcdserver: duplicate key given in txn request")
INVALID_SORT_OPTION = _err("INVALID_ARGUMENT", "etcdserver: invalid sort option")
REQUEST_TOO_LARGE = _err("INVALID_ARGUMENT", "etcdserver: request is too large")
COMPACTED = _err("OUT_OF_RANGE", "etcdserver: mvcc: required revision has been compacted")
FUTURE_REV = _err("OUT_OF_RANGE", "etcdserver: mvcc: required revision is a future revision")
NO_SPACE = _err("RESOURCE_EXHAUSTED", "etcdserver: mvcc: database space exceeded")
CORRUPT = _err("DATA_LOSS", "etcdserver: corrupt cluster")

# Lease
LEASE_NOT_FOUND = _err("NOT_FOUND", "etcdserver: requested lease not found")
LEASE_EXISTS = _err("FAILED_PRECONDITION", "etcdserver: lease already exists")
LEASE_TTL_TOO_LARGE = _err("OUT_OF_RANGE", "etcdserver: too large lease TTL")

# Cluster and Maintenance
MEMBER_NOT_FOUND = _err("NOT_FOUND", "etcdserver: member not found")
MEMBER_ID_EXISTS = _err("FAILED_PRECONDITION", "etcdserver: member ID already exist")
PEER_URL_EXISTS = _err("FAILED_PRECONDITION", "etcdserver: Peer URLs already exists")
INVALID_MEMBER_URLS = _err("INVALID_ARGUMENT", "etcdserver: given member URLs are invalid")
RECONFIG_NOT_ENOUGH_MEMBERS = "etcdserver: re-configuration failed due to not enough started members"
MEMBER_NOT_LEARNER = _err("FAILED_PRECONDITION", "etcdserver: can only promote a learner member")
BAD_LEADER_TRANSFEREE = _err("FAILED_PRECONDITION", "etcdserver: bad leader transferee")

# Auth: the public statuses (rpctypes), and the raw "auth: ..." texts that etcd answers, with code
# Unknown, where its handlers return the auth store's error unconverted (Hash, HashKV, Defragment,
# Snapshot, Lock/Election) or where no public status exists (a password given for a no-password user).
AUTH_ROOT_USER_NOT_EXIST = _err("FAILED_PRECONDITION", "etcdserver: root user does not exist")
AUTH_ROOT_ROLE_NOT_EXIST = _err("FAILED_PRECONDITION", "etcdserver: root user does not have root role")
AUTH_USER_ALREADY_EXIST = _err("FAILED_PRECONDITION", "etcdserver: user name already exists")
AUTH_USER_EMPTY = _err("INVALID_ARGUMENT", "etcdserver: user name is empty")
AUTH_USER_NOT_FOUND = _err("FAILED_PRECONDITION", "etcdserver: user name not found")
AUTH_ROLE_ALREADY_EXIST = _err("FAILED_PRECONDITION", "etcdserver: role name already exists")
AUTH_ROLE_NOT_FOUND = _err("FAILED_PRECONDITION", "etcdserver: role name not found")
AUTH_ROLE_EMPTY = _err("INVALID_ARGUMENT", "etcdserver: role name is empty")
AUTH_PERMISSION_NOT_GIVEN = _err("INVALID_ARGUMENT", "etcdserver: permission not given")
AUTH_FAILED = _err("INVALID_ARGUMENT", "etcdserver: authentication failed, invalid user ID or password")
AUTH_NO_PASSWORD_USER = _err("UNKNOWN", "auth: authentication failed, password was given for no password user")
AUTH_PERMISSION_DENIED = _err("PERMISSION_DENIED", "etcdserver: permission denied")
AUTH_ROLE_NOT_GRANTED = _err("FAILED_PRECONDITION", "etcdserver: role is not granted to the user")
AUTH_PERMISSION_NOT_GRANTED = _err("FAILED_PRECONDITION", "etcdserver: permission is not granted to the role")
AUTH_NOT_ENABLED = _err("FAILED_PRECONDITION", "etcdserver: authentication is not enabled")
AUTH_INVALID_TOKEN = _err("UNAUTHENTICATED", "etcdserver: invalid auth token")
AUTH_INVALID_MGMT = _err("INVALID_ARGUMENT", "etcdserver: invalid auth management")
AUTH_OLD_REVISION = _err("INVALID_ARGUMENT", "etcdserver: revision of auth store is old")

_RAW_AUTH_TEXT = {
    AUTH_ROOT_USER_NOT_EXIST: "auth: root user does not exist",
    AUTH_ROOT_ROLE_NOT_EXIST: "auth: root user does not have root role",
    AUTH_USER_ALREADY_EXIST: "auth: user already exists",
    AUTH_USER_EMPTY: "auth: user name is empty",
    AUTH_USER_NOT_FOUND: "auth: user not found",
    AUTH_ROLE_ALREADY_EXIST: "auth: role already exists",
    AUTH_ROLE_NOT_FOUND: "auth: role not found",
    AUTH_ROLE_EMPTY: "auth: role name is empty",
    AUTH_PERMISSION_NOT_GIVEN: "auth: permission not given",
    AUTH_FAILED: "auth: authentication failed, invalid user ID or password",
    AUTH_PERMISSION_DENIED: "auth: permission denied",
    AUTH_ROLE_NOT_GRANTED: "auth: role is not granted to the user",
    AUTH_PERMISSION_NOT_GRANTED: "auth: permission is not granted to the role",
    AUTH_NOT_ENABLED: "auth: authentication is not enabled",
    AUTH_INVALID_TOKEN: "auth: invalid auth token",
    AUTH_INVALID_MGMT: "auth: invalid auth management",
    AUTH_OLD_REVISION: "auth: revision in header is old",
}

_RAW_AUTH_BY_STATUS = {(public.code, public.message): raw for public, raw in _RAW_AUTH_TEXT.items()}


def unconverted(error: EtcdError) -> EtcdError:
    """The status etcd gives where a handler returns the auth store's error without converting it:
    code Unknown with the store's own "auth: ..." text (other errors pass through)."""
    raw = _RAW_AUTH_BY_STATUS.get((error.code, error.message))
    return EtcdError("UNKNOWN", raw) if raw is not None else error


def go_status_text(error: EtcdError) -> str:
    """grpc-go's text of a status error, ``rpc error: code = X desc = Y``: what etcd puts where it
    reports a status inside a message (a watch cancelled for lack of permission)."""
    code = "Canceled" if error.code == "CANCELLED" else \
        "".join(part.capitalize() for part in error.code.split("_"))
    return f"rpc error: code = {code} desc = {error.message}"
