"""After a load, LMDB's data file is no longer resident in the process (its pages are in the store
already), and the data stays whole: the backend writes on and loads again as before."""

from __future__ import annotations

import os

import pytest

from etcdlite.mvcc.key_index import Change
from etcdlite.mvcc.kv import KeyValue
from etcdlite.storage import mapped_pages
from etcdlite.storage.backend import Batch
from etcdlite.storage.lmdb_backend import LmdbBackend

pytestmark = pytest.mark.skipif(mapped_pages._madvise is None, reason="Linux only")



def _resident_kib(path: str) -> int:
    """Rss of this process's mappings of ``path`` (from /proc/self/smaps)."""
    target = os.path.realpath(path)
    total = 0
    inside = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5 and ":" in fields[3]:  # a mapping's header
                inside = len(fields) == 6 and fields[5] == target
            elif inside and fields[0] == "Rss:":
                total += int(fields[1])
    return total


def _changes(first: int, count: int) -> list[Change]:
    return [Change(i, 0, b"k%05d" % i, KeyValue(b"k%05d" % i, i, i, 1, os.urandom(1000)))
            for i in range(first, first + count)]


def test_a_load_leaves_none_of_the_data_file_resident(tmp_path):
    backend = LmdbBackend(str(tmp_path))
    backend.write(Batch(2001, _changes(2, 2000)))
    backend.close()
    data_file = str(tmp_path / "lmdb" / "data.mdb")

    reopened = LmdbBackend(str(tmp_path))
    try:
        with reopened._env.begin() as txn:  # what a load reads, without the release
            sum(len(value) for _, value in txn.cursor(db=reopened._keys))
        assert _resident_kib(data_file) > 1000

        state = reopened.load()
        assert len(state.changes) == 2000
        assert _resident_kib(data_file) < 64
    finally:
        reopened.close()


def test_after_the_release_writes_and_loads_see_every_record(tmp_path):
    first, second = _changes(2, 500), _changes(502, 500)
    backend = LmdbBackend(str(tmp_path))
    backend.write(Batch(501, first))
    backend.close()

    reopened = LmdbBackend(str(tmp_path))
    assert reopened.load().changes == first
    reopened.write(Batch(1001, second))
    reopened._applier.drain()  # LMDB has the logged record
    assert reopened.load().changes == first + second  # read through the mapping released above
    reopened.close()

    last = LmdbBackend(str(tmp_path))
    assert last.load().changes == first + second
    last.close()


def test_nothing_is_released_for_a_file_that_is_not_mapped(tmp_path):
    path = tmp_path / "plain"
    path.write_bytes(b"x" * 4096)
    assert mapped_pages.release(str(path), 4096) == 0
