"""The bbolt writer and reader against each other: random bucket trees (nested, inline or not, big
values, many keys, several page sizes) come back equal, every file passes bbolt's page accounting,
and the page layout follows bbolt's rules (inline buckets, overflow pages, metas)."""

from __future__ import annotations

import struct
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etcdlite.bbolt import (Bucket, Database, WriterError, database_bytes, fnv64a, iter_database,
                            write_database)
from etcdlite.bbolt.format import (BUCKET_HEADER, FREELIST_PAGE, LEAF_PAGE, MAGIC, META_PAGE,
                                   PAGE_HEADER, PGID_NO_FREELIST, Meta)
from etcdlite.bbolt.reader import BoltError

# -- strategies ---------------------------------------------------------------------------------

keys = st.binary(min_size=1, max_size=40)
small_values = st.binary(max_size=64)
#: now and then a value larger than a page (overflow pages)
values = st.one_of(small_values, small_values, small_values,
                   st.integers(0, 20000).map(lambda n: bytes([n % 251]) * n))


def bucket_trees(depth: int = 2) -> st.SearchStrategy[dict]:
    """{key: bytes | nested dict}; nested dicts become buckets."""
    leaf = values
    if depth > 0:
        leaf = st.one_of(values, values, values, st.deferred(lambda: bucket_trees(depth - 1)))
    return st.one_of(
        st.dictionaries(keys, leaf, max_size=12),
        # sometimes many small keys: multi-page leaves and branch levels
        st.integers(0, 1500).map(lambda n: {b"k%06d" % i: b"v" * (i % 13) for i in range(n)}),
    )


def roots() -> st.SearchStrategy[dict]:
    return st.dictionaries(keys, bucket_trees(), max_size=6)


def to_buckets(tree: dict) -> list:
    """The writer's input for a tree; dicts become :class:`Bucket`s with a sequence."""
    items = []
    for key in sorted(tree):
        value = tree[key]
        items.append((key, Bucket(to_buckets(value), sequence=len(value)) if isinstance(value, dict)
                      else value))
    return items


def sequences(bucket) -> dict:
    """{path: sequence} of every nested bucket, from the reader."""
    out = {}
    for key, value in bucket.items():
        if not isinstance(value, bytes):
            out[(key,)] = value.sequence
            out.update({(key,) + p: s for p, s in sequences(value).items()})
    return out


def expected_sequences(tree: dict) -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out[(key,)] = len(value)
            out.update({(key,) + p: s for p, s in expected_sequences(value).items()})
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=roots(), page_size=st.sampled_from([1024, 4096, 4096, 16384]),
       fill=st.sampled_from([1.0, 0.5, 0.9]))
def test_written_tree_reads_back_equal(tree: dict, page_size: int, fill: float) -> None:
    data = database_bytes(to_buckets(tree), page_size=page_size, fill=fill)
    assert len(data) % page_size == 0
    with Database(data) as db:
        assert db.page_size == page_size
        assert db.check() == []
        assert db.to_dict() == tree
        assert sequences(db.root) == expected_sequences(tree)
        assert db.meta.pgid * page_size == len(data)
        # lookups by key follow the branches
        for name, sub in tree.items():
            bucket = db.bucket(name)
            assert bucket is not None and db.root.get(name) is None
            for key, value in list(sub.items())[:20]:
                if isinstance(value, dict):
                    assert bucket.bucket(key) is not None and bucket.get(key) is None
                else:
                    assert bucket.get(key) == value
            assert bucket.get(b"\xff" * 41) is None


@settings(max_examples=20, deadline=None)
@given(tree=roots())
def test_chunked_output_is_the_same_file(tree: dict) -> None:
    whole = database_bytes(to_buckets(tree))
    chunks = list(iter_database(to_buckets(tree), chunk_size=10000, spool_limit=50000))
    assert b"".join(chunks) == whole
    assert all(len(c) == 10000 for c in chunks[:-1])


def _pages(data: bytes, page_size: int = 4096):
    return [PAGE_HEADER.unpack_from(data, off) for off in range(0, len(data), page_size)]


def test_meta_pages_freelist_and_root() -> None:
    data = database_bytes([(b"a", Bucket([(b"k", b"v")]))])
    assert len(data) == 4 * 4096  # metas, freelist, root leaf
    pages = _pages(data)
    assert pages[0] == (0, META_PAGE, 0, 0) and pages[1] == (1, META_PAGE, 0, 0)
    assert pages[2] == (2, FREELIST_PAGE, 0, 0) and pages[3] == (3, LEAF_PAGE, 1, 0)
    for number in (0, 1):
        raw = data[number * 4096 + 16:number * 4096 + 80]
        meta = Meta.unpack(raw)
        assert (meta.magic, meta.version, meta.page_size) == (MAGIC, 2, 4096)
        assert (meta.root, meta.freelist, meta.pgid, meta.txid % 2) == (3, 2, 4, number)
        assert meta.checksum == fnv64a(raw[:56]) and meta.error(raw) is None


def test_fnv64a_known_values() -> None:
    assert fnv64a(b"") == 0xCBF29CE484222325
    assert fnv64a(b"a") == 0xAF63DC4C8601EC8C
    assert fnv64a(b"foobar") == 0x85944171F73967E8


def test_reader_falls_back_to_the_other_meta() -> None:
    data = bytearray(database_bytes([(b"a", Bucket([(b"k", b"v")]))]))
    data[4096 + 16 + 60] ^= 0xFF  # break meta 1's checksum (txid 3, the newer one)
    with Database(bytes(data)) as db:
        assert db.meta.txid == 2 and db.to_dict() == {b"a": {b"k": b"v"}}
    data[16] ^= 0xFF  # and meta 0's magic
    with pytest.raises(BoltError):
        Database(bytes(data))


def test_small_buckets_are_inline_as_bbolt_makes_them() -> None:
    """Inline: no sub-buckets and a page image (16-byte header + 16 per element + keys and values)
    of at most a quarter page."""
    fits = [(b"k", b"x" * (1024 - 16 - 16 - 1))]  # exactly 1024
    too_big = [(b"k", b"x" * (1024 - 16 - 16))]
    data = database_bytes([(b"a", Bucket(fits)), (b"b", Bucket(too_big)),
                           (b"c", Bucket([(b"sub", Bucket([]))])), (b"d", Bucket([]))])
    with Database(data) as db:
        assert db.check() == []
        roots_ = {name: b.root for name, b in db.buckets()}
        assert roots_[b"a"] == 0 and roots_[b"d"] == 0
        assert roots_[b"b"] != 0 and roots_[b"c"] != 0
        assert db.bucket(b"c", b"sub").inline
        raw = {k: v for k, v, _ in db.root.raw_items()}
        assert len(raw[b"a"]) == 16 + 1024 and len(raw[b"b"]) == 16
        assert BUCKET_HEADER.unpack_from(raw[b"a"]) == (0, 0)


def test_large_values_get_overflow_pages() -> None:
    big = bytes(range(256)) * 100  # 25,600 bytes: 7 pages with the page header and element
    data = database_bytes([(b"a", Bucket([(b"big", big), (b"small", b"s")]))])
    with Database(data) as db:
        bucket = db.bucket(b"a")
        pages = list(bucket.pages())
        assert any(overflow == 6 for _, _, overflow in pages)
        assert bucket.get(b"big") == big and bucket.get(b"small") == b"s"
        assert db.check() == []


def test_many_keys_make_branch_levels() -> None:
    n = 60000
    items = ((b"%08d" % i, b"value-%d" % i) for i in range(n))
    data = database_bytes([(b"key", Bucket(items))], page_size=1024)
    with Database(data) as db:
        bucket = db.bucket(b"key")
        flags = [f for _, f, _ in bucket.pages()]
        _, root_flags, _, _ = db.page_header(bucket.root)
        assert root_flags == 0x01 and flags.count(0x01) > 10  # a multi-level tree
        assert sum(1 for _ in bucket.items()) == n
        assert bucket.get(b"%08d" % 12345) == b"value-12345"
        assert db.check() == []


def test_writer_streams_a_large_bucket_in_bounded_memory(tmp_path) -> None:
    """Pairs from a generator into a file: the writer holds a few pages per tree level, not the
    data (tracemalloc slows Python down a lot, hence the modest count)."""
    n = 60_000
    items = ((i.to_bytes(8, "big") + b"_" + bytes(8), b"v" * 60) for i in range(n))
    path = tmp_path / "big.db"
    with open(path, "w+b") as out:
        tracemalloc.start()
        try:
            size = write_database(out, [(b"key", Bucket(items))])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert size > n * 90
    assert peak < size / 8 and peak < 1_000_000, (peak, size)
    with Database(path) as db:
        assert sum(1 for _ in db.bucket(b"key").items()) == n
        assert db.check() == []


def test_writing_is_fast_enough() -> None:
    """A rough budget for the writer alone: 100k small pairs well within seconds."""
    items = ((i.to_bytes(8, "big"), b"v" * 40) for i in range(100_000))
    start = time.monotonic()
    database_bytes([(b"key", Bucket(items))])
    assert time.monotonic() - start < 10


def test_freelist_with_many_ids_is_read() -> None:
    """A persisted freelist of 0xFFFF ids or more keeps its count in the first element."""
    data = bytearray(database_bytes([(b"a", Bucket([(b"k", b"v")]))]))
    ids = list(range(4, 4 + 70000))
    pages_needed = -(-(16 + 8 + 8 * len(ids)) // 4096)
    # freelist at page 2 with overflow; the listed pages (ids) all exist behind it
    free_page = PAGE_HEADER.pack(2, FREELIST_PAGE, 0xFFFF, pages_needed - 1) + \
        struct.pack(f"<Q{len(ids)}Q", len(ids), *ids)
    free_page += bytes(pages_needed * 4096 - len(free_page))
    image = bytes(data[:2 * 4096]) + free_page
    assert len(image) // 4096 == 2 + pages_needed
    with Database(image + bytes(4096 * (4 + len(ids) - len(image) // 4096))) as db:
        assert db.freelist() == ids


def test_writer_refuses_what_bbolt_cannot_hold() -> None:
    with pytest.raises(WriterError, match="out of order"):
        database_bytes([(b"a", Bucket([(b"b", b""), (b"a", b"")]))])
    with pytest.raises(WriterError, match="out of order"):
        database_bytes([(b"a", Bucket([(b"b", b""), (b"b", b"")]))])
    with pytest.raises(WriterError, match="empty key"):
        database_bytes([(b"a", Bucket([(b"", b"x")]))])
    with pytest.raises(WriterError, match="only buckets"):
        database_bytes([(b"a", b"plain")])
    with pytest.raises(WriterError, match="page size"):
        database_bytes([], page_size=3000)


def test_empty_database() -> None:
    data = database_bytes([])
    with Database(data) as db:
        assert db.to_dict() == {} and db.check() == []


def test_not_a_database() -> None:
    with pytest.raises(BoltError, match="invalid database"):
        Database(bytes(8192))
    with pytest.raises(BoltError):
        Database(b"x" * 100)


def test_unpersisted_freelist_counts_unreachable_pages_as_free() -> None:
    """etcd opens bbolt with NoFreelistSync: meta.freelist is all ones and unreachable pages are
    free, as bbolt's check then sees them."""
    data = bytearray(database_bytes([(b"a", Bucket([(b"k", b"v")]))]))
    for number in (0, 1):
        off = number * 4096 + 16
        meta = Meta.unpack(bytes(data[off:off + 64]))
        patched = Meta(page_size=meta.page_size, root=meta.root, freelist=PGID_NO_FREELIST,
                       pgid=meta.pgid, txid=meta.txid)
        data[off:off + 64] = patched.pack()
    with Database(bytes(data)) as db:
        assert db.freelist() == [] and db.check() == []
        assert db.to_dict() == {b"a": {b"k": b"v"}}
