"""Lock service (v3lockpb.Lock): etcd's mutex recipe run by the server (reference §8, §11.4, §12).

Every test holds on etcd 3.4.23 and 3.5.1; where the two differ (a waiter whose own key vanished
while waiting) the test asserts each release's answer, and etcdlite gives 3.5's.
"""

from __future__ import annotations

import grpc
import pytest

from etcd_api_helpers import assert_deadline_error
from etcd_api_helpers import (
    CORRUPT, DELETE, EMPTY_KEY, LEASE_NOT_FOUND, MEMBER_ID, NO_SPACE,
                              PUT, TOO_LARGE, C, WatchStream,
                              assert_full_header, assert_pending, event_tuples,
                              cmp, current_revision, delete, get, grant_id, kv_tuple, op_put, put,
                              revoke, rpc_error, txn, wait_for_keys, wait_until)
from etcdlite.proto import rpc_pb2, v3lock_pb2

SESSION_EXPIRED = "mutex: session is expired"
RESULT_TIMEOUT = 10.0  # bound on waiting for a lock that must be granted


def lock(target, name: bytes, lease: int, **kw):
    return target.lock.Lock(v3lock_pb2.LockRequest(name=name, lease=lease), **kw)


def lock_future(target, name: bytes, lease: int, **kw):
    return target.lock.Lock.future(v3lock_pb2.LockRequest(name=name, lease=lease), **kw)


def unlock(target, key: bytes):
    return target.lock.Unlock(v3lock_pb2.UnlockRequest(key=key))


def prefix_keys(target, prefix: bytes) -> list[bytes]:
    end = prefix[:-1] + bytes([prefix[-1] + 1])
    return [kv.key for kv in get(target, prefix, end).kvs]


def enqueue(target, name: bytes, lease: int, waiting: int):
    """Start a Lock that must wait; return its future once its key exists (arrival is fixed)."""
    future = lock_future(target, name, lease)
    wait_for_keys(target, name + b"/", waiting)
    return future


def _assert_lost_key_answer(target, waiter, key: bytes) -> None:
    """What a waiter whose key was deleted while it waited gets once it is woken: etcd 3.4 reports
    success with that key although it no longer exists; 3.5 (and etcdlite) read the key once more
    and answer Unknown "mutex: session is expired"."""
    if target.etcd_version == "3.4":
        response = waiter.result(timeout=RESULT_TIMEOUT)
        assert response.key == key
        assert get(target, key).kvs == []
        return
    with pytest.raises(grpc.RpcError) as info:
        waiter.result(timeout=RESULT_TIMEOUT)
    assert (info.value.code(), info.value.details()) == (grpc.StatusCode.UNKNOWN, SESSION_EXPIRED)


# -- keys and headers ------------------------------------------------------------------------------


def test_uncontended_lock_key_is_name_slash_lowercase_hex_lease_and_header_is_the_txn_header(target):
    lease = grant_id(target, 60, 0x1ABCDEF)
    response = lock(target, b"mylock", lease)
    assert response.key == b"mylock/1abcdef"
    assert_full_header(response.header, 2)  # the txn that created the key
    # the key: empty value, attached to the caller's lease, created by that txn
    assert [kv_tuple(kv) for kv in get(target, b"mylock/1abcdef").kvs] == [
        (b"mylock/1abcdef", b"", 2, 2, 1, lease)]
    assert current_revision(target) == 2


def test_lock_name_is_raw_bytes_and_an_empty_name_gives_prefix_slash(target):
    lease = grant_id(target, 60, 0xFF)
    assert lock(target, b"", lease).key == b"/ff"
    assert lock(target, b"a/b c", lease).key == b"a/b c/ff"
    assert sorted(prefix_keys(target, b"/")) == [b"/ff"]


def test_same_lease_under_different_names_gives_independent_locks(target):
    lease = grant_id(target, 60, 0x10)
    first = lock(target, b"one", lease)
    second = lock(target, b"two", lease)
    assert (first.key, second.key) == (b"one/10", b"two/10")
    assert (first.header.revision, second.header.revision) == (2, 3)


def test_unlock_deletes_the_key_and_returns_the_delete_header(target):
    lease = grant_id(target, 60, 0x20)
    key = lock(target, b"l", lease).key
    response = unlock(target, key)
    assert_full_header(response.header, 3)
    assert get(target, key).kvs == []
    # the lock is free again: a new Lock acquires at once
    assert lock(target, b"l", lease).header.revision == 4


# -- blocking, order and release -------------------------------------------------------------------


def test_second_lock_with_another_lease_waits_until_unlock(target):
    holder_lease, waiter_lease = grant_id(target, 60, 0xA1), grant_id(target, 60, 0xA2)
    held = lock(target, b"l", holder_lease)
    waiter = lock_future(target, b"l", waiter_lease)
    assert_pending(waiter)
    # the waiter's key exists already (created at revision 3), after the holder's
    assert [kv_tuple(kv) for kv in get(target, b"l/", b"l0").kvs] == [
        (b"l/a1", b"", 2, 2, 1, holder_lease), (b"l/a2", b"", 3, 3, 1, waiter_lease)]
    released = unlock(target, held.key)
    assert released.header.revision == 4
    response = waiter.result(timeout=RESULT_TIMEOUT)
    assert response.key == b"l/a2"
    assert_full_header(response.header, 4)  # the revision at which the wait ended
    assert prefix_keys(target, b"l/") == [b"l/a2"]


def test_waiters_are_granted_in_arrival_order(target):
    leases = [grant_id(target, 60, 0xB0 + i) for i in range(5)]
    # arrival order deliberately differs from the key (lease) order
    order = [leases[3], leases[1], leases[4], leases[0], leases[2]]
    held = lock(target, b"fifo", order[0])
    waiters = [enqueue(target, b"fifo", lease, 2 + i) for i, lease in enumerate(order[1:])]
    assert_pending(waiters[0])
    current = held.key
    for i, waiter in enumerate(waiters):
        unlock(target, current)
        granted = waiter.result(timeout=RESULT_TIMEOUT)
        assert granted.key == b"fifo/%x" % order[i + 1]
        assert all(not later.done() for later in waiters[i + 1:])
        if i + 1 < len(waiters):
            assert_pending(waiters[i + 1], 0.1)
        current = granted.key


def test_lease_revoke_of_the_holder_releases_the_lock(target):
    holder_lease, waiter_lease = grant_id(target, 60, 0xC1), grant_id(target, 60, 0xC2)
    lock(target, b"l", holder_lease)
    waiter = lock_future(target, b"l", waiter_lease)
    assert_pending(waiter)
    revision = revoke(target, holder_lease).header.revision
    assert revision == 4
    response = waiter.result(timeout=RESULT_TIMEOUT)
    assert response.key == b"l/c2"
    assert response.header.revision == 4


def test_lease_expiry_of_the_holder_releases_the_lock(timed_target):
    target = timed_target
    holder_lease, waiter_lease = grant_id(target, 2, 0xD1), grant_id(target, 60, 0xD2)
    lock(target, b"l", holder_lease)
    waiter = lock_future(target, b"l", waiter_lease)
    assert_pending(waiter)
    target.advance(3)
    response = waiter.result(timeout=RESULT_TIMEOUT)
    assert response.key == b"l/d2"
    # the holder's key went with its lease, in one revision; the waiter's key is the only one left
    assert response.header.revision == 4
    assert prefix_keys(target, b"l/") == [b"l/d2"]


def test_a_plain_user_key_under_the_prefix_blocks_the_lock_until_deleted(target):
    put(target, b"l/plain", b"x")  # 2
    lease = grant_id(target, 60, 0xE1)
    waiter = lock_future(target, b"l", lease)
    assert_pending(waiter)
    assert delete(target, b"l/plain").header.revision == 4
    response = waiter.result(timeout=RESULT_TIMEOUT)
    assert (response.key, response.header.revision) == (b"l/e1", 4)


def test_keys_created_after_the_lock_key_do_not_block_it(target):
    lease = grant_id(target, 60, 0xE2)
    key = lock(target, b"l", lease).key
    put(target, b"l/newer", b"x")
    other = grant_id(target, 60, 0xE3)
    waiter = lock_future(target, b"l", other)
    assert_pending(waiter)  # behind both older keys
    unlock(target, key)
    assert_pending(waiter)  # l/newer is still older than the waiter's key
    delete(target, b"l/newer")
    assert waiter.result(timeout=RESULT_TIMEOUT).key == b"l/e3"


def test_lock_waits_for_every_older_key_not_only_the_oldest(target):
    leases = [grant_id(target, 60, 0xF0 + i) for i in range(3)]
    first = lock(target, b"l", leases[0])
    second = enqueue(target, b"l", leases[1], 2)
    third = enqueue(target, b"l", leases[2], 3)
    # the middle key goes away first (anyone may delete it): the third still waits for the oldest
    unlock(target, b"l/f1")
    assert_pending(third)
    assert_pending(second, 0.1)
    unlock(target, first.key)
    assert third.result(timeout=RESULT_TIMEOUT).key == b"l/f2"
    _assert_lost_key_answer(target, second, b"l/f1")


def test_txn_guarded_on_the_lock_key_succeeds_only_while_the_lock_is_held(target):
    lease = grant_id(target, 60, 0x51)
    key = lock(target, b"l", lease).key
    rev = get(target, key).kvs[0].create_revision
    guard = [cmp(key, C.CREATE, C.EQUAL, create_revision=rev)]
    response = txn(target, guard, [op_put(b"fenced", b"1")])
    assert response.succeeded
    assert response.header.revision == 3
    unlock(target, key)  # 4
    response = txn(target, guard, [op_put(b"fenced", b"2")])
    assert not response.succeeded
    # a new holder with the same lease has a new create revision: the old guard stays false
    key2 = lock(target, b"l", lease).key
    assert key2 == key
    assert not txn(target, guard, [op_put(b"fenced", b"3")]).succeeded
    assert get(target, b"fenced").kvs[0].value == b"1"


# -- same lease twice ------------------------------------------------------------------------------


def test_lock_twice_with_the_held_lease_returns_the_same_key_at_once_without_a_write(target):
    lease = grant_id(target, 60, 0x61)
    first = lock(target, b"l", lease)
    second = lock(target, b"l", lease, timeout=5)
    assert second.key == first.key == b"l/61"
    assert_full_header(second.header, first.header.revision)
    assert current_revision(target) == 2
    assert get(target, first.key).kvs[0].version == 1  # the key was not rewritten
    # one Unlock releases "both"
    unlock(target, first.key)
    other = grant_id(target, 60, 0x62)
    assert lock(target, b"l", other, timeout=5).key == b"l/62"


def test_two_waiters_with_the_same_lease_both_wait_and_both_get_the_lock(target):
    holder, shared = grant_id(target, 60, 0x71), grant_id(target, 60, 0x72)
    held = lock(target, b"l", holder)
    first = enqueue(target, b"l", shared, 2)
    second = lock_future(target, b"l", shared)
    assert_pending(second)
    assert not first.done()
    assert current_revision(target) == 3  # the second call wrote nothing
    unlock(target, held.key)
    assert first.result(timeout=RESULT_TIMEOUT).key == b"l/72"
    assert second.result(timeout=RESULT_TIMEOUT).key == b"l/72"
    assert get(target, b"l/72").kvs[0].create_revision == 3


# -- abandoned waiters -----------------------------------------------------------------------------


def test_cancelled_waiter_has_its_key_deleted_by_the_server(target):
    holder, waiter_lease = grant_id(target, 60, 0x81), grant_id(target, 60, 0x82)
    held = lock(target, b"l", holder)
    waiter = enqueue(target, b"l", waiter_lease, 2)
    assert prefix_keys(target, b"l/") == [b"l/81", b"l/82"]
    assert waiter.cancel()
    wait_until(lambda: prefix_keys(target, b"l/") == [b"l/81"])
    # the holder is unaffected, and the next Lock queues behind it only
    assert get(target, held.key).kvs
    assert get(target, b"l/82").kvs == []


def test_waiter_whose_deadline_expires_has_its_key_deleted_by_the_server(target):
    holder, waiter_lease = grant_id(target, 60, 0x91), grant_id(target, 60, 0x92)
    held = lock(target, b"l", holder)
    with pytest.raises(grpc.RpcError) as info:
        lock(target, b"l", waiter_lease, timeout=0.5)
    assert_deadline_error(info.value)
    wait_until(lambda: prefix_keys(target, b"l/") == [b"l/91"])
    # releasing the holder now leaves the lock free
    unlock(target, held.key)
    assert lock(target, b"l", grant_id(target, 60, 0x93), timeout=5).key == b"l/93"


# -- errors and edge cases -------------------------------------------------------------------------


def test_unlock_of_a_missing_key_succeeds_with_the_current_revision(target):
    put(target, b"x", b"1")
    put(target, b"x", b"2")
    response = unlock(target, b"l/doesnotexist")
    assert_full_header(response.header, 3)
    assert current_revision(target) == 3


def test_unlock_is_a_plain_delete_of_any_key(target):
    put(target, b"not-a-lock", b"v")
    assert unlock(target, b"not-a-lock").header.revision == 3
    assert get(target, b"not-a-lock").kvs == []


def test_unlock_with_an_empty_key_is_unknown_key_not_provided(target):
    with rpc_error(grpc.StatusCode.UNKNOWN, EMPTY_KEY):
        unlock(target, b"")


def test_lock_with_an_unknown_lease_is_unknown_lease_not_found(target):
    with rpc_error(grpc.StatusCode.UNKNOWN, LEASE_NOT_FOUND):
        lock(target, b"l", 0x12345)
    assert prefix_keys(target, b"l/") == []
    assert current_revision(target) == 1


def test_lock_with_lease_zero_creates_a_60_second_server_lease_for_the_key(target):
    before = {lease.ID for lease in target.lease.LeaseLeases(rpc_pb2.LeaseLeasesRequest()).leases}
    response = lock(target, b"l", 0)
    after = {lease.ID for lease in target.lease.LeaseLeases(rpc_pb2.LeaseLeasesRequest()).leases}
    (created,) = after - before
    assert response.key == b"l/%x" % created
    assert get(target, response.key).kvs[0].lease == created
    ttl = target.lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=created, keys=True))
    assert ttl.grantedTTL == 60
    assert 55 <= ttl.TTL <= 60
    assert list(ttl.keys) == [response.key]


# -- a waiter whose own key vanished while waiting (reference §8.3, §8.4): 3.4 vs 3.5 ---------------


def test_waiter_whose_lease_is_revoked_while_waiting_gets_session_expired_except_on_3_4(target):
    holder, waiter_lease = grant_id(target, 60, 0xA01), grant_id(target, 60, 0xA02)
    held = lock(target, b"l", holder)
    waiter = enqueue(target, b"l", waiter_lease, 2)
    revoke(target, waiter_lease)
    assert_pending(waiter)  # still waits for the older key
    unlock(target, held.key)
    _assert_lost_key_answer(target, waiter, b"l/a02")


def test_twin_waiter_of_a_cancelled_waiter_gets_session_expired_except_on_3_4(target):
    """Cancelling one of two waiters sharing a lease deletes the shared key."""
    holder, shared = grant_id(target, 60, 0xB01), grant_id(target, 60, 0xB02)
    held = lock(target, b"l", holder)
    first = enqueue(target, b"l", shared, 2)
    second = lock_future(target, b"l", shared)
    assert_pending(second)
    first.cancel()
    wait_until(lambda: prefix_keys(target, b"l/") == [held.key])
    unlock(target, held.key)
    _assert_lost_key_answer(target, second, b"l/b02")


# -- more of §8.1 ----------------------------------------------------------------------------------


def test_negative_lease_renders_as_signed_hex_in_the_lock_key(target):
    lease = grant_id(target, 60, -0x2A)
    assert lease == -0x2A
    assert lock(target, b"l", lease).key == b"l/-2a"


def test_lock_does_not_refresh_the_callers_lease(timed_target):
    target = timed_target
    lease = grant_id(target, 10, 0x3A)
    target.advance(4)
    lock(target, b"l", lease)
    ttl = target.lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=lease))
    assert ttl.grantedTTL == 10
    assert ttl.TTL <= 6


def test_watchers_see_exactly_the_lock_recipes_writes(target):
    leases = [grant_id(target, 60, 0x4A + i) for i in range(3)]
    held = lock(target, b"l", leases[0])  # 2
    second = enqueue(target, b"l", leases[1], 2)  # 3
    third = enqueue(target, b"l", leases[2], 3)  # 4
    third.cancel()  # 5: the server deletes the abandoned key
    wait_until(lambda: len(prefix_keys(target, b"l/")) == 2)
    unlock(target, held.key)  # 6
    unlock(target, second.result(timeout=RESULT_TIMEOUT).key)  # 7
    with WatchStream(target) as stream:
        stream.watch(b"\0", b"\0", start_revision=1)
        events, _ = stream.events(6)
    assert event_tuples(events) == [
        (PUT, (b"l/4a", b"", 2, 2, 1, leases[0]), None),
        (PUT, (b"l/4b", b"", 3, 3, 1, leases[1]), None),
        (PUT, (b"l/4c", b"", 4, 4, 1, leases[2]), None),
        (DELETE, (b"l/4c", b"", 0, 5, 0, 0), None),
        (DELETE, (b"l/4a", b"", 0, 6, 0, 0), None),
        (DELETE, (b"l/4b", b"", 0, 7, 0, 0), None),
    ]
    assert current_revision(target) == 7


# -- KV errors of the recipe's own requests come back as Unknown (§8.5, §11.4) ---------------------

ALARM_ACTIVATE, NOSPACE, CORRUPT_ALARM = 1, 1, 2


def test_lock_whose_internal_txn_is_too_large_is_unknown_request_too_large(target):
    lease = grant_id(target, 60, 0x5A)
    # the recipe's txn carries the key and the prefix several times: ~6 x 100 kB is fine ...
    assert lock(target, b"n" * 100_000, lease).key == b"n" * 100_000 + b"/5a"
    # ... ~6 x 500 kB is over etcd's 1.5 MiB request limit
    with rpc_error(grpc.StatusCode.UNKNOWN, TOO_LARGE):
        lock(target, b"m" * 500_000, lease)
    assert current_revision(target) == 2


def test_lock_under_a_nospace_alarm_is_unknown_space_exceeded_and_unlock_still_works(target):
    lease = grant_id(target, 60, 0x5B)
    key = lock(target, b"l", lease).key  # 2
    target.maintenance.Alarm(rpc_pb2.AlarmRequest(action=ALARM_ACTIVATE, memberID=MEMBER_ID,
                                                  alarm=NOSPACE))
    with rpc_error(grpc.StatusCode.UNKNOWN, NO_SPACE):
        lock(target, b"other", lease)
    with rpc_error(grpc.StatusCode.UNKNOWN, NO_SPACE):
        lock(target, b"other", 0)  # the session lease cannot be granted either
    assert unlock(target, key).header.revision == 3  # a delete is not refused


def test_lock_and_unlock_under_a_corrupt_alarm_are_unknown_corrupt_cluster(target):
    lease = grant_id(target, 60, 0x5C)
    key = lock(target, b"l", lease).key
    target.maintenance.Alarm(rpc_pb2.AlarmRequest(action=ALARM_ACTIVATE, memberID=MEMBER_ID,
                                                  alarm=CORRUPT_ALARM))
    with rpc_error(grpc.StatusCode.UNKNOWN, CORRUPT):
        lock(target, b"other", lease)
    with rpc_error(grpc.StatusCode.UNKNOWN, CORRUPT):
        unlock(target, key)
    with rpc_error(grpc.StatusCode.UNKNOWN, CORRUPT):
        unlock(target, b"missing")


def test_unlock_of_a_key_over_the_request_size_limit_is_unknown_request_too_large(target):
    assert unlock(target, b"k" * 1_000_000).header.revision == 1  # under the limit: a no-op delete
    with rpc_error(grpc.StatusCode.UNKNOWN, TOO_LARGE):
        unlock(target, b"k" * 1_600_000)
