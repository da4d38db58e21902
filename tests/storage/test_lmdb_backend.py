"""The LMDB data directory: format marker, foreign and newer data refused, exclusive use."""

from __future__ import annotations

import lmdb
import pytest

from etcdlite.mvcc.key_index import Change
from etcdlite.mvcc.kv import KeyValue
from etcdlite.storage.backend import Batch, StorageError, StoredState
from etcdlite.storage.lmdb_backend import LmdbBackend


def test_batches_are_read_back_in_revision_order_with_tombstones_and_meta(tmp_path):
    backend = LmdbBackend(str(tmp_path))
    a1 = Change(2, 0, b"a", KeyValue(b"a", 2, 2, 1, b"1"))
    b1 = Change(3, 0, b"b", KeyValue(b"b", 3, 3, 1, b"2", lease=-7))
    a_gone = Change(3, 1, b"a", None)
    backend.write(Batch(3, [a1, b1, a_gone], meta={"raft_index": 9}))
    backend.write(Batch(3, [], [a1], compact_revision=2))
    backend.close()
    state = LmdbBackend(str(tmp_path)).load()
    assert state.changes == [b1, a_gone]
    assert state.compact_revision == 2
    assert state.meta["raft_index"] == 9


def test_directory_of_another_program_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(StorageError, match="holds no etcdlite data"):
        LmdbBackend(str(tmp_path))
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_etcd_data_dir_is_refused(tmp_path):
    (tmp_path / "member").mkdir()
    with pytest.raises(StorageError, match="is an etcd data dir"):
        LmdbBackend(str(tmp_path))


def _set_format(path, value: bytes) -> None:
    env = lmdb.open(str(path / "lmdb"), max_dbs=4)
    with env.begin(write=True) as txn:
        txn.put(b"format", value, db=env.open_db(b"meta", txn=txn))
    env.close()


def test_newer_storage_format_is_refused_not_overwritten(tmp_path):
    LmdbBackend(str(tmp_path)).close()
    _set_format(tmp_path, b"etcdlite/99")
    with pytest.raises(StorageError, match="newer etcdlite"):
        LmdbBackend(str(tmp_path))
    with pytest.raises(StorageError, match="newer etcdlite"):
        LmdbBackend(str(tmp_path))


def test_unknown_format_marker_is_refused(tmp_path):
    LmdbBackend(str(tmp_path)).close()
    _set_format(tmp_path, b"something-else")
    with pytest.raises(StorageError, match="unknown storage format"):
        LmdbBackend(str(tmp_path))


def test_second_backend_on_the_same_directory_is_refused(tmp_path):
    first = LmdbBackend(str(tmp_path))
    with pytest.raises(StorageError, match="in use by another etcdlite process"):
        LmdbBackend(str(tmp_path))
    first.close()
    LmdbBackend(str(tmp_path)).close()


def test_defragment_keeps_the_data(tmp_path):
    backend = LmdbBackend(str(tmp_path))
    changes = [Change(i, 0, b"k%d" % i, KeyValue(b"k%d" % i, i, i, 1, b"x" * 1000)) for i in range(2, 500)]
    backend.write(Batch(499, changes))
    backend.write(Batch(499, [], changes[:-1], compact_revision=498))
    allocated_before, _ = backend.size()
    backend.defragment()
    allocated_after, in_use = backend.size()
    assert allocated_after < allocated_before
    assert in_use <= allocated_after
    assert backend.load().changes == changes[-1:]
    backend.close()


def test_sizes_can_be_read_while_another_thread_defragments(tmp_path):
    import threading

    backend = LmdbBackend(str(tmp_path))
    changes = [Change(i, 0, b"k%d" % i, KeyValue(b"k%d" % i, i, i, 1, b"x" * 2000)) for i in range(2, 1500)]
    backend.write(Batch(1499, changes))
    failures = []
    done = threading.Event()

    def read_sizes():
        while not done.is_set():
            try:
                backend.size()
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                failures.append(exc)

    reader = threading.Thread(target=read_sizes)
    reader.start()
    try:
        for _ in range(5):
            backend.defragment()
    finally:
        done.set()
        reader.join(10)
    assert failures == []
    assert len(backend.load().changes) == len(changes)
    backend.close()


def _written_and_reloaded(path, changes: list[Change]) -> StoredState:
    """What a backend opened anew on ``path`` loads after one wrote ``changes`` and closed."""
    backend = LmdbBackend(str(path))
    backend.write(Batch(changes[-1].main, changes))
    backend.close()
    loaded = LmdbBackend(str(path))
    try:
        return loaded.load()
    finally:
        loaded.close()


def test_a_restart_gives_a_keys_revisions_one_key_object_and_mod_revision_is_the_main_revision(tmp_path):
    """Memory per stored revision: a reloaded key's revisions share its bytes, its create
    revision where equal, and each record's mod revision is its change's main revision."""
    changes = [Change(2, 0, b"key", KeyValue(b"key", 2, 2, 1, b"1")),
               Change(3, 0, b"key", KeyValue(b"key", 2, 3, 2, b"2")),
               Change(4, 0, b"key", None),
               Change(5, 0, b"key", KeyValue(b"key", 5, 5, 1, b"3", lease=9))]
    state = _written_and_reloaded(tmp_path, changes)
    assert state.changes == changes
    first, second, gone, third = state.changes
    assert first.key is second.key is gone.key is third.key is first.kv.key is third.kv.key
    assert second.kv.create_revision is first.kv.create_revision is first.main
    assert all(c.kv.mod_revision is c.main for c in (first, second, third))
    assert third.kv.create_revision is third.main


def test_a_restart_groups_the_changes_by_key_in_revision_order(tmp_path):
    """The load hands the store its index: every change once, under its key, oldest first."""
    changes = [Change(2, 0, b"b", KeyValue(b"b", 2, 2, 1, b"1")),
               Change(3, 0, b"a", KeyValue(b"a", 3, 3, 1, b"2")),
               Change(3, 1, b"b", KeyValue(b"b", 2, 3, 2, b"3")),
               Change(4, 0, b"a", None),
               Change(5, 0, b"c", KeyValue(b"c", 5, 5, 1, b"4"))]
    state = _written_and_reloaded(tmp_path, changes)
    assert state.changes == changes
    assert {key: list(history) for key, history in state.histories.items()} == {
        b"a": [changes[1], changes[3]], b"b": [changes[0], changes[2]], b"c": [changes[4]]}
    assert all(a is b for history in state.histories.values() for a in history
               for b in state.changes if a == b)
