"""etcdlite's own snapshot format: the whole keyspace in one JSON file, for tests and fixtures.

This is *not* etcd's snapshot (the bbolt database Maintenance/Snapshot streams, see
:mod:`etcdlite.bbolt`). It holds exactly what a client can observe, so a test suite can start from a prepared
state, and it is plain Python with no gRPC: the node produces and loads :class:`Snapshot` objects,
this module turns them into bytes and back.

The file is UTF-8 JSON (keys and values base64-encoded, since they are arbitrary bytes)::

    {
      "format": "etcdlite-snapshot",
      "version": 1,
      "revision": 7,                    # the store's current revision
      "compact_revision": -1,           # -1: never compacted
      "hash": 1234567890,               # CRC-32C of the history (Maintenance/Hash's algorithm)
      "leases": [                       # every lease, in ID order
        {"id": 7587869420432818436, "ttl": 3600, "remaining": 3599.25}
      ],
      "changes": [                      # the history since compaction, in revision order
        {"rev": 2, "sub": 0, "key": "Zm9v", "create": 2, "version": 1, "value": "YmFy", "lease": 0},
        {"rev": 3, "sub": 0, "key": "Zm9v", "deleted": true}
      ]
    }

A change is one put (its KeyValue; ``mod_revision`` is ``rev``) or one delete (a tombstone). Lease
attachment is not stored separately: a live key belongs to the lease in its latest KeyValue. A lease
keeps its granted ``ttl`` and the seconds it had left (``remaining``) when it was saved; loading
restarts that countdown on the loading server's clock. Loading checks the format, the order of the
history, the leases of live keys and the hash, and refuses a file that does not add up.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import google_crc32c

from .mvcc.key_index import Change
from .mvcc.kv import KeyValue

FORMAT = "etcdlite-snapshot"
VERSION = 1
_MAX_LEASE_TTL = 9_000_000_000  # etcd's (server/lease/lessor.py)


class SnapshotError(Exception):
    """A snapshot file is unreadable, of another format, or inconsistent."""


@dataclass
class LeaseState:
    id: int
    #: the granted TTL (seconds)
    ttl: int
    #: seconds left before expiry when the snapshot was taken
    remaining: float


@dataclass
class Snapshot:
    revision: int
    compact_revision: int
    changes: list[Change] = field(default_factory=list)
    leases: list[LeaseState] = field(default_factory=list)
    #: users, roles and the enabled flag (:meth:`etcdlite.auth.store.AuthStore.state`); None: none
    #: (etcdlite's JSON format does not carry auth; etcd's snapshots do)
    auth: dict[str, Any] | None = None

    def hash(self) -> int:
        return history_hash(self.changes)

    def validate(self) -> None:
        """Refuse a snapshot a store could not have produced."""
        if self.revision < 1:
            raise SnapshotError(f"revision {self.revision} is not positive")
        if self.compact_revision != -1 and not 0 <= self.compact_revision <= self.revision:
            raise SnapshotError(f"compact revision {self.compact_revision} outside 0..{self.revision}")
        previous = (0, -1)
        for change in self.changes:
            position = (change.main, change.sub)
            if position <= previous:
                raise SnapshotError(f"history out of order at revision {change.main}.{change.sub}")
            previous = position
            if change.main > self.revision:
                raise SnapshotError(f"change at revision {change.main} after the snapshot's {self.revision}")
            kv = change.kv
            if kv is not None and (kv.key != change.key or kv.mod_revision != change.main
                                   or not 0 < kv.create_revision <= change.main or kv.version < 1):
                raise SnapshotError(f"inconsistent key-value at revision {change.main}.{change.sub}")
        lease_ids = {lease.id for lease in self.leases}
        if len(lease_ids) != len(self.leases):
            raise SnapshotError("duplicate lease IDs")
        for lease in self.leases:
            if not 1 <= lease.ttl <= _MAX_LEASE_TTL or lease.id <= 0:
                raise SnapshotError(f"lease {lease.id} with TTL {lease.ttl} cannot exist")
        for kv in live_kvs(self.changes):
            if kv.lease and kv.lease not in lease_ids:
                raise SnapshotError(f"key {kv.key!r} is attached to lease {kv.lease}, which is missing")


def live_kvs(changes: Iterable[Change]) -> list[KeyValue]:
    """The latest KeyValue of every key that is alive at the end of ``changes``."""
    latest: dict[bytes, KeyValue | None] = {}
    for change in changes:
        latest[change.key] = change.kv
    return [kv for kv in latest.values() if kv is not None]


def history_hash(changes: Iterable[Change]) -> int:
    """CRC-32C over every change's storage key and value (the store's ``hash``)."""
    crc = 0
    for change in changes:
        crc = google_crc32c.extend(crc, change.storage_key() + change.storage_value())
    return crc


# -- encoding ---------------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise SnapshotError(f"{what} is not a base64 string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise SnapshotError(f"{what} is not valid base64") from None


def _change_to_json(change: Change) -> dict[str, Any]:
    out: dict[str, Any] = {"rev": change.main, "sub": change.sub, "key": _b64(change.key)}
    kv = change.kv
    if kv is None:
        out["deleted"] = True
    else:
        out.update(create=kv.create_revision, version=kv.version, value=_b64(kv.value), lease=kv.lease)
    return out


def _int(obj: dict, name: str, where: str) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SnapshotError(f"{where}: {name!r} missing or not an integer")
    return value


def _change_from_json(obj: Any) -> Change:
    if not isinstance(obj, dict):
        raise SnapshotError("a change is not an object")
    main, sub = _int(obj, "rev", "change"), _int(obj, "sub", "change")
    where = f"change {main}.{sub}"
    key = _unb64(obj.get("key"), f"{where}: key")
    if obj.get("deleted"):
        return Change(main, sub, key, None)
    kv = KeyValue(key, _int(obj, "create", where), main, _int(obj, "version", where),
                  _unb64(obj.get("value"), f"{where}: value"), _int(obj, "lease", where))
    return Change(main, sub, key, kv)


def to_json(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "revision": snapshot.revision,
        "compact_revision": snapshot.compact_revision,
        "hash": snapshot.hash(),
        "leases": [{"id": lease.id, "ttl": lease.ttl, "remaining": lease.remaining}
                   for lease in sorted(snapshot.leases, key=lambda lease: lease.id)],
        "changes": [_change_to_json(change) for change in snapshot.changes],
    }


def from_json(doc: Any) -> Snapshot:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SnapshotError(f"not an {FORMAT} file")
    if doc.get("version") != VERSION:
        raise SnapshotError(f"unsupported {FORMAT} version {doc.get('version')!r} (this etcdlite reads {VERSION})")
    leases = []
    for obj in doc.get("leases", []):
        if not isinstance(obj, dict):
            raise SnapshotError("a lease is not an object")
        remaining = obj.get("remaining")
        if not isinstance(remaining, (int, float)) or isinstance(remaining, bool):
            raise SnapshotError("lease: 'remaining' missing or not a number")
        leases.append(LeaseState(_int(obj, "id", "lease"), _int(obj, "ttl", "lease"), float(remaining)))
    changes = doc.get("changes", [])
    if not isinstance(changes, list):
        raise SnapshotError("'changes' is not a list")
    snapshot = Snapshot(_int(doc, "revision", "snapshot"), _int(doc, "compact_revision", "snapshot"),
                        [_change_from_json(c) for c in changes], leases)
    snapshot.validate()
    expected = _int(doc, "hash", "snapshot")
    if snapshot.hash() != expected:
        raise SnapshotError(f"history hash mismatch: file says {expected}, content gives {snapshot.hash()}")
    return snapshot


def dumps(snapshot: Snapshot) -> bytes:
    return json.dumps(to_json(snapshot), separators=(",", ":")).encode("utf-8")


def loads(data: bytes | str) -> Snapshot:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"not JSON: {exc}") from None
    return from_json(doc)


def save(snapshot: Snapshot, path: str | os.PathLike) -> None:
    """Write ``snapshot`` to ``path`` atomically (a temporary file renamed into place)."""
    data = dumps(snapshot)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    _write_atomically(path, write)


def _write_atomically(path: str | os.PathLike, write: Callable[[str], object]) -> None:
    """``write(tmp)`` fills a temporary file beside ``path``; it is made durable and renamed into
    place, or removed if anything fails."""
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=".etcdlite-snapshot-", dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load(path: str | os.PathLike) -> Snapshot:
    """Read a snapshot file: etcdlite's JSON, or etcd's own (``etcdctl snapshot save``, or a bbolt
    ``member/snap/db`` of a data dir), told apart by their first bytes."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1)
            if head[:1] != b"{":
                return _load_etcd(path)
            data = head + fh.read()
    except OSError as exc:
        raise SnapshotError(f"cannot read snapshot {os.fspath(path)}: {exc.strerror}") from None
    return loads(data)


def _load_etcd(path: str | os.PathLike) -> Snapshot:
    """An etcd snapshot as a :class:`Snapshot` (see :func:`from_etcd_state`)."""
    from .bbolt.etcd_layout import SnapshotFormatError, decode_snapshot
    from .bbolt.reader import BoltError

    try:
        state = decode_snapshot(path)
    except (SnapshotFormatError, BoltError, ValueError) as exc:
        raise SnapshotError(f"neither an etcdlite nor an etcd snapshot: {exc}") from None
    snapshot = from_etcd_state(state)
    snapshot.validate()
    return snapshot


def from_etcd_state(state) -> Snapshot:
    """What an etcd snapshot (:class:`etcdlite.bbolt.etcd_layout.EtcdState`) holds, as a
    :class:`Snapshot`: its history, compaction, leases (each starting its full TTL again unless
    etcd checkpointed the time it had left, as etcd restores them) and auth."""
    changes = list(state.changes)
    revision = max(1, state.compact_revision, changes[-1].main if changes else 0)  # in order
    leases = [LeaseState(lease.id, lease.ttl, float(lease.remaining_ttl or lease.ttl))
              for lease in state.leases]
    return Snapshot(revision, state.compact_revision, changes, leases, state.auth)


def save_etcd(state, path: str | os.PathLike) -> None:
    """Write an :class:`~etcdlite.bbolt.etcd_layout.EtcdState` as ``etcdctl snapshot save`` would
    (the database and its SHA-256), atomically."""
    from .bbolt.etcd_layout import write_snapshot_file

    _write_atomically(path, lambda tmp: write_snapshot_file(state, tmp))
