"""etcdctl against each target (3.4's against etcd 3.4, 3.5's against etcd 3.5 and etcdlite): its
printed output must be the same for etcdlite and etcd.

Only output that cannot differ by design is compared: the server version, db size and raft
index columns of ``endpoint status`` are etcdlite's own (reference §10.1).
"""

from __future__ import annotations

import json
import re

from etcdlite.proto import rpc_pb2

ERROR_PREFIX = "Error: "
MEMBER_ID = 10276657743932975437
HEADER = {"cluster_id": 14841639068965178418, "member_id": MEMBER_ID, "raft_term": 2}


def _fails(target, *args, message: str) -> None:
    proc = target.etcdctl(*args, check=False)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.endswith(ERROR_PREFIX + message + "\n"), proc.stderr


def test_etcdctl_put_get_and_del_print_like_etcd(target):
    assert target.etcdctl("put", "a", "1").stdout == "OK\n"
    assert target.etcdctl("put", "a", "2", "--prev-kv").stdout == "OK\na\n1\n"
    assert target.etcdctl("put", "b", "x").stdout == "OK\n"
    assert target.etcdctl("get", "a").stdout == "a\n2\n"
    assert target.etcdctl("get", "a", "--print-value-only").stdout == "2\n"
    assert target.etcdctl("get", "a", "--rev", "2").stdout == "a\n1\n"
    assert target.etcdctl("get", "", "--from-key", "--keys-only").stdout == "a\n\nb\n\n"
    assert target.etcdctl("get", "", "--prefix").stdout == "a\n2\nb\nx\n"
    assert target.etcdctl("get", "missing").stdout == ""
    assert json.loads(target.etcdctl("get", "a", "--prefix", "-w", "json").stdout) == {
        "header": dict(HEADER, revision=4),
        "kvs": [{"key": "YQ==", "create_revision": 2, "mod_revision": 3, "version": 2,
                 "value": "Mg=="}],
        "count": 1}
    assert target.etcdctl("get", "a", "z", "--limit", "1", "-w", "fields").stdout == (
        '"ClusterID" : 14841639068965178418\n"MemberID" : 10276657743932975437\n'
        '"Revision" : 4\n"RaftTerm" : 2\n"Key" : "a"\n"CreateRevision" : 2\n"ModRevision" : 3\n'
        '"Version" : 2\n"Value" : "2"\n"Lease" : 0\n"More" : true\n"Count" : 2\n')
    assert target.etcdctl("del", "a", "--prev-kv").stdout == "1\na\n2\n"
    assert target.etcdctl("del", "nothing").stdout == "0\n"
    assert target.etcdctl("del", "", "--prefix").stdout == "1\n"
    assert target.etcdctl("get", "", "--prefix").stdout == ""
    _fails(target, "get", "a", "--rev", "99",
           message="etcdserver: mvcc: required revision is a future revision")


def test_etcdctl_interactive_txn_success_and_failure(target):
    proc = target.etcdctl("txn", input='mod("a") = "0"\n\nput a "created"\n\nput a "existed"\n\n')
    assert proc.stdout == "SUCCESS\n\nOK\n"
    proc = target.etcdctl("txn", input='value("a") = "nope"\n\nput b "1"\n\nput c "1"\nget c\n\n')
    assert proc.stdout == "FAILURE\n\nOK\n\nc\n1\n"
    proc = target.etcdctl("txn", "-w", "json",
                          input='value("a") = "created"\n\nget a\ndel b\n\nput x y\n\n')
    # etcdctl 3.4 names the response oneof's members by their Go names, 3.5 by their proto names
    if target.etcdctl_version == "3.4":
        range_name, delete_name = "ResponseRange", "ResponseDeleteRange"
    else:
        range_name, delete_name = "response_range", "response_delete_range"
    assert json.loads(proc.stdout) == {
        "header": dict(HEADER, revision=3),
        "succeeded": True,
        "responses": [
            {"Response": {range_name: {
                "header": {"revision": 3},
                "kvs": [{"key": "YQ==", "create_revision": 2, "mod_revision": 2, "version": 1,
                         "value": "Y3JlYXRlZA=="}],
                "count": 1}}},
            {"Response": {delete_name: {"header": {"revision": 3}}}}]}


def test_etcdctl_compaction_hashkv_and_defrag(target):
    for value in ("1", "2", "3"):
        target.etcdctl("put", "a", value)  # revisions 2, 3, 4
    target.etcdctl("put", "b", "1")  # 5
    target.etcdctl("del", "a")  # 6
    assert target.etcdctl("compaction", "3", "--physical").stdout == "compacted revision 3\n"
    _fails(target, "compaction", "3",
           message="etcdserver: mvcc: required revision has been compacted")
    _fails(target, "compaction", "99",
           message="etcdserver: mvcc: required revision is a future revision")
    _fails(target, "get", "a", "--rev", "2",
           message="etcdserver: mvcc: required revision has been compacted")
    assert target.etcdctl("get", "a", "--rev", "3").stdout == "a\n2\n"
    [hashkv] = json.loads(target.etcdctl("endpoint", "hashkv", "-w", "json").stdout)
    assert hashkv == {"Endpoint": target.endpoint, "HashKV": {
        "header": dict(HEADER, revision=6), "hash": 813585201, "compact_revision": 3}}
    assert target.etcdctl("defrag").stdout == (
        f"Finished defragmenting etcd member[{target.endpoint}]\n")
    assert target.etcdctl("get", "b").stdout == "b\n1\n"


def test_etcdctl_member_list(target):
    assert target.etcdctl("member", "list").stdout == (
        f"8e9e05c52164694d, started, default, http://localhost:2380, http://{target.endpoint}, "
        "false\n")
    assert json.loads(target.etcdctl("member", "list", "-w", "json").stdout) == {
        "header": HEADER,
        "members": [{"ID": 10276657743932975437, "name": "default",
                     "peerURLs": ["http://localhost:2380"],
                     "clientURLs": [f"http://{target.endpoint}"]}]}


def test_etcdctl_endpoint_status(target):
    target.etcdctl("put", "a", "1")
    fields = target.etcdctl("endpoint", "status").stdout.rstrip("\n").split(", ")
    # endpoint, ID, version, db size, is leader, is learner, raft term, raft index,
    # raft applied index, errors
    assert len(fields) == 10
    assert fields[:2] == [target.endpoint, "8e9e05c52164694d"]
    assert fields[4:7] == ["true", "false", "2"]
    assert fields[9] == ""
    [status] = json.loads(target.etcdctl("endpoint", "status", "-w", "json").stdout)
    assert status["Endpoint"] == target.endpoint
    assert status["Status"]["header"] == dict(HEADER, revision=2)
    assert (status["Status"]["leader"], status["Status"]["raftTerm"]) == (10276657743932975437, 2)
    assert "errors" not in status["Status"] and "isLearner" not in status["Status"]


def test_etcdctl_endpoint_health_reports_an_active_alarm_as_unhealthy_from_etcdctl_3_5_on(target):
    healthy = re.compile(
        rf"{re.escape(target.endpoint)} is healthy: successfully committed proposal: took = \S+\n")
    proc = target.etcdctl("endpoint", "health")
    # etcdctl 3.4 prints the verdict on stderr, 3.5 on stdout
    assert healthy.fullmatch(proc.stderr if target.etcdctl_version == "3.4" else proc.stdout), proc
    target.maintenance.Alarm(rpc_pb2.AlarmRequest(
        action=rpc_pb2.AlarmRequest.ACTIVATE, memberID=MEMBER_ID, alarm=rpc_pb2.NOSPACE))
    alarm_line = f"memberID:{MEMBER_ID} alarm:NOSPACE \n"
    assert target.etcdctl("alarm", "list").stdout == alarm_line
    proc = target.etcdctl("endpoint", "health", check=False)
    if target.etcdctl_version == "3.4":
        # 3.4's health check is a Range only: alarms go unnoticed
        assert proc.returncode == 0 and healthy.fullmatch(proc.stderr), proc
    else:
        assert (proc.returncode, proc.stdout) == (1, "")
        assert proc.stderr == (
            f"{target.endpoint} is unhealthy: failed to commit proposal: Active Alarm(s): NOSPACE \n"
            f"{ERROR_PREFIX}unhealthy cluster\n")
    assert target.etcdctl("alarm", "disarm").stdout == alarm_line
    assert target.etcdctl("alarm", "list").stdout == ""
    assert target.etcdctl("put", "a", "1").stdout == "OK\n"
