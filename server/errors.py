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
