"""etcd's snapshot: its backend buckets as a bbolt database, and the Maintenance/Snapshot stream.

:func:`encode_snapshot` turns a plain :class:`EtcdState` into a bbolt file laid out as etcd 3.4/3.5
lay out their backend; ``etcdctl``/``etcdutl snapshot status`` accept it and ``snapshot restore``
turns it into a data directory real etcd serves. :func:`decode_snapshot` reads such a file — one of
ours or one saved from a real etcd — back into an :class:`EtcdState`.

The buckets (root bucket entries, in name order) and their contents, as etcd writes them:

``alarm``
    key: an ``etcdserverpb.AlarmMember`` (memberID=1 uint64, alarm=2 enum) in proto3; value: empty.
``auth``
    ``authEnabled``: one byte, 1 or 0; ``authRevision``: u64 big-endian.
``authRoles`` / ``authUsers``
    role / user name -> ``authpb.Role`` / ``authpb.User`` in proto3. etcd stores the root role with
    no permissions (RoleGet's read-write-all answer is made up); a user added through clientv3
    carries an (empty) ``options`` field.
``cluster``
    ``clusterVersion``: "3.4.0" / "3.5.0" (major.minor.0).
``key``
    the MVCC history: revision key (8-byte big-endian main, ``_``, 8-byte big-endian sub, plus ``t``
    for a tombstone) -> ``mvccpb.KeyValue`` in proto3 (a tombstone's holds only the key). See
    :mod:`etcdlite.mvcc.revision` and :class:`etcdlite.mvcc.key_index.Change`.
``lease``
    lease ID as u64 big-endian -> ``leasepb.Lease`` (ID=1, TTL=2, RemainingTTL=3, int64s; the
    remaining TTL is set only by lease checkpointing, 0 otherwise).
``members``
    member ID in lower-case hex without padding (Go's types.ID.String) -> the member as Go's JSON:
    ``{"id":N,"peerURLs":[...],"isLearner":true,"name":"...","clientURLs":[...]}`` (``isLearner``,
    ``name`` and ``clientURLs`` only when set; 3.5.1 leaves clientURLs out).
``members_removed``
    member ID in hex -> ``removed``.
``meta``
    ``consistent_index``: u64 big-endian (the last applied raft index); ``finishedCompactRev`` and
    ``scheduledCompactRev``: the compaction revision as a 17-byte revision key (main, sub 0), absent
    before the first compaction; 3.5 adds ``term`` (u64 big-endian) and ``confState`` (JSON
    ``{"voters":[id],"auto_leave":false}``). 3.5.1 writes no ``storageVersion`` (3.6 does), and
    neither etcdutl nor etcd 3.5.1 needs it.

The cluster ID is not in the backend (etcd keeps it in the WAL's metadata; ``snapshot restore``
derives a new one from ``--initial-cluster-token`` and the members), so it is not part of
:class:`EtcdState`; neither are the v2 store and the raft log, which a snapshot does not carry.
``snapshot restore`` replaces the members and sets the consistent index to the number of members.

The snapshot stream (etcd's v3rpc ``maintenanceServer.Snapshot``) sends the database file in 32 KiB
chunks, each with the bytes still to come after it, then one message with remaining 0 and the
SHA-256 of the file; ``etcdctl snapshot save`` writes file + digest, so a saved snapshot's size is
``32 mod 512``. :func:`snapshot_messages` produces that sequence.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterable, Iterator, Union

import google_crc32c

from ..mvcc.key_index import Change
from ..mvcc.kv import decode_key_value, encode_varint, read_varint, signed64
from ..mvcc.revision import REVISION_BYTES, bytes_to_revision, revision_to_bytes
from ..proto import auth_pb2
from .format import BUCKET_LEAF_FLAG
from .reader import Database
from .writer import Bucket, iter_database, write_database

#: etcd's snapshotSendBufferSize
SNAPSHOT_CHUNK_SIZE = 32 * 1024
_SHA256_SIZE = 32

# alarm types (etcdserverpb.AlarmType)
ALARM_NOSPACE = 1
ALARM_CORRUPT = 2


class SnapshotFormatError(ValueError):
    """A file is not an etcd snapshot (or its SHA-256 trailer does not match)."""


@dataclass
class Lease:
    id: int
    #: the granted TTL (seconds)
    ttl: int
    #: the checkpointed remaining TTL (seconds); 0: not checkpointed, the lease restarts at ``ttl``
    remaining_ttl: int = 0


@dataclass
class Member:
    id: int
    name: str = ""
    peer_urls: list[str] = field(default_factory=list)
    client_urls: list[str] = field(default_factory=list)
    is_learner: bool = False


@dataclass
class EtcdState:
    """What an etcd snapshot holds, in plain Python.

    ``changes`` is the MVCC history since the last compaction in revision order (any iterable when
    encoding, consumed once; a list when decoded). ``auth`` has the shape of
    :meth:`etcdlite.auth.store.AuthStore.state`. ``term`` and ``conf_state_voters`` are what etcd
    3.5 adds to ``meta``; None leaves them out (3.4's layout).
    """

    changes: Iterable[Change] = field(default_factory=list)
    #: finishedCompactRev; -1: never compacted
    compact_revision: int = -1
    #: scheduledCompactRev; None: the same as ``compact_revision`` (a finished compaction)
    scheduled_compact_revision: int | None = None
    consistent_index: int = 0
    term: int | None = None
    conf_state_voters: list[int] | None = None
    leases: list[Lease] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    removed_members: list[int] = field(default_factory=list)
    #: "3.5.0"; None: no cluster version recorded yet
    cluster_version: str | None = "3.5.0"
    #: (member ID, alarm type)
    alarms: list[tuple[int, int]] = field(default_factory=list)
    auth: dict[str, Any] = field(default_factory=lambda: {
        "enabled": False, "revision": 1, "users": [], "roles": []})


# -- small proto3 / Go encodings ----------------------------------------------------------------------

_MASK64 = (1 << 64) - 1


def _varint_fields(data: bytes) -> dict[int, int]:
    """The varint fields of a flat proto3 message (last one wins, as protobuf decodes)."""
    fields: dict[int, int] = {}
    pos = 0
    while pos < len(data):
        tag, pos = _read_varint(data, pos)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            fields[number], pos = _read_varint(data, pos)
        elif wire_type == 2:
            length, pos = _read_varint(data, pos)
            pos += length
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        else:
            raise SnapshotFormatError(f"unsupported wire type {wire_type}")
    return fields


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    try:
        return read_varint(data, pos)
    except ValueError as exc:
        raise SnapshotFormatError(str(exc)) from None


def _u64(value: int) -> bytes:
    return (value & _MASK64).to_bytes(8, "big")


def encode_lease(lease: Lease) -> bytes:
    """``leasepb.Lease`` in proto3 (zero fields omitted)."""
    out = b""
    for number, value in ((1, lease.id), (2, lease.ttl), (3, lease.remaining_ttl)):
        if value:
            out += bytes([number << 3]) + encode_varint(value)
    return out


def encode_alarm_member(member_id: int, alarm: int) -> bytes:
    out = b""
    if member_id:
        out += b"\x08" + encode_varint(member_id)
    if alarm:
        out += b"\x10" + encode_varint(alarm)
    return out


def _go_json(value: Any) -> str:
    """JSON as Go's encoding/json writes it: compact, UTF-8, with <, > and & escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def encode_member(member: Member) -> bytes:
    doc: dict[str, Any] = {"id": member.id, "peerURLs": list(member.peer_urls)}
    if member.is_learner:
        doc["isLearner"] = True
    if member.name:
        doc["name"] = member.name
    if member.client_urls:
        doc["clientURLs"] = list(member.client_urls)
    return _go_json(doc).encode()


def decode_member(data: bytes) -> Member:
    doc = json.loads(data)
    return Member(id=int(doc["id"]), name=doc.get("name", ""),
                  peer_urls=list(doc.get("peerURLs") or []),
                  client_urls=list(doc.get("clientURLs") or []),
                  is_learner=bool(doc.get("isLearner", False)))


def encode_user(user: dict[str, Any]) -> bytes:
    """``authpb.User`` from an :meth:`AuthStore.state` user. The ``options`` field is always present,
    as for users added through clientv3 (etcdctl)."""
    msg = auth_pb2.User(name=user["name"].encode(), password=user["password"].encode("latin-1"),
                        roles=list(user["roles"]))
    msg.options.no_password = bool(user.get("no_password", False))
    msg.options.SetInParent()
    return msg.SerializeToString()


def decode_user(data: bytes) -> dict[str, Any]:
    msg = auth_pb2.User.FromString(data)
    return {"name": msg.name.decode(), "password": msg.password.decode("latin-1"),
            "roles": list(msg.roles), "no_password": bool(msg.options.no_password)}


def encode_role(role: dict[str, Any]) -> bytes:
    msg = auth_pb2.Role(name=role["name"].encode())
    for perm_type, key, range_end in role["permissions"]:
        msg.keyPermission.add(permType=int(perm_type), key=key.encode("latin-1"),
                              range_end=range_end.encode("latin-1"))
    return msg.SerializeToString()


def decode_role(data: bytes) -> dict[str, Any]:
    msg = auth_pb2.Role.FromString(data)
    return {"name": msg.name.decode(), "permissions": [
        [int(p.permType), p.key.decode("latin-1"), p.range_end.decode("latin-1")]
        for p in msg.keyPermission]}


# -- encoding -----------------------------------------------------------------------------------------

def _key_items(changes: Iterable[Change]) -> Iterator[tuple[bytes, bytes]]:
    for change in changes:
        yield change.storage_key(), change.storage_value()


def _buckets(state: EtcdState) -> Iterator[tuple[bytes, Bucket]]:
    """etcd's top-level buckets for ``state``, in name order."""
    auth = state.auth
    meta: list[tuple[bytes, bytes]] = []
    if state.conf_state_voters is not None:
        meta.append((b"confState", _go_json(
            {"voters": [int(v) for v in state.conf_state_voters], "auto_leave": False}).encode()))
    meta.append((b"consistent_index", _u64(state.consistent_index)))
    if state.compact_revision >= 0:
        meta.append((b"finishedCompactRev", revision_to_bytes(state.compact_revision, 0)))
    scheduled = state.compact_revision if state.scheduled_compact_revision is None \
        else state.scheduled_compact_revision
    if scheduled >= 0:
        meta.append((b"scheduledCompactRev", revision_to_bytes(scheduled, 0)))
    if state.term is not None:
        meta.append((b"term", _u64(state.term)))

    buckets: dict[bytes, Bucket] = {
        b"alarm": Bucket(sorted((encode_alarm_member(m, a), b"") for m, a in state.alarms)),
        b"auth": Bucket([(b"authEnabled", b"\x01" if auth.get("enabled") else b"\x00"),
                         (b"authRevision", _u64(int(auth.get("revision", 1))))]),
        b"authRoles": Bucket(sorted((r["name"].encode(), encode_role(r))
                                    for r in auth.get("roles", []))),
        b"authUsers": Bucket(sorted((u["name"].encode(), encode_user(u))
                                    for u in auth.get("users", []))),
        b"cluster": Bucket([(b"clusterVersion", state.cluster_version.encode())]
                           if state.cluster_version else []),
        b"key": Bucket(_key_items(state.changes)),
        b"lease": Bucket(sorted((_u64(lease.id), encode_lease(lease)) for lease in state.leases)),
        b"members": Bucket(sorted((format(m.id, "x").encode(), encode_member(m))
                                  for m in state.members)),
        b"members_removed": Bucket(sorted((format(i, "x").encode(), b"removed")
                                          for i in state.removed_members)),
        b"meta": Bucket(meta),
    }
    for name in sorted(buckets):
        yield name, buckets[name]


def write_snapshot_db(state: EtcdState, out: BinaryIO) -> int:
    """Write ``state`` as etcd's bbolt database to the seekable file ``out``; return its size."""
    return write_database(out, _buckets(state))


def encode_snapshot(state: EtcdState, chunk_size: int = SNAPSHOT_CHUNK_SIZE) -> Iterator[bytes]:
    """``state`` as etcd's bbolt database, in chunks (spooled through a temporary file: the meta
    pages at the front are known last). ``state.changes`` is consumed lazily, once."""
    return iter_database(_buckets(state), chunk_size)


def write_snapshot_file(state: EtcdState, path: str | os.PathLike[str]) -> int:
    """Write what ``etcdctl snapshot save`` would save from a server holding ``state``: the database
    followed by its SHA-256. Returns the file size."""
    digest = hashlib.sha256()
    with open(path, "w+b") as f:
        size = write_snapshot_db(state, f)
        f.seek(0)
        while True:
            block = f.read(1 << 20)
            if not block:
                break
            digest.update(block)
        f.seek(size)
        f.write(digest.digest())
    return size + _SHA256_SIZE


# -- the Snapshot stream --------------------------------------------------------------------------

def file_messages(db: BinaryIO, size: int, chunk_size: int = SNAPSHOT_CHUNK_SIZE
                  ) -> Iterator[tuple[int, bytes]]:
    """Maintenance/Snapshot's messages as (remaining_bytes, blob) for the ``size``-byte database read
    from ``db``: full ``chunk_size`` chunks (the last shorter), then (0, SHA-256 of the database)."""
    digest = hashlib.sha256()
    sent = 0
    while sent < size:
        blob = db.read(min(chunk_size, size - sent))
        if not blob:
            raise OSError(f"snapshot database truncated at {sent} of {size} bytes")
        digest.update(blob)
        sent += len(blob)
        yield size - sent, blob
    yield 0, digest.digest()


def snapshot_messages(state: EtcdState, chunk_size: int = SNAPSHOT_CHUNK_SIZE,
                      spool_limit: int = 8 << 20) -> Iterator[tuple[int, bytes]]:
    """The whole Snapshot stream for ``state``: the database is written to a temporary file (in
    memory up to ``spool_limit`` bytes) first, since every message says how much is left."""
    with tempfile.SpooledTemporaryFile(max_size=spool_limit) as spool:
        size = write_snapshot_db(state, spool)
        spool.seek(0)
        yield from file_messages(spool, size, chunk_size)


# -- decoding ---------------------------------------------------------------------------------------

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


def _open(source: Source) -> Database:
    """Open a backend database or a saved snapshot (database + SHA-256, checked; bbolt ignores what
    lies beyond the high water mark, so the trailer needs no cutting off). A file is mapped, not
    read into memory."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = memoryview(source)
        if len(data) % 512 == _SHA256_SIZE:
            body = data[:-_SHA256_SIZE]
            if hashlib.sha256(body).digest() != bytes(data[-_SHA256_SIZE:]):
                raise SnapshotFormatError("snapshot's SHA-256 trailer does not match its database")
            data = body
        return Database(data)
    with open(source, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size % 512 == _SHA256_SIZE:
            digest = hashlib.sha256()
            left = size - _SHA256_SIZE
            while left > 0:
                block = f.read(min(left, 1 << 20))
                if not block:
                    raise SnapshotFormatError("snapshot file shrank while being read")
                digest.update(block)
                left -= len(block)
            if digest.digest() != f.read(_SHA256_SIZE):
                raise SnapshotFormatError("snapshot's SHA-256 trailer does not match its database")
    return Database(source)


def iter_changes(db: Database) -> Iterator[Change]:
    """The ``key`` bucket as :class:`Change` records, in revision order, lazily."""
    bucket = db.bucket(b"key")
    if bucket is None:
        return
    for rev, value in bucket.items():
        if not isinstance(value, bytes):
            raise SnapshotFormatError("bucket 'key' holds a nested bucket")
        main, sub, tombstone = bytes_to_revision(rev)
        kv = decode_key_value(value)
        yield Change(main, sub, kv.key, None if tombstone else kv)


def _compact_rev(value: bytes | None) -> int:
    if value is None:
        return -1
    if len(value) != REVISION_BYTES:
        raise SnapshotFormatError(f"bad compaction revision {value!r}")
    return bytes_to_revision(value)[0]


def decode_snapshot(source: Source) -> EtcdState:
    """Read an etcd backend database or saved snapshot (ours or real etcd's) into an
    :class:`EtcdState` (all in memory; :func:`iter_changes` streams the history)."""
    with _open(source) as db:
        names = {name for name, _ in db.buckets()}
        if b"key" not in names or b"meta" not in names:
            raise SnapshotFormatError("not an etcd backend: no 'key'/'meta' buckets")

        def items(name: bytes) -> list[tuple[bytes, Any]]:
            bucket = db.bucket(name)
            return list(bucket.items()) if bucket is not None else []

        meta = dict(items(b"meta"))
        finished = _compact_rev(meta.get(b"finishedCompactRev"))
        scheduled = _compact_rev(meta.get(b"scheduledCompactRev"))
        conf = json.loads(meta[b"confState"]) if b"confState" in meta else None
        auth_meta = dict(items(b"auth"))
        revision = auth_meta.get(b"authRevision")
        cluster = dict(items(b"cluster"))
        leases = []
        for _, value in items(b"lease"):
            f = _varint_fields(value)
            leases.append(Lease(signed64(f.get(1, 0)), signed64(f.get(2, 0)), signed64(f.get(3, 0))))
        alarms = []
        for key, _ in items(b"alarm"):
            f = _varint_fields(key)
            alarms.append((f.get(1, 0), f.get(2, 0)))
        return EtcdState(
            changes=list(iter_changes(db)),
            compact_revision=finished,
            scheduled_compact_revision=None if scheduled == finished else scheduled,
            consistent_index=int.from_bytes(meta.get(b"consistent_index", bytes(8)), "big"),
            term=int.from_bytes(meta[b"term"], "big") if b"term" in meta else None,
            conf_state_voters=[int(v) for v in conf.get("voters") or []] if conf else None,
            leases=leases,
            members=[decode_member(v) for _, v in items(b"members")],
            removed_members=[int(k, 16) for k, _ in items(b"members_removed")],
            cluster_version=cluster[b"clusterVersion"].decode()
            if b"clusterVersion" in cluster else None,
            alarms=alarms,
            auth={
                "enabled": auth_meta.get(b"authEnabled") == b"\x01",
                "revision": int.from_bytes(revision, "big") if revision else 0,
                "users": [decode_user(v) for _, v in items(b"authUsers")],
                "roles": [decode_role(v) for _, v in items(b"authRoles")],
            },
        )


@dataclass(frozen=True)
class Status:
    """``etcdctl snapshot status``'s answer."""

    hash: int
    revision: int
    total_key: int
    total_size: int


def snapshot_status(source: Source) -> Status:
    """What ``etcdctl snapshot status`` (3.4) / ``etcdutl snapshot status`` (3.5) report: CRC-32C
    over every top-level bucket's name and its pairs (a nested bucket's value counts as empty), the
    main revision of the last key in ``key``, the number of pairs and the database size."""
    with _open(source) as db:
        crc = 0
        revision = total = 0
        for name, bucket in db.buckets():
            crc = google_crc32c.extend(crc, name)
            is_key = name == b"key"
            for key, value, flags in bucket.raw_items():
                crc = google_crc32c.extend(crc, key)
                if not flags & BUCKET_LEAF_FLAG:  # bbolt's ForEach gives a nested bucket nil
                    crc = google_crc32c.extend(crc, value)
                total += 1
                if is_key:
                    revision = int.from_bytes(key[:8], "big")
        return Status(crc, revision, total, db.meta.pgid * db.page_size)
