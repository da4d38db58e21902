"""In-memory index of the history: per-key change lists and the key order.

Every change (a put or a tombstone) is one :class:`Change`. A key's :class:`KeyHistory` holds its
changes in revision order; reading a key at revision R is a bisection. Generations need no explicit
structure: each stored KeyValue already carries its generation's create_revision and version, and a
tombstone (``kv is None``) ends a generation.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Iterator, NamedTuple

from sortedcontainers import SortedList

from .kv import KeyValue, encode_key_value
from .revision import revision_to_bytes


class Change(NamedTuple):
    main: int
    sub: int
    key: bytes
    kv: KeyValue | None  # None: tombstone

    def storage_key(self) -> bytes:
        """etcd's key for this entry in its ``key`` bucket."""
        return revision_to_bytes(self.main, self.sub, self.kv is None)

    def storage_value(self) -> bytes:
        """The stored KeyValue; etcd stores a tombstone as a KeyValue holding only the key."""
        kv = self.kv if self.kv is not None else KeyValue(self.key, 0, 0, 0, b"", 0)
        return encode_key_value(kv)


def _main(change: Change) -> int:
    return change.main


class KeyHistory:
    """One key's changes in revision order (bisected by their main revision: no second list of
    the revisions, which cost as much memory as the changes themselves for short histories)."""

    __slots__ = ("changes",)

    def __init__(self) -> None:
        self.changes: list[Change] = []

    def append(self, change: Change) -> None:
        self.changes.append(change)

    def index_at(self, revision: int) -> int:
        """The position of the newest change at or below ``revision`` (-1: none)."""
        return bisect_right(self.changes, revision, key=_main) - 1

    def latest(self) -> KeyValue | None:
        return self.changes[-1].kv

    def at(self, revision: int) -> KeyValue | None:
        """The live KeyValue at ``revision``, or None if the key did not exist then."""
        changes = self.changes
        if changes[-1].main <= revision:
            return changes[-1].kv
        i = bisect_right(changes, revision, key=_main) - 1
        return changes[i].kv if i >= 0 else None

    def compact(self, revision: int) -> list[Change]:
        """Drop what etcd's compaction at ``revision`` drops; return the dropped changes.

        Everything at or below ``revision`` goes except the newest such change, which stays unless it
        is a tombstone.
        """
        i = self.index_at(revision)
        if i < 0:
            return []
        cut = i + 1 if self.changes[i].kv is None else i
        if cut == 0:
            return []
        dropped = self.changes[:cut]
        del self.changes[:cut]
        return dropped

    def __bool__(self) -> bool:
        return bool(self.changes)


class KeyIndex:
    """Keys in byte order, each with its history."""

    def __init__(self) -> None:
        self._histories: dict[bytes, KeyHistory] = {}
        self._keys = SortedList()

    def __len__(self) -> int:
        return len(self._histories)

    def get(self, key: bytes) -> KeyHistory | None:
        return self._histories.get(key)

    def record(self, change: Change) -> None:
        history = self._histories.get(change.key)
        if history is None:
            history = self._histories[change.key] = KeyHistory()
            self._keys.add(change.key)
        history.append(change)

    def record_all(self, changes: list[Change]) -> None:
        """:meth:`record` of every change (in revision order) into an empty index, the key order
        sorted once at the end rather than kept key by key (a restart loads millions)."""
        if self._histories:
            raise RuntimeError("record_all needs an empty index")
        histories = self._histories
        get = histories.get
        for change in changes:
            history = get(change.key)
            if history is None:
                history = histories[change.key] = KeyHistory()
            history.changes.append(change)
        self._keys = SortedList(histories)

    def live_keys(self) -> int:
        """How many keys exist now (their newest change is not a tombstone)."""
        return sum(1 for history in self._histories.values() if history.changes[-1].kv is not None)

    def unrecord(self, change: Change) -> None:
        """Take back the newest change of its key (undo of :meth:`record`)."""
        history = self._histories[change.key]
        assert history.changes[-1] is change
        history.changes.pop()
        if not history:
            del self._histories[change.key]
            self._keys.remove(change.key)

    def keys_in_range(self, key: bytes, range_end: bytes) -> Iterator[bytes]:
        """Keys in etcd's range convention: empty end = the key itself, ``b"\\0"`` = every key ≥ key."""
        if not range_end:
            if key in self._histories:
                yield key
            return
        if range_end == b"\x00":
            yield from self._keys.irange(minimum=key)
        elif key < range_end:
            yield from self._keys.irange(key, range_end, inclusive=(True, False))

    def histories_in_range(self, key: bytes, range_end: bytes) -> Iterator[KeyHistory]:
        histories = self._histories
        for k in self.keys_in_range(key, range_end):
            yield histories[k]

    def compact(self, revision: int) -> list[Change]:
        dropped: list[Change] = []
        emptied = []
        for key, history in self._histories.items():
            removed = history.compact(revision)
            if removed:
                dropped.extend(removed)
                if not history:
                    emptied.append(key)
        for key in emptied:
            del self._histories[key]
            self._keys.remove(key)
        return dropped
