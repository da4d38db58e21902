"""Property test: with auth enabled, every request of a user is allowed exactly when a small model
of etcd's permission rules says so, and refused with etcd's permission-denied error otherwise.

Random roles grant READ / WRITE / READWRITE on single keys, ranges, prefixes and from-key ranges
over a small key alphabet; random users hold random roles; each makes random Range, Put,
DeleteRange, Txn (with compares), Watch, LeaseRevoke and Lock requests. The model (validated
against etcd 3.4.23 and 3.5.1):

* a permission on ``key`` alone covers that one key; ``[key, range_end)`` a range; range_end
  ``\\x00`` means "to the end". A user's permissions of one type are the union over its roles.
* a request on one key needs that key in the union; a request on a range needs the whole range
  covered by the union (adjacent permissions join up).
* Range: READ. Put: WRITE (+ READ with prev_kv). DeleteRange: WRITE (+ READ with prev_kv).
  Txn: READ on every compare, then every op of both branches as above (ops at the top level only:
  nested txns and txn puts with prev_kv/lease are the known 3.4.23/3.5.1 bypasses, not generated).
  Watch: READ (else created + cancelled); a from-key watch only on its start key (etcd's quirk). LeaseRevoke: WRITE on every key attached to the lease.
  Lock(name): READ on the prefix ``name/`` and WRITE on its own key ``name/<lease hex>``.

Each target serves all examples; every example starts by resetting users, roles, keys and leases.
"""

from __future__ import annotations

import time

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auth_helpers import (LOCK_PERMISSION_DENIED, PERMISSION_DENIED, READ, READWRITE,
                          ROOT_PASSWORD, TARGETS, WRITE, add_role, add_user, auth_stub, enable_root,
                          login, start_auth_target)
from etcd_api_helpers import BidiStream, cmp, op_delete, op_put, op_range
from etcdlite.proto import rpc_pb2, v3lock_pb2

C = rpc_pb2.Compare
KEYS = [b"a", b"aa", b"ab", b"b", b"ba", b"bb", b"c"]
PREFIXES = [b"a", b"b"]
LOCK_NAMES = [b"a", b"b"]
INF = None  # the open end of a from-key range
TIME_BUDGET = 50.0  # seconds of examples per target, on top of hypothesis' own example cap


def prefix_end(prefix: bytes) -> bytes:
    return prefix[:-1] + bytes([prefix[-1] + 1])


# -- key specs: (key, range_end) as sent; the model's half-open interval -------------------------

keys = st.sampled_from(KEYS)


@st.composite
def key_specs(draw, wide: bool = False):
    """A key or range; ``wide`` (permissions) favours ranges, so more requests are allowed."""
    kind = draw(st.sampled_from(["key", "range", "prefix", "prefix", "from"] if wide
                                else ["key", "key", "range", "prefix", "from"]))
    if kind == "key":
        return (draw(keys), b"")
    if kind == "range":
        lo, hi = sorted(draw(st.lists(keys, min_size=2, max_size=2, unique=True)))
        return (lo, hi)
    if kind == "prefix":
        p = draw(st.sampled_from(PREFIXES))
        return (p, prefix_end(p))
    return (draw(st.sampled_from([*KEYS, b"\x00"])), b"\x00")


def interval(key: bytes, range_end: bytes) -> tuple[bytes, bytes | None]:
    if range_end == b"":
        return (key, key + b"\x00")
    if range_end == b"\x00":
        return (key, INF)
    return (key, range_end)


def _lt(a: bytes, b: bytes | None) -> bool:
    return b is INF or a < b


def covered(union: list[tuple[bytes, bytes | None]], key: bytes, range_end: bytes) -> bool:
    """Is the request's key (range_end empty) or range inside the union of intervals?"""
    if range_end == b"":
        return any(lo <= key and _lt(key, hi) for lo, hi in union)
    lo, hi = interval(key, range_end)
    reach = lo
    for begin, end in sorted(union, key=lambda iv: iv[0]):
        if begin > reach:
            break
        if end is INF:
            return True
        if end > reach:
            reach = end
        if hi is not INF and reach >= hi:
            return True
    return False


# -- the scenario --------------------------------------------------------------------------------

perm_types = st.sampled_from([READ, WRITE, READWRITE, READWRITE])
# one permission per start key and role: a second grant on the same key replaces the first (same
# range_end) or, depending on etcd's sorted position, sits beside it -- tested elsewhere
roles = st.lists(st.tuples(perm_types, key_specs(wide=True)), min_size=0, max_size=4,
                 unique_by=lambda perm: perm[1][0])


@st.composite
def requests(draw, n_users: int):
    user = draw(st.integers(0, n_users - 1))
    kind = draw(st.sampled_from(["range", "put", "delete", "txn", "watch", "revoke", "lock"]))
    if kind == "range":
        return (user, kind, draw(key_specs()))
    if kind == "put":
        return (user, kind, draw(keys), draw(st.booleans()))
    if kind == "delete":
        return (user, kind, draw(key_specs()), draw(st.booleans()))
    if kind == "txn":
        compares = draw(st.lists(key_specs(), max_size=2))
        # a branch: reads and at most one write (two writes may overlap: a txn validation error)
        reads = st.lists(st.tuples(st.just("range"), key_specs()), max_size=1)
        writes = st.lists(st.one_of(st.tuples(st.just("put"), keys),
                                    st.tuples(st.just("delete"), key_specs(), st.booleans())),
                          max_size=1)
        return (user, kind, compares, draw(reads) + draw(writes), draw(reads) + draw(writes))
    if kind == "watch":
        return (user, kind, draw(key_specs()))
    if kind == "revoke":
        return (user, kind, draw(st.lists(keys, max_size=2, unique=True)))
    return (user, kind, draw(st.sampled_from(LOCK_NAMES)))


@st.composite
def scenarios(draw):
    n_roles = draw(st.integers(1, 3))
    role_perms = [draw(roles) for _ in range(n_roles)]
    n_users = draw(st.integers(1, 2))
    user_roles = [draw(st.lists(st.integers(0, n_roles - 1), min_size=1 if number == 0 else 0,
                                max_size=n_roles, unique=True))
                  for number in range(n_users)]
    reqs = draw(st.lists(requests(n_users), min_size=3, max_size=10))
    return role_perms, user_roles, reqs


class Model:
    def __init__(self, role_perms, user_roles) -> None:
        self.read: list[list] = []
        self.write: list[list] = []
        for held in user_roles:
            read, write = [], []
            for role in held:
                for perm_type, (key, range_end) in role_perms[role]:
                    iv = interval(key, range_end)
                    if perm_type in (READ, READWRITE):
                        read.append(iv)
                    if perm_type in (WRITE, READWRITE):
                        write.append(iv)
            self.read.append(read)
            self.write.append(write)

    def can_read(self, user, key, range_end=b"") -> bool:
        return covered(self.read[user], key, range_end)

    def can_write(self, user, key, range_end=b"") -> bool:
        return covered(self.write[user], key, range_end)

    def _op(self, user, op) -> bool:
        if op[0] == "range":
            return self.can_read(user, *op[1])
        if op[0] == "put":
            return self.can_write(user, op[1])
        _, spec, prev_kv = op
        return self.can_write(user, *spec) and (not prev_kv or self.can_read(user, *spec))

    def allows(self, request, lease_id: int) -> bool:
        user, kind, *args = request
        if kind == "watch" and args[0][1] == b"\x00":
            # etcd turns a watch's from-key range_end "\x00" into "" before its permission
            # check, so it checks a read of the start key alone (3.4.23 and 3.5.1)
            return self.can_read(user, args[0][0])
        if kind in ("range", "watch"):
            return self.can_read(user, *args[0])
        if kind == "put":
            key, prev_kv = args
            return self.can_write(user, key) and (not prev_kv or self.can_read(user, key))
        if kind == "delete":
            return self._op(user, ("delete", *args))
        if kind == "txn":
            compares, success, failure = args
            return (all(self.can_read(user, *spec) for spec in compares)
                    and all(self._op(user, op) for op in [*success, *failure]))
        if kind == "revoke":
            return all(self.can_write(user, key) for key in args[0])
        name = args[0]
        own_key = name + b"/" + format(lease_id, "x").encode()
        return (self.can_read(user, name + b"/", prefix_end(name + b"/"))
                and self.can_write(user, own_key))


# -- running it against a server -----------------------------------------------------------------

def _reset(target, root) -> None:
    auth = auth_stub(target)
    for user in auth.UserList(rpc_pb2.AuthUserListRequest(), metadata=root).users:
        if user != "root":
            auth.UserDelete(rpc_pb2.AuthUserDeleteRequest(name=user), metadata=root)
    for role in auth.RoleList(rpc_pb2.AuthRoleListRequest(), metadata=root).roles:
        if role != "root":
            auth.RoleDelete(rpc_pb2.AuthRoleDeleteRequest(role=role), metadata=root)
    for status in target.lease.LeaseLeases(rpc_pb2.LeaseLeasesRequest(), metadata=root).leases:
        target.lease.LeaseRevoke(rpc_pb2.LeaseRevokeRequest(ID=status.ID), metadata=root)
    target.kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"\x00", range_end=b"\x00"),
                          metadata=root)


def _txn_op(op) -> rpc_pb2.RequestOp:
    if op[0] == "range":
        return op_range(*op[1])
    if op[0] == "put":
        return op_put(op[1], b"t")
    return op_delete(*op[1], prev_kv=op[2])


def _perform(target, root, md, request, lease_id: int):
    """Make the request; return "ok" or the (code, details) of its error."""
    _, kind, *args = request
    try:
        if kind == "range":
            target.kv.Range(rpc_pb2.RangeRequest(key=args[0][0], range_end=args[0][1]),
                            metadata=md)
        elif kind == "put":
            target.kv.Put(rpc_pb2.PutRequest(key=args[0], value=b"p", prev_kv=args[1]),
                          metadata=md)
        elif kind == "delete":
            (key, range_end), prev_kv = args
            target.kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=key, range_end=range_end,
                                                             prev_kv=prev_kv), metadata=md)
        elif kind == "txn":
            compares, success, failure = args
            target.kv.Txn(rpc_pb2.TxnRequest(
                compare=[cmp(key, C.VERSION, C.GREATER, range_end=end, version=0)
                         for key, end in compares],
                success=[_txn_op(op) for op in success],
                failure=[_txn_op(op) for op in failure]), metadata=md)
        elif kind == "watch":
            with BidiStream(lambda reqs: target.watch.Watch(reqs, metadata=md)) as stream:
                stream.send(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(
                    key=args[0][0], range_end=args[0][1])))
                response = stream.next()
                assert response.created
                if response.canceled:
                    assert response.cancel_reason == (
                        "rpc error: code = PermissionDenied desc = etcdserver: permission denied")
                    return PERMISSION_DENIED
        elif kind == "revoke":
            for key in args[0]:
                target.kv.Put(rpc_pb2.PutRequest(key=key, value=b"l", lease=lease_id),
                              metadata=root)
            target.lease.LeaseRevoke(rpc_pb2.LeaseRevokeRequest(ID=lease_id), metadata=md)
        else:
            target.lock.Lock(v3lock_pb2.LockRequest(name=args[0], lease=lease_id), metadata=md,
                             timeout=10)
        return "ok"
    except grpc.RpcError as error:
        return (error.code(), error.details())


def _lease(target, root, number: int) -> int:
    lease_id = 0x1000 + number
    target.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(ID=lease_id, TTL=60), metadata=root)
    return lease_id


@pytest.fixture(params=TARGETS)
def auth_server(request, tmp_path):
    server = start_auth_target(request.param, tmp_path)
    enable_root(server)
    auth_stub(server).AuthEnable(rpc_pb2.AuthEnableRequest())
    server.root = login(server, "root", ROOT_PASSWORD)
    server.started = time.monotonic()
    yield server
    server.close()


def test_every_request_is_allowed_exactly_when_the_permission_model_says_so(auth_server):
    target = auth_server
    root = target.root

    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(scenarios())
    def check(scenario):
        if time.monotonic() - target.started > TIME_BUDGET:
            return  # the per-target time bound: remaining examples are skipped
        role_perms, user_roles, reqs = scenario
        _reset(target, root)
        for number, perms in enumerate(role_perms):
            add_role(target, f"role{number}",
                     [(perm_type, key, range_end) for perm_type, (key, range_end) in perms],
                     metadata=root)
        tokens = []
        for number, held in enumerate(user_roles):
            add_user(target, f"user{number}", "pw", roles=[f"role{r}" for r in held],
                     metadata=root)
            tokens.append(login(target, f"user{number}", "pw"))
        model = Model(role_perms, user_roles)
        for number, request in enumerate(reqs):
            lease_id = _lease(target, root, number)
            outcome = _perform(target, root, tokens[request[0]], request, lease_id)
            denied = LOCK_PERMISSION_DENIED if request[1] == "lock" else PERMISSION_DENIED
            expected = "ok" if model.allows(request, lease_id) else denied
            assert outcome == expected, (request, role_perms, user_roles)
            try:
                target.lease.LeaseRevoke(rpc_pb2.LeaseRevokeRequest(ID=lease_id), metadata=root)
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.NOT_FOUND  # revoked by the request

    check()


@pytest.mark.parametrize("union, key, range_end, expected", [
    ([(b"a", b"c")], b"b", b"", True),
    ([(b"a", b"c")], b"c", b"", False),
    ([(b"a", b"b"), (b"b", b"c")], b"a", b"c", True),
    ([(b"a", b"b"), (b"b\x00", b"c")], b"a", b"c", False),
    ([(b"a", b"a\x00"), (b"a\x00", b"c")], b"a", b"c", True),
    ([(b"b", INF)], b"c", b"\x00", True),
    ([(b"b", b"z")], b"c", b"\x00", False),
    ([(b"a", b"c"), (b"b", b"e")], b"a", b"d", True),
])
def test_the_models_coverage_rule(union, key, range_end, expected):
    assert covered(union, key, range_end) is expected
