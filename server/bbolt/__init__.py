"""bbolt databases in pure Python: a streaming writer and a reader (etcd's backend file format).

etcd keeps its state in a bbolt database, and its snapshot (Maintenance/Snapshot, ``etcdctl snapshot
save``) is that file. This package writes files that Go's bbolt opens, checks and modifies, and reads
the files real etcd 3.4/3.5 writes. :mod:`.etcd_layout` puts etcd's buckets on top.

Theory of operation
===================

File and pages
--------------
A database is a sequence of pages of ``page_size`` bytes (etcd: 4096, the OS page size); page *n*
starts at byte ``n * page_size``. Every page starts with a 16-byte header (little-endian, like all of
bbolt's integers)::

    id u64 | flags u16 | count u16 | overflow u32

``flags`` is the page type: 0x01 branch, 0x02 leaf, 0x04 meta, 0x10 freelist. ``overflow`` is the
number of pages that follow the first and belong to it: a page whose content does not fit (a large
value) spans ``overflow + 1`` consecutive pages, of which only the first has a header.

Meta pages
----------
Pages 0 and 1 are meta pages. After the page header comes the 64-byte meta::

    magic u32 (0xED0CDAED) | version u32 (2) | page_size u32 | flags u32 |
    root bucket: root pgid u64, sequence u64 | freelist pgid u64 |
    pgid u64 (high water mark: number of pages in use) | txid u64 |
    checksum u64 (FNV-1a 64 of the 56 bytes before it)

bbolt writes meta ``txid % 2`` at each commit and opens with the valid meta (magic, version,
checksum) of the higher txid, so a torn write of one meta falls back to the other. A meta whose
checksum field is 0 is accepted unchecked.

Freelist
--------
The page named by meta.freelist (flag 0x10) lists free page ids as u64s, sorted; ``count`` is their
number, or 0xFFFF when there are that many or more, in which case the first u64 is the count.
meta.freelist = 0xFFFF_FFFF_FFFF_FFFF means the freelist is not persisted (bbolt's NoFreelistSync,
which etcd uses): bbolt then treats every page that no bucket reaches as free. bbolt's consistency
check (``tx.Check``, run by ``etcdctl snapshot status``) requires every page below the high water
mark to be either reachable exactly once (meta, freelist, bucket pages with their overflow) or free.

Buckets and B+trees
-------------------
A bucket is a B+tree of sorted byte keys (bbolt's order: bytes.Compare). Leaf pages (0x02) hold
``count`` 16-byte elements, then the keys and values::

    leaf element:   flags u32 | pos u32 | ksize u32 | vsize u32
    branch element: pos u32 | ksize u32 | pgid u64

``pos`` is the distance from the element itself to its key (a value follows its key). A branch page
(0x01) points at its children, each element keyed with its child's first key. The database's root
bucket (meta.root) holds only buckets, keyed by their names. A leaf element with flags 0x01
(bucketLeafFlag) is a nested bucket; its value is a 16-byte bucket header ``root pgid u64 | sequence
u64`` (sequence: NextSequence's counter). When root pgid is 0 the bucket is *inline*: its single
leaf page (header with id 0, elements, data; no padding) follows the header inside the value.
bbolt makes a bucket inline when it has no sub-buckets and that page image is at most a quarter
page (1024 bytes for 4 KiB pages), and keeps the root bucket in a page of its own.

How the writer lays out pages
-----------------------------
:class:`writer.Writer` consumes the buckets once, in key order, and writes pages in id order:
pages 0 and 1 are reserved for the metas, page 2 is an (empty) freelist, and from page 3 on every
page gets the next id when it is finished. Within a bucket, a leaf page is finished when the next
pair would overflow it (``fill`` of a page; a pair larger than a page gets a leaf of its own with
overflow pages); its first key and id go to the open branch page one level up, which is finished the
same way, so a bucket of any size holds one open page per tree level. A bucket's pairs are held back
until they exceed the inline limit or a sub-bucket appears; a bucket that ends before is written
inline. A nested bucket is written completely, before the parent leaf that points at it. At the
end of a bucket the open pages are finished bottom-up and the top one is its root. The root bucket
(its pages are finished last) and the high water mark are known only then, so both metas (txids 2
and 3, identical otherwise) are written last, at the front of the file. Every page is reachable and
the freelist empty, so bbolt's check passes, and bbolt can open the file for writing (etcd does on
restore) and split or merge the pages as it would its own.

The reader (:class:`reader.Database`) maps the file and walks meta → root bucket → buckets → pages
on demand; :meth:`reader.Database.check` reproduces bbolt's page accounting.
"""

from .format import DEFAULT_PAGE_SIZE, Meta, fnv64a
from .reader import BoltError, Bucket as BucketReader, Database
from .writer import Bucket, Writer, WriterError, database_bytes, iter_database, write_database

__all__ = [
    "DEFAULT_PAGE_SIZE", "Meta", "fnv64a", "BoltError", "BucketReader", "Database", "Bucket",
    "Writer", "WriterError", "database_bytes", "iter_database", "write_database",
]
