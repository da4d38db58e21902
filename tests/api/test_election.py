"""Election service (v3electionpb.Election): etcd's election recipe run by the server
(reference §9, §11.4, §12 gotchas 1-4). Every test holds on etcd 3.4.23 as well."""

from __future__ import annotations

import grpc
import pytest

from etcd_api_helpers import assert_deadline_error
from etcd_api_helpers import (
    CORRUPT, EMPTY_KEY, LEASE_NOT_FOUND, MEMBER_ID, NO_SPACE, TOO_LARGE,
                              StreamReader, assert_full_header, op_put, txn,
                              assert_pending, current_revision, delete, get, grant_id, kv_tuple,
                              put, revoke, rpc_error, wait_for_keys, wait_until)
from etcdlite.proto import rpc_pb2, v3election_pb2

NO_LEADER = "election: no leader"
NOT_LEADER = "election: not leader"
LEADER_REQUIRED = '"leader" field must be provided'
RESULT_TIMEOUT = 10.0  # bound on waiting for a campaign that must win

LeaderKey = v3election_pb2.LeaderKey


def campaign(target, name: bytes, lease: int, value: bytes, **kw):
    return target.election.Campaign(
        v3election_pb2.CampaignRequest(name=name, lease=lease, value=value), **kw)


def campaign_future(target, name: bytes, lease: int, value: bytes, **kw):
    return target.election.Campaign.future(
        v3election_pb2.CampaignRequest(name=name, lease=lease, value=value), **kw)


def proclaim(target, leader, value: bytes):
    return target.election.Proclaim(v3election_pb2.ProclaimRequest(leader=leader, value=value))


def resign(target, leader):
    return target.election.Resign(v3election_pb2.ResignRequest(leader=leader))


def leader(target, name: bytes):
    return target.election.Leader(v3election_pb2.LeaderRequest(name=name))


def observe(target, name: bytes) -> StreamReader:
    return StreamReader(target.election.Observe(v3election_pb2.LeaderRequest(name=name)))


def leader_tuple(leader_key) -> tuple:
    return (leader_key.name, leader_key.key, leader_key.rev, leader_key.lease)


def prefix_keys(target, prefix: bytes) -> list[bytes]:
    end = prefix[:-1] + bytes([prefix[-1] + 1])
    return [kv.key for kv in get(target, prefix, end).kvs]


# -- Leader ----------------------------------------------------------------------------------------


def test_leader_without_any_key_is_unknown_no_leader(target):
    put(target, b"e", b"not under the prefix")
    put(target, b"e0", b"not under the prefix either")
    with rpc_error(grpc.StatusCode.UNKNOWN, NO_LEADER):
        leader(target, b"e")


def test_leader_is_the_key_with_the_lowest_create_revision_under_the_prefix(target):
    put(target, b"e/zzz", b"first")  # 2: a plain key, no lease, counts as leader
    lease = grant_id(target, 60, 0x11)
    waiting = campaign_future(target, b"e", lease, b"candidate")
    wait_for_keys(target, b"e/", 2)
    put(target, b"e/aaa", b"third")  # 4: sorts first by key but is newer
    put(target, b"e/zzz", b"first, updated")  # 5: updating keeps the create revision
    response = leader(target, b"e")
    assert_full_header(response.header, 5)
    assert kv_tuple(response.kv) == (b"e/zzz", b"first, updated", 2, 5, 2, 0)
    assert_pending(waiting)
    delete(target, b"e/zzz")  # 6
    assert waiting.result(timeout=RESULT_TIMEOUT).leader.key == b"e/11"
    assert kv_tuple(leader(target, b"e").kv) == (b"e/11", b"candidate", 3, 3, 1, lease)
    assert leader(target, b"e").header.revision == 6


# -- Campaign --------------------------------------------------------------------------------------


def test_uncontended_campaign_returns_leader_key_and_the_txn_header(target):
    lease = grant_id(target, 60, 0xABCDEF)
    response = campaign(target, b"e", lease, b"v1")
    assert_full_header(response.header, 2)
    assert leader_tuple(response.leader) == (b"e", b"e/abcdef", 2, lease)
    assert kv_tuple(get(target, b"e/abcdef").kvs[0]) == (b"e/abcdef", b"v1", 2, 2, 1, lease)
    got = leader(target, b"e")
    assert_full_header(got.header, 2)
    assert kv_tuple(got.kv) == (b"e/abcdef", b"v1", 2, 2, 1, lease)


def test_waiting_campaigner_gets_the_header_of_its_initial_txn_not_the_win_revision(target):
    first, second = grant_id(target, 60, 0x21), grant_id(target, 60, 0x22)
    won = campaign(target, b"e", first, b"a")  # 2
    waiting = campaign_future(target, b"e", second, b"b")  # 3
    assert_pending(waiting)
    put(target, b"unrelated", b"x")  # 4
    assert resign(target, won.leader).header.revision == 5
    response = waiting.result(timeout=RESULT_TIMEOUT)
    assert_full_header(response.header, 3)
    assert leader_tuple(response.leader) == (b"e", b"e/22", 3, second)
    assert kv_tuple(leader(target, b"e").kv) == (b"e/22", b"b", 3, 3, 1, second)


def test_campaign_waits_for_a_plain_key_under_the_prefix(target):
    put(target, b"e/plain", b"x")
    lease = grant_id(target, 60, 0x23)
    waiting = campaign_future(target, b"e", lease, b"v")
    assert_pending(waiting)
    delete(target, b"e/plain")
    assert waiting.result(timeout=RESULT_TIMEOUT).leader.rev == 3


def test_campaigners_win_in_arrival_order(target):
    leases = [grant_id(target, 60, 0x30 + i) for i in range(4)]
    order = [leases[2], leases[0], leases[3], leases[1]]
    current = campaign(target, b"e", order[0], b"0").leader
    waiting = []
    for i, lease in enumerate(order[1:]):
        waiting.append(campaign_future(target, b"e", lease, b"%d" % (i + 1)))
        wait_for_keys(target, b"e/", i + 2)
    for i, future in enumerate(waiting):
        assert_pending(future, 0.15)
        resign(target, current)
        current = future.result(timeout=RESULT_TIMEOUT).leader
        assert current.key == b"e/%x" % order[i + 1]
        assert current.rev == 3 + i
        assert leader(target, b"e").kv.value == b"%d" % (i + 1)


def test_lease_revoke_of_the_leader_hands_leadership_to_the_next_campaigner(target):
    first, second = grant_id(target, 60, 0x41), grant_id(target, 60, 0x42)
    campaign(target, b"e", first, b"a")
    waiting = campaign_future(target, b"e", second, b"b")
    assert_pending(waiting)
    revoke(target, first)  # 4
    response = waiting.result(timeout=RESULT_TIMEOUT)
    assert leader_tuple(response.leader) == (b"e", b"e/42", 3, second)
    assert response.header.revision == 3


def test_lease_expiry_of_the_leader_hands_leadership_to_the_next_campaigner(timed_target):
    target = timed_target
    first, second = grant_id(target, 2, 0x43), grant_id(target, 60, 0x44)
    campaign(target, b"e", first, b"a")
    waiting = campaign_future(target, b"e", second, b"b")
    assert_pending(waiting)
    target.advance(3)
    response = waiting.result(timeout=RESULT_TIMEOUT)
    assert leader_tuple(response.leader) == (b"e", b"e/44", 3, second)
    assert prefix_keys(target, b"e/") == [b"e/44"]


def test_campaign_with_lease_zero_creates_and_returns_a_60_second_lease(target):
    response = campaign(target, b"e", 0, b"v")
    created = response.leader.lease
    assert created != 0
    assert response.leader.key == b"e/%x" % created
    assert response.leader.rev == response.header.revision
    assert get(target, response.leader.key).kvs[0].lease == created
    ttl = target.lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=created, keys=True))
    assert ttl.grantedTTL == 60
    assert list(ttl.keys) == [response.leader.key]


def test_campaign_with_an_unknown_lease_is_unknown_lease_not_found(target):
    with rpc_error(grpc.StatusCode.UNKNOWN, LEASE_NOT_FOUND):
        campaign(target, b"e", 0x999, b"v")
    assert current_revision(target) == 1


def test_recampaign_by_the_leader_with_another_value_proclaims_it_at_once(target):
    lease = grant_id(target, 60, 0x51)
    campaign(target, b"e", lease, b"v1")  # 2
    again = campaign(target, b"e", lease, b"v2", timeout=5)  # proclaims at 3
    assert_full_header(again.header, 2)  # the failed initial txn's header
    assert leader_tuple(again.leader) == (b"e", b"e/51", 2, lease)
    assert kv_tuple(get(target, b"e/51").kvs[0]) == (b"e/51", b"v2", 2, 3, 2, lease)
    # the same value again: no write at all
    same = campaign(target, b"e", lease, b"v2", timeout=5)
    assert same.header.revision == 3
    assert current_revision(target) == 3


def test_recampaign_while_waiting_proclaims_the_new_value_before_winning(target):
    holder, lease = grant_id(target, 60, 0x52), grant_id(target, 60, 0x53)
    held = campaign(target, b"e", holder, b"h")  # 2
    first = campaign_future(target, b"e", lease, b"v1")  # 3
    wait_for_keys(target, b"e/", 2)
    second = campaign_future(target, b"e", lease, b"v2")  # proclaims at 4, then waits too
    wait_until(lambda: get(target, b"e/53").kvs[0].value == b"v2")
    assert kv_tuple(get(target, b"e/53").kvs[0]) == (b"e/53", b"v2", 3, 4, 2, lease)
    assert_pending(second)
    assert not first.done()
    resign(target, held.leader)  # 5
    for future in (first, second):
        response = future.result(timeout=RESULT_TIMEOUT)
        assert leader_tuple(response.leader) == (b"e", b"e/53", 3, lease)
    assert first.result().header.revision == 3
    assert second.result().header.revision == 3


def test_cancelled_campaigner_has_its_key_removed_by_the_server(target):
    holder, lease = grant_id(target, 60, 0x61), grant_id(target, 60, 0x62)
    campaign(target, b"e", holder, b"h")
    waiting = campaign_future(target, b"e", lease, b"w")
    wait_for_keys(target, b"e/", 2)
    assert waiting.cancel()
    wait_until(lambda: prefix_keys(target, b"e/") == [b"e/61"])


def test_campaigner_whose_deadline_expires_has_its_key_removed_by_the_server(target):
    holder, lease = grant_id(target, 60, 0x63), grant_id(target, 60, 0x64)
    campaign(target, b"e", holder, b"h")
    with pytest.raises(grpc.RpcError) as info:
        campaign(target, b"e", lease, b"w", timeout=0.5)
    assert_deadline_error(info.value)
    wait_until(lambda: prefix_keys(target, b"e/") == [b"e/63"])


def test_campaign_succeeds_even_if_its_lease_was_revoked_while_waiting(target):
    """No "session expired" check in any version (§9.1 step 6, gotcha 3)."""
    holder, lease = grant_id(target, 60, 0x65), grant_id(target, 60, 0x66)
    held = campaign(target, b"e", holder, b"h")  # 2
    waiting = campaign_future(target, b"e", lease, b"w")  # 3
    wait_for_keys(target, b"e/", 2)
    revoke(target, lease)  # 4: the campaigner's key is gone
    assert_pending(waiting)
    resign(target, held.leader)  # 5
    response = waiting.result(timeout=RESULT_TIMEOUT)
    assert leader_tuple(response.leader) == (b"e", b"e/66", 3, lease)
    assert response.header.revision == 3
    assert prefix_keys(target, b"e/") == []


def test_cancelling_one_of_two_campaigns_sharing_a_lease_resigns_the_shared_key(target):
    """The cancelled call resigns (guarded delete of the shared key); the other still waits and
    later succeeds without a key — in every etcd version (§9.1 step 6, gotcha 3)."""
    holder, shared = grant_id(target, 60, 0x67), grant_id(target, 60, 0x68)
    held = campaign(target, b"e", holder, b"h")  # 2
    first = campaign_future(target, b"e", shared, b"s")  # 3
    wait_for_keys(target, b"e/", 2)
    second = campaign_future(target, b"e", shared, b"s")  # same key, same value: no write
    assert_pending(second)
    assert current_revision(target) == 3
    first.cancel()
    wait_until(lambda: prefix_keys(target, b"e/") == [b"e/67"])  # 4
    assert_pending(second, 0.1)
    resign(target, held.leader)  # 5
    response = second.result(timeout=RESULT_TIMEOUT)
    assert leader_tuple(response.leader) == (b"e", b"e/68", 3, shared)
    assert response.header.revision == 3
    assert prefix_keys(target, b"e/") == []


# -- Proclaim --------------------------------------------------------------------------------------


def test_proclaim_by_the_leader_writes_a_new_revision_even_for_an_unchanged_value(target):
    lease = grant_id(target, 60, 0x71)
    won = campaign(target, b"e", lease, b"v")  # 2
    response = proclaim(target, won.leader, b"w")
    assert_full_header(response.header, 3)
    assert kv_tuple(get(target, b"e/71").kvs[0]) == (b"e/71", b"w", 2, 3, 2, lease)
    assert proclaim(target, won.leader, b"w").header.revision == 4
    assert kv_tuple(get(target, b"e/71").kvs[0]) == (b"e/71", b"w", 2, 4, 3, lease)
    assert leader(target, b"e").kv.value == b"w"


def test_proclaim_ignores_the_leader_name(target):
    lease = grant_id(target, 60, 0x72)
    won = campaign(target, b"e", lease, b"v")
    other = LeaderKey(name=b"something-else", key=won.leader.key, rev=won.leader.rev, lease=lease)
    assert proclaim(target, other, b"x").header.revision == 3
    assert leader(target, b"e").kv.value == b"x"


def test_proclaim_with_a_wrong_rev_is_unknown_not_leader(target):
    lease = grant_id(target, 60, 0x73)
    won = campaign(target, b"e", lease, b"v")
    stale = LeaderKey(name=b"e", key=won.leader.key, rev=won.leader.rev + 1, lease=lease)
    with rpc_error(grpc.StatusCode.UNKNOWN, NOT_LEADER):
        proclaim(target, stale, b"x")
    assert current_revision(target) == 2
    assert leader(target, b"e").kv.value == b"v"


def test_proclaim_after_resign_is_unknown_not_leader(target):
    lease = grant_id(target, 60, 0x74)
    won = campaign(target, b"e", lease, b"v")
    resign(target, won.leader)
    with rpc_error(grpc.StatusCode.UNKNOWN, NOT_LEADER):
        proclaim(target, won.leader, b"x")
    assert get(target, won.leader.key).kvs == []


def test_proclaim_by_a_waiting_campaigner_writes_its_own_key(target):
    """Proclaim only checks create_revision(key) == rev: a campaigner's own key passes the guard
    even before it leads."""
    holder, lease = grant_id(target, 60, 0x75), grant_id(target, 60, 0x76)
    campaign(target, b"e", holder, b"h")
    waiting = campaign_future(target, b"e", lease, b"w")
    wait_for_keys(target, b"e/", 2)
    mine = LeaderKey(name=b"e", key=b"e/76", rev=3, lease=lease)
    assert proclaim(target, mine, b"w2").header.revision == 4
    assert leader(target, b"e").kv.key == b"e/75"
    waiting.cancel()


def test_proclaim_and_resign_without_leader_are_unknown_leader_field_required(target):
    with rpc_error(grpc.StatusCode.UNKNOWN, LEADER_REQUIRED):
        target.election.Proclaim(v3election_pb2.ProclaimRequest(value=b"v"))
    with rpc_error(grpc.StatusCode.UNKNOWN, LEADER_REQUIRED):
        target.election.Resign(v3election_pb2.ResignRequest())
    assert current_revision(target) == 1


def test_proclaim_and_resign_with_an_empty_key_are_unknown_key_not_provided(target):
    lease = grant_id(target, 60, 0x77)
    with rpc_error(grpc.StatusCode.UNKNOWN, EMPTY_KEY):
        proclaim(target, LeaderKey(name=b"e", key=b"", rev=0, lease=lease), b"v")
    with rpc_error(grpc.StatusCode.UNKNOWN, EMPTY_KEY):
        resign(target, LeaderKey(name=b"e", key=b"", rev=0, lease=lease))


def test_proclaim_with_an_unknown_lease_is_unknown_lease_not_found(target):
    lease = grant_id(target, 60, 0x78)
    won = campaign(target, b"e", lease, b"v")
    wrong = LeaderKey(name=b"e", key=won.leader.key, rev=won.leader.rev, lease=0x7777)
    with rpc_error(grpc.StatusCode.UNKNOWN, LEASE_NOT_FOUND):
        proclaim(target, wrong, b"x")
    assert current_revision(target) == 2


def test_proclaim_with_lease_zero_reattaches_the_key_to_a_new_60_second_lease(target):
    lease = grant_id(target, 60, 0x79)
    won = campaign(target, b"e", lease, b"v")
    anonymous = LeaderKey(name=b"e", key=won.leader.key, rev=won.leader.rev, lease=0)
    assert proclaim(target, anonymous, b"x").header.revision == 3
    kv = get(target, won.leader.key).kvs[0]
    assert kv.lease not in (0, lease)
    assert (kv.value, kv.version) == (b"x", 2)
    ttl = target.lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=kv.lease, keys=True))
    assert ttl.grantedTTL == 60
    assert list(ttl.keys) == [won.leader.key]


# -- Resign ----------------------------------------------------------------------------------------


def test_resign_by_the_leader_deletes_its_key_with_the_delete_header(target):
    lease = grant_id(target, 60, 0x81)
    won = campaign(target, b"e", lease, b"v")
    response = resign(target, won.leader)
    assert_full_header(response.header, 3)
    assert prefix_keys(target, b"e/") == []
    with rpc_error(grpc.StatusCode.UNKNOWN, NO_LEADER):
        leader(target, b"e")


def test_resign_by_a_non_leader_succeeds_quietly_with_the_current_revision(target):
    lease = grant_id(target, 60, 0x82)
    won = campaign(target, b"e", lease, b"v")  # 2
    put(target, b"x", b"1")  # 3
    stale = LeaderKey(name=b"e", key=won.leader.key, rev=won.leader.rev + 5, lease=lease)
    assert_full_header(resign(target, stale).header, 3)
    assert prefix_keys(target, b"e/") == [b"e/82"]
    missing = LeaderKey(name=b"e", key=b"e/nobody", rev=2, lease=lease)
    assert resign(target, missing).header.revision == 3
    assert current_revision(target) == 3


# -- Observe ---------------------------------------------------------------------------------------


def test_observe_streams_leader_proclamations_and_next_leaders_with_their_headers(target):
    first, second = grant_id(target, 60, 0x91), grant_id(target, 60, 0x92)
    won = campaign(target, b"e", first, b"a")  # 2
    stream = observe(target, b"e")
    try:
        message = stream.next()  # the current leader, with the Range's header
        assert_full_header(message.header, 2)
        assert kv_tuple(message.kv) == (b"e/91", b"a", 2, 2, 1, first)
        proclaim(target, won.leader, b"b")  # 3
        message = stream.next()
        assert_full_header(message.header, 3)
        assert kv_tuple(message.kv) == (b"e/91", b"b", 2, 3, 2, first)
        waiting = campaign_future(target, b"e", second, b"c")  # 4: not the leader, not reported
        wait_for_keys(target, b"e/", 2)
        put(target, b"e0", b"outside")  # 5: not under the prefix
        stream.assert_quiet()
        revoke(target, first)  # 6: next leader, found by a fresh Range at revision 6
        message = stream.next()
        assert_full_header(message.header, 6)
        assert kv_tuple(message.kv) == (b"e/92", b"c", 4, 4, 1, second)
        next_leader = waiting.result(timeout=RESULT_TIMEOUT).leader
        proclaim(target, next_leader, b"d")  # 7
        message = stream.next()
        assert message.header.revision == 7
        assert kv_tuple(message.kv) == (b"e/92", b"d", 4, 7, 2, second)
        resign(target, next_leader)  # 8: no leader left, nothing is sent
        stream.assert_quiet()
        put(target, b"e/plain", b"p")  # 9: the first put under the prefix becomes the leader
        message = stream.next()
        assert_full_header(message.header, 9)
        assert kv_tuple(message.kv) == (b"e/plain", b"p", 9, 9, 1, 0)
        put(target, b"e/plain", b"q")  # 10: a plain put on the leader key is a "proclamation"
        message = stream.next()
        assert message.header.revision == 10
        assert kv_tuple(message.kv) == (b"e/plain", b"q", 9, 10, 2, 0)
    finally:
        stream.close()


def test_observe_without_a_leader_waits_for_the_first_put_under_the_prefix(target):
    put(target, b"e/old", b"x")  # 2
    delete(target, b"e/old")  # 3
    stream = observe(target, b"e")
    try:
        stream.assert_quiet()
        put(target, b"f", b"elsewhere")  # 4
        stream.assert_quiet()
        lease = grant_id(target, 60, 0xA1)
        campaign(target, b"e", lease, b"v")  # 5
        message = stream.next()
        assert_full_header(message.header, 5)  # the kv's mod_revision
        assert kv_tuple(message.kv) == (b"e/a1", b"v", 5, 5, 1, lease)
    finally:
        stream.close()


def test_observe_reports_the_next_leader_after_resign(target):
    first, second = grant_id(target, 60, 0xB1), grant_id(target, 60, 0xB2)
    won = campaign(target, b"e", first, b"a")  # 2
    waiting = campaign_future(target, b"e", second, b"b")  # 3
    wait_for_keys(target, b"e/", 2)
    stream = observe(target, b"e")
    try:
        message = stream.next()
        assert (message.header.revision, message.kv.key) == (3, b"e/b1")
        put(target, b"e/b2", b"b2")  # 4: a put on a waiting key is not reported
        stream.assert_quiet()
        resign(target, won.leader)  # 5
        message = stream.next()
        assert_full_header(message.header, 5)
        assert kv_tuple(message.kv) == (b"e/b2", b"b2", 3, 4, 2, 0)
        waiting.result(timeout=RESULT_TIMEOUT)
    finally:
        stream.close()


def test_observe_and_leader_create_no_lease(target):
    lease = grant_id(target, 60, 0xC1)
    campaign(target, b"e", lease, b"v")
    stream = observe(target, b"e")
    try:
        stream.next()
        leader(target, b"e")
        ids = [s.ID for s in target.lease.LeaseLeases(rpc_pb2.LeaseLeasesRequest()).leases]
        assert ids == [lease]
    finally:
        stream.close()


def test_resign_with_lease_zero_leaves_an_orphan_60_second_lease(target):
    lease = grant_id(target, 60, 0xD1)
    won = campaign(target, b"e", lease, b"v")
    anonymous = LeaderKey(name=b"e", key=won.leader.key, rev=won.leader.rev, lease=0)
    assert resign(target, anonymous).header.revision == 3
    assert prefix_keys(target, b"e/") == []
    ids = [s.ID for s in target.lease.LeaseLeases(rpc_pb2.LeaseLeasesRequest()).leases]
    (orphan,) = set(ids) - {lease}
    ttl = target.lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=orphan, keys=True))
    assert (ttl.grantedTTL, list(ttl.keys)) == (60, [])


def test_observe_without_a_leader_reports_the_first_put_of_a_txn_and_then_follows_that_key(target):
    """§9.5 step 1: the first PUT event is taken, in operation order, even if another key of the
    same revision sorts first (and is what Leader reports)."""
    stream = observe(target, b"e")
    try:
        stream.assert_quiet()
        response = txn(target, success=[op_put(b"e/b", b"1"), op_put(b"e/a", b"2")])  # 2
        assert response.header.revision == 2
        message = stream.next()
        assert_full_header(message.header, 2)
        assert kv_tuple(message.kv) == (b"e/b", b"1", 2, 2, 1, 0)
        put(target, b"e/a", b"3")  # 3: not the observed key
        stream.assert_quiet()
        put(target, b"e/b", b"4")  # 4
        message = stream.next()
        assert message.header.revision == 4
        assert kv_tuple(message.kv) == (b"e/b", b"4", 2, 4, 2, 0)
    finally:
        stream.close()


# -- KV errors of the recipe's own requests come back as Unknown (§9.6, §11.4) ---------------------

ALARM_ACTIVATE, NOSPACE, CORRUPT_ALARM = 1, 1, 2


def _alarm(target, alarm: int) -> None:
    target.maintenance.Alarm(rpc_pb2.AlarmRequest(action=ALARM_ACTIVATE, memberID=MEMBER_ID,
                                                  alarm=alarm))


def test_campaign_over_the_request_size_limit_is_unknown_request_too_large(target):
    lease = grant_id(target, 60, 0xE1)
    won = campaign(target, b"e", lease, b"v" * 1_000_000)  # 2: under the 1.5 MiB limit
    assert won.header.revision == 2
    other = grant_id(target, 60, 0xE2)
    with rpc_error(grpc.StatusCode.UNKNOWN, TOO_LARGE):
        campaign(target, b"f", other, b"w" * 1_600_000)
    assert current_revision(target) == 2
    assert prefix_keys(target, b"f/") == []


def test_proclaim_over_the_request_size_limit_is_unknown_request_too_large(target):
    lease = grant_id(target, 60, 0xE5)
    won = campaign(target, b"e", lease, b"v")  # 2
    assert proclaim(target, won.leader, b"x" * 1_000_000).header.revision == 3
    with rpc_error(grpc.StatusCode.UNKNOWN, TOO_LARGE):
        proclaim(target, won.leader, b"y" * 1_600_000)
    assert current_revision(target) == 3


def test_resign_over_the_request_size_limit_is_unknown_request_too_large(target):
    lease = grant_id(target, 60, 0xE6)
    # the guarded delete carries the key twice (compare and delete): 2 x 1 MB is too large
    big = LeaderKey(name=b"e", key=b"k" * 1_000_000, rev=2, lease=lease)
    with rpc_error(grpc.StatusCode.UNKNOWN, TOO_LARGE):
        resign(target, big)
    small = LeaderKey(name=b"e", key=b"k" * 500_000, rev=2, lease=lease)
    assert resign(target, small).header.revision == 1


def test_campaign_and_proclaim_under_a_nospace_alarm_are_unknown_space_exceeded(target):
    lease = grant_id(target, 60, 0xE3)
    won = campaign(target, b"e", lease, b"v")  # 2
    _alarm(target, NOSPACE)
    with rpc_error(grpc.StatusCode.UNKNOWN, NO_SPACE):
        campaign(target, b"f", lease, b"v")
    with rpc_error(grpc.StatusCode.UNKNOWN, NO_SPACE):
        proclaim(target, won.leader, b"w")
    assert leader(target, b"e").kv.value == b"v"  # reads still work
    anonymous = LeaderKey(name=b"e", key=won.leader.key, rev=won.leader.rev, lease=0)
    with rpc_error(grpc.StatusCode.UNKNOWN, NO_SPACE):
        resign(target, anonymous)  # its session lease cannot be granted
    assert resign(target, won.leader).header.revision == 3  # a delete is not refused


def test_election_writes_under_a_corrupt_alarm_are_unknown_corrupt_cluster(target):
    lease = grant_id(target, 60, 0xE4)
    won = campaign(target, b"e", lease, b"v")
    _alarm(target, CORRUPT_ALARM)
    with rpc_error(grpc.StatusCode.UNKNOWN, CORRUPT):
        campaign(target, b"f", lease, b"v")
    with rpc_error(grpc.StatusCode.UNKNOWN, CORRUPT):
        proclaim(target, won.leader, b"w")
    with rpc_error(grpc.StatusCode.UNKNOWN, CORRUPT):
        resign(target, won.leader)
    assert leader(target, b"e").kv.value == b"v"
