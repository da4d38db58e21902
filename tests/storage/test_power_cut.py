"""Power cuts at random moments, emulated at the storage boundary (issue 13): every acknowledged
write is there after recovery and the data dir opens consistent.

A power cut keeps what was synced and loses, or keeps only in part, what was written after the
last sync. The emulation follows the two files a data dir has:

* the write-ahead log, through a stand-in for the ``os`` module of :mod:`etcdlite.storage.wal`
  that keeps a model of the file as of its last ``fdatasync`` plus the writes not synced since;
* LMDB, which commits with its own syncs in C: its file is copied after every durable commit
  (LMDB's guarantee with ``sync=True, metasync=False`` is that it reopens at its last synced
  transaction), so the copy at the cut is what a power cut leaves of it.

The cut comes at a random log write or sync (the call that would have run is lost); the writes not
yet synced are then dropped, kept whole, or kept as a random prefix each. The data dir rebuilt
from those images must open and hold every write whose ``write`` returned, and nothing but those
and the one in flight."""

from __future__ import annotations

import os
import random
import shutil
import threading
import types

import pytest

from etcdlite.mvcc.key_index import Change
from etcdlite.mvcc.kv import KeyValue
from etcdlite.storage import lmdb_backend, wal
from etcdlite.storage.backend import Batch
from etcdlite.storage.lmdb_backend import LmdbBackend

CYCLES = 100


class PowerCut(Exception):
    pass


class _Disk:
    """The durable image of the log file and of LMDB's data file, and the log's unsynced writes."""

    def __init__(self, rng: random.Random, cut_at: int) -> None:
        self.rng = rng
        self.cut_at = cut_at  # the log call (pwrite or fdatasync) the power is cut before
        self.calls = 0
        self.lock = threading.Lock()
        self.log = bytearray()
        self.unsynced: list[tuple[int, bytes]] = []
        self.lmdb = b""
        self.cut = False
        self.images: tuple[bytes, bytes] | None = None

    # the parts of ``os`` the log uses
    def pwrite(self, fd: int, data: bytes, offset: int) -> int:
        self._tick()
        written = os.pwrite(fd, data, offset)
        with self.lock:
            if not self.cut:
                self.unsynced.append((offset, bytes(data[:written])))
        return written

    def fdatasync(self, fd: int) -> None:
        self._tick()
        os.fdatasync(fd)
        with self.lock:
            if not self.cut:
                for offset, data in self.unsynced:
                    _place(self.log, offset, data)
                self.unsynced.clear()

    def _tick(self) -> None:
        with self.lock:
            if self.cut:
                return
            self.calls += 1
            if self.calls < self.cut_at:
                return
            self.cut = True
            log = bytearray(self.log)
            mode = self.rng.choice(["drop", "keep", "prefix"])
            for offset, data in self.unsynced:
                if mode == "keep":
                    _place(log, offset, data)
                elif mode == "prefix":
                    _place(log, offset, data[:self.rng.randrange(len(data) + 1)])
            self.images = (bytes(log), self.lmdb)
        raise PowerCut()

    def lmdb_synced(self, path: str) -> None:
        with open(path, "rb") as file:
            image = file.read()
        with self.lock:
            if not self.cut:
                self.lmdb = image


def _place(buffer: bytearray, offset: int, data: bytes) -> None:
    if len(buffer) < offset + len(data):
        buffer.extend(bytes(offset + len(data) - len(buffer)))
    buffer[offset:offset + len(data)] = data


def _os_with(disk: _Disk) -> types.SimpleNamespace:
    names = {name: getattr(os, name) for name in dir(os) if not name.startswith("__")}
    names.update(pwrite=disk.pwrite, fdatasync=disk.fdatasync)
    return types.SimpleNamespace(**names)


def _batch(revision: int, rng: random.Random) -> Batch:
    key = b"k%d" % rng.randrange(8)
    value = rng.randbytes(rng.choice([0, 10, 300, 3000]))
    kv = KeyValue(key, revision, revision, 1, value, 0)
    return Batch(revision, [Change(revision, 0, key, kv)], meta={"raft_index": revision})


def _cycle(seed: int, where, monkeypatch) -> None:
    rng = random.Random(seed)
    source, recovered = where / f"live{seed}", where / f"recovered{seed}"
    monkeypatch.setattr(lmdb_backend, "APPLY_INTERVAL", rng.choice([0.0, 0.002, 0.02]))
    monkeypatch.setattr(lmdb_backend, "LOG_LIMIT", rng.choice([2048, 16384, 1 << 20]))
    monkeypatch.setattr(wal, "CHUNK", rng.choice([4096, 65536]))
    disk = _Disk(rng, cut_at=rng.randrange(2, 400))
    monkeypatch.setattr(wal, "os", _os_with(disk))

    data_file = os.path.join(source, "lmdb", "data.mdb")
    try:
        backend = LmdbBackend(str(source))
    except PowerCut:  # the cut came while the log was created: nothing was acknowledged
        assert disk.images is not None
        return
    commit = backend._commit

    def commit_and_copy(operations):
        commit(operations)
        disk.lmdb_synced(data_file)

    backend._commit = commit_and_copy
    disk.lmdb_synced(data_file)
    acknowledged: dict[int, Batch] = {}
    in_flight = None
    try:
        for revision in range(2, 2000):
            in_flight = _batch(revision, rng)
            backend.write(in_flight)
            acknowledged[revision] = in_flight
            in_flight = None
    except PowerCut:
        pass
    finally:
        monkeypatch.setattr(wal, "os", os)
        backend.close()
    assert disk.images is not None, "the cut never came"

    log_image, lmdb_image = disk.images
    os.makedirs(recovered / "lmdb")
    shutil.copy(source / "etcdlite.format", recovered / "etcdlite.format")
    (recovered / "etcdlite.wal").write_bytes(log_image)
    (recovered / "lmdb" / "data.mdb").write_bytes(lmdb_image)
    reopened = LmdbBackend(str(recovered))
    try:
        changes = {c.main: c.kv for c in reopened.load().changes}
    finally:
        reopened.close()
    for revision, batch in acknowledged.items():
        assert changes.get(revision) == batch.changes[0].kv, (seed, revision)
    allowed = set(acknowledged) | ({in_flight.revision} if in_flight is not None else set())
    assert set(changes) <= allowed, (seed, sorted(set(changes) - allowed))
    shutil.rmtree(source)
    shutil.rmtree(recovered)


def test_every_acknowledged_write_survives_a_power_cut_at_any_log_write_or_sync(tmp_path, monkeypatch):
    for seed in range(CYCLES):
        with monkeypatch.context() as patch:
            _cycle(seed, tmp_path, patch)
