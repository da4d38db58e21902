"""Lease service on a real clock: LeaseGrant, LeaseRevoke, LeaseKeepAlive, LeaseTimeToLive,
LeaseLeases and key attachment (reference §2, §6, §11.2, §12.14-16).

Server-chosen lease IDs are opaque (etcd derives them from its member ID and start time): tests
only require them to be positive and unique. Explicit IDs are used wherever a value is asserted.
"""

from __future__ import annotations

import grpc

from etcd_api_helpers import (DELETE, LEASE_EXISTS, LEASE_NOT_FOUND, LEASE_TTL_TOO_LARGE,
                              MAX_LEASE_TTL, MIN_LEASE_TTL, KeepAliveStream, WatchStream,
                              assert_full_header, current_revision, delete, event_tuples, get,
                              grant, kv_tuples, lease_ids, op_put, put, response_shape, revoke,
                              rpc_error, time_to_live, txn)
from etcdlite.proto import rpc_pb2


def _attached(target, lease_id: int) -> list[bytes]:
    """The keys attached to a lease, sorted (etcd lists them in map order)."""
    return sorted(time_to_live(target, lease_id, keys=True).keys)


def test_lease_grant_uses_explicit_ids_including_negative_and_id_zero_lets_the_server_choose(
        target):
    put(target, b"a", b"1")  # 2
    response = grant(target, 60, 7)
    assert (response.ID, response.TTL, response.error) == (7, 60, "")
    assert_full_header(response.header, 2)
    response = grant(target, 45, -5)  # negative IDs are accepted verbatim
    assert (response.ID, response.TTL, response.error) == (-5, 45, "")
    chosen = []
    for _ in range(3):
        response = grant(target, 30)
        assert response.TTL == 30
        assert_full_header(response.header, 2)
        chosen.append(response.ID)
    assert all(lease_id > 0 for lease_id in chosen), chosen
    assert len(set(chosen + [7, -5])) == 5, chosen
    # granting never creates a revision
    assert current_revision(target) == 2
    assert sorted(lease_ids(target)) == sorted(chosen + [7, -5])
    response = time_to_live(target, -5)
    assert (response.ID, response.grantedTTL) == (-5, 45)


def test_lease_grant_of_an_id_in_use_fails_with_lease_already_exists(target):
    grant(target, 60, 7)
    grant(target, 60, -5)
    chosen = grant(target, 60).ID
    for lease_id in (7, -5, chosen):
        with rpc_error(grpc.StatusCode.FAILED_PRECONDITION, LEASE_EXISTS):
            grant(target, 10, lease_id)
    # the existing lease is untouched
    assert time_to_live(target, 7).grantedTTL == 60
    assert sorted(lease_ids(target)) == sorted([7, -5, chosen])
    # once revoked, the ID can be granted again
    revoke(target, 7)
    response = grant(target, 20, 7)
    assert (response.ID, response.TTL) == (7, 20)


def test_lease_grant_raises_ttl_below_the_minimum_to_two_and_rejects_ttl_above_9e9(target):
    for lease_id, ttl in ((1, 1), (2, 0), (3, -5), (4, -MAX_LEASE_TTL)):
        response = grant(target, ttl, lease_id)
        assert (response.ID, response.TTL) == (lease_id, MIN_LEASE_TTL), ttl
        assert time_to_live(target, lease_id).grantedTTL == MIN_LEASE_TTL
    assert grant(target, 3, 5).TTL == 3
    response = grant(target, MAX_LEASE_TTL, 6)
    assert (response.ID, response.TTL) == (6, MAX_LEASE_TTL)
    response = time_to_live(target, 6)
    assert (response.TTL, response.grantedTTL) == (MAX_LEASE_TTL - 1, MAX_LEASE_TTL)
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, LEASE_TTL_TOO_LARGE):
        grant(target, MAX_LEASE_TTL + 1, 8)
    # the TTL is checked before the ID
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, LEASE_TTL_TOO_LARGE):
        grant(target, MAX_LEASE_TTL + 1, 6)
    with rpc_error(grpc.StatusCode.OUT_OF_RANGE, LEASE_TTL_TOO_LARGE):
        grant(target, MAX_LEASE_TTL + 1)
    # the rejected grants created nothing
    assert sorted(lease_ids(target)) == [1, 2, 3, 4, 5, 6]
    assert time_to_live(target, 8).TTL == -1


def test_lease_revoke_of_unknown_or_zero_id_is_not_found(target):
    put(target, b"a", b"1")  # 2
    for lease_id in (0, 12345, -1):
        with rpc_error(grpc.StatusCode.NOT_FOUND, LEASE_NOT_FOUND):
            revoke(target, lease_id)
    grant(target, 60, 7)
    # a lease without keys: revoking it does not create a revision
    response = revoke(target, 7)
    assert_full_header(response.header, 2)
    assert current_revision(target) == 2
    assert lease_ids(target) == []
    with rpc_error(grpc.StatusCode.NOT_FOUND, LEASE_NOT_FOUND):
        revoke(target, 7)


def test_lease_revoke_deletes_all_attached_keys_in_one_revision_seen_as_one_watch_response(
        target):
    put(target, b"other", b"x")  # 2
    grant(target, 60, 7)
    grant(target, 60, 8)
    put(target, b"e/2", b"v2", lease=7)  # 3
    put(target, b"e/1", b"v1", lease=7)  # 4
    put(target, b"g", b"g", lease=8)     # 5
    txn(target, success=[op_put(b"f", b"f", lease=7)])  # 6: a txn put attaches too
    assert _attached(target, 7) == [b"e/1", b"e/2", b"f"]
    with WatchStream(target) as stream:
        stream.watch(b"", b"\x00", prev_kv=True)
        response = revoke(target, 7)
        assert_full_header(response.header, 7)  # the revision after the deletion
        event_response = stream.next()
        # one response, all DELETEs of revision 7, in key order (not attachment order)
        assert response_shape(event_response) == (7, 0, False, False, 0, "")
        assert event_tuples(event_response.events) == [
            (DELETE, (b"e/1", b"", 0, 7, 0, 0), (b"e/1", b"v1", 4, 4, 1, 7)),
            (DELETE, (b"e/2", b"", 0, 7, 0, 0), (b"e/2", b"v2", 3, 3, 1, 7)),
            (DELETE, (b"f", b"", 0, 7, 0, 0), (b"f", b"f", 6, 6, 1, 7)),
        ]
    assert current_revision(target) == 7
    assert kv_tuples(get(target, b"\x00", b"\x00").kvs) == [(b"g", b"g", 5, 5, 1, 8),
                                                          (b"other", b"x", 2, 2, 1, 0)]
    assert lease_ids(target) == [8]
    assert time_to_live(target, 7).TTL == -1


def test_put_with_lease_attaches_plain_put_detaches_ignore_lease_keeps_and_delete_detaches(target):
    grant(target, 60, 1)
    grant(target, 60, 2)
    put(target, b"a", b"1", lease=1)  # 2
    put(target, b"b", b"1", lease=1)  # 3
    put(target, b"c", b"1", lease=2)  # 4
    assert _attached(target, 1) == [b"a", b"b"]
    assert _attached(target, 2) == [b"c"]
    assert list(time_to_live(target, 1).keys) == []  # keys only when asked for
    put(target, b"a", b"2", lease=2)  # 5: moves a from lease 1 to lease 2
    assert (_attached(target, 1), _attached(target, 2)) == ([b"b"], [b"a", b"c"])
    put(target, b"b", b"2", ignore_lease=True)  # 6: keeps lease 1
    assert _attached(target, 1) == [b"b"]
    put(target, b"c", b"2")  # 7: a put without lease detaches
    assert _attached(target, 2) == [b"a"]
    delete(target, b"a")  # 8: delete detaches
    put(target, b"a", b"3")  # 9: a new generation without lease
    assert _attached(target, 2) == []
    with rpc_error(grpc.StatusCode.NOT_FOUND, LEASE_NOT_FOUND):
        put(target, b"d", b"1", lease=99)
    assert current_revision(target) == 9
    assert kv_tuples(get(target, b"a", b"z").kvs) == [(b"a", b"3", 9, 9, 1, 0),
                                                    (b"b", b"2", 3, 6, 2, 1),
                                                    (b"c", b"2", 4, 7, 2, 0)]
    # revoking lease 2 deletes nothing any more; lease 1 takes only b
    assert revoke(target, 2).header.revision == 9
    assert revoke(target, 1).header.revision == 10
    assert kv_tuples(get(target, b"a", b"z").kvs) == [(b"a", b"3", 9, 9, 1, 0),
                                                    (b"c", b"2", 4, 7, 2, 0)]


def test_lease_keep_alive_answers_each_request_with_the_granted_ttl_and_unknown_with_zero(target):
    put(target, b"x", b"1")  # 2
    grant(target, 60, 7)
    grant(target, 1, 8)  # raised to 2
    with KeepAliveStream(target) as stream:
        response = stream.keep_alive(7)
        assert (response.ID, response.TTL) == (7, 60)
        assert_full_header(response.header, 2)
        response = stream.keep_alive(8)
        assert (response.ID, response.TTL) == (8, MIN_LEASE_TTL)
        # unknown leases (also ID 0) are answered with TTL 0, not an error; the stream stays open
        for lease_id in (999, 0, -3):
            response = stream.keep_alive(lease_id)
            assert (response.ID, response.TTL) == (lease_id, 0)
            assert_full_header(response.header, 2)
        # several requests in a row: one response each, in order
        for lease_id in (7, 999, 8, 7):
            stream.send(rpc_pb2.LeaseKeepAliveRequest(ID=lease_id))
        assert [(r.ID, r.TTL) for r in (stream.next() for _ in range(4))] == [
            (7, 60), (999, 0), (8, MIN_LEASE_TTL), (7, 60)]
        put(target, b"y", b"1")  # 3
        response = stream.keep_alive(7)
        assert (response.ID, response.TTL) == (7, 60)
        assert_full_header(response.header, 3)
        revoke(target, 7)
        response = stream.keep_alive(7)
        assert (response.ID, response.TTL) == (7, 0)
        stream.expect_nothing(0.2)
        # half-closing the request side ends the stream with OK
        stream.half_close()
        assert stream.wait_for_end() is None


def test_lease_time_to_live_reports_truncated_remaining_granted_ttl_and_keys(target):
    put(target, b"x", b"1")  # 2
    grant(target, 30, 7)
    response = time_to_live(target, 7)
    # remaining time truncated toward zero: just under 30 s is 29
    assert (response.ID, response.TTL, response.grantedTTL, list(response.keys)) == (7, 29, 30, [])
    assert_full_header(response.header, 2)
    put(target, b"k2", b"v", lease=7)  # 3
    put(target, b"k1", b"v", lease=7)  # 4
    response = time_to_live(target, 7, keys=True)
    assert (response.ID, response.TTL, response.grantedTTL) == (7, 29, 30)
    assert sorted(response.keys) == [b"k1", b"k2"]
    assert_full_header(response.header, 4)
    # an unknown lease is not an error: ID echoed, TTL -1, nothing else
    for lease_id in (12345, 0):
        response = time_to_live(target, lease_id, keys=True)
        assert (response.ID, response.TTL, response.grantedTTL, list(response.keys)) == (
            lease_id, -1, 0, [])
        assert_full_header(response.header, 4)


def test_lease_leases_lists_every_lease_soonest_expiry_first(target):
    response = target.lease.LeaseLeases(rpc_pb2.LeaseLeasesRequest())
    assert list(response.leases) == []
    assert_full_header(response.header, 1)
    grant(target, 100, 1)
    grant(target, 10, 2)
    grant(target, 50, 3)
    grant(target, 0, 4)  # raised to 2 s: soonest
    chosen = grant(target, 70).ID
    put(target, b"a", b"1")  # 2
    assert lease_ids(target) == [4, 2, 3, chosen, 1]
    revoke(target, 3)
    assert lease_ids(target) == [4, 2, chosen, 1]
    response = target.lease.LeaseLeases(rpc_pb2.LeaseLeasesRequest())
    assert [status.ID for status in response.leases] == [4, 2, chosen, 1]
    assert_full_header(response.header, 2)
