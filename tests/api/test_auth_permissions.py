"""Authorization with auth enabled: which requests a user's key permissions allow, and the exact
errors of the ones they do not (observed on etcd 3.4.23 and 3.5.1).

alice holds role ``r``: READ on prefix ``r/``, WRITE on prefix ``w/``, READWRITE on prefix ``rw/``.

Known permission bypasses of etcd 3.4.23/3.5.1 that later releases fixed (nested txn ops unchecked,
fixed 3.4.42; a txn put with prev_kv or joining a foreign lease, fixed 3.4.44; LeaseTimeToLive
keys listed to anyone, CVE-2023-32082) are asserted as real etcd shows them and as the fixed
releases behave for etcdlite (``target.is_real_etcd`` branches).
"""

from __future__ import annotations

import grpc
import pytest

from auth_helpers import (LOCK_PERMISSION_DENIED, LOCK_USER_EMPTY, PERMISSION_DENIED,
                          RAW_PERMISSION_DENIED, RAW_USER_EMPTY, READ, READWRITE, USER_EMPTY, WRITE,
                          enable_auth_with_user, error_of)
from etcd_api_helpers import (BidiStream, assert_full_header, cmp, op_delete, op_put, op_range,
                              op_txn)
from etcdlite.proto import rpc_pb2, v3election_pb2, v3lock_pb2

C = rpc_pb2.Compare
PERMS = [(READ, b"r/", b"r0"), (WRITE, b"w/", b"w0"), (READWRITE, b"rw/", b"rw0")]


@pytest.fixture
def tokens(target):
    """(root, alice) token metadata, with a few keys written by root: r/a (2), w/a (3), rw/a (4)."""
    root, alice = enable_auth_with_user(target, PERMS)
    for key in [b"r/a", b"w/a", b"rw/a"]:
        target.kv.Put(rpc_pb2.PutRequest(key=key, value=b"v"), metadata=root)
    return root, alice


def _put(target, md, key, **kw):
    return target.kv.Put(rpc_pb2.PutRequest(key=key, value=b"x", **kw), metadata=md)


def _range(target, md, key, range_end=b"", **kw):
    return target.kv.Range(rpc_pb2.RangeRequest(key=key, range_end=range_end, **kw), metadata=md)


def _delete(target, md, key, range_end=b"", **kw):
    return target.kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=key, range_end=range_end, **kw),
                                 metadata=md)


def _txn(target, md, compare=(), success=(), failure=()):
    return target.kv.Txn(rpc_pb2.TxnRequest(compare=list(compare), success=list(success),
                                            failure=list(failure)), metadata=md)


def test_kv_requests_without_a_token_are_user_name_is_empty(target, tokens):
    assert error_of(_range, target, None, b"r/a") == USER_EMPTY
    assert error_of(_range, target, None, b"r/a", serializable=True) == USER_EMPTY
    assert error_of(_put, target, None, b"rw/a") == USER_EMPTY
    assert error_of(_delete, target, None, b"rw/a") == USER_EMPTY
    assert error_of(_txn, target, None, [], [op_range(b"r/a")]) == USER_EMPTY
    # a txn with no compare and no op needs no permission at all: it runs without a token
    assert_full_header(_txn(target, None).header, 4)


def test_range_needs_read_on_the_key_or_the_whole_range(target, tokens):
    _, alice = tokens
    response = _range(target, alice, b"r/a")
    assert_full_header(response.header, 4)
    assert [kv.key for kv in response.kvs] == [b"r/a"]
    assert [kv.key for kv in _range(target, alice, b"r/", b"r0").kvs] == [b"r/a"]
    assert [kv.key for kv in _range(target, alice, b"rw/", b"rw0").kvs] == [b"rw/a"]
    assert _range(target, alice, b"r/zz").count == 0  # reading a missing key: allowed
    for key, range_end in [(b"w/a", b""), (b"r", b"r0"), (b"r/", b"r1"), (b"r/", b"\x00"),
                           (b"\x00", b"\x00"), (b"other", b"")]:
        assert error_of(_range, target, alice, key, range_end) == PERMISSION_DENIED, key
    assert error_of(_range, target, alice, b"w/a", serializable=True) == PERMISSION_DENIED


def test_put_needs_write_and_read_too_with_prev_kv(target, tokens):
    _, alice = tokens
    assert_full_header(_put(target, alice, b"w/b").header, 5)
    assert error_of(_put, target, alice, b"r/b") == PERMISSION_DENIED
    assert error_of(_put, target, alice, b"w/b", prev_kv=True) == PERMISSION_DENIED
    assert _put(target, alice, b"rw/a", prev_kv=True).prev_kv.value == b"v"
    assert error_of(_put, target, alice, b"zzz") == PERMISSION_DENIED


def test_delete_range_needs_write_on_the_range_and_read_too_with_prev_kv(target, tokens):
    _, alice = tokens
    assert error_of(_delete, target, alice, b"r/a") == PERMISSION_DENIED
    assert error_of(_delete, target, alice, b"w/", b"w0", prev_kv=True) == PERMISSION_DENIED
    assert error_of(_delete, target, alice, b"w", b"w0") == PERMISSION_DENIED
    response = _delete(target, alice, b"w/", b"w0")
    assert (response.deleted, response.header.revision) == (1, 5)
    assert _delete(target, alice, b"rw/", b"rw0", prev_kv=True).prev_kvs[0].key == b"rw/a"


def test_txn_needs_read_on_every_compare_and_permission_for_the_ops_of_both_branches(target, tokens):
    _, alice = tokens
    readable = cmp(b"r/a", C.VERSION, C.EQUAL, version=1)
    assert error_of(_txn, target, alice, [cmp(b"w/a", C.VERSION, C.EQUAL, version=1)],
                    [op_put(b"w/b")]) == PERMISSION_DENIED
    assert error_of(_txn, target, alice, [cmp(b"r/", C.VERSION, C.GREATER, range_end=b"s",
                                              version=0)]) == PERMISSION_DENIED
    # the branch that would not run is checked too
    assert error_of(_txn, target, alice, [readable], [op_put(b"w/b")],
                    [op_put(b"r/b")]) == PERMISSION_DENIED
    assert error_of(_txn, target, alice, [readable], [op_range(b"w/a")]) == PERMISSION_DENIED
    assert error_of(_txn, target, alice, [], [op_delete(b"r/a")]) == PERMISSION_DENIED
    assert error_of(_txn, target, alice, [], [op_delete(b"w/a", prev_kv=True)]) == (
        PERMISSION_DENIED)
    response = _txn(target, alice, [readable], [op_put(b"w/b"), op_range(b"rw/", b"rw0")],
                    [op_range(b"r/a")])
    assert response.succeeded
    assert_full_header(response.header, 5)
    assert [kv.key for kv in response.responses[1].response_range.kvs] == [b"rw/a"]


def test_txn_ops_inside_a_nested_txn(target, tokens):
    _, alice = tokens
    nested = op_txn(success=[op_put(b"r/nested")])
    if target.is_real_etcd:
        # etcd 3.4.23 and 3.5.1 check only the top level: the forbidden nested put runs
        assert _txn(target, alice, [], [nested]).header.revision == 5
        assert _range(target, alice, b"r/nested").kvs[0].mod_revision == 5
    else:
        # etcdlite checks every level, as etcd 3.4.42+/3.5.x do
        assert error_of(_txn, target, alice, [], [nested]) == PERMISSION_DENIED
    allowed = _txn(target, alice, [], [op_txn([cmp(b"r/a", C.VERSION, C.EQUAL, version=1)],
                                              [op_put(b"rw/n")])])
    assert allowed.responses[0].response_txn.succeeded


def test_txn_put_with_prev_kv_on_a_write_only_key(target, tokens):
    _, alice = tokens
    if target.is_real_etcd:
        # 3.4.23/3.5.1: inside a txn prev_kv needs no read permission, the old value leaks
        response = _txn(target, alice, [], [op_put(b"w/a", b"new", prev_kv=True)])
        assert response.responses[0].response_put.prev_kv.value == b"v"
    else:
        assert error_of(_txn, target, alice, [], [op_put(b"w/a", b"new", prev_kv=True)]) == (
            PERMISSION_DENIED)


def test_put_joining_a_lease_that_holds_a_key_the_user_cannot_write(target, tokens):
    root, alice = tokens
    lease_id = target.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60), metadata=alice).ID
    target.kv.Put(rpc_pb2.PutRequest(key=b"r/leased", lease=lease_id), metadata=root)
    assert error_of(_put, target, alice, b"w/j", lease=lease_id) == PERMISSION_DENIED
    txn_put = op_put(b"w/j", lease=lease_id)
    if target.is_real_etcd:
        # 3.4.23/3.5.1 do not check the lease's keys for a put inside a txn
        assert _txn(target, alice, [], [txn_put]).succeeded
    else:
        assert error_of(_txn, target, alice, [], [txn_put]) == PERMISSION_DENIED


def test_lease_revoke_needs_write_on_every_attached_key(target, tokens):
    root, alice = tokens
    lease = target.lease
    foreign = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60), metadata=alice).ID
    target.kv.Put(rpc_pb2.PutRequest(key=b"r/leased", lease=foreign), metadata=root)
    target.kv.Put(rpc_pb2.PutRequest(key=b"w/leased", lease=foreign), metadata=root)
    assert error_of(lease.LeaseRevoke, rpc_pb2.LeaseRevokeRequest(ID=foreign), metadata=alice) == (
        PERMISSION_DENIED)
    assert error_of(lease.LeaseRevoke, rpc_pb2.LeaseRevokeRequest(ID=foreign)) == USER_EMPTY
    own = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60), metadata=alice).ID
    put_rev = _put(target, alice, b"w/mine", lease=own).header.revision
    assert error_of(lease.LeaseRevoke, rpc_pb2.LeaseRevokeRequest(ID=own)) == USER_EMPTY
    assert_full_header(lease.LeaseRevoke(rpc_pb2.LeaseRevokeRequest(ID=own), metadata=alice).header,
                       put_rev + 1)
    # a lease without keys can be revoked by anyone, even without a token
    empty = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60)).ID
    lease.LeaseRevoke(rpc_pb2.LeaseRevokeRequest(ID=empty))
    assert error_of(lease.LeaseRevoke, rpc_pb2.LeaseRevokeRequest(ID=12345), metadata=alice) == (
        grpc.StatusCode.NOT_FOUND, "etcdserver: requested lease not found")
    lease.LeaseRevoke(rpc_pb2.LeaseRevokeRequest(ID=foreign), metadata=root)


def test_lease_grant_leases_keepalive_and_time_to_live_need_no_permission(target, tokens):
    root, alice = tokens
    lease = target.lease
    lease_id = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60)).ID  # no token at all
    target.kv.Put(rpc_pb2.PutRequest(key=b"r/leased", lease=lease_id), metadata=root)
    target.kv.Put(rpc_pb2.PutRequest(key=b"w/leased", lease=lease_id), metadata=root)
    assert [s.ID for s in lease.LeaseLeases(rpc_pb2.LeaseLeasesRequest()).leases] == [lease_id]
    with BidiStream(lambda requests: lease.LeaseKeepAlive(requests, metadata=alice)) as stream:
        stream.send(rpc_pb2.LeaseKeepAliveRequest(ID=lease_id))
        assert (stream.next().ID, ) == (lease_id, )
    for md in [alice, None]:
        ttl = lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=lease_id), metadata=md)
        assert (ttl.ID, ttl.grantedTTL, list(ttl.keys)) == (lease_id, 60, [])
    if target.is_real_etcd:
        # CVE-2023-32082 in 3.4.23/3.5.1: the keys are listed to callers that cannot read them
        for md in [alice, None]:
            ttl = lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=lease_id, keys=True),
                                        metadata=md)
            assert sorted(ttl.keys) == [b"r/leased", b"w/leased"]
    else:
        # etcdlite as the fixed releases: keys only for a caller allowed to read all of them
        assert error_of(lease.LeaseTimeToLive, rpc_pb2.LeaseTimeToLiveRequest(
            ID=lease_id, keys=True), metadata=alice) == PERMISSION_DENIED
    ttl = lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=lease_id, keys=True),
                                metadata=root)
    assert sorted(ttl.keys) == [b"r/leased", b"w/leased"]


def test_watch_on_a_forbidden_key_is_created_and_cancelled_at_once(target, tokens):
    root, alice = tokens
    with BidiStream(lambda requests: target.watch.Watch(requests, metadata=alice)) as stream:
        stream.send(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"w/a")))
        refused = stream.next()
        assert_full_header(refused.header, 4)
        assert (refused.created, refused.canceled, refused.cancel_reason) == (
            True, True, "rpc error: code = PermissionDenied desc = etcdserver: permission denied")
        # 3.4: watch_id -1; 3.5: the requested ID (here 0 = "pick one")
        assert refused.watch_id == (-1 if target.etcd_version == "3.4" else 0)
        assert not refused.events
        stream.send(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(
            key=b"w/", range_end=b"w0", watch_id=7)))
        refused = stream.next()
        assert (refused.watch_id, refused.created, refused.canceled) == (
            -1 if target.etcd_version == "3.4" else 7, True, True)
        # the stream stays usable: a readable watch is created and sees events
        stream.send(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(
            key=b"r/", range_end=b"r0")))
        created = stream.next()
        assert (created.watch_id, created.created, created.canceled) == (0, True, False)
        target.kv.Put(rpc_pb2.PutRequest(key=b"w/a", value=b"hidden"), metadata=root)
        target.kv.Put(rpc_pb2.PutRequest(key=b"r/a", value=b"seen"), metadata=root)
        event = stream.next()
        assert [(e.kv.key, e.kv.value) for e in event.events] == [(b"r/a", b"seen")]
        stream.expect_nothing(0.3)


def test_a_from_key_watch_is_checked_as_a_read_of_its_start_key_only(target, tokens):
    # etcd 3.4.23/3.5.1 turn range_end "\x00" into "" before the permission check: alice, who
    # may read r/... only, watches everything from r/a on
    root, alice = tokens
    with BidiStream(lambda requests: target.watch.Watch(requests, metadata=alice)) as stream:
        stream.send(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(
            key=b"r/a", range_end=b"\x00")))
        created = stream.next()
        assert (created.created, created.canceled) == (True, False)
        target.kv.Put(rpc_pb2.PutRequest(key=b"w/a", value=b"seen"), metadata=root)
        assert [e.kv.key for e in stream.next().events] == [b"w/a"]
        stream.send(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(
            key=b"w/a", range_end=b"\x00")))
        assert stream.next().canceled


def test_watch_without_token_or_with_a_bad_token_is_cancelled(target, tokens):
    for md, reason_34 in [
            (None, "rpc error: code = InvalidArgument desc = etcdserver: user name is empty"),
            ([("token", "garbage")],
             "rpc error: code = Unauthenticated desc = etcdserver: invalid auth token")]:
        with BidiStream(lambda requests: target.watch.Watch(requests, metadata=md)) as stream:
            stream.send(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(
                key=b"r/a")))
            refused = stream.next()
            assert (refused.created, refused.canceled) == (True, True)
            if target.etcd_version == "3.4":
                assert (refused.watch_id, refused.cancel_reason) == (-1, reason_34)
            else:
                # 3.5 reports every refusal as permission denied
                assert (refused.watch_id, refused.cancel_reason) == (
                    0, "rpc error: code = PermissionDenied desc = etcdserver: permission denied")


def test_existing_watchers_keep_their_events_after_the_permission_is_revoked(target, tokens):
    root, alice = tokens
    from etcdlite.proto import rpc_pb2 as pb
    with BidiStream(lambda requests: target.watch.Watch(requests, metadata=alice)) as stream:
        stream.send(pb.WatchRequest(create_request=pb.WatchCreateRequest(key=b"r/", range_end=b"r0")))
        assert stream.next().created
        from auth_helpers import auth_stub
        auth_stub(target).RoleRevokePermission(pb.AuthRoleRevokePermissionRequest(
            role="r", key=b"r/", range_end=b"r0"), metadata=root)
        assert error_of(_range, target, alice, b"r/a") == PERMISSION_DENIED
        target.kv.Put(pb.PutRequest(key=b"r/a", value=b"after"), metadata=root)
        assert [e.kv.value for e in stream.next().events] == [b"after"]


def test_lock_and_unlock_need_permission_on_the_prefix_and_answer_unknown(target, tokens):
    root, alice = tokens
    lease_id = target.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60)).ID
    assert error_of(target.lock.Lock, v3lock_pb2.LockRequest(name=b"r/lock", lease=lease_id),
                    metadata=alice, timeout=10) == LOCK_PERMISSION_DENIED
    assert error_of(target.lock.Lock, v3lock_pb2.LockRequest(name=b"rw/lock", lease=lease_id),
                    timeout=10) == LOCK_USER_EMPTY
    locked = target.lock.Lock(v3lock_pb2.LockRequest(name=b"rw/lock", lease=lease_id),
                              metadata=alice, timeout=10)
    assert locked.key == b"rw/lock/" + format(lease_id, "x").encode()
    assert_full_header(locked.header, 5)
    assert error_of(target.lock.Unlock, v3lock_pb2.UnlockRequest(key=b"r/a"), metadata=alice,
                    timeout=10) == LOCK_PERMISSION_DENIED
    target.lock.Unlock(v3lock_pb2.UnlockRequest(key=locked.key), metadata=alice, timeout=10)
    assert _range(target, root, b"rw/lock/", b"rw/lock0").count == 0


def test_election_calls_need_permission_on_the_prefix_and_observe_just_ends(target, tokens):
    root, alice = tokens
    election = target.election
    lease_id = target.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60)).ID
    assert error_of(election.Campaign, v3election_pb2.CampaignRequest(
        name=b"r/el", lease=lease_id, value=b"v"), metadata=alice, timeout=10) == (
        LOCK_PERMISSION_DENIED)
    leader = election.Campaign(v3election_pb2.CampaignRequest(
        name=b"rw/el", lease=lease_id, value=b"v"), metadata=alice, timeout=10).leader
    assert (leader.name, leader.rev) == (b"rw/el", 5)
    assert error_of(election.Leader, v3election_pb2.LeaderRequest(name=b"w/el"), metadata=alice,
                    timeout=10) == LOCK_PERMISSION_DENIED
    assert error_of(election.Leader, v3election_pb2.LeaderRequest(name=b"rw/el"), timeout=10) == (
        LOCK_USER_EMPTY)
    assert election.Leader(v3election_pb2.LeaderRequest(name=b"rw/el"), metadata=alice,
                           timeout=10).kv.value == b"v"
    assert error_of(election.Leader, v3election_pb2.LeaderRequest(name=b"r/el"), metadata=alice,
                    timeout=10) == (grpc.StatusCode.UNKNOWN, "election: no leader")
    # Observe on a prefix the caller cannot read: the stream ends without an error or message
    assert list(election.Observe(v3election_pb2.LeaderRequest(name=b"w/el"), metadata=alice,
                                 timeout=5)) == []


def test_admin_only_maintenance_calls_answer_raw_auth_errors_with_code_unknown(target, tokens):
    root, alice = tokens
    m = target.maintenance
    for method, request in [(m.Defragment, rpc_pb2.DefragmentRequest()),
                            (m.Hash, rpc_pb2.HashRequest()),
                            (m.HashKV, rpc_pb2.HashKVRequest())]:
        assert error_of(method, request, metadata=alice) == RAW_PERMISSION_DENIED, method
        assert error_of(method, request) == RAW_USER_EMPTY, method
        method(request, metadata=root)


def test_snapshot_needs_role_root_and_answers_raw_auth_errors(target, tokens):
    root, alice = tokens
    m = target.maintenance
    for md, expected in [(alice, RAW_PERMISSION_DENIED), (None, RAW_USER_EMPTY)]:
        assert error_of(lambda: next(m.Snapshot(rpc_pb2.SnapshotRequest(), metadata=md))) == (
            expected)
    stream = m.Snapshot(rpc_pb2.SnapshotRequest(), metadata=root)
    assert next(stream).blob
    stream.cancel()


def test_member_changes_need_role_root(target, tokens):
    root, alice = tokens
    cl = target.cluster
    calls = [(cl.MemberAdd, rpc_pb2.MemberAddRequest(peerURLs=["http://127.0.0.1:1"])),
             (cl.MemberRemove, rpc_pb2.MemberRemoveRequest(ID=1)),
             (cl.MemberUpdate, rpc_pb2.MemberUpdateRequest(ID=1, peerURLs=["http://127.0.0.1:2"])),
             (cl.MemberPromote, rpc_pb2.MemberPromoteRequest(ID=1))]
    for method, request in calls:
        assert error_of(method, request, metadata=alice, timeout=10) == PERMISSION_DENIED, request
        assert error_of(method, request, timeout=10) == USER_EMPTY, request
    # (root passes the check; what a conf change then does is tests/api/test_cluster.py's business)
    assert len(cl.MemberList(rpc_pb2.MemberListRequest(), metadata=root).members) == 1


def test_status_member_list_alarm_compact_and_move_leader_are_open_to_anyone(target, tokens):
    root, alice = tokens
    m = target.maintenance
    for md in [alice, None]:
        assert m.Status(rpc_pb2.StatusRequest(), metadata=md).header.revision == 4
        assert len(target.cluster.MemberList(rpc_pb2.MemberListRequest(), metadata=md).members) == 1
        assert list(m.Alarm(rpc_pb2.AlarmRequest(action=rpc_pb2.AlarmRequest.GET),
                            metadata=md).alarms) == []
        m.Alarm(rpc_pb2.AlarmRequest(action=rpc_pb2.AlarmRequest.DEACTIVATE, memberID=1,
                                     alarm=rpc_pb2.NOSPACE), metadata=md)
        assert error_of(m.MoveLeader, rpc_pb2.MoveLeaderRequest(targetID=1), metadata=md) == (
            grpc.StatusCode.FAILED_PRECONDITION, "etcdserver: bad leader transferee")
    assert_full_header(target.kv.Compact(rpc_pb2.CompactionRequest(revision=2), metadata=alice)
                       .header, 4)
    assert error_of(target.kv.Compact, rpc_pb2.CompactionRequest(revision=2)) == (
        grpc.StatusCode.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted")
    target.kv.Compact(rpc_pb2.CompactionRequest(revision=3))


def test_root_role_may_do_everything_and_from_key_permissions_cover_everything_after(target):
    root, alice = enable_auth_with_user(target, [(READWRITE, b"m", b"\x00")])
    _put(target, alice, b"m")
    _put(target, alice, b"zzzz")
    assert _range(target, alice, b"m", b"\x00").count == 2
    assert error_of(_put, target, alice, b"l") == PERMISSION_DENIED
    assert error_of(_range, target, alice, b"\x00", b"\x00") == PERMISSION_DENIED
    assert _range(target, root, b"\x00", b"\x00").count == 2
    _put(target, root, b"a")


def test_permissions_of_several_roles_merge_into_one_covering_range(target):
    root, alice = enable_auth_with_user(target, [(READ, b"a", b"c")])
    from auth_helpers import add_role, auth_stub
    add_role(target, "s", [(READ, b"c", b"e"), (READ, b"e", b"")], metadata=root)
    auth_stub(target).UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="alice", role="s"),
                                    metadata=root)
    assert _range(target, alice, b"a", b"e").count == 0
    assert _range(target, alice, b"b", b"e\x00").count == 0  # the point e closes the range
    assert error_of(_range, target, alice, b"a", b"e\x00\x00") == PERMISSION_DENIED
    assert error_of(_range, target, alice, b"a", b"f") == PERMISSION_DENIED
    assert error_of(_put, target, alice, b"b") == PERMISSION_DENIED
