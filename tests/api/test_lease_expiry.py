"""Lease expiry on ``timed_target`` (etcdlite on a manual clock, real etcd in real time):
expired leases are revoked through the normal revoke path, keep-alives hold a lease past its TTL
(reference §6.3, §6.4, §6.6).

etcd revokes an expired lease 0-500 ms after its deadline, so checks after a deadline leave at
least 0.5 s of slack and then poll with a bound.
"""

from __future__ import annotations

import grpc

from etcd_api_helpers import (DELETE, LEASE_NOT_FOUND, MIN_LEASE_TTL, KeepAliveStream,
                              WatchStream, current_revision, event_tuples, get, grant, kv_tuples,
                              lease_ids, put, rpc_error, time_to_live, wait_until)


def test_expired_leases_delete_their_keys_one_revision_per_lease_while_kept_alive_lease_lives(
        timed_target):
    target = timed_target
    put(target, b"other", b"x")  # 2
    grant(target, 2, 1)     # expires with keys a/1, a/2
    grant(target, 2, 2)     # kept alive, key b
    grant(target, 0, 3)     # TTL raised to 2, no keys
    grant(target, 2, 4)     # expires with key d
    grant(target, 10, 5)    # outlives the test
    put(target, b"a/2", b"v", lease=1)  # 3
    put(target, b"a/1", b"v", lease=1)  # 4
    put(target, b"b", b"v", lease=2)    # 5
    put(target, b"d", b"v", lease=4)    # 6
    with WatchStream(target) as watch, KeepAliveStream(target) as keep_alive:
        watch.watch(b"", b"\x00")
        target.advance(1)
        # a lease granted with TTL 0 lives for the 2 s minimum
        assert sorted(lease_ids(target)) == [1, 2, 3, 4, 5]
        assert time_to_live(target, 3).grantedTTL == MIN_LEASE_TTL
        assert keep_alive.keep_alive(2).TTL == 2
        target.advance(1)
        assert keep_alive.keep_alive(2).TTL == 2
        target.advance(1.5)  # 3.5 s after the grant: lease 2 is alive only thanks to keep-alives
        response = keep_alive.keep_alive(2)
        assert (response.ID, response.TTL) == (2, 2)
        # remaining time counts down (truncated): 10 - 3.5 = 6.5 -> 6
        response = time_to_live(target, 5)
        assert (response.TTL, response.grantedTTL) == (6, 10)

        # leases 1 and 4 expired: each revoked in its own revision, order between them open
        first, second = watch.next(), watch.next()
        by_key = {response.events[0].kv.key: response for response in (first, second)}
        assert sorted(by_key) == [b"a/1", b"d"]
        revision_a, revision_d = by_key[b"a/1"].header.revision, by_key[b"d"].header.revision
        assert sorted([revision_a, revision_d]) == [7, 8]
        assert event_tuples(by_key[b"a/1"].events) == [
            (DELETE, (b"a/1", b"", 0, revision_a, 0, 0), None),
            (DELETE, (b"a/2", b"", 0, revision_a, 0, 0), None)]
        assert event_tuples(by_key[b"d"].events) == [
            (DELETE, (b"d", b"", 0, revision_d, 0, 0), None)]
        wait_until(lambda: sorted(lease_ids(target)) == [2, 5])
        # the key-less lease 3 expired too, without a revision of its own
        assert current_revision(target) == 8
        assert kv_tuples(get(target, b"\x00", b"\x00").kvs) == [(b"b", b"v", 5, 5, 1, 2),
                                                              (b"other", b"x", 2, 2, 1, 0)]
        for lease_id in (1, 3, 4):
            response = time_to_live(target, lease_id, keys=True)
            assert (response.ID, response.TTL, response.grantedTTL, list(response.keys)) == (
                lease_id, -1, 0, [])
            response = keep_alive.keep_alive(lease_id)
            assert (response.ID, response.TTL) == (lease_id, 0)
        with rpc_error(grpc.StatusCode.NOT_FOUND, LEASE_NOT_FOUND):
            put(target, b"a/1", b"again", lease=1)
        response = time_to_live(target, 2, keys=True)
        assert (response.grantedTTL, list(response.keys)) == (2, [b"b"])
        assert 1 <= response.TTL <= 2

        # without further keep-alives lease 2 expires as well (deadline 2 s after the last one)
        target.advance(2.6)
        response = watch.next()
        assert response.header.revision == 9
        assert event_tuples(response.events) == [(DELETE, (b"b", b"", 0, 9, 0, 0), None)]
        wait_until(lambda: lease_ids(target) == [5])
        assert time_to_live(target, 2).TTL == -1
        assert current_revision(target) == 9
