"""Which watched ranges contain a key, without looking at every watched range.

Watched ranges come in four shapes. Single keys and prefixes (``range_end`` = the successor of the
key, which is how every client writes "prefix") are found by dictionary lookups over the key's own
prefixes; from-key ranges (``range_end`` = ``b"\\0"``) by a sorted list of their starts; any other
interval by a scan of just those intervals, which clients rarely use.
"""

from __future__ import annotations

from typing import Generic, Iterator, TypeVar

from sortedcontainers import SortedDict

T = TypeVar("T")


def prefix_end(prefix: bytes) -> bytes:
    """The range_end clients send for a prefix (etcd's ``GetPrefixRangeEnd``); b"\\0" = no end."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\x00"
    return stripped[:-1] + bytes([stripped[-1] + 1])


def in_range(key: bytes, start: bytes, end: bytes) -> bool:
    if not end:
        return key == start
    if end == b"\x00":
        return key >= start
    return start <= key < end


class KeyRanges(Generic[T]):
    """A multimap from etcd key ranges to items, queried by key."""

    def __init__(self) -> None:
        self._exact: dict[bytes, set[T]] = {}
        self._prefixes: dict[bytes, set[T]] = {}
        self._from_key: SortedDict = SortedDict()  # start -> set of items
        self._intervals: dict[tuple[bytes, bytes], set[T]] = {}
        self._everywhere: set[T] = set()  # etcd's range of every key: from b"\0" on

    def _bucket(self, start: bytes, end: bytes, create: bool) -> set[T] | None:
        if not end:
            table, slot = self._exact, start
        elif end == b"\x00":
            if start == b"\x00":
                return self._everywhere
            table, slot = self._from_key, start
        elif end == prefix_end(start):
            table, slot = self._prefixes, start
        else:
            table, slot = self._intervals, (start, end)
        bucket = table.get(slot)
        if bucket is None and create:
            bucket = table[slot] = set()
        return bucket

    def add(self, start: bytes, end: bytes, item: T) -> None:
        self._bucket(start, end, True).add(item)

    def remove(self, start: bytes, end: bytes, item: T) -> None:
        bucket = self._bucket(start, end, False)
        if bucket is None:
            return
        bucket.discard(item)
        if not bucket and bucket is not self._everywhere:
            if not end:
                del self._exact[start]
            elif end == b"\x00":
                del self._from_key[start]
            elif end == prefix_end(start):
                del self._prefixes[start]
            else:
                del self._intervals[(start, end)]

    @property
    def everywhere(self) -> set[T]:
        """The items whose range is every key."""
        return self._everywhere

    def matching(self, key: bytes) -> Iterator[T]:
        """Every item whose range holds ``key`` (an item added under several ranges may repeat)."""
        yield from self.matching_ranged(key)
        yield from self._everywhere

    def matching_ranged(self, key: bytes) -> Iterator[T]:
        """``matching`` without :attr:`everywhere`, for callers that take those once for all keys."""
        bucket = self._exact.get(key)
        if bucket:
            yield from bucket
        prefixes = self._prefixes
        if prefixes:
            for i in range(1, len(key) + 1):
                bucket = prefixes.get(key[:i])
                if bucket:
                    yield from bucket
        if self._from_key:
            for start in self._from_key.irange(maximum=key):
                yield from self._from_key[start]
        for (start, end), bucket in self._intervals.items():
            if start <= key < end:
                yield from bucket

    def has_ranged(self) -> bool:
        """Whether any item's range is not every key."""
        return bool(self._exact or self._prefixes or self._from_key or self._intervals)

    def __bool__(self) -> bool:
        return bool(self._everywhere) or self.has_ranged()
