"""The LMDB backend: history, compact revision and counters in one LMDB environment.

Layout (named databases):
  ``key``  — etcd's revision encoding (17/18 bytes) → proto3 ``mvccpb.KeyValue``, as in etcd's bbolt
  ``meta`` — ``format``, ``compact_revision`` and counters (8-byte big-endian signed integers), and
             ``auth``: the auth store as JSON
  ``lease`` — lease ID → granted TTL (both 8-byte big-endian signed integers)

Every value is sealed with its CRC-32C (:mod:`.integrity`, storage format 2; a format-1 dir is
sealed on first open), verified on load: a damaged record is refused, never served. The file is
checked against LMDB's meta pages before it is mapped, and ``etcdlite.format`` (written once the
environment exists) tells an initialised data dir whose data file went missing or empty from a
new one.

Every ``write`` is one record appended to the write-ahead log ``etcdlite.wal`` and synced once
(:mod:`.wal`: that makes it durable); an applier thread then commits the same operations to LMDB
(LMDB flushes the data pages in the commit, the meta page by an explicit sync), merging whatever
records queued meanwhile into one transaction; when the log holds LOG_LIMIT bytes, the next write
waits for LMDB to catch up and the log starts over.
Opening replays the log's records into LMDB before anything is read. ``fsync_seconds`` times the
log's syncs, ``commit_seconds`` LMDB's durable commits. A lock file guarded by ``flock``
keeps a second server off the same directory; a directory written by anything else, or by a newer
format, is refused instead of being overwritten.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import threading
import time

import lmdb

from ..mvcc.key_index import Change, KeyHistory
from ..mvcc.kv import decode_key_value_fields
from ..mvcc.revision import bytes_to_revision
from . import mapped_pages
from .backend import Backend, Batch, StorageError, StoredState
from .histogram import DISK_SECONDS, Observations
from .integrity import CorruptRecord, check_lmdb_file, corrupt, seal, unseal
from .wal import KEYS, LEASES, META, CorruptLog, Operation, WriteAheadLog, fsync_path

log = logging.getLogger("etcdlite.storage")

FORMAT = b"etcdlite/3"  # 3: with a write-ahead log; 2: sealed records; 1: unsealed
_FORMAT_PREFIX = b"etcdlite/"
_FORMAT_VERSION = 3
_UNSEALED_FORMAT = b"etcdlite/1"
_SEALED_FORMAT = b"etcdlite/2"
_WAL_FILE = "etcdlite.wal"
#: the log starts over (once LMDB has caught up) when it holds this much
LOG_LIMIT = 4 << 20
#: LMDB takes the log's records this long after the first of them (one LMDB commit, with its two
#: syncs, for every record the log synced meanwhile)
APPLY_INTERVAL = 0.1
_LOCK_FILE = "etcdlite.lock"
_MARKER_FILE = "etcdlite.format"
_DATA_FILE = "data.mdb"
_ENV_DIR = "lmdb"
_INT = struct.Struct(">q")
_MAP_SIZE = 64 << 30  # address space only; the file grows as data does
#: the largest map asked for (still only address space); a quota needs room above it for the
#: alarm, the lease and meta records and LMDB's own pages
MAX_MAP_SIZE = 1 << 40
_MAP_HEADROOM = 1 << 30
#: the largest --quota-backend-bytes an LMDB map holds
MAX_QUOTA_BYTES = MAX_MAP_SIZE - _MAP_HEADROOM


def map_size_for_quota(quota_bytes: int) -> int:
    """The map size for a space quota: the default 64 GiB, or more for a larger quota, up to
    MAX_MAP_SIZE (a larger quota is capped by the command line)."""
    if quota_bytes <= 0:
        return _MAP_SIZE
    return max(_MAP_SIZE, min(MAX_MAP_SIZE, quota_bytes + _MAP_HEADROOM))


class LmdbBackend(Backend):
    def __init__(self, data_dir: str, quota_bytes: int = 0) -> None:
        self.data_dir = os.path.abspath(data_dir)
        self._map_size = map_size_for_quota(quota_bytes)
        self._lock_fd = -1
        #: durations of every durable commit, and of the flush that ends it (seconds)
        self.commit_seconds = Observations(DISK_SECONDS)
        self._wal: WriteAheadLog | None = None
        self._applier: _Applier | None = None
        try:
            os.makedirs(self.data_dir, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create data dir {self.data_dir}: {exc.strerror}") from None
        self._check_directory()
        self._lock()
        try:
            initialised = self._check_data_file()
            self._open_env()
            self._check_format(initialised)
            if not initialised:
                self._write_marker()
            self._open_log()
        except lmdb.Error as exc:
            self._unlock()
            raise corrupt(self.data_dir, f"LMDB cannot open it ({exc})") from None
        except CorruptLog as exc:
            self._abandon()
            raise corrupt(self.data_dir, str(exc)) from None
        except OSError as exc:
            self._abandon()
            raise StorageError(f"cannot open the write-ahead log in {self.data_dir}: "
                               f"{exc.strerror or exc}") from None
        except StorageError:
            self._unlock()
            raise
        self._applier = _Applier(self)

    def _abandon(self) -> None:
        """Let go of what a failed open holds."""
        if self._wal is not None:
            self._wal.close()
        self._env.close()
        self._unlock()

    @property
    def fsync_seconds(self) -> Observations:
        return self._wal.fsync_seconds

    def _open_log(self) -> None:
        """Open the write-ahead log and bring LMDB up to every record in it."""
        self._wal = WriteAheadLog(os.path.join(self.data_dir, _WAL_FILE))
        operations = [op for record in self._wal.records() for op in record]
        if operations:
            self._commit(operations)
        self._wal.reset(self._wal.next_seq - 1)

    # -- opening ----------------------------------------------------------------------------

    def _open_env(self) -> None:
        env = lmdb.open(os.path.join(self.data_dir, _ENV_DIR), map_size=self._map_size, max_dbs=4,
                        sync=True, metasync=False, readahead=False, lock=True)
        self._keys = env.open_db(b"key")
        self._meta = env.open_db(b"meta")
        self._leases = env.open_db(b"lease")
        self._env = env
        self._measure_size()

    def _check_data_file(self) -> bool:
        """Whether the data dir was initialised; refuses one whose data file is gone, empty or
        shorter than LMDB's own meta pages say (before LMDB maps it)."""
        marker = os.path.join(self.data_dir, _MARKER_FILE)
        path = os.path.join(self.data_dir, _ENV_DIR, _DATA_FILE)
        initialised = os.path.exists(marker)
        exists = os.path.exists(path)
        size = os.path.getsize(path) if exists else 0
        if initialised and size == 0:
            raise corrupt(self.data_dir, f"{path} is {'empty' if exists else 'missing'}, but the "
                                         f"data dir was initialised ({marker})")
        if size:
            check_lmdb_file(self.data_dir, path)
        return initialised

    def _write_marker(self) -> None:
        path = os.path.join(self.data_dir, _MARKER_FILE)
        with open(path + ".tmp", "wb") as file:
            file.write(FORMAT + b"\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(path + ".tmp", path)
        fsync_path(self.data_dir)

    def _check_directory(self) -> None:
        try:
            entries = set(os.listdir(self.data_dir))
        except OSError as exc:
            raise StorageError(f"cannot read data dir {self.data_dir}: {exc.strerror}") from None
        if "member" in entries:
            raise StorageError(
                f"{self.data_dir} is an etcd data dir (has member/); etcdlite will not touch it")
        foreign = entries - {_LOCK_FILE, _ENV_DIR, _MARKER_FILE, _WAL_FILE}
        if foreign and _ENV_DIR not in entries:
            raise StorageError(
                f"{self.data_dir} is not empty and holds no etcdlite data; refusing to use it")
        if not os.access(self.data_dir, os.W_OK):
            raise StorageError(f"data dir {self.data_dir} is not writable")

    def _lock(self) -> None:
        path = os.path.join(self.data_dir, _LOCK_FILE)
        try:
            self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._unlock()
            raise StorageError(f"data dir {self.data_dir} is in use by another etcdlite process") from None
        except OSError as exc:
            self._unlock()
            raise StorageError(f"cannot lock data dir {self.data_dir}: {exc.strerror}") from None

    def _unlock(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def _check_format(self, initialised: bool) -> None:
        with self._env.begin(write=True) as txn:
            found = txn.get(b"format", db=self._meta)
            if found is None:
                if initialised:
                    raise corrupt(self.data_dir, "its LMDB environment holds no format record")
                if txn.stat(self._keys)["entries"]:
                    raise StorageError(f"{self.data_dir} has data but no etcdlite format marker")
                txn.put(b"format", FORMAT, db=self._meta)
            elif found == _UNSEALED_FORMAT:
                self._seal_everything(txn)
            elif found == _SEALED_FORMAT:
                txn.put(b"format", FORMAT, db=self._meta)  # the log is new: nothing to replay
        if found in (None, _UNSEALED_FORMAT, _SEALED_FORMAT):
            self._env.sync(True)  # the meta page is not flushed by the commit
            return
        if found == FORMAT:
            return
        if found.startswith(_FORMAT_PREFIX) and found[len(_FORMAT_PREFIX):].isdigit():
            version = int(found[len(_FORMAT_PREFIX):])
            if version > _FORMAT_VERSION:
                raise StorageError(
                    f"{self.data_dir} was written by a newer etcdlite (storage format {version}, "
                    f"this one reads {_FORMAT_VERSION})")
        raise StorageError(f"{self.data_dir} has an unknown storage format {found!r}")

    def _seal_everything(self, txn: lmdb.Transaction) -> None:
        """Format 1 → 2: every value gains its checksum (in the opening transaction)."""
        for db in (self._keys, self._leases, self._meta):
            records = [(bytes(k), bytes(v)) for k, v in txn.cursor(db=db) if k != b"format"]
            for key, value in records:
                txn.put(key, seal(value), db=db)
        txn.put(b"format", FORMAT, db=self._meta)

    # -- Backend ----------------------------------------------------------------------------

    def load(self) -> StoredState:
        """Everything stored. LMDB's pages it read are then let go of (:mod:`.mapped_pages`):
        the store holds what they held, and reads are served from there."""
        try:
            state = self._load()
            mapped_pages.release(os.path.join(self.data_dir, _ENV_DIR, _DATA_FILE), self._sizes[0])
            return state
        except CorruptRecord as exc:
            raise corrupt(self.data_dir, str(exc)) from None
        except (ValueError, IndexError, struct.error, UnicodeDecodeError) as exc:
            raise corrupt(self.data_dir, f"a record cannot be decoded ({exc})") from None
        except lmdb.Error as exc:
            raise corrupt(self.data_dir, f"LMDB cannot read it ({exc})") from None

    def _load(self) -> StoredState:
        changes: list[Change] = []
        meta: dict[str, int] = {}
        compact_revision = -1
        leases: dict[int, int] = {}
        auth = None
        with self._env.begin() as txn:
            for lease_id, ttl in txn.cursor(db=self._leases):
                leases[_INT.unpack(lease_id)[0]] = _INT.unpack(unseal(ttl))[0]
            # a key's revisions share its bytes and, where equal, its create revision; a
            # record's mod revision is its main revision (one int object each, not three)
            histories: dict[bytes, KeyHistory] = {}
            append = changes.append
            new = tuple.__new__
            for rev_key, value in txn.cursor(db=self._keys):
                main, sub, tombstone = bytes_to_revision(rev_key)
                key, create, mod, version, data, lease = decode_key_value_fields(unseal(value))
                history = histories.get(key)
                if history is None:
                    history = histories[key] = KeyHistory()
                else:
                    earlier = history[-1]
                    key = earlier[2]
                    if earlier[3] == create:
                        create = earlier[3]
                if tombstone:
                    change = new(Change, (main, sub, key, 0, 0, 0, None, 0))
                else:
                    change = new(Change, (main, sub, key, main if create == main else create,
                                          main if mod == main else mod, version, data, lease))
                history.append(change)
                append(change)
            for name, value in txn.cursor(db=self._meta):
                if name == b"format":
                    continue
                value = unseal(value)
                if name == b"auth":
                    auth = value
                    continue
                number = _INT.unpack(value)[0]
                if name == b"compact_revision":
                    compact_revision = number
                else:
                    meta[name.decode()] = number
        return StoredState(changes, compact_revision, meta, leases, auth, histories)

    def write(self, batch: Batch) -> None:
        """Durable once the log's record is synced; LMDB takes it on the applier thread."""
        failure = self._applier.failure
        if failure is not None:
            raise failure
        if self._wal.used >= LOG_LIMIT:  # a pause of one LMDB commit every few MiB
            self._applier.drain()
            self._wal.reset(self._applier.applied)
        operations = _operations(batch)
        seq = self._wal.append(operations)
        self._applier.submit(seq, operations)

    def write_is_quick(self) -> bool:
        """One append and its sync, unless the log is due to start over (that waits for LMDB's
        own commit and sync first)."""
        return self._wal.used < LOG_LIMIT and self._applier.failure is None

    def _commit(self, operations: list[Operation]) -> None:
        """One durable LMDB transaction of ``operations`` (the applier's and the replay's)."""
        started = time.perf_counter()
        env = self._env  # replaced only by defragment, which waits for the applier first
        dbs = (self._keys, self._meta, self._leases)
        txn = env.begin(write=True)
        try:
            put, delete = txn.put, txn.delete
            for db, key, value in operations:
                if value is None:
                    delete(key, db=dbs[db])
                else:
                    put(key, value, db=dbs[db])
        except BaseException:
            txn.abort()
            raise
        txn.commit()
        env.sync(True)
        self.commit_seconds.observe(time.perf_counter() - started)
        self._measure_size()

    def size(self) -> tuple[int, int]:
        """LMDB's (allocated, in use) bytes as of its last commit: only the applier's commits and
        defragment change them, so they are measured there, not on every write."""
        return self._sizes

    def _measure_size(self) -> None:
        env = self._env
        info = env.info()
        page = env.stat()["psize"]
        allocated = (info["last_pgno"] + 1) * page
        used = 0
        with env.begin() as txn:
            for db in (None, self._keys, self._meta, self._leases):
                stat = txn.stat(db) if db is not None else env.stat()
                used += (stat["branch_pages"] + stat["leaf_pages"] + stat["overflow_pages"]) * page
        self._sizes = (allocated, min(used + 2 * page, allocated))

    def defragment(self) -> None:
        """Rewrite the environment compactly (LMDB's compacting copy), then swap it in (once LMDB
        holds every logged record; the writer thread that calls this appends nothing meanwhile)."""
        self._applier.drain()
        env_dir = os.path.join(self.data_dir, _ENV_DIR)
        tmp_dir = env_dir + ".defrag"
        if os.path.exists(tmp_dir):
            for name in os.listdir(tmp_dir):
                os.unlink(os.path.join(tmp_dir, name))
        else:
            os.mkdir(tmp_dir)
        self._env.copy(tmp_dir, compact=True)
        copy = os.path.join(tmp_dir, "data.mdb")
        fsync_path(copy)
        self._env.close()
        os.replace(copy, os.path.join(env_dir, "data.mdb"))
        fsync_path(env_dir)  # the rename itself must survive a crash
        self._open_env()
        for name in os.listdir(tmp_dir):
            os.unlink(os.path.join(tmp_dir, name))
        os.rmdir(tmp_dir)

    def close(self) -> None:
        try:
            if self._applier is not None:
                applied = self._applier.stop()
                if applied is not None:
                    self._wal.reset(applied)
            self._wal.close()
            self._env.close()
        finally:
            self._unlock()


def _operations(batch: Batch) -> list[Operation]:
    """The LMDB operations of a batch, values sealed: changes before compacted deletions."""
    ops: list[Operation] = [(KEYS, change.storage_key(), seal(change.storage_value()))
                            for change in batch.changes]
    ops += [(KEYS, change.storage_key(), None) for change in batch.compacted]
    if batch.compact_revision is not None:
        ops.append((META, b"compact_revision", seal(_INT.pack(batch.compact_revision))))
    for name, number in batch.meta.items():
        ops.append((META, name.encode(), seal(_INT.pack(number))))
    for lease_id, ttl in batch.leases.items():
        ops.append((LEASES, _INT.pack(lease_id), None if ttl is None else seal(_INT.pack(ttl))))
    if batch.auth is not None:
        ops.append((META, b"auth", seal(batch.auth)))
    return ops


class _Applier:
    """The thread that commits logged records to LMDB in order, as many as queued per
    transaction. After a failure it applies nothing more; ``failure`` is raised by the next write
    (the log still holds the records, so a restart replays them)."""

    def __init__(self, backend: LmdbBackend) -> None:
        self._backend = backend
        self._cond = threading.Condition()
        self._queue: list[tuple[int, list[Operation]]] = []
        self._busy = False
        self._stopping = False
        self._draining = 0
        self.applied: int | None = None
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="etcdlite-lmdb-applier", daemon=True)
        self._thread.start()

    def submit(self, seq: int, operations: list[Operation]) -> None:
        with self._cond:
            self._queue.append((seq, operations))
            if len(self._queue) == 1:  # later records wait for the same interval: no wake-up
                self._cond.notify_all()

    def drain(self) -> None:
        """Return once every submitted record is in LMDB (or applying failed)."""
        with self._cond:
            self._draining += 1
            self._cond.notify_all()
            try:
                while (self._queue or self._busy) and self.failure is None:
                    self._cond.wait()
            finally:
                self._draining -= 1
        if self.failure is not None:
            raise self.failure

    def stop(self) -> int | None:
        """Apply what is queued, end the thread; the last applied sequence number, or None when
        something is left unapplied (a restart replays it)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(60)
        with self._cond:
            done = not self._queue and not self._busy and self.failure is None
        return self.applied if done and self.applied is not None else None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                due = time.monotonic() + APPLY_INTERVAL
                while not (self._stopping or self._draining) and time.monotonic() < due:
                    self._cond.wait(max(0.0, due - time.monotonic()))
                if not self._queue or self.failure is not None:
                    return
                items, self._queue = self._queue, []
                self._busy = True
            try:
                operations = [op for _, record in items for op in record]
                self._backend._commit(operations)
                self.applied = items[-1][0]
            except Exception as exc:  # the disk refused: the log keeps the records
                log.critical("applying the write-ahead log to LMDB failed: %s", exc)
                with self._cond:
                    self.failure = exc
                    self._queue.clear()
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
