"""Writing a bbolt database in one pass from sorted bucket contents.

The writer builds every bucket's B+tree bottom-up while its contents stream in: a leaf page is
written as soon as the next pair would not fit, its first key and page id go to the branch level
above, which is written the same way when it fills. Each open bucket therefore holds one page per
tree level, whatever its size, and a nested bucket is written completely (its pages before the leaf
of its parent that points at it) while its parent's open pages wait. Pages get ids in the order they
are finished; the meta pages, which must name the root written last, are filled in at the end, so
the output must be seekable (:func:`iter_database` spools through a temporary file).
"""

from __future__ import annotations

import struct
import tempfile
from dataclasses import dataclass, field
from typing import BinaryIO, Iterable, Iterator, Union

from .format import (BRANCH_ELEMENT, BRANCH_PAGE, BUCKET_HEADER, BUCKET_LEAF_FLAG,
                     DEFAULT_PAGE_SIZE, ELEMENT_SIZE, FREELIST_PAGE, LEAF_ELEMENT, LEAF_PAGE,
                     META_PAGE, PAGE_HEADER, PAGE_HEADER_SIZE, Meta)

#: the txid of the written meta pages (0 and 1 hold txids of their own parity, as bbolt's do)
_TXID = 2


@dataclass
class Bucket:
    """A bucket to write: ``items`` are (key, value) pairs in strictly increasing key order (bbolt's
    byte order), a value being bytes or a nested :class:`Bucket`. ``items`` may be any iterable,
    e.g. a generator: it is consumed once."""

    items: Iterable[tuple[bytes, "Value"]] = field(default_factory=list)
    sequence: int = 0


Value = Union[bytes, bytearray, memoryview, Bucket]


class WriterError(ValueError):
    """The contents cannot be written (unsorted or empty keys, a plain value in the root, ...)."""


def _leaf_page(pgid: int, elements: list[tuple[int, bytes, bytes]], size: int) -> bytes:
    """A leaf page image of ``size`` bytes: header, element array, then the keys and values."""
    count = len(elements)
    head = bytearray(PAGE_HEADER.pack(pgid, LEAF_PAGE, count, 0))
    data = []
    pos = count * ELEMENT_SIZE  # from element 0 to the first data byte
    for i, (flags, key, value) in enumerate(elements):
        head += LEAF_ELEMENT.pack(flags, pos - i * ELEMENT_SIZE, len(key), len(value))
        data.append(key)
        data.append(value)
        pos += len(key) + len(value)
    image = head + b"".join(data)
    if size:
        image += bytes(size - len(image))
    return bytes(image)


class _Level:
    """The open (not yet written) page of one level of a bucket's tree."""

    __slots__ = ("elements", "size")

    def __init__(self) -> None:
        self.elements: list = []
        self.size = PAGE_HEADER_SIZE


class Writer:
    """Write a bbolt database to a seekable binary file: ``Writer(out).write(buckets)``.

    ``fill`` is the share of a page the writer fills before starting the next (bbolt's FillPercent;
    1.0 packs pages fully, which bbolt reads as well as its own half-filled ones). Pages are
    ``page_size`` bytes; values too large for a page get overflow pages, as bbolt gives them.
    """

    def __init__(self, out: BinaryIO, page_size: int = DEFAULT_PAGE_SIZE, fill: float = 1.0) -> None:
        if page_size < 1024 or page_size & (page_size - 1):
            raise WriterError(f"page size {page_size} is not a power of two >= 1024")
        if not 0.1 <= fill <= 1.0:
            raise WriterError("fill must be between 0.1 and 1.0")
        self.out = out
        self.page_size = page_size
        self._threshold = int(page_size * fill)
        self._max_inline = page_size // 4  # bbolt's maxInlineBucketSize
        self._start = out.tell()
        self._next_pgid = 0
        self.pages_written = 0

    # -- pages --------------------------------------------------------------------------------------

    def _pages_for(self, size: int) -> int:
        return max(1, -(-size // self.page_size))

    def _emit(self, build, size: int) -> int:
        """Allocate the next page id(s) for a page of ``size`` bytes and write the image
        ``build(pgid, padded_size)`` there. Pages are written in id order, so the file grows
        sequentially."""
        n = self._pages_for(size)
        pgid = self._next_pgid
        self._next_pgid += n
        image = build(pgid, n * self.page_size)
        if n > 1:  # page.overflow: the number of pages after the first
            image = image[:12] + struct.pack("<I", n - 1) + image[16:]
        self.out.write(image)
        self.pages_written += n
        return pgid

    def _write_leaf(self, level: _Level) -> int:
        return self._emit(lambda pgid, size: _leaf_page(pgid, level.elements, size), level.size)

    def _write_branch(self, level: _Level) -> int:
        def build(pgid: int, size: int) -> bytes:
            count = len(level.elements)
            head = bytearray(PAGE_HEADER.pack(pgid, BRANCH_PAGE, count, 0))
            pos = count * ELEMENT_SIZE
            for i, (key, child) in enumerate(level.elements):
                head += BRANCH_ELEMENT.pack(pos - i * ELEMENT_SIZE, len(key), child)
                pos += len(key)
            image = head + b"".join(k for k, _ in level.elements)
            return bytes(image + bytes(size - len(image)))
        return self._emit(build, level.size)

    # -- buckets ------------------------------------------------------------------------------------

    def _bucket_value(self, bucket: Bucket, may_inline: bool = True) -> bytes:
        """Write ``bucket``'s pages and return its value in the parent: the bucket header, followed
        by its leaf page when bbolt would keep it inline (no sub-buckets, a page image of at most a
        quarter page)."""
        pending: list[tuple[int, bytes, bytes]] = []  # held back while the bucket may be inline
        size = PAGE_HEADER_SIZE
        inline = may_inline
        levels: list[_Level] = [] if inline else [_Level()]
        previous: bytes | None = None

        def add_to_leaf(flags: int, key: bytes, value: bytes) -> None:
            leaf = levels[0]
            grow = ELEMENT_SIZE + len(key) + len(value)
            if leaf.elements and leaf.size + grow > self._threshold:
                push(1, leaf.elements[0][1], self._write_leaf(leaf))
                levels[0] = leaf = _Level()
            leaf.elements.append((flags, key, value))
            leaf.size += grow

        def push(depth: int, key: bytes, pgid: int) -> None:
            """Add a finished page of level ``depth - 1`` to the branch level ``depth``."""
            if depth == len(levels):
                levels.append(_Level())
            level = levels[depth]
            grow = ELEMENT_SIZE + len(key)
            if level.elements and level.size + grow > self._threshold:
                push(depth + 1, level.elements[0][0], self._write_branch(level))
                levels[depth] = level = _Level()
            level.elements.append((key, pgid))
            level.size += grow

        for key, value in bucket.items:
            if not isinstance(key, bytes):
                key = bytes(key)
            if not key:
                raise WriterError("empty key")
            if previous is not None and key <= previous:
                raise WriterError(f"keys out of order: {previous!r} then {key!r}")
            previous = key
            if isinstance(value, Bucket):
                flags, data = BUCKET_LEAF_FLAG, self._bucket_value(value)
            else:
                flags, data = 0, bytes(value)
            if inline:
                pending.append((flags, key, data))
                size += ELEMENT_SIZE + len(key) + len(data)
                if flags & BUCKET_LEAF_FLAG or size > self._max_inline:
                    inline = False
                    levels.append(_Level())
                    for element in pending:
                        add_to_leaf(*element)
                    pending = []
            else:
                add_to_leaf(flags, key, data)

        if inline:
            return BUCKET_HEADER.pack(0, bucket.sequence) + _leaf_page(0, pending, 0)
        # close the levels bottom-up: each last page goes to the level above; the top one is the root
        root = self._write_leaf(levels[0])
        if not levels[0].elements:  # an empty root bucket: one empty leaf
            return BUCKET_HEADER.pack(root, bucket.sequence)
        first = levels[0].elements[0][1]
        depth = 1
        while depth < len(levels):
            push(depth, first, root)
            level = levels[depth]
            first = level.elements[0][0]
            root = self._write_branch(level)
            depth += 1
        return BUCKET_HEADER.pack(root, bucket.sequence)

    # -- the database ------------------------------------------------------------------------------

    def write(self, buckets: Iterable[tuple[bytes, Bucket]]) -> int:
        """Write the whole database: the top-level ``buckets`` (name order). Returns its size."""
        ps = self.page_size
        self.out.write(bytes(2 * ps))  # meta pages, filled in below
        self._next_pgid = 2
        freelist = self._emit(lambda pgid, size: PAGE_HEADER.pack(pgid, FREELIST_PAGE, 0, 0)
                              + bytes(size - PAGE_HEADER_SIZE), PAGE_HEADER_SIZE)

        def top_level() -> Iterator[tuple[bytes, Value]]:
            for name, bucket in buckets:
                if not isinstance(bucket, Bucket):
                    raise WriterError(f"the root holds only buckets, not a value under {name!r}")
                yield name, bucket

        # The root bucket is never inline: bbolt keeps it in its own page, named by the meta.
        root, _ = BUCKET_HEADER.unpack_from(self._bucket_value(Bucket(top_level()), False), 0)
        end = self.out.tell()
        for txid in (_TXID, _TXID + 1):
            meta = Meta(page_size=ps, root=root, freelist=freelist, pgid=self._next_pgid, txid=txid)
            self.out.seek(self._start + (txid % 2) * ps)
            self.out.write(PAGE_HEADER.pack(txid % 2, META_PAGE, 0, 0) + meta.pack())
        self.out.seek(end)
        return end - self._start

def write_database(out: BinaryIO, buckets: Iterable[tuple[bytes, Bucket]],
                   page_size: int = DEFAULT_PAGE_SIZE, fill: float = 1.0) -> int:
    """Write a bbolt database of ``buckets`` to the seekable file ``out``; return its size."""
    return Writer(out, page_size, fill).write(buckets)


def iter_database(buckets: Iterable[tuple[bytes, Bucket]], chunk_size: int = 32 * 1024,
                  page_size: int = DEFAULT_PAGE_SIZE, fill: float = 1.0,
                  spool_limit: int = 8 << 20) -> Iterator[bytes]:
    """The database as chunks of ``chunk_size`` bytes (the last one shorter). It is spooled through
    a temporary file (kept in memory up to ``spool_limit`` bytes), since the meta pages at the front
    can only be written once the rest is."""
    with tempfile.SpooledTemporaryFile(max_size=spool_limit) as spool:
        size = write_database(spool, buckets, page_size, fill)
        spool.seek(0)
        while size > 0:
            chunk = spool.read(min(chunk_size, size))
            if not chunk:
                raise OSError("spooled database truncated")
            size -= len(chunk)
            yield chunk


def database_bytes(buckets: Iterable[tuple[bytes, Bucket]], page_size: int = DEFAULT_PAGE_SIZE,
                   fill: float = 1.0) -> bytes:
    """The whole database in memory (small databases and tests)."""
    import io
    buf = io.BytesIO()
    write_database(buf, buckets, page_size, fill)
    return buf.getvalue()
