"""Reading a bbolt database: meta selection, the bucket tree, the freelist and bbolt's Check.

A :class:`Database` maps the file (or wraps bytes) and reads pages on demand, so reading a large
database costs memory only for what the caller keeps. It reads files written by bbolt itself (etcd
3.4/3.5 backends and snapshots: freed pages, overflow pages, inline buckets, a freelist of any size
or none) and by :mod:`etcdlite.bbolt.writer`.
"""

from __future__ import annotations

import mmap
import os
import struct
from bisect import bisect_right
from typing import Iterator, Union

from .format import (BRANCH_ELEMENT, BRANCH_PAGE, BUCKET_HEADER, BUCKET_HEADER_SIZE,
                     BUCKET_LEAF_FLAG, ELEMENT_SIZE, FREELIST_PAGE, LEAF_ELEMENT, LEAF_PAGE,
                     META_SIZE, PAGE_HEADER, PAGE_HEADER_SIZE, PGID_NO_FREELIST, Meta, page_type)

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


class BoltError(Exception):
    """The data is not a (consistent) bbolt database."""


class Database:
    """A read-only bbolt database (``with Database(path) as db: ...``)."""

    def __init__(self, source: Source) -> None:
        self._file = None
        self._mmap: mmap.mmap | None = None
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._buf: bytes | mmap.mmap | memoryview = memoryview(source).toreadonly()
        else:
            self._file = open(source, "rb")
            size = os.fstat(self._file.fileno()).st_size
            if size == 0:
                self._file.close()
                raise BoltError("file size too small")
            self._mmap = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
            self._buf = self._mmap
        self.size = len(self._buf)
        self.meta = self._choose_meta()
        self.page_size = self.meta.page_size
        if self.size < 2 * self.page_size:
            raise BoltError("file size too small")

    # -- lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        if isinstance(self._buf, memoryview):
            self._buf.release()
        if self._mmap is not None:
            self._mmap.close()
            self._mmap = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta ---------------------------------------------------------------------------------------

    def _read_meta_at(self, offset: int) -> tuple[Meta | None, str]:
        start = offset + PAGE_HEADER_SIZE
        if start + META_SIZE > self.size:
            return None, "file size too small"
        raw = bytes(self._buf[start:start + META_SIZE])
        meta = Meta.unpack(raw)
        err = meta.error(raw)
        return (None, err) if err else (meta, "")

    def _choose_meta(self) -> Meta:
        """bbolt's DB.meta(): the valid meta with the higher txid. Meta 1 sits one page in; when
        meta 0 is unreadable its page size is unknown, so the usual sizes are tried."""
        meta0, err0 = self._read_meta_at(0)
        offsets = [meta0.page_size] if meta0 else [1 << s for s in range(9, 17)]
        meta1 = None
        for off in offsets:
            meta1, _ = self._read_meta_at(off)
            if meta1 is not None:
                break
        candidates = [m for m in (meta0, meta1) if m is not None]
        if not candidates:
            raise BoltError(err0 or "invalid database")
        return max(candidates, key=lambda m: m.txid)

    # -- pages --------------------------------------------------------------------------------------

    def page_header(self, pgid: int) -> tuple[int, int, int, int]:
        """(id, flags, count, overflow) of page ``pgid``."""
        off = pgid * self.page_size
        if off + PAGE_HEADER_SIZE > self.size:
            raise BoltError(f"page {pgid}: beyond the end of the file")
        return PAGE_HEADER.unpack_from(self._buf, off)

    def freelist(self) -> list[int]:
        """The free page ids, sorted (empty when the freelist is not persisted)."""
        if self.meta.freelist == PGID_NO_FREELIST:
            return []
        _, flags, count, _ = self.page_header(self.meta.freelist)
        if not flags & FREELIST_PAGE:
            raise BoltError(f"invalid freelist page: {self.meta.freelist}, page type is "
                            f"{page_type(flags)}")
        off = self.meta.freelist * self.page_size + PAGE_HEADER_SIZE
        if count == 0xFFFF:  # the real count is the first element
            count = int.from_bytes(self._buf[off:off + 8], "little")
            off += 8
        result = list(struct.unpack_from(f"<{count}Q", self._buf, off)) if count else []
        return sorted(result)

    # -- buckets ------------------------------------------------------------------------------------

    @property
    def root(self) -> "Bucket":
        """The root bucket; its entries are the top-level buckets."""
        return Bucket(self, self.meta.root, self.meta.root_sequence, None)

    def buckets(self) -> Iterator[tuple[bytes, "Bucket"]]:
        """The top-level buckets in name order (bbolt's tx.ForEach)."""
        for name, value in self.root.items():
            if isinstance(value, Bucket):
                yield name, value

    def bucket(self, *path: bytes) -> "Bucket | None":
        b: Bucket | None = self.root
        for name in path:
            b = b.bucket(name) if b is not None else None
        return b

    def to_dict(self) -> dict[bytes, object]:
        """The whole tree as nested dicts ({name: {key: bytes | dict}}); for tests and small files."""
        return self.root.to_dict()

    def check(self) -> list[str]:
        """bbolt's tx.Check(): page accounting and types, in its wording. Also checks key order."""
        errors: list[str] = []
        free = self.freelist()
        freed: set[int] = set()
        for pgid in free:
            if pgid in freed:
                errors.append(f"page {pgid}: already freed")
            freed.add(pgid)
        reachable: set[int] = {0, 1}
        if self.meta.freelist != PGID_NO_FREELIST:
            _, _, _, overflow = self.page_header(self.meta.freelist)
            reachable.update(range(self.meta.freelist, self.meta.freelist + overflow + 1))
        self._check_bucket(self.root, reachable, freed, errors)
        if self.meta.freelist == PGID_NO_FREELIST:
            # bbolt rebuilds an unpersisted freelist from the pages no bucket reaches
            return errors
        for pgid in range(self.meta.pgid):
            if pgid not in reachable and pgid not in freed:
                errors.append(f"page {pgid}: unreachable unfreed")
        return errors

    def _check_bucket(self, bucket: "Bucket", reachable: set[int], freed: set[int],
                      errors: list[str]) -> None:
        if bucket.root != 0:
            for pgid, flags, overflow in bucket.pages():
                if pgid > self.meta.pgid:
                    errors.append(f"page {pgid}: out of bounds: {self.meta.pgid}")
                for i in range(overflow + 1):
                    if pgid + i in reachable:
                        errors.append(f"page {pgid + i}: multiple references")
                    reachable.add(pgid + i)
                if pgid in freed:
                    errors.append(f"page {pgid}: reachable freed")
                elif not flags & (BRANCH_PAGE | LEAF_PAGE):
                    errors.append(f"page {pgid}: invalid type: {page_type(flags)}")
        previous = None
        for key, value in bucket.items():
            if previous is not None and key <= previous:
                errors.append(f"bucket keys out of order: {previous!r} >= {key!r}")
            previous = key
            if isinstance(value, Bucket):
                self._check_bucket(value, reachable, freed, errors)


class Bucket:
    """One bucket: a B+tree rooted at page ``root``, or inline (``root == 0``: its single leaf page
    follows the bucket header inside the parent's value)."""

    def __init__(self, db: Database, root: int, sequence: int, inline: bytes | None) -> None:
        self.db = db
        self.root = root
        self.sequence = sequence
        self._inline = inline

    @property
    def inline(self) -> bool:
        return self.root == 0

    # A "page" is addressed as (buffer, offset of its header in the buffer).
    def _page(self, pgid: int) -> tuple[object, int]:
        if pgid >= self.db.meta.pgid:
            raise BoltError(f"page {pgid}: beyond the high water mark {self.db.meta.pgid}")
        return self.db._buf, pgid * self.db.page_size

    def _root_page(self) -> tuple[object, int]:
        if self.root == 0:
            return self._inline or b"", 0
        return self._page(self.root)

    def pages(self) -> Iterator[tuple[int, int, int]]:
        """(pgid, flags, overflow) of every page of this bucket's own tree (not sub-buckets')."""
        if self.root == 0:
            return
        stack = [self.root]
        while stack:
            pgid = stack.pop()
            buf, off = self._page(pgid)
            _, flags, count, overflow = PAGE_HEADER.unpack_from(buf, off)
            yield pgid, flags, overflow
            if flags & BRANCH_PAGE:
                children = [BRANCH_ELEMENT.unpack_from(buf, off + PAGE_HEADER_SIZE + i * ELEMENT_SIZE)[2]
                            for i in range(count)]
                stack.extend(reversed(children))

    def _leaf_elements(self, buf: object, off: int, count: int) -> Iterator[tuple[bytes, bytes, int]]:
        base = off + PAGE_HEADER_SIZE
        for i in range(count):
            eoff = base + i * ELEMENT_SIZE
            flags, pos, ksize, vsize = LEAF_ELEMENT.unpack_from(buf, eoff)
            k = eoff + pos
            yield bytes(buf[k:k + ksize]), bytes(buf[k + ksize:k + ksize + vsize]), flags

    def _branch_elements(self, buf: object, off: int, count: int) -> list[tuple[bytes, int]]:
        base = off + PAGE_HEADER_SIZE
        out = []
        for i in range(count):
            eoff = base + i * ELEMENT_SIZE
            pos, ksize, pgid = BRANCH_ELEMENT.unpack_from(buf, eoff)
            out.append((bytes(buf[eoff + pos:eoff + pos + ksize]), pgid))
        return out

    def raw_items(self) -> Iterator[tuple[bytes, bytes, int]]:
        """(key, value, flags) in key order; a sub-bucket's value is its raw bucket header(+page)."""
        stack = [self._root_page()]
        while stack:
            buf, off = stack.pop()
            _, flags, count, _ = PAGE_HEADER.unpack_from(buf, off)
            if flags & LEAF_PAGE:
                yield from self._leaf_elements(buf, off, count)
            elif flags & BRANCH_PAGE:
                children = self._branch_elements(buf, off, count)
                stack.extend(self._page(pgid) for _, pgid in reversed(children))
            else:
                raise BoltError(f"page {PAGE_HEADER.unpack_from(buf, off)[0]}: invalid type: "
                                f"{page_type(flags)}")

    def _sub_bucket(self, value: bytes) -> "Bucket":
        root, sequence = BUCKET_HEADER.unpack_from(value, 0)
        return Bucket(self.db, root, sequence, value[BUCKET_HEADER_SIZE:] if root == 0 else None)

    def items(self) -> Iterator[tuple[bytes, "bytes | Bucket"]]:
        """(key, value) in key order; a nested bucket's value is a :class:`Bucket`."""
        for key, value, flags in self.raw_items():
            yield key, (self._sub_bucket(value) if flags & BUCKET_LEAF_FLAG else value)

    __iter__ = items

    def _seek(self, key: bytes) -> tuple[bytes, int] | None:
        """The (value, flags) stored under ``key``, following branches by bisection."""
        buf, off = self._root_page()
        while True:
            _, flags, count, _ = PAGE_HEADER.unpack_from(buf, off)
            if flags & BRANCH_PAGE:
                children = self._branch_elements(buf, off, count)
                i = max(bisect_right([k for k, _ in children], key) - 1, 0)
                buf, off = self._page(children[i][1])
                continue
            for k, v, f in self._leaf_elements(buf, off, count):
                if k == key:
                    return v, f
            return None

    def get(self, key: bytes) -> bytes | None:
        """A plain value (None if absent or a bucket, as bbolt's Get)."""
        found = self._seek(key)
        return found[0] if found and not found[1] & BUCKET_LEAF_FLAG else None

    def bucket(self, name: bytes) -> "Bucket | None":
        found = self._seek(name)
        return self._sub_bucket(found[0]) if found and found[1] & BUCKET_LEAF_FLAG else None

    def to_dict(self) -> dict[bytes, object]:
        return {k: (v.to_dict() if isinstance(v, Bucket) else v) for k, v in self.items()}
