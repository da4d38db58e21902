"""bbolt's on-disk structures: page and element headers, the meta record and its checksum.

The layout facts are bbolt's (``page.go``, ``db.go``, ``bucket.go``, ``freelist.go``); see the package
docstring of :mod:`etcdlite.bbolt` for how they fit together. Everything is little-endian, as bbolt
writes its in-memory structs on the little-endian machines etcd supports.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

#: bbolt's marker of a database file (meta.magic) and its file format version (meta.version)
MAGIC = 0xED0CDAED
VERSION = 2
#: etcd's (and bbolt's default on common systems) page size
DEFAULT_PAGE_SIZE = 4096

# page.flags
BRANCH_PAGE = 0x01
LEAF_PAGE = 0x02
META_PAGE = 0x04
FREELIST_PAGE = 0x10

#: leafPageElement.flags bit: the value is a bucket header (a nested bucket), not a plain value
BUCKET_LEAF_FLAG = 0x01

#: meta.freelist when the freelist is not persisted (bbolt's NoFreelistSync)
PGID_NO_FREELIST = 0xFFFFFFFFFFFFFFFF

#: page header: id u64, flags u16, count u16, overflow u32
PAGE_HEADER = struct.Struct("<QHHI")
PAGE_HEADER_SIZE = PAGE_HEADER.size  # 16
#: leaf element: flags u32, pos u32, ksize u32, vsize u32 (pos is relative to the element itself)
LEAF_ELEMENT = struct.Struct("<IIII")
#: branch element: pos u32, ksize u32, pgid u64
BRANCH_ELEMENT = struct.Struct("<IIQ")
ELEMENT_SIZE = 16
#: bucket header, the start of a bucket's value in its parent: root pgid u64 (0 = inline), sequence u64
BUCKET_HEADER = struct.Struct("<QQ")
BUCKET_HEADER_SIZE = BUCKET_HEADER.size  # 16
#: meta: magic u32, version u32, page_size u32, flags u32, root bucket (root u64, sequence u64),
#: freelist u64, pgid (high water mark) u64, txid u64, checksum u64
META = struct.Struct("<IIIIQQQQQQ")
META_SIZE = META.size  # 64
_META_SUMMED = META_SIZE - 8

_FNV64_OFFSET = 0xCBF29CE484222325
_FNV64_PRIME = 0x100000001B3
_MASK64 = (1 << 64) - 1


def fnv64a(data: bytes) -> int:
    """FNV-1a, 64 bit: bbolt's meta checksum (over the meta's first 56 bytes)."""
    h = _FNV64_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV64_PRIME) & _MASK64
    return h


@dataclass(frozen=True)
class Meta:
    page_size: int
    root: int
    freelist: int
    pgid: int
    txid: int
    flags: int = 0
    root_sequence: int = 0
    magic: int = MAGIC
    version: int = VERSION
    checksum: int = 0

    def pack(self) -> bytes:
        """The 64 meta bytes, checksum computed."""
        head = META.pack(self.magic, self.version, self.page_size, self.flags, self.root,
                         self.root_sequence, self.freelist, self.pgid, self.txid, 0)[:_META_SUMMED]
        return head + struct.pack("<Q", fnv64a(head))

    @classmethod
    def unpack(cls, data: bytes, offset: int = 0) -> "Meta":
        (magic, version, page_size, flags, root, seq, freelist, pgid, txid,
         checksum) = META.unpack_from(data, offset)
        return cls(page_size=page_size, root=root, freelist=freelist, pgid=pgid, txid=txid,
                   flags=flags, root_sequence=seq, magic=magic, version=version, checksum=checksum)

    def error(self, raw: bytes) -> str | None:
        """Why bbolt's meta.validate() would refuse this meta (``raw``: its 64 bytes), or None."""
        if self.magic != MAGIC:
            return "invalid database"
        if self.version != VERSION:
            return "version mismatch"
        if self.checksum != 0 and self.checksum != fnv64a(raw[:_META_SUMMED]):
            return "checksum error"
        return None


def page_type(flags: int) -> str:
    """bbolt's page.typ() names."""
    if flags & BRANCH_PAGE:
        return "branch"
    if flags & LEAF_PAGE:
        return "leaf"
    if flags & META_PAGE:
        return "meta"
    if flags & FREELIST_PAGE:
        return "freelist"
    return f"unknown<{flags:02x}>"
