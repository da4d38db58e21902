"""Key permissions and the merged per-user ranges that permission checks run against.

etcd's model (auth/range_perm_cache.go): a role's permission on ``key`` covers

* one key when ``range_end`` is empty,
* every key from ``key`` on when ``range_end`` is ``b"\\0"``,
* ``[key, range_end)`` otherwise;

a user's READ (WRITE) ranges are the union of those of every role it holds, READWRITE counting for
both. A request on one key is allowed when some range holds the key; a request on a range is
allowed only when the union covers the whole range without a gap (``range_end`` ``b"\\0"``
again meaning "to the end of the keyspace").

Worked example: a role with READ on ``[a, c)`` and READ on the single key ``c`` merges to one
interval ``[a, c\\0)``; reading ``[b, c\\0)`` is allowed, ``[b, d)`` is not (``c\\0``..``d``
missing), and the single key ``c`` is.

:class:`MergedRanges` keeps the union as sorted, disjoint intervals, so a check is a binary search:
O(log n) in the number of the user's permissions.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Iterable

READ, WRITE, READWRITE = 0, 1, 2
PERMISSION_TYPES = {READ: "READ", WRITE: "WRITE", READWRITE: "READWRITE"}

#: an interval end of None is +infinity (etcd's "affine" end for range_end b"\0")
End = bytes | None


@dataclass(frozen=True)
class KeyPermission:
    """One permission of a role, as etcd stores it (authpb.Permission)."""

    perm_type: int
    key: bytes
    range_end: bytes = b""

    def interval(self) -> tuple[bytes, End]:
        return _interval(self.key, self.range_end, point=not self.range_end)


def _interval(key: bytes, range_end: bytes, point: bool) -> tuple[bytes, End]:
    if point:
        return key, key + b"\0"
    if range_end == b"\0":
        return key, None
    return key, range_end


def _end_ge(a: End, b: End) -> bool:
    """a >= b for interval ends, None being +infinity."""
    if a is None:
        return True
    if b is None:
        return False
    return a >= b


class MergedRanges:
    """The union of a set of key intervals, as sorted disjoint ``[begin, end)`` pieces."""

    __slots__ = ("_begins", "_ends", "_raw")

    def __init__(self, intervals: Iterable[tuple[bytes, End]]) -> None:
        begins: list[bytes] = []
        ends: list[End] = []
        self._raw = sorted((iv for iv in intervals if iv[1] is None or iv[0] < iv[1]),
                           key=lambda iv: iv[0])
        for begin, end in self._raw:
            if ends and (ends[-1] is None or begin <= ends[-1]):
                if not _end_ge(ends[-1], end):
                    ends[-1] = end
                continue
            begins.append(begin)
            ends.append(end)
        self._begins = begins
        self._ends = ends

    def __len__(self) -> int:
        return len(self._begins)

    def _piece_at(self, key: bytes) -> int:
        """Index of the last piece beginning at or before ``key``, or -1."""
        return bisect.bisect_right(self._begins, key) - 1

    def holds_key(self, key: bytes) -> bool:
        i = self._piece_at(key)
        return i >= 0 and (self._ends[i] is None or key < self._ends[i])

    def covers(self, key: bytes, end: End) -> bool:
        """Whether every key of ``[key, end)`` lies in the union (end None: to +infinity)."""
        if end is not None and end <= key:
            return self._covers_inverted(key, end)
        i = self._piece_at(key)
        if i < 0:
            return False
        piece_end = self._ends[i]
        if piece_end is not None and key >= piece_end:
            return False
        return _end_ge(piece_end, end)


    def _covers_inverted(self, key: bytes, end: bytes) -> bool:
        """etcd's answer for a request range that is empty or inverted (``end <= key``): its
        interval tree visits the stored intervals that overlap ``[key, end)`` by its
        ``begin < end and key < stop`` test and wants them contiguous, starting at or before
        ``key`` and reaching ``end``. Only rare requests take this linear path."""
        visited = [(b, e) for b, e in self._raw if b < end and (e is None or key < e)]
        if not visited:
            return False
        max_end = visited[0][1]
        for begin, stop in visited[1:]:
            if max_end is not None and max_end < begin:
                return False
            if not _end_ge(max_end, stop):
                max_end = stop
        return visited[0][0] <= key and _end_ge(max_end, end)


class UserPermissions:
    """A user's merged READ and WRITE ranges, built once per change of the auth state."""

    __slots__ = ("read", "write")

    def __init__(self, permissions: Iterable[KeyPermission]) -> None:
        reads, writes = [], []
        for perm in permissions:
            interval = perm.interval()
            if perm.perm_type in (READ, READWRITE):
                reads.append(interval)
            if perm.perm_type in (WRITE, READWRITE):
                writes.append(interval)
        self.read = MergedRanges(reads)
        self.write = MergedRanges(writes)

    def allows(self, perm_type: int, key: bytes, range_end: bytes = b"") -> bool:
        """etcd's check of a request on ``key`` (``range_end`` as in the request)."""
        ranges = self.read if perm_type == READ else self.write
        if not range_end:
            return ranges.holds_key(key)
        begin, end = _interval(key, range_end, point=False)
        return ranges.covers(begin, end)
