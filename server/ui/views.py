"""What the browser view shows, as plain data: the keyspace as a tree, a key's history, leases,
locks, elections, watchers and the server's status — read from the node with the viewer's
credentials, so that with auth enabled a viewer sees only what it may read.

Locks and elections are found by the shape etcd's recipes give their keys (``concurrency.Mutex``,
``concurrency.Election``, etcd's Lock and Election services, ``etcdctl lock`` and ``elect``):
``<name>/<lease ID in hex>``, held by that lease. The key with the lowest create revision holds the
lock (or leads); the others wait in create-revision order. A name whose keys all have empty values
is a lock (the recipes put nothing), one whose keys carry values an election (the value is the
candidate's proclamation). python-etcd3's lock is one key ``/locks/<name>`` with a lease; its
waiters are the watchers of that key.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field

from .. import ETCD_VERSION
from ..auth.caller import Caller, INTERNAL
from ..errors import EtcdError
from ..mvcc.kv import KeyValue
from ..mvcc.requests import RangeRequest
from ..node import ALARM_NAMES, Node

PAGE = 200
_PYTHON_ETCD3_LOCKS = b"/locks/"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def prefix_end(prefix: bytes) -> bytes:
    """The first key after every key starting with ``prefix`` (etcd's ``GetPrefixRangeEnd``)."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"


def lease_hex(lease: int) -> str:
    return format(lease, "x")


def _kv(kv: KeyValue) -> dict:
    return {"key": b64(kv.key), "text": text(kv.key), "value": b64(kv.value),
            "create_revision": kv.create_revision, "mod_revision": kv.mod_revision,
            "version": kv.version, "lease": str(kv.lease), "lease_hex": lease_hex(kv.lease)}


@dataclass
class CreationTimes:
    """When this server saw each recipe key created (wall clock), for "waiting since"; keys made
    before the view started have none. It follows every write, so it is kept per key (a key has
    one incarnation at a time): a deletion forgets its key in one step, whatever else is held."""

    #: key -> (its create revision, when that put was seen)
    seen: dict[bytes, tuple[int, float]] = field(default_factory=dict)

    def record(self, revision: int, changes) -> None:
        seen = self.seen
        now = None
        for change in changes:
            if change.deleted:
                seen.pop(change.key, None)
            elif change.version == 1 and change.lease:
                if now is None:
                    now = time.time()
                seen[change.key] = (change.main, now)  # a first version is created at its own revision

    def of(self, kv: KeyValue) -> float | None:
        entry = self.seen.get(kv.key)
        return entry[1] if entry is not None and entry[0] == kv.create_revision else None


class Views:
    def __init__(self, node: Node, created: CreationTimes) -> None:
        self.node = node
        self.created = created

    # -- reading with the viewer's rights ---------------------------------------------------

    def _range(self, caller: Caller, key: bytes, range_end: bytes = b"", limit: int = 0,
               keys_only: bool = False) -> list[KeyValue]:
        return list(self.node.range(caller, RangeRequest(key=key, range_end=range_end, limit=limit,
                                                         keys_only=keys_only)).kvs)

    def may_read(self, caller: Caller, key: bytes, range_end: bytes = b"") -> bool:
        if not self.node.auth.enabled or caller.internal:
            return True
        try:
            self.node.range(caller, RangeRequest(key=key, range_end=range_end, count_only=True))
        except EtcdError:
            return False
        return True

    def _readable_kvs(self, caller: Caller, key: bytes, range_end: bytes) -> list[KeyValue]:
        """Every live key in the range the viewer may read (all of them without auth)."""
        kvs = self._range(INTERNAL, key, range_end)
        if not self.node.auth.enabled:
            return kvs
        return [kv for kv in kvs if self.may_read(caller, kv.key)]

    # -- the views --------------------------------------------------------------------------

    def status(self) -> dict:
        node = self.node
        size, in_use = node.db_size()
        hub = node.watch_hub
        return {
            "version": ETCD_VERSION, "revision": node.durable_revision,
            "compact_revision": node.store.compact_revision, "db_size": size,
            "db_size_in_use": in_use, "keys": node.store.live_keys,
            "leases": len(node.lessor.leases_by_expiry()),
            "watchers": hub.watcher_count(), "watch_streams": hub.stream_count(),
            "alarms": [{"member": format(m, "x"), "alarm": ALARM_NAMES.get(a, str(a))}
                       for m, a in sorted(node.alarms)],
            "member": {"id": format(node.member_id, "x"), "name": node.config.name,
                       "client_urls": list(node.member.client_urls)},
            "cluster_id": format(node.cluster_id, "x"), "auth_enabled": node.auth.enabled,
            "data_dir": node.config.data_dir,
        }

    def keys(self, caller: Caller, prefix: bytes, after: bytes | None, limit: int = PAGE) -> dict:
        """The children of ``prefix`` (split on ``/``): keys, and folders (a shared next segment
        ending in ``/``) — one page, from the first child after ``after``."""
        entries: list[dict] = []
        start = prefix if after is None else max(prefix, prefix_end(after) if after.endswith(b"/")
                                                 else after + b"\0")
        end = prefix_end(prefix) if prefix else b"\0"
        start = start or b"\0"  # no key is empty: the whole keyspace starts at "\0"
        while len(entries) < limit:
            key = self.node.store.next_live_key(start, end)
            if key is None:
                return {"prefix": b64(prefix), "entries": entries, "next": None}
            rest = key[len(prefix):]
            slash = rest.find(b"/", 1 if rest.startswith(b"/") else 0)
            if slash >= 0:
                folder = prefix + rest[:slash + 1]
                if self.may_read(caller, folder, prefix_end(folder)) or \
                        self._any_readable(caller, folder):
                    entries.append({"folder": True, "key": b64(folder), "text": text(rest[:slash + 1])})
                start = prefix_end(folder)
            else:
                kvs = self.node.store.live_kvs(start, end, limit - len(entries))
                for kv in kvs:
                    rest = kv.key[len(prefix):]
                    if rest.find(b"/", 1 if rest.startswith(b"/") else 0) >= 0:
                        break  # a folder: the loop takes it
                    start = kv.key + b"\0"
                    if self.may_read(caller, kv.key):
                        entries.append({"folder": False, "name": text(rest), **_kv(kv)})
        return {"prefix": b64(prefix), "entries": entries, "next": entries[-1]["key"] if entries else None}

    def _any_readable(self, caller: Caller, folder: bytes) -> bool:
        start, end = folder, prefix_end(folder)
        for _ in range(1000):
            key = self.node.store.next_live_key(start, end)
            if key is None:
                return False
            if self.may_read(caller, key):
                return True
            start = key + b"\0"
        return False

    def key(self, caller: Caller, key: bytes) -> dict | None:
        if not self.may_read(caller, key):
            return None
        history = self.node.store.key_history(key)
        current = self.node.store.get(key)
        return {"key": b64(key), "text": text(key),
                "current": _kv(current) if current is not None else None,
                "compact_revision": self.node.store.compact_revision,
                "history": [{"revision": revision, "deleted": kv is None,
                             **(_kv(kv) if kv is not None else {})}
                            for revision, kv in reversed(history)]}

    def leases(self, caller: Caller) -> list[dict]:
        now = self.node.clock.now()
        leases = []
        for lease in sorted(self.node.lessor.leases_by_expiry(), key=lambda lease: lease.id):
            keys = sorted(k for k in lease.keys if self.may_read(caller, k))
            leases.append({"id": str(lease.id), "hex": lease_hex(lease.id), "ttl": lease.ttl,
                           "remaining": round(max(0.0, lease.remaining(now)), 3),
                           "keys": [{"key": b64(k), "text": text(k)} for k in keys]})
        return leases

    def _recipes(self, caller: Caller) -> dict[bytes, list[KeyValue]]:
        """Every ``name/<lease hex>`` key held by that lease, by name, in create-revision order."""
        groups: dict[bytes, list[KeyValue]] = {}
        for lease in self.node.lessor.leases_by_expiry():
            suffix = b"/" + lease_hex(lease.id).encode()
            for key in lease.keys:
                if key.endswith(suffix) and len(key) > len(suffix):
                    groups.setdefault(key[:-len(suffix)], [])
        found = {}
        for name in groups:
            kvs = [kv for kv in self._range(INTERNAL, name + b"/", prefix_end(name + b"/"))
                   if kv.lease and kv.key == name + b"/" + lease_hex(kv.lease).encode()]
            if kvs and self.may_read(caller, name + b"/", prefix_end(name + b"/")):
                found[name] = sorted(kvs, key=lambda kv: kv.create_revision)
        return found

    def _contender(self, kv: KeyValue, now: float) -> dict:
        created = self.created.of(kv)
        return {**_kv(kv), "since": created, "waited": round(now - created, 3) if created else None}

    def locks(self, caller: Caller) -> list[dict]:
        now = time.time()
        locks = []
        for name, kvs in sorted(self._recipes(caller).items()):
            if any(kv.value for kv in kvs):
                continue
            locks.append({"name": text(name), "key": b64(name), "recipe": "etcd",
                          "holder": self._contender(kvs[0], now),
                          "waiters": [self._contender(kv, now) for kv in kvs[1:]]})
        for kv in self._readable_kvs(caller, _PYTHON_ETCD3_LOCKS, prefix_end(_PYTHON_ETCD3_LOCKS)):
            if not kv.lease:
                continue
            waiting = [w for w in self._watchers() if w.key == kv.key and not w.range_end]
            locks.append({"name": text(kv.key[len(_PYTHON_ETCD3_LOCKS):]), "key": b64(kv.key),
                          "recipe": "python-etcd3", "holder": self._contender(kv, now),
                          "waiters": [{"watcher": w.id, "text": text(w.key)} for w in waiting]})
        return locks

    def elections(self, caller: Caller) -> list[dict]:
        now = time.time()
        elections = []
        for name, kvs in sorted(self._recipes(caller).items()):
            if not any(kv.value for kv in kvs):
                continue
            leader = kvs[0]
            proclaimed = [{"revision": revision, "value": b64(kv.value)}
                          for revision, kv in self.node.store.key_history(leader.key) if kv is not None]
            elections.append({"name": text(name), "key": b64(name),
                              "leader": self._contender(leader, now),
                              "candidates": [self._contender(kv, now) for kv in kvs[1:]],
                              "proclamations": proclaimed[::-1]})
        return elections

    def _watchers(self):
        for stream in list(self.node.watch_hub._streams):
            yield from stream.watchers.values()

    def watchers(self, caller: Caller) -> dict:
        current = self.node.durable_revision
        ranges: dict[tuple[bytes, bytes], dict] = {}
        streams = 0
        for stream in list(self.node.watch_hub._streams):
            streams += 1
            for watcher in stream.watchers.values():
                if watcher.compacted or not self.may_read(caller, watcher.key, watcher.range_end):
                    continue
                entry = ranges.setdefault((watcher.key, watcher.range_end), {
                    "key": b64(watcher.key), "text": text(watcher.key),
                    "range_end": b64(watcher.range_end), "range_end_text": text(watcher.range_end),
                    "watchers": 0, "laggards": []})
                entry["watchers"] += 1
                if not watcher.synced:
                    entry["laggards"].append({"id": watcher.id,
                                              "lag": max(0, current + 1 - watcher.next_revision)})
        return {"streams": streams, "revision": current,
                "ranges": sorted(ranges.values(), key=lambda r: (-r["watchers"], r["text"]))}
