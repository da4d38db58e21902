"""Small builders and assertions shared by the dual-target API tests in tests/api.

Not a test module (no ``test_`` prefix). pytest puts tests/api on sys.path (rootdir conftest, no
``__init__.py``), so the test modules import it as ``etcd_api_helpers``.
"""

from __future__ import annotations

from contextlib import contextmanager

import grpc
import pytest

from server.proto import rpc_pb2

# Default single-node etcd identity (reference §2): name "default", peer URL http://localhost:2380,
# token "etcd-cluster"; a fresh single node is at raft term 2.
MEMBER_ID = 0x8E9E05C52164694D
CLUSTER_ID = 0xCDF818194E3A8C32
FRESH_RAFT_TERM = 2

COMPACTED = "etcdserver: mvcc: required revision has been compacted"
FUTURE_REV = "etcdserver: mvcc: required revision is a future revision"
EMPTY_KEY = "etcdserver: key is not provided"
KEY_NOT_FOUND = "etcdserver: key not found"
VALUE_PROVIDED = "etcdserver: value is provided"
LEASE_PROVIDED = "etcdserver: lease is provided"
LEASE_NOT_FOUND = "etcdserver: requested lease not found"
TOO_MANY_OPS = "etcdserver: too many operations in txn request"
DUPLICATE_KEY = "etcdserver: duplicate key given in txn request"
TOO_LARGE = "etcdserver: request is too large"
NO_SPACE = "etcdserver: mvcc: database space exceeded"
CORRUPT = "etcdserver: corrupt cluster"

MAX_REQUEST_BYTES = 1572864  # 1.5 MiB, etcd's default --max-request-bytes

R = rpc_pb2.RangeRequest
C = rpc_pb2.Compare


@contextmanager
def rpc_error(code: grpc.StatusCode, details: str | None):
    """Expect a gRPC error with exactly this code and (unless None) exactly this message."""
    with pytest.raises(grpc.RpcError) as info:
        yield info
    assert info.value.code() == code, (info.value.code(), info.value.details())
    if details is not None:
        assert info.value.details() == details


def kv_tuple(kv) -> tuple:
    return (kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease)


def kv_tuples(kvs) -> list[tuple]:
    return [kv_tuple(kv) for kv in kvs]


def keys(kvs) -> list[bytes]:
    return [kv.key for kv in kvs]


def put(target, key: bytes, value: bytes = b"", **kw):
    return target.kv.Put(rpc_pb2.PutRequest(key=key, value=value, **kw))


def get(target, key: bytes, range_end: bytes = b"", **kw):
    return target.kv.Range(rpc_pb2.RangeRequest(key=key, range_end=range_end, **kw))


def delete(target, key: bytes, range_end: bytes = b"", **kw):
    return target.kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=key, range_end=range_end, **kw))


def txn(target, compare=(), success=(), failure=()):
    return target.kv.Txn(rpc_pb2.TxnRequest(compare=list(compare), success=list(success),
                                            failure=list(failure)))


def current_revision(target) -> int:
    return get(target, b"\x00").header.revision


def op_range(key: bytes, range_end: bytes = b"", **kw) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=key, range_end=range_end, **kw))


def op_put(key: bytes, value: bytes = b"", **kw) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=value, **kw))


def op_delete(key: bytes, range_end: bytes = b"", **kw) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(
        key=key, range_end=range_end, **kw))


def op_txn(compare=(), success=(), failure=()) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_txn=rpc_pb2.TxnRequest(
        compare=list(compare), success=list(success), failure=list(failure)))


def cmp(key: bytes, target, result, range_end: bytes = b"", **operand) -> rpc_pb2.Compare:
    """Compare builder: ``cmp(b"k", C.VERSION, C.EQUAL, version=1)``."""
    return rpc_pb2.Compare(key=key, target=target, result=result, range_end=range_end, **operand)


def assert_full_header(header, revision: int) -> None:
    assert header.cluster_id == CLUSTER_ID
    assert header.member_id == MEMBER_ID
    assert header.raft_term == FRESH_RAFT_TERM
    assert header.revision == revision


def assert_revision_only_header(response, revision: int) -> None:
    """Txn sub-responses carry a header holding only ``revision`` (reference §5.4)."""
    assert response.HasField("header")
    assert (response.header.cluster_id, response.header.member_id, response.header.raft_term,
            response.header.revision) == (0, 0, 0, revision)
