"""Small builders and assertions shared by the dual-target API tests in tests/api.

Not a test module (no ``test_`` prefix). pytest puts tests/api on sys.path (rootdir conftest, no
``__init__.py``), so the test modules import it as ``etcd_api_helpers``.
"""

from __future__ import annotations

import queue
import threading
import time
from contextlib import contextmanager

import grpc
import pytest

from etcdlite.proto import kv_pb2, rpc_pb2

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


# -------------------------------------------------------------------------------------------------
# Lock / Election helpers (added for test_lock.py, test_election.py and tests/clients,
# tests/concurrency): leases, bounded waiting for pending calls, and reading server streams with
# timeouts.
# -------------------------------------------------------------------------------------------------

import queue as _queue  # noqa: E402
import threading as _threading  # noqa: E402
import time as _time  # noqa: E402

PENDING_SECONDS = 0.3  # how long a blocked Lock/Campaign is watched before calling it "pending"


def grant_id(target, ttl: int = 60, lease_id: int = 0) -> int:
    """Grant a lease (optionally with a chosen ID); return its ID."""
    return target.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=ttl, ID=lease_id)).ID


def assert_pending(future, seconds: float = PENDING_SECONDS) -> None:
    """A gRPC future (e.g. a blocked Lock or Campaign) is still not answered after ``seconds``."""
    _time.sleep(seconds)
    assert not future.done(), future.result() if future.done() else None


def wait_for_keys(target, prefix: bytes, count: int, timeout: float = 5.0) -> list:
    """Wait until at least ``count`` keys exist under ``prefix``; return them (by key order).
    Uses ``wait_until`` of the lease/watch helper section below."""
    end = prefix[:-1] + bytes([prefix[-1] + 1])
    return wait_until(lambda: (lambda kvs: kvs if len(kvs) >= count else None)(
        list(get(target, prefix, end).kvs)), timeout)


class StreamReader:
    """Reads a server stream in a background thread so tests can wait with timeouts.

    ``next(timeout)`` returns the next message (fails if none arrives in time), ``assert_quiet``
    checks that nothing arrives for a while; ``close`` cancels the call.
    """

    _END = object()

    def __init__(self, call) -> None:
        self.call = call
        self._queue: _queue.Queue = _queue.Queue()
        self._thread = _threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for message in self.call:
                self._queue.put(message)
        except Exception as exc:  # noqa: BLE001 - handed to the reader (cancellation ends here too)
            self._queue.put(exc)
        self._queue.put(self._END)

    def next(self, timeout: float = 5.0):
        try:
            item = self._queue.get(timeout=timeout)
        except _queue.Empty:
            raise AssertionError(f"no stream message within {timeout} s") from None
        if item is self._END:
            raise AssertionError("the stream ended")
        if isinstance(item, Exception):
            raise item
        return item

    def assert_quiet(self, seconds: float = PENDING_SECONDS) -> None:
        try:
            item = self._queue.get(timeout=seconds)
        except _queue.Empty:
            return
        raise AssertionError(f"unexpected stream item: {item!r}")

    def close(self) -> None:
        self.call.cancel()
        self._thread.join(5)


# -- Lease and Watch (reference §6, §7, §11.2, §11.3) -------------------------------------------

LEASE_EXISTS = "etcdserver: lease already exists"
LEASE_TTL_TOO_LARGE = "etcdserver: too large lease TTL"
MAX_LEASE_TTL = 9_000_000_000
MIN_LEASE_TTL = 2  # etcd's minimum with the default heartbeat / election timeout
WATCH_EMPTY_RANGE = "mvcc: watcher range is empty"
WATCH_DUPLICATE_ID = "mvcc: duplicate watch ID provided on the WatchStream"

PUT = kv_pb2.Event.PUT
DELETE = kv_pb2.Event.DELETE
NOPUT = rpc_pb2.WatchCreateRequest.NOPUT
NODELETE = rpc_pb2.WatchCreateRequest.NODELETE

STREAM_WAIT = 5.0  # the longest any single stream read waits before the test fails
QUIET = 0.5  # how long "nothing arrives" is watched for


def grant(target, ttl: int, lease_id: int = 0):
    """LeaseGrant; returns the whole response (``grant_id`` returns only the ID)."""
    return target.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=ttl, ID=lease_id))


def revoke(target, lease_id: int):
    return target.lease.LeaseRevoke(rpc_pb2.LeaseRevokeRequest(ID=lease_id))


def time_to_live(target, lease_id: int, keys: bool = False):
    return target.lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=lease_id, keys=keys))


def lease_ids(target) -> list[int]:
    return [status.ID for status in target.lease.LeaseLeases(rpc_pb2.LeaseLeasesRequest()).leases]


def wait_until(predicate, timeout: float = STREAM_WAIT, interval: float = 0.02):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)


_END = object()


class BidiStream:
    """A bidirectional gRPC stream driven from the test: ``send`` requests, ``next`` response with
    a bounded wait, ``half_close`` the request side, ``close`` cancels the call. Use as a context
    manager so the call is always cancelled."""

    def __init__(self, method) -> None:
        self._requests: queue.Queue = queue.Queue()
        self._responses: queue.Queue = queue.Queue()
        self.error: grpc.RpcError | None = None
        self.ended = False
        self._call = method(self._request_iterator())
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _request_iterator(self):
        while True:
            request = self._requests.get()
            if request is _END:
                return
            yield request

    def _read(self) -> None:
        try:
            for response in self._call:
                self._responses.put(response)
        except grpc.RpcError as error:
            self.error = error
        self._responses.put(_END)

    def send(self, request) -> None:
        self._requests.put(request)

    def half_close(self) -> None:
        self._requests.put(_END)

    def next(self, timeout: float = STREAM_WAIT):
        try:
            response = self._responses.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no stream response within {timeout} s")
        if response is _END:
            self._responses.put(_END)
            self.ended = True
            pytest.fail(f"the stream ended (error: {self.error})")
        return response

    def expect_nothing(self, duration: float = QUIET) -> None:
        """Nothing arrives on the stream for ``duration`` seconds."""
        try:
            response = self._responses.get(timeout=duration)
        except queue.Empty:
            return
        pytest.fail(f"unexpected stream response: {response}")

    def wait_for_end(self, timeout: float = STREAM_WAIT):
        """Wait until the server ends the stream; return its error (None when it ended with OK)."""
        self._reader.join(timeout)
        assert not self._reader.is_alive(), f"the stream did not end within {timeout} s"
        return self.error

    def close(self) -> None:
        self._call.cancel()
        self._requests.put(_END)
        self._reader.join(STREAM_WAIT)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class KeepAliveStream(BidiStream):
    def __init__(self, target) -> None:
        super().__init__(target.lease.LeaseKeepAlive)

    def keep_alive(self, lease_id: int):
        """Send one keep-alive request and return its response."""
        self.send(rpc_pb2.LeaseKeepAliveRequest(ID=lease_id))
        return self.next()


class WatchStream(BidiStream):
    def __init__(self, target) -> None:
        super().__init__(target.watch.Watch)

    def create(self, key: bytes, range_end: bytes = b"", **kw) -> None:
        self.send(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(
            key=key, range_end=range_end, **kw)))

    def watch(self, key: bytes, range_end: bytes = b"", **kw):
        """Create a watcher and return its created response (which must be a plain success)."""
        self.create(key, range_end, **kw)
        response = self.next()
        assert response.created and not response.canceled, response
        assert not response.events
        return response

    def cancel(self, watch_id: int) -> None:
        self.send(rpc_pb2.WatchRequest(cancel_request=rpc_pb2.WatchCancelRequest(
            watch_id=watch_id)))

    def request_progress(self) -> None:
        self.send(rpc_pb2.WatchRequest(progress_request=rpc_pb2.WatchProgressRequest()))

    def events(self, count: int, watch_id: int | None = None) -> tuple[list, list]:
        """Read event responses until ``count`` events arrived; return (events, responses)."""
        events, responses = [], []
        while len(events) < count:
            response = self.next()
            assert not (response.created or response.canceled), response
            if watch_id is not None:
                assert response.watch_id == watch_id, response
            assert response.events, response
            responses.append(response)
            events.extend(response.events)
        assert len(events) == count, events
        return events, responses


def event_tuple(event) -> tuple:
    """(type, kv tuple, prev_kv tuple or None): a DELETE's kv is (key, b"", 0, mod_revision, 0, 0)."""
    prev = kv_tuple(event.prev_kv) if event.HasField("prev_kv") else None
    return (event.type, kv_tuple(event.kv), prev)


def event_tuples(events) -> list[tuple]:
    return [event_tuple(event) for event in events]


def response_shape(response) -> tuple:
    """A watch response without its events and header details:
    (header.revision, watch_id, created, canceled, compact_revision, cancel_reason)."""
    return (response.header.revision, response.watch_id, response.created, response.canceled,
            response.compact_revision, response.cancel_reason)


def assert_deadline_error(error: grpc.RpcError) -> None:
    """A call whose deadline passed while the server waited. The client's own timer usually ends it
    (DEADLINE_EXCEEDED); real etcd's answer can also win the race: its embedded client's context
    error, relabelled Unknown "context deadline exceeded" (reference §8.5)."""
    observed = (error.code(), error.details())
    assert observed[0] == grpc.StatusCode.DEADLINE_EXCEEDED or observed == (
        grpc.StatusCode.UNKNOWN, "context deadline exceeded"), observed
