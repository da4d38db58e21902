"""The write-ahead log in front of LMDB (etcdlite.storage.wal): a write is durable once its record
is synced, whatever LMDB has applied; a crash replays the log; a torn last record is dropped, a
damaged one with records after it is refused; the log is truncated once LMDB holds it all."""

from __future__ import annotations

import os
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etcdlite.mvcc.key_index import Change
from etcdlite.mvcc.kv import KeyValue
from etcdlite.storage import wal
from etcdlite.storage.backend import Batch, StorageError
from etcdlite.storage.lmdb_backend import LOG_LIMIT, LmdbBackend


def _put(revision: int, key: bytes, value: bytes, lease: int = 0) -> Batch:
    kv = KeyValue(key, revision, revision, 1, value, lease)
    return Batch(revision, [Change(revision, 0, key, kv)], meta={"raft_index": revision},
                 leases={lease: 60} if lease else {})


def _hold_the_applier(backend: LmdbBackend) -> threading.Event:
    """From now on LMDB applies nothing until the returned event is set (after a :func:`_crash`
    it never is: the applier thread stays parked, as if the process had died)."""
    release = threading.Event()
    commit = backend._commit

    def held(operations):
        release.wait()
        if not getattr(backend, "crashed", False):  # a dead process applies nothing more
            commit(operations)

    held.held = True
    backend._commit = held
    return release


def _crash(backend: LmdbBackend) -> None:
    """What a killed process leaves: files as written, nothing drained, the lock released. An
    applier not held applies nothing more (once it is between two commits)."""
    backend.crashed = True
    applier = backend._applier
    if not hasattr(backend._commit, "held"):  # a held one checks ``crashed``
        with applier._cond:
            while applier._busy:
                applier._cond.wait()
            backend._commit = lambda operations: None
    backend._wal.close()
    backend._env.close()
    backend._unlock()


def _values(path) -> dict[bytes, bytes]:
    backend = LmdbBackend(str(path))
    try:
        return {c.key: c.kv.value for c in backend.load().changes if c.kv is not None}
    finally:
        backend.close()


def test_writes_logged_but_not_yet_in_lmdb_are_replayed_after_a_crash(tmp_path):
    backend = LmdbBackend(str(tmp_path))
    backend.write(_put(2, b"applied", b"1"))
    backend._applier.drain()
    _hold_the_applier(backend)
    for revision in range(3, 8):
        backend.write(_put(revision, b"k%d" % revision, b"v%d" % revision))
    _crash(backend)
    assert _values(tmp_path) == {b"applied": b"1", **{b"k%d" % r: b"v%d" % r for r in range(3, 8)}}


def test_a_torn_last_record_is_dropped_and_the_rest_kept(tmp_path):
    backend = LmdbBackend(str(tmp_path))
    _hold_the_applier(backend)
    for revision in range(2, 5):
        backend.write(_put(revision, b"k%d" % revision, b"x" * 100))
    end = backend._wal._offset
    _crash(backend)
    with open(tmp_path / "etcdlite.wal", "r+b") as log:
        log.seek(end - 40)
        log.write(b"\0" * 40)  # the last append reached the disk only in part
    assert sorted(_values(tmp_path)) == [b"k2", b"k3"]


def test_a_damaged_record_with_records_after_it_is_refused(tmp_path):
    backend = LmdbBackend(str(tmp_path))
    _hold_the_applier(backend)
    for revision in range(2, 5):
        backend.write(_put(revision, b"k%d" % revision, b"x" * 100))
    _crash(backend)
    with open(tmp_path / "etcdlite.wal", "r+b") as log:
        log.seek(wal.HEADER_SIZE + 30)  # inside the first record
        byte = log.read(1)
        log.seek(-1, os.SEEK_CUR)
        log.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(StorageError, match="is corrupt: record 1 of .* is damaged, and later records follow"):
        LmdbBackend(str(tmp_path))


def test_the_log_starts_over_once_lmdb_holds_it_all(tmp_path):
    backend = LmdbBackend(str(tmp_path))
    value = b"v" * 4000
    for revision in range(2, 3000):  # ~12 MB of records, three times the log's limit
        backend.write(_put(revision, b"k%d" % (revision % 10), value))
    assert backend._wal.epoch >= 3
    assert os.path.getsize(tmp_path / "etcdlite.wal") <= LOG_LIMIT + 2 * wal.CHUNK
    backend.close()
    assert _values(tmp_path)[b"k9"] == value


def test_a_clean_close_leaves_an_empty_log(tmp_path):
    backend = LmdbBackend(str(tmp_path))
    backend.write(_put(2, b"a", b"1"))
    backend.close()
    log = wal.WriteAheadLog(str(tmp_path / "etcdlite.wal"))
    assert list(log.records()) == []
    log.close()


def test_operations_survive_encoding_unchanged():
    operations = [(wal.KEYS, b"\0" * 17, b"value"), (wal.META, b"auth", b""), (wal.LEASES, b"12345678", None)]
    record = wal.encode(3, 9, operations)
    assert wal.decode_operations(record[8:]) == (3, 9, operations)


@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=st.lists(st.tuples(st.sampled_from([b"a", b"b", b"c"]), st.binary(max_size=300)),
                       min_size=1, max_size=25),
       applied=st.integers(0, 25), crash=st.booleans())
def test_every_write_is_there_after_a_crash_whatever_lmdb_had_applied(tmp_path_factory, writes, applied,
                                                                      crash):
    path = tmp_path_factory.mktemp("wal")
    backend = LmdbBackend(str(path))
    release = None
    expected: dict[bytes, bytes] = {}
    for index, (key, value) in enumerate(writes):
        if index == applied:
            backend._applier.drain()
            release = _hold_the_applier(backend)
        backend.write(_put(index + 2, key, value))
        expected[key] = value
    if crash:
        _crash(backend)
    else:
        if release is not None:
            release.set()
        backend.close()
    assert _values(path) == expected


def test_a_damaged_log_header_is_refused_and_lets_go_of_the_data_dir(tmp_path):
    LmdbBackend(str(tmp_path)).close()
    with open(tmp_path / "etcdlite.wal", "r+b") as log:
        log.write(b"garbage" * (wal.HEADER_SIZE // 7 + 1))  # both header slots
    with pytest.raises(StorageError, match="is corrupt: .*etcdlite.wal has no valid header"):
        LmdbBackend(str(tmp_path))
    (tmp_path / "etcdlite.wal").unlink()
    LmdbBackend(str(tmp_path)).close()  # neither the lock nor the environment was kept
