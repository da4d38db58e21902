"""Cluster service on a single node (reference §2, §10.7, §11.5)."""

from __future__ import annotations

import grpc

from etcd_api_helpers import CLUSTER_ID, FRESH_RAFT_TERM, MEMBER_ID, put, rpc_error
from etcdlite.proto import rpc_pb2

NOT_FOUND = "etcdserver: member not found"


def _member_header(header) -> None:
    # Cluster responses carry cluster/member/term and revision 0 (observed)
    assert (header.cluster_id, header.member_id, header.revision, header.raft_term) == (
        CLUSTER_ID, MEMBER_ID, 0, FRESH_RAFT_TERM)


def _members(response) -> list[tuple]:
    return [(m.ID, m.name, list(m.peerURLs), list(m.clientURLs), m.isLearner)
            for m in response.members]


def test_member_list_has_the_single_member_and_revision_zero_header(target):
    put(target, b"a", b"1")
    response = target.cluster.MemberList(rpc_pb2.MemberListRequest())
    _member_header(response.header)
    assert _members(response) == [(MEMBER_ID, "default", ["http://localhost:2380"],
                                   [f"http://{target.endpoint}"], False)]


def test_member_remove_unknown_is_not_found_and_the_only_member_is_unknown_code(target):
    with rpc_error(grpc.StatusCode.NOT_FOUND, NOT_FOUND):
        target.cluster.MemberRemove(rpc_pb2.MemberRemoveRequest(ID=12345))
    # etcd maps this error to a non-status value, so it leaks out as Unknown (reference §10.7)
    with rpc_error(grpc.StatusCode.UNKNOWN,
                   "etcdserver: re-configuration failed due to not enough started members"):
        target.cluster.MemberRemove(rpc_pb2.MemberRemoveRequest(ID=MEMBER_ID))
    assert [m.ID for m in target.cluster.MemberList(rpc_pb2.MemberListRequest()).members] == [
        MEMBER_ID]


def test_member_promote_of_a_voting_member_or_unknown_id_fails(target):
    with rpc_error(grpc.StatusCode.FAILED_PRECONDITION,
                   "etcdserver: can only promote a learner member"):
        target.cluster.MemberPromote(rpc_pb2.MemberPromoteRequest(ID=MEMBER_ID))
    with rpc_error(grpc.StatusCode.NOT_FOUND, NOT_FOUND):
        target.cluster.MemberPromote(rpc_pb2.MemberPromoteRequest(ID=12345))


def test_member_add_with_invalid_or_existing_peer_urls_fails(target):
    for urls in (["not-a-url"], ["http://localhost:2390", "::"]):
        with rpc_error(grpc.StatusCode.INVALID_ARGUMENT,
                       "etcdserver: given member URLs are invalid"):
            target.cluster.MemberAdd(rpc_pb2.MemberAddRequest(peerURLs=urls))
    for is_learner in (False, True):
        with rpc_error(grpc.StatusCode.FAILED_PRECONDITION,
                       "etcdserver: Peer URLs already exists"):
            target.cluster.MemberAdd(rpc_pb2.MemberAddRequest(
                peerURLs=["http://localhost:2380"], isLearner=is_learner))
    assert len(target.cluster.MemberList(rpc_pb2.MemberListRequest()).members) == 1


def test_member_update_unknown_is_not_found_and_own_id_replaces_peer_urls(target):
    with rpc_error(grpc.StatusCode.NOT_FOUND, NOT_FOUND):
        target.cluster.MemberUpdate(rpc_pb2.MemberUpdateRequest(
            ID=12345, peerURLs=["http://localhost:2390"]))
    response = target.cluster.MemberUpdate(rpc_pb2.MemberUpdateRequest(
        ID=MEMBER_ID, peerURLs=["http://localhost:2390"]))
    _member_header(response.header)
    expected = [(MEMBER_ID, "default", ["http://localhost:2390"], [f"http://{target.endpoint}"],
                 False)]
    assert _members(response) == expected
    assert _members(target.cluster.MemberList(rpc_pb2.MemberListRequest())) == expected
