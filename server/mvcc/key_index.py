"""In-memory index of the history: per-key change lists and the key order.

Every change (a put or a tombstone) is one :class:`Change`. A key's :class:`KeyHistory` holds its
changes in revision order; reading a key at revision R is a bisection. Generations need no explicit
structure: each stored KeyValue already carries its generation's create_revision and version, and a
tombstone (``kv is None``) ends a generation.
"""

from __future__ import annotations

from bisect import bisect_right
from operator import itemgetter
from typing import Iterable, Iterator

from sortedcontainers import SortedList

from .kv import KeyValue, encode_key_value
from .revision import revision_to_bytes


class Change(tuple):
    """One entry of the history at revision (main, sub): a put, whose ``kv`` is what it wrote, or
    a tombstone (``kv is None``).

    Held flat, as the one tuple ``(main, sub, key, create_revision, mod_revision, version, value,
    lease)`` (value None: a tombstone), not as a pair of a change and its KeyValue: the store keeps
    one per stored revision, and the second tuple cost 88 bytes each. ``kv`` is built when read.
    """

    __slots__ = ()

    def __new__(cls, main: int, sub: int, key: bytes, kv: KeyValue | None) -> "Change":
        if kv is None:
            return _new(cls, (main, sub, key, 0, 0, 0, None, 0))
        return _new(cls, (main, sub, key, kv[1], kv[2], kv[3], kv[4], kv[5]))

    main = property(itemgetter(0))
    sub = property(itemgetter(1))
    key = property(itemgetter(2))
    #: of the KeyValue written (0, 0 and None for a tombstone), without building it
    version = property(itemgetter(5))
    value = property(itemgetter(6))
    lease = property(itemgetter(7))

    @property
    def kv(self) -> KeyValue | None:
        if self[6] is None:
            return None
        return _new(KeyValue, self[2:])

    @property
    def deleted(self) -> bool:
        return self[6] is None

    def __getnewargs__(self) -> tuple:
        return (self[0], self[1], self[2], self.kv)

    def __repr__(self) -> str:
        return f"Change(main={self[0]!r}, sub={self[1]!r}, key={self[2]!r}, kv={self.kv!r})"

    def storage_key(self) -> bytes:
        """etcd's key for this entry in its ``key`` bucket."""
        return revision_to_bytes(self[0], self[1], self[6] is None)

    def storage_value(self) -> bytes:
        """The stored KeyValue; etcd stores a tombstone as a KeyValue holding only the key."""
        if self[6] is None:
            return encode_key_value((self[2], 0, 0, 0, b"", 0))
        return encode_key_value(self[2:])


_new = tuple.__new__
_main = itemgetter(0)


class KeyHistory(list):
    """One key's changes in revision order: the list itself (bisected by their main revision),
    so that a key costs one object, not a holder and its list."""

    __slots__ = ()

    def index_at(self, revision: int) -> int:
        """The position of the newest change at or below ``revision`` (-1: none)."""
        return bisect_right(self, revision, key=_main) - 1

    def latest(self) -> KeyValue | None:
        last = self[-1]
        return None if last[6] is None else _new(KeyValue, last[2:])

    def at(self, revision: int) -> KeyValue | None:
        """The live KeyValue at ``revision``, or None if the key did not exist then (the KeyValue
        is built here, not by Change.kv: a Range calls this for every key)."""
        change = self[-1]
        if change[0] > revision:
            i = bisect_right(self, revision, key=_main) - 1
            if i < 0:
                return None
            change = self[i]
        return None if change[6] is None else _new(KeyValue, change[2:])

    def compact(self, revision: int) -> list[Change]:
        """Drop what etcd's compaction at ``revision`` drops; return the dropped changes.

        Everything at or below ``revision`` goes except the newest such change, which stays unless it
        is a tombstone.
        """
        i = self.index_at(revision)
        if i < 0:
            return []
        cut = i + 1 if self[i].deleted else i
        if cut == 0:
            return []
        dropped = self[:cut]
        del self[:cut]
        return dropped


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

    def record_all(self, changes: list[Change],
                   histories: dict[bytes, KeyHistory] | None = None) -> None:
        """:meth:`record` of every change (in revision order) into an empty index, the key order
        sorted once at the end rather than kept key by key (a restart loads millions).
        ``histories`` is the same changes already grouped by key; it is taken as it is."""
        if self._histories:
            raise RuntimeError("record_all needs an empty index")
        if histories is None:
            histories = {}
            get = histories.get
            for change in changes:
                history = get(change.key)
                if history is None:
                    history = histories[change.key] = KeyHistory()
                history.append(change)
        self._histories = histories
        self._keys = SortedList(histories)

    def histories(self) -> Iterable[KeyHistory]:
        """Every key's history, in no particular order."""
        return self._histories.values()

    def live_keys(self) -> int:
        """How many keys exist now (their newest change is not a tombstone)."""
        return sum(1 for history in self._histories.values() if not history[-1].deleted)

    def unrecord(self, change: Change) -> None:
        """Take back the newest change of its key (undo of :meth:`record`)."""
        history = self._histories[change.key]
        assert history[-1] is change
        history.pop()
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
