"""Our bbolt files against real etcd 3.4.23 and 3.5.1, both ways.

* Written by us: ``etcdctl snapshot status`` (3.4) and ``etcdutl snapshot status`` (3.5) accept the
  file (bbolt's consistency check included) and report our revision, key count, size and hash;
  ``snapshot restore`` turns it into a data directory that real etcd serves: the keys with their
  create/mod revisions, versions and leases, history above the compaction, the compaction itself,
  leases, users and roles with auth enabled.
* Written by real etcd (keys over many pages, a value with overflow pages, a txn, deletes, a lease,
  users and roles, auth, compaction): our reader decodes the saved snapshot into the history etcd
  recorded, and re-encoding it reproduces every bucket's contents.
"""

from __future__ import annotations

import bcrypt
import grpc
import pytest

from bbolt_real_etcd import History, remove, restore, start_etcd_on, tool_status
from etcd_targets import require_etcd, start_real_etcd
from etcdlite.bbolt import Bucket, Database, database_bytes
from etcdlite.bbolt.format import BRANCH_PAGE, PGID_NO_FREELIST
from etcdlite.bbolt.etcd_layout import (EtcdState, Lease, Member, decode_snapshot, encode_snapshot,
                                        snapshot_status, write_snapshot_file)
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc

VERSIONS = ["3.4", "3.5"]
MEMBER_ID = 10276657743932975437  # etcd's default member ("default" at http://localhost:2380)
LEASE_ID = 0x694D000000000A01
ROOT_PASSWORD = "rootpw"
USER_PASSWORD = "pw1"


def _hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


def _state() -> tuple[EtcdState, History, int]:
    """A store with puts, updates, a txn, deletes, a big value, many keys, a lease, compaction."""
    h = History()
    h.put(b"a", b"1")                                   # 2
    h.put(b"b", b"2")                                   # 3
    h.txn([("put", b"c", b"3"), ("put", b"a", b"4")])   # 4
    h.delete(b"b")                                      # 5
    h.put(b"leased", b"x", LEASE_ID)                    # 6
    h.put(b"big", bytes(range(256)) * 600)              # 7: 153,600 bytes, overflow pages
    for start in range(0, 2000, 100):                   # 8..27: 2000 keys over many leaf pages
        h.txn([("put", b"/foo/k%04d" % i, b"value-%d" % i) for i in range(start, start + 100)])
    h.put(b"a", b"5")                                   # 28
    h.delete(b"c")                                      # 29
    compact = 4
    state = EtcdState(
        changes=h.compacted(compact), compact_revision=compact, consistent_index=40,
        term=2, conf_state_voters=[MEMBER_ID],
        leases=[Lease(LEASE_ID, 1000)],
        members=[Member(MEMBER_ID, "default", ["http://localhost:2380"])],
        cluster_version="3.4.0",
        auth={"enabled": True, "revision": 7,
              "users": [{"name": "root", "password": _hash(ROOT_PASSWORD), "roles": ["root"],
                         "no_password": False},
                        {"name": "u1", "password": _hash(USER_PASSWORD), "roles": ["r1"],
                         "no_password": False}],
              "roles": [{"name": "r1", "permissions": [[2, "/foo", "/fop"]]},
                        {"name": "root", "permissions": []}]})
    return state, h, compact


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> tuple[str, EtcdState, History, int]:
    path = str(tmp_path_factory.mktemp("bbolt") / "ours.snap")
    state, history, compact = _state()
    write_snapshot_file(state, path)
    return path, state, history, compact


@pytest.mark.parametrize("version", VERSIONS, ids=["etcd-3.4", "etcd-3.5"])
def test_snapshot_status_accepts_our_files(version: str, snapshot, tmp_path) -> None:
    path = snapshot[0]
    ours = snapshot_status(path)
    assert tool_status(version, path) == {"hash": ours.hash, "revision": 29,
                                          "totalKey": ours.total_key, "totalSize": ours.total_size}
    # a generic bbolt file: nested buckets (inline and not), overflow, several tree levels
    tree = [(b"a", Bucket([(b"inline", Bucket([(b"x", b"1")])),
                           (b"paged", Bucket([(b"%05d" % i, b"y" * 50) for i in range(3000)])),
                           (b"value", b"v" * 10000)])),
            (b"key", Bucket([((i + 1).to_bytes(8, "big") + b"_" + bytes(8), b"z" * (i % 700))
                             for i in range(5000)]))]
    data = database_bytes(tree)
    generic = tmp_path / "generic.db"
    generic.write_bytes(data)
    ours = snapshot_status(data)
    assert tool_status(version, generic) == {"hash": ours.hash, "revision": 5000,
                                             "totalKey": 5003, "totalSize": len(data)}


def _token(channel: grpc.Channel, name: str, password: str) -> list[tuple[str, str]]:
    reply = rpc_pb2_grpc.AuthStub(channel).Authenticate(
        rpc_pb2.AuthenticateRequest(name=name, password=password), timeout=10)
    return [("token", reply.token)]


@pytest.mark.parametrize("version", VERSIONS, ids=["etcd-3.4", "etcd-3.5"])
def test_real_etcd_serves_a_restored_snapshot_of_ours(version: str, snapshot, tmp_path) -> None:
    path, state, history, compact = snapshot
    data_dir = str(tmp_path / "restored")
    restore(version, path, data_dir)
    target = start_etcd_on(version, data_dir)
    try:
        root = _token(target.channel, "root", ROOT_PASSWORD)
        # every live key, as the history left it
        reply = target.kv.Range(rpc_pb2.RangeRequest(key=b"\0", range_end=b"\0"), metadata=root,
                                timeout=10)
        assert reply.header.revision == history.revision == 29
        got = {kv.key: (kv.create_revision, kv.mod_revision, kv.version, kv.value, kv.lease)
               for kv in reply.kvs}
        assert got == {k: (kv.create_revision, kv.mod_revision, kv.version, kv.value, kv.lease)
                       for k, kv in history.live.items()}
        assert len(got) == 2000 + 3 and got[b"a"][:3] == (2, 28, 3)
        # history above the compaction, and the compaction itself
        old = target.kv.Range(rpc_pb2.RangeRequest(key=b"a", revision=compact), metadata=root,
                              timeout=10)
        assert [(kv.value, kv.mod_revision, kv.version) for kv in old.kvs] == [(b"4", 4, 2)]
        old = target.kv.Range(rpc_pb2.RangeRequest(key=b"c", revision=28), metadata=root, timeout=10)
        assert [kv.value for kv in old.kvs] == [b"3"]
        with pytest.raises(grpc.RpcError) as failure:
            target.kv.Range(rpc_pb2.RangeRequest(key=b"a", revision=compact - 1), metadata=root,
                            timeout=10)
        assert failure.value.code() == grpc.StatusCode.OUT_OF_RANGE
        assert "compacted" in failure.value.details()
        # the lease and its key
        ttl = target.lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=LEASE_ID, keys=True),
                                           metadata=root, timeout=10)
        assert (ttl.grantedTTL, list(ttl.keys)) == (1000, [b"leased"]) and 0 < ttl.TTL <= 1000
        # auth: enabled, users and roles as written
        auth = rpc_pb2_grpc.AuthStub(target.channel)
        users = auth.UserList(rpc_pb2.AuthUserListRequest(), metadata=root, timeout=10)
        assert list(users.users) == ["root", "u1"]
        role = auth.RoleGet(rpc_pb2.AuthRoleGetRequest(role="r1"), metadata=root, timeout=10)
        assert [(p.permType, p.key, p.range_end) for p in role.perm] == [(2, b"/foo", b"/fop")]
        u1 = _token(target.channel, "u1", USER_PASSWORD)
        assert target.kv.Range(rpc_pb2.RangeRequest(key=b"/foo/k0001"), metadata=u1,
                               timeout=10).kvs[0].value == b"value-1"
        with pytest.raises(grpc.RpcError) as failure:
            target.kv.Range(rpc_pb2.RangeRequest(key=b"a"), metadata=u1, timeout=10)
        assert failure.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.RpcError) as failure:
            target.kv.Range(rpc_pb2.RangeRequest(key=b"a"), timeout=10)
        assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # user name is empty
        # and it goes on from there
        put = target.kv.Put(rpc_pb2.PutRequest(key=b"a", value=b"6"), metadata=root, timeout=10)
        assert put.header.revision == 30
    finally:
        target.close()
        remove(data_dir)


def _write_through_grpc(target, history: History) -> int:
    """The writes of a test store, through real etcd, mirrored in ``history``."""
    kv = target.kv
    def put(key: bytes, value: bytes, lease: int = 0) -> None:
        kv.Put(rpc_pb2.PutRequest(key=key, value=value, lease=lease), timeout=10)
        history.put(key, value, lease)
    put(b"a", b"1")
    put(b"b", b"2")
    kv.Txn(rpc_pb2.TxnRequest(success=[
        rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"c", value=b"3")),
        rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"a", value=b"4"))]), timeout=10)
    history.txn([("put", b"c", b"3"), ("put", b"a", b"4")])
    kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"b"), timeout=10)
    history.delete(b"b")
    lease = target.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=600), timeout=10).ID
    put(b"leased", b"x", lease)
    put(b"big", bytes(range(256)) * 400)
    for start in range(0, 1500, 125):
        ops = [("put", b"/foo/k%04d" % i, b"v" * (i % 90)) for i in range(start, start + 125)]
        kv.Txn(rpc_pb2.TxnRequest(success=[
            rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=k, value=v)) for _, k, v in ops]),
            timeout=10)
        history.txn(ops)
    for i in range(0, 1500, 7):  # deletes free pages in etcd's file
        kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"/foo/k%04d" % i), timeout=10)
        history.delete(b"/foo/k%04d" % i)
    put(b"a", b"5")
    return lease


@pytest.mark.parametrize("version", VERSIONS, ids=["etcd-3.4", "etcd-3.5"])
def test_reader_decodes_a_snapshot_saved_from_real_etcd(version: str, tmp_path) -> None:
    target = start_real_etcd(require_etcd(version), version=version)
    history = History()
    try:
        lease = _write_through_grpc(target, history)
        compact = 8
        target.kv.Compact(rpc_pb2.CompactionRequest(revision=compact, physical=True), timeout=10)
        for args in (["role", "add", "root"], ["role", "add", "r1"],
                     ["role", "grant-permission", "r1", "readwrite", "/foo", "/fop"],
                     ["user", "add", f"root:{ROOT_PASSWORD}"], ["user", "grant-role", "root", "root"],
                     ["user", "add", f"u1:{USER_PASSWORD}"], ["user", "grant-role", "u1", "r1"],
                     ["auth", "enable"]):
            target.etcdctl(*args)
        path = str(tmp_path / "real.snap")
        target.etcdctl("--user", f"root:{ROOT_PASSWORD}", "snapshot", "save", path)
    finally:
        target.close()
    status = tool_status(version, path)
    state = decode_snapshot(path)
    assert state.changes == history.compacted(compact)
    assert (state.compact_revision, state.scheduled_compact_revision) == (compact, None)
    assert [(lease_.id, lease_.ttl) for lease_ in state.leases] == [(lease, 600)]
    assert [(m.id, m.name, m.peer_urls) for m in state.members] == \
        [(MEMBER_ID, "default", ["http://localhost:2380"])]
    assert state.removed_members == [] and state.alarms == []
    assert state.cluster_version == f"{version}.0"
    assert state.consistent_index > 0
    if version == "3.5":
        assert state.term is not None and state.term > 0 and state.conf_state_voters == [MEMBER_ID]
    else:
        assert state.term is None and state.conf_state_voters is None
    auth = state.auth
    assert auth["enabled"] and auth["revision"] > 1
    assert [(u["name"], u["roles"], u["no_password"]) for u in auth["users"]] == \
        [("root", ["root"], False), ("u1", ["r1"], False)]
    assert all(bcrypt.checkpw(pw.encode(), u["password"].encode())
               for u, pw in zip(auth["users"], [ROOT_PASSWORD, USER_PASSWORD]))
    assert auth["roles"] == [{"name": "r1", "permissions": [[2, "/foo", "/fop"]]},
                             {"name": "root", "permissions": []}]
    # etcd's own file: freed pages, no persisted freelist, several levels; our status agrees
    ours = snapshot_status(path)
    assert status == {"hash": ours.hash, "revision": history.revision,
                      "totalKey": ours.total_key, "totalSize": ours.total_size}
    data = open(path, "rb").read()[:-32]
    with Database(data) as db:
        assert db.check() == []
        real_tree = db.to_dict()
        pages = list(db.bucket(b"key").pages())
        assert any(flags & BRANCH_PAGE for _, flags, _ in pages)  # a multi-level tree
        assert any(overflow for _, _, overflow in pages)  # the big value
        reachable = 2 + sum(overflow + 1 for _, b in db.buckets() for _, _, overflow in b.pages())
        assert db.meta.freelist == PGID_NO_FREELIST and reachable < db.meta.pgid  # freed pages
    # re-encoding reproduces every bucket's contents exactly
    with Database(b"".join(encode_snapshot(state))) as db:
        assert db.to_dict() == real_tree


@pytest.mark.parametrize("version", VERSIONS, ids=["etcd-3.4", "etcd-3.5"])
def test_real_etcd_restores_an_empty_store_of_ours(version: str, tmp_path) -> None:
    """The smallest layout: no keys, no leases, auth off, never compacted; revision 1."""
    path = str(tmp_path / "empty.snap")
    write_snapshot_file(EtcdState(cluster_version=None, term=None), path)
    assert tool_status(version, path)["revision"] == 0
    data_dir = str(tmp_path / "restored")
    restore(version, path, data_dir)
    target = start_etcd_on(version, data_dir)
    try:
        reply = target.kv.Range(rpc_pb2.RangeRequest(key=b"\0", range_end=b"\0"), timeout=10)
        assert (reply.header.revision, list(reply.kvs)) == (1, [])
        assert target.kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v"), timeout=10).header.revision == 2
    finally:
        target.close()
        remove(data_dir)
