"""Maintenance: Status, Hash, Alarm, Defragment, MoveLeader (reference §2, §10.1–§10.5, §11.5)."""

from __future__ import annotations

import grpc

from etcd_api_helpers import (CORRUPT, MEMBER_ID, NO_SPACE, FRESH_RAFT_TERM, assert_full_header,
                              current_revision, delete, get, kv_tuples, op_delete, op_put,
                              op_range, op_txn, put, rpc_error, txn)
from etcdlite.proto import rpc_pb2

A = rpc_pb2.AlarmRequest


def _alarm(target, action, alarm=rpc_pb2.NONE, member_id=MEMBER_ID):
    return target.maintenance.Alarm(A(action=action, memberID=member_id, alarm=alarm))


def _alarms(response) -> list[tuple[int, int]]:
    return [(a.memberID, a.alarm) for a in response.alarms]


def test_status_and_hash_report_current_revision_and_itself_as_leader(target):
    put(target, b"a", b"1")
    put(target, b"b", b"1")
    status = target.maintenance.Status(rpc_pb2.StatusRequest())
    assert_full_header(status.header, 3)
    assert status.leader == MEMBER_ID == status.header.member_id
    assert status.raftTerm == FRESH_RAFT_TERM
    assert list(status.errors) == []
    assert status.isLearner is False
    # the version string is etcdlite's own choice (reference §10.1): only require one;
    # dbSize and raft index values are not comparable between the implementations
    assert status.version
    # Hash: any CRC-32C is fine (reference §10.2), with a full header at the current revision
    response = target.maintenance.Hash(rpc_pb2.HashRequest())
    assert response.HasField("header")
    assert_full_header(response.header, 3)
    assert 0 <= response.hash < 2 ** 32


def test_alarm_get_on_a_fresh_server_lists_no_alarms(target):
    for alarm in (rpc_pb2.NONE, rpc_pb2.NOSPACE, rpc_pb2.CORRUPT):
        assert _alarms(_alarm(target, A.GET, alarm, member_id=0)) == []


def test_alarm_responses_carry_a_full_header_at_the_current_revision_except_on_etcd_3_4(target):
    put(target, b"a", b"1")
    responses = [_alarm(target, A.GET), _alarm(target, A.ACTIVATE, rpc_pb2.NOSPACE),
                 _alarm(target, A.DEACTIVATE, rpc_pb2.NOSPACE)]
    for response in responses:
        if target.etcd_version == "3.4":
            # etcd 3.4 sends AlarmResponse without a header (reference §10.4 / §2, observed)
            assert not response.HasField("header")
        else:
            assert_full_header(response.header, 2)


def test_activating_alarm_none_is_ignored_except_on_etcd_3_4(target):
    response = _alarm(target, A.ACTIVATE, rpc_pb2.NONE)
    if target.etcd_version == "3.4":
        # 3.4 records a NONE alarm for the member, lists it and reports it in Status (in Go's
        # text form of the AlarmMember, which leaves out the zero alarm field; observed)
        assert _alarms(response) == [(MEMBER_ID, rpc_pb2.NONE)]
        assert _alarms(_alarm(target, A.GET)) == [(MEMBER_ID, rpc_pb2.NONE)]
        status = target.maintenance.Status(rpc_pb2.StatusRequest())
        assert list(status.errors) == ["memberID:10276657743932975437 "]
        assert _alarms(_alarm(target, A.DEACTIVATE, rpc_pb2.NONE)) == [(MEMBER_ID, rpc_pb2.NONE)]
    else:
        assert _alarms(response) == []
        assert _alarms(_alarm(target, A.DEACTIVATE, rpc_pb2.NONE)) == []
    assert _alarms(_alarm(target, A.GET)) == []
    assert list(target.maintenance.Status(rpc_pb2.StatusRequest()).errors) == []
    assert put(target, b"a", b"1").header.revision == 2


def test_nospace_alarm_blocks_puts_until_deactivated(target):
    put(target, b"a", b"1")  # 2
    put(target, b"b", b"1")  # 3
    response = _alarm(target, A.ACTIVATE, rpc_pb2.NOSPACE)
    assert _alarms(response) == [(MEMBER_ID, rpc_pb2.NOSPACE)]
    assert _alarms(_alarm(target, A.GET)) == [(MEMBER_ID, rpc_pb2.NOSPACE)]
    assert _alarms(_alarm(target, A.GET, rpc_pb2.NOSPACE)) == [(MEMBER_ID, rpc_pb2.NOSPACE)]
    assert _alarms(_alarm(target, A.GET, rpc_pb2.CORRUPT)) == []
    status = target.maintenance.Status(rpc_pb2.StatusRequest())
    assert list(status.errors) == ["memberID:10276657743932975437 alarm:NOSPACE "]
    with rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, NO_SPACE):
        put(target, b"c", b"1")
    with rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, NO_SPACE):
        txn(target, success=[op_range(b"a"), op_put(b"c", b"1")])
    # reads, deletes and txns without puts keep working
    assert kv_tuples(get(target, b"a").kvs) == [(b"a", b"1", 2, 2, 1, 0)]
    assert txn(target, success=[op_range(b"a"), op_delete(b"zz")]).header.revision == 3
    response = delete(target, b"a")
    assert (response.deleted, response.header.revision) == (1, 4)
    response = _alarm(target, A.DEACTIVATE, rpc_pb2.NOSPACE)
    assert _alarms(response) == [(MEMBER_ID, rpc_pb2.NOSPACE)]
    assert _alarms(_alarm(target, A.GET)) == []
    assert list(target.maintenance.Status(rpc_pb2.StatusRequest()).errors) == []
    assert put(target, b"c", b"1").header.revision == 5


def test_corrupt_alarm_blocks_writes_but_not_reads(target):
    put(target, b"a", b"1")  # 2
    response = _alarm(target, A.ACTIVATE, rpc_pb2.CORRUPT, member_id=0)  # ID 0 is kept as is
    assert _alarms(response) == [(0, rpc_pb2.CORRUPT)]
    assert _alarms(_alarm(target, A.GET)) == [(0, rpc_pb2.CORRUPT)]
    for write in (lambda: put(target, b"b", b"1"), lambda: delete(target, b"a"),
                  lambda: txn(target, success=[op_put(b"b", b"1")]),
                  lambda: txn(target, success=[op_txn(success=[op_range(b"a")])]),
                  lambda: target.kv.Compact(rpc_pb2.CompactionRequest(revision=1))):
        with rpc_error(grpc.StatusCode.DATA_LOSS, CORRUPT):
            write()
    assert kv_tuples(get(target, b"a").kvs) == [(b"a", b"1", 2, 2, 1, 0)]
    response = txn(target, success=[op_range(b"a")])  # a read-only txn is a read
    assert kv_tuples(response.responses[0].response_range.kvs) == [(b"a", b"1", 2, 2, 1, 0)]
    assert _alarms(_alarm(target, A.DEACTIVATE, rpc_pb2.CORRUPT, member_id=0)) == [
        (0, rpc_pb2.CORRUPT)]
    assert put(target, b"b", b"1").header.revision == 3


def test_defragment_response_has_no_header(target):
    put(target, b"a", b"1")
    response = target.maintenance.Defragment(rpc_pb2.DefragmentRequest())
    assert not response.HasField("header")
    assert kv_tuples(get(target, b"a").kvs) == [(b"a", b"1", 2, 2, 1, 0)]
    assert current_revision(target) == 2


def test_move_leader_to_itself_succeeds_without_header_and_other_ids_fail(target):
    response = target.maintenance.MoveLeader(rpc_pb2.MoveLeaderRequest(targetID=MEMBER_ID))
    assert not response.HasField("header")
    for target_id in (0, 12345, MEMBER_ID + 1):
        with rpc_error(grpc.StatusCode.FAILED_PRECONDITION, "etcdserver: bad leader transferee"):
            target.maintenance.MoveLeader(rpc_pb2.MoveLeaderRequest(targetID=target_id))
    status = target.maintenance.Status(rpc_pb2.StatusRequest())
    assert (status.leader, status.raftTerm) == (MEMBER_ID, FRESH_RAFT_TERM)
