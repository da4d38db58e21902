"""The MVCC store: etcd's keyspace with its revisions, history and compaction.

All operations are synchronous and run on the event loop that owns the state. Reads take an explicit
read revision so the caller can serve clients only what is durable; writes apply to memory at once
and hand their changes to ``on_commit`` for persistence (and, later, watchers and leases).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Callable, Iterable

import google_crc32c

from .. import errors
from .key_index import Change, KeyHistory, KeyIndex
from .kv import KeyValue
from .requests import (
    CMP_CREATE,
    CMP_EQUAL,
    CMP_GREATER,
    CMP_LEASE,
    CMP_LESS,
    CMP_MOD,
    CMP_NOT_EQUAL,
    CMP_VALUE,
    CMP_VERSION,
    SORT_DESCEND,
    SORT_NONE,
    TARGET_CREATE,
    TARGET_KEY,
    TARGET_MOD,
    TARGET_VALUE,
    TARGET_VERSION,
    Compare,
    DeleteRangeRequest,
    DeleteRangeResult,
    PutRequest,
    PutResult,
    RangeRequest,
    RangeResult,
    TxnRequest,
    TxnResult,
)
from . import validation
from .wire_size import varint_size

DEFAULT_MAX_TXN_OPS = 128
DEFAULT_MAX_REQUEST_BYTES = 1536 * 1024
# etcd checks the size of the raft entry that wraps a write: the request as a field of
# InternalRaftRequest (1-byte tag + length) plus a RequestHeader carrying a 9-byte request ID.
_RAFT_HEADER_BYTES = 13

_SORT_KEYS: dict[int, Callable[[KeyValue], object]] = {
    TARGET_KEY: lambda kv: kv.key,
    TARGET_VERSION: lambda kv: kv.version,
    TARGET_CREATE: lambda kv: kv.create_revision,
    TARGET_MOD: lambda kv: kv.mod_revision,
    TARGET_VALUE: lambda kv: kv.value,
}


def raft_entry_size(request_size: int) -> int:
    """Size etcd compares with --max-request-bytes for a write request of ``request_size`` bytes."""
    return request_size + 1 + varint_size(request_size) + _RAFT_HEADER_BYTES


LeaseExists = Callable[[int], bool]
CommitListener = Callable[["Commit"], None]


class Commit:
    """What one applied request changed, for persistence and observers."""

    __slots__ = ("revision", "changes", "compacted", "compact_revision")

    def __init__(
        self,
        revision: int,
        changes: list[Change],
        compacted: list[Change] | None = None,
        compact_revision: int | None = None,
    ) -> None:
        self.revision = revision
        self.changes = changes
        self.compacted = compacted or []
        self.compact_revision = compact_revision


class StoreCounts:
    """What the store did, counted as etcd's mvcc metrics count it: every range, put and
    delete-range a read or write view runs (internal ones too: a compare is a range, so is the read
    of the previous value for prev_kv or ignore_value), and every view with more than one of those
    as a txn. Plain ints read at scrape time; the node hands them on when it replaces the store."""

    __slots__ = ("ranges", "puts", "deletes", "txns", "put_bytes", "compacted_keys")

    def __init__(self) -> None:
        self.ranges = self.puts = self.deletes = self.txns = 0
        #: sum of len(key) + len(value) of every put
        self.put_bytes = 0
        #: stored entries removed by compactions
        self.compacted_keys = 0

    def operations(self) -> int:
        return self.ranges + self.puts + self.deletes

    def view_ended(self, mark: int) -> None:
        """A view that began when :meth:`operations` was ``mark`` ended."""
        if self.ranges + self.puts + self.deletes - mark > 1:
            self.txns += 1


class _WriteTxn:
    """The changes of one main revision, applied to the index as they are made."""

    __slots__ = ("store", "begin", "main", "changes")

    def __init__(self, store: "MVCCStore") -> None:
        self.store = store
        self.begin = store.current_revision
        self.main = self.begin + 1
        self.changes: list[Change] = []

    @property
    def read_revision(self) -> int:
        return self.main if self.changes else self.begin

    def put(self, key: bytes, value: bytes, lease: int) -> None:
        history = self.store._index.get(key)
        prev = None
        if history is not None:
            key = history[-1].key  # one bytes object for all of a key's revisions
            prev = history.latest()
        if prev is None:
            kv = KeyValue(key, self.main, self.main, 1, value, lease)
        else:
            kv = KeyValue(key, prev.create_revision, self.main, prev.version + 1, value, lease)
        self._record(key, kv)

    def delete_range(self, key: bytes, range_end: bytes) -> int:
        keys = [h[-1].key for h in self.store._index.histories_in_range(key, range_end)
                if not h[-1].deleted]
        for k in keys:
            self._record(k, None)
        return len(keys)

    def _record(self, key: bytes, kv: KeyValue | None) -> None:
        change = Change(self.main, len(self.changes), key, kv)
        self.changes.append(change)
        store = self.store
        store._index.record(change)
        store._log.append(change)
        if kv is None:
            store.live_keys -= 1
        elif kv.version == 1:
            store.live_keys += 1

    def abort(self) -> None:
        """Undo every change made so far; the store is as before the write began."""
        store = self.store
        for change in reversed(self.changes):
            store._index.unrecord(change)
            popped = store._log.pop()
            assert popped is change
            if change.deleted:
                store.live_keys += 1
            elif change.version == 1:
                store.live_keys -= 1
        self.changes.clear()

    def finish(self) -> int:
        """Close the write; return the revision clients see for it."""
        if not self.changes:
            return self.begin
        store = self.store
        store.current_revision = self.main
        store._notify(Commit(self.main, self.changes))
        return self.main


class MVCCStore:
    def __init__(
        self,
        *,
        max_txn_ops: int = DEFAULT_MAX_TXN_OPS,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        lease_exists: LeaseExists | None = None,
        counts: StoreCounts | None = None,
    ) -> None:
        self.max_txn_ops = max_txn_ops
        self.max_request_bytes = max_request_bytes
        self.lease_exists: LeaseExists = lease_exists or (lambda lease_id: False)
        self.current_revision = 1
        self.compact_revision = -1
        self._index = KeyIndex()
        self._log: list[Change] = []  # every stored change, in revision order
        self._listeners: list[CommitListener] = []
        self.counts = counts if counts is not None else StoreCounts()
        #: keys that exist at the current revision
        self.live_keys = 0

    # -- wiring -----------------------------------------------------------------------------

    def add_listener(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    def _notify(self, commit: Commit) -> None:
        for listener in self._listeners:
            listener(commit)

    def restore(self, changes: Iterable[Change], compact_revision: int,
                histories: dict[bytes, KeyHistory] | None = None) -> None:
        """Load persisted history (in revision order) into an empty store. The store keeps a
        list of its own (writes append to it; a snapshot restored twice must not see them).
        ``histories``, when the reader grouped the same changes by key, becomes the index."""
        if self._log:
            raise RuntimeError("restore needs an empty store")
        log = list(changes)
        self._index.record_all(log, histories)
        self._log = log
        highest = log[-1].main if log else 1
        self.compact_revision = compact_revision
        self.current_revision = max(highest, compact_revision, 1)
        self.live_keys = self._index.live_keys()

    def changes_since(self, revision: int) -> Iterable[Change]:
        """Stored changes with main revision ≥ ``revision``, in order (a live view: don't write
        while iterating)."""
        log = self._log
        for i in range(bisect_left(log, revision, key=_change_main), len(log)):
            yield log[i]

    def history(self) -> list[Change]:
        """Every stored change in revision order (a copy)."""
        return list(self._log)

    # -- reads ------------------------------------------------------------------------------

    def range(self, req: RangeRequest, read_revision: int | None = None) -> RangeResult:
        validation.check_range(req)
        current = self.current_revision if read_revision is None else read_revision
        return self._range(req, current)

    def _range(self, req: RangeRequest, current: int) -> RangeResult:
        self.counts.ranges += 1
        rev = req.revision
        if rev > current:
            raise errors.FUTURE_REV
        if rev <= 0:
            rev = current
        if rev < self.compact_revision:
            raise errors.COMPACTED

        has_filters = bool(req.min_mod_revision or req.max_mod_revision
                           or req.min_create_revision or req.max_create_revision)
        fetch = 0 if (req.sort_order != SORT_NONE or has_filters) else req.limit
        if fetch > 0:
            fetch += 1

        kvs: list[KeyValue] = []
        count = 0
        for history in self._index.histories_in_range(req.key, req.range_end):
            kv = history.at(rev)
            if kv is None:
                continue
            count += 1
            if not req.count_only and (fetch <= 0 or len(kvs) < fetch):
                kvs.append(kv)
        if req.count_only:
            return RangeResult(current, [], False, count)

        if has_filters:
            kvs = [kv for kv in kvs if _passes_filters(req, kv)]
        order = req.sort_order
        if req.sort_target != TARGET_KEY and order == SORT_NONE:
            order = 1
        if order != SORT_NONE and not (req.sort_target == TARGET_KEY and order == 1):
            kvs.sort(key=_SORT_KEYS[req.sort_target], reverse=order == SORT_DESCEND)
        more = False
        if req.limit > 0 and len(kvs) > req.limit:
            del kvs[req.limit:]
            more = True
        if req.keys_only:
            kvs = [kv._replace(value=b"") for kv in kvs]
        return RangeResult(current, kvs, more, count)

    def live_kvs(self, key: bytes, range_end: bytes, limit: int) -> list[KeyValue]:
        """The first ``limit`` keys of ``[key, range_end)`` that exist now, without counting the
        rest of the range (as a Range with a limit does)."""
        found: list[KeyValue] = []
        for history in self._index.histories_in_range(key, range_end):
            latest = history.latest()
            if latest is not None:
                found.append(latest)
                if len(found) >= limit:
                    break
        return found

    def has_older_key(self, key: bytes, range_end: bytes, create_revision: int) -> bool:
        """Whether a key of ``[key, range_end)`` exists now that was created before
        ``create_revision``. Not a client's read (not counted, not at the durable revision): the
        lock and election recipes' hint that a write will wait behind an older key anyway."""
        for history in self._index.histories_in_range(key, range_end):
            latest = history.latest()
            if latest is not None and latest.create_revision < create_revision:
                return True
        return False

    def next_live_key(self, key: bytes, range_end: bytes) -> bytes | None:
        found = self.live_kvs(key, range_end, 1)
        return found[0].key if found else None

    def key_history(self, key: bytes) -> list[tuple[int, KeyValue | None]]:
        """Every change of ``key`` still kept (since compaction), oldest first: (revision, the
        KeyValue it wrote, or None for a delete)."""
        history = self._index.get(key)
        if history is None:
            return []
        return [(change.main, change.kv) for change in history]

    def get(self, key: bytes, revision: int | None = None) -> KeyValue | None:
        """The live KeyValue of ``key`` at ``revision`` (default: latest)."""
        history = self._index.get(key)
        if history is None:
            return None
        return history.latest() if revision is None else history.at(revision)

    # -- writes -----------------------------------------------------------------------------

    def check_request_size(self, request_size: int) -> None:
        if raft_entry_size(request_size) > self.max_request_bytes:
            raise errors.REQUEST_TOO_LARGE

    def put(self, req: PutRequest, request_size: int = 0, checked: bool = False) -> PutResult:
        """``checked``: the request was validated and size-checked already (the node's stages)."""
        if not checked:
            validation.check_put(req)
            self.check_request_size(request_size)
        if req.lease and not self.lease_exists(req.lease):
            raise errors.LEASE_NOT_FOUND
        prev = self.get(req.key)
        if (req.ignore_value or req.ignore_lease) and prev is None:
            self.counts.ranges += 1  # etcd's read of the previous value, which finds nothing
            raise errors.KEY_NOT_FOUND
        mark = self.counts.operations()
        txn = _WriteTxn(self)
        self._apply_put(txn, req, prev)
        self.counts.view_ended(mark)
        return PutResult(txn.finish(), prev if req.prev_kv else None)

    def _apply_put(self, txn: _WriteTxn, req: PutRequest, prev: KeyValue | None) -> None:
        counts = self.counts
        if req.prev_kv or req.ignore_value or req.ignore_lease:
            counts.ranges += 1  # etcd reads the previous value with a range
        if prev is None and (req.ignore_value or req.ignore_lease):
            # Only reachable inside a txn whose from-key delete removed the key first; etcd 3.4
            # panics there. We refuse the whole txn instead (the caller undoes what ran).
            raise errors.KEY_NOT_FOUND
        value = prev.value if req.ignore_value else req.value
        lease = prev.lease if req.ignore_lease else req.lease
        counts.puts += 1
        counts.put_bytes += len(req.key) + len(value)
        txn.put(req.key, value, lease)

    def delete_range(self, req: DeleteRangeRequest, request_size: int = 0,
                     checked: bool = False) -> DeleteRangeResult:
        if not checked:
            validation.check_delete(req)
            self.check_request_size(request_size)
        mark = self.counts.operations()
        txn = _WriteTxn(self)
        result = self._apply_delete(txn, req)
        self.counts.view_ended(mark)
        txn.finish()
        return result

    def _apply_delete(self, txn: _WriteTxn, req: DeleteRangeRequest) -> DeleteRangeResult:
        self.counts.deletes += 1
        prev_kvs = []
        if req.prev_kv:
            prev_kvs = self._range(RangeRequest(req.key, req.range_end), txn.read_revision).kvs
        deleted = txn.delete_range(req.key, req.range_end)
        revision = txn.main if (deleted or txn.changes) else txn.begin
        return DeleteRangeResult(revision, deleted, prev_kvs)

    def txn(self, req: TxnRequest, request_size: int = 0, read_revision: int | None = None,
            checked: bool = False) -> TxnResult:
        """Run a txn. A read-only txn reads at ``read_revision``; any other one at the latest state."""
        if not checked:
            validation.check_txn(req, self.max_txn_ops)
        read_only = validation.is_read_only(req)
        if read_only:
            current = self.current_revision if read_revision is None else read_revision
        else:
            if not checked:
                self.check_request_size(request_size)
            current = self.current_revision
        # etcd decides the path and checks the ops in a read view, then applies writes in a write view
        counts = self.counts
        mark = counts.operations()
        try:
            path = self._decide_path(req, current)
            if not read_only:
                self._check_puts(req, path)
            self._check_ranges(req, path, current)
            if read_only:
                succeeded = path[0]
                ops = req.success if succeeded else req.failure
                return TxnResult(current, succeeded,
                                 [self._range(op, current) for op in ops])  # type: ignore[arg-type]
        finally:
            counts.view_ended(mark)
        mark = counts.operations()
        write = _WriteTxn(self)
        try:
            result, _ = self._apply_txn(write, req, path, 0)
        except BaseException:
            write.abort()
            raise
        finally:
            counts.view_ended(mark)
        result.revision = write.finish()
        return result

    def _decide_path(self, req: TxnRequest, revision: int) -> list[bool]:
        """The branch taken by the txn and by every nested txn on that branch, decided up front."""
        succeeded = all(self._compare(cmp, revision) for cmp in req.compare)
        path = [succeeded]
        for op in (req.success if succeeded else req.failure):
            if isinstance(op, TxnRequest):
                path.extend(self._decide_path(op, revision))
        return path

    def _compare(self, cmp: Compare, revision: int) -> bool:
        self.counts.ranges += 1
        if not cmp.range_end:  # one key, the common case: no range scan
            history = self._index.get(cmp.key)
            kv = history.at(revision) if history is not None else None
            kvs = [kv] if kv is not None else []
        else:
            histories = self._index.histories_in_range(cmp.key, cmp.range_end)
            kvs = [kv for kv in (h.at(revision) for h in histories) if kv is not None]
        if not kvs:
            if cmp.target == CMP_VALUE:
                return False
            return _compare_kv(cmp, None)
        return all(_compare_kv(cmp, kv) for kv in kvs)

    def _path_ops(self, req: TxnRequest, path: list[bool]):
        """The ops on the chosen path of a whole txn, nested ones included, in execution order."""
        if len(path) == 1:  # no nested txn on the path
            return req.success if path[0] else req.failure
        return self._walk_path(req, path, 0)

    def _walk_path(self, req: TxnRequest, path: list[bool], pos: int):
        """Yield (op, ...) for the ops on the chosen path, recursively, in execution order."""
        ops = req.success if path[pos] else req.failure
        nested_pos = pos + 1
        for op in ops:
            if isinstance(op, TxnRequest):
                yield from self._walk_path(op, path, nested_pos)
                nested_pos += _path_length(op, path, nested_pos)
            else:
                yield op

    def _check_puts(self, req: TxnRequest, path: list[bool]) -> None:
        for op in self._path_ops(req, path):
            if isinstance(op, PutRequest):
                if op.ignore_value or op.ignore_lease:
                    self.counts.ranges += 1
                    if self.get(op.key) is None:
                        raise errors.KEY_NOT_FOUND
                if op.lease and not self.lease_exists(op.lease):
                    raise errors.LEASE_NOT_FOUND

    def _check_ranges(self, req: TxnRequest, path: list[bool], current: int) -> None:
        for op in self._path_ops(req, path):
            if isinstance(op, RangeRequest) and op.revision:
                if op.revision > current:
                    raise errors.FUTURE_REV
                if op.revision < self.compact_revision:
                    raise errors.COMPACTED

    def _apply_txn(self, write: _WriteTxn, req: TxnRequest, path: list[bool], pos: int) -> tuple[TxnResult, int]:
        succeeded = path[pos]
        responses: list = []
        nested_pos = pos + 1
        for op in (req.success if succeeded else req.failure):
            if isinstance(op, RangeRequest):
                responses.append(self._range(op, write.read_revision))
            elif isinstance(op, PutRequest):
                prev = self.get(op.key)
                self._apply_put(write, op, prev)
                responses.append(PutResult(write.main, prev if op.prev_kv else None))
            elif isinstance(op, DeleteRangeRequest):
                responses.append(self._apply_delete(write, op))
            else:
                nested, used = self._apply_txn(write, op, path, nested_pos)
                nested.revision = 0
                responses.append(nested)
                nested_pos += used
        return TxnResult(0, succeeded, responses), nested_pos - pos

    def delete_keys(self, keys: list[bytes]) -> int:
        """Delete the given keys (those alive) in one revision, in the given order; return the
        revision clients see. Lease revocation uses this."""
        counts = self.counts
        mark = counts.operations()
        txn = _WriteTxn(self)
        for key in keys:
            if self.get(key) is not None:
                counts.deletes += 1
                txn.delete_range(key, b"")
        counts.view_ended(mark)
        return txn.finish()

    def latest_changes(self) -> Iterable[Change]:
        """Every live key's newest change (the put that wrote its current KeyValue), in no order."""
        for history in self._index.histories():
            if not history[-1].deleted:
                yield history[-1]

    # -- compaction -------------------------------------------------------------------------

    def compact(self, revision: int, current: int | None = None) -> int:
        """Compact history at ``revision``; return the current revision for the response header.

        ``current`` is the newest revision clients can see (default: the latest applied)."""
        if revision <= self.compact_revision:
            raise errors.COMPACTED
        if revision > (self.current_revision if current is None else current):
            raise errors.FUTURE_REV
        dropped = self._index.compact(revision)
        self.counts.compacted_keys += len(dropped)
        self.counts.ranges += 1  # etcd reads the current revision back with a range
        self.compact_revision = revision
        if dropped:
            gone = {(c.main, c.sub) for c in dropped}
            self._log = [c for c in self._log if (c.main, c.sub) not in gone]
        self._notify(Commit(self.current_revision, [], dropped, revision))
        return self.current_revision

    # -- hashes -----------------------------------------------------------------------------

    def hash_kv(self, revision: int = 0, current: int | None = None) -> tuple[int, int, int]:
        """etcd 3.4's HashKV: (hash, hashed revision, compact revision).

        CRC-32C over ``b"key"`` and every stored entry up to the hashed revision, in revision order;
        an entry at or below the compact revision counts only if it is its key's live entry at the
        hashed revision (etcd's ``kvindex.Keep(rev)``), unless no key is alive there at all.
        """
        current = self.current_revision if current is None else current
        compact = self.compact_revision
        if 0 < revision <= compact:
            raise errors.COMPACTED
        if revision > current:
            raise errors.FUTURE_REV
        if revision == 0:
            revision = current
        keep: set[tuple[int, int]] = set()
        if self._log and self._log[0].main <= compact:
            keep = self._live_entries_at(revision)
        crc = google_crc32c.value(b"key")
        for change in self._log:
            if change.main > revision:
                break
            if change.main <= compact and keep and (change.main, change.sub) not in keep:
                continue
            crc = google_crc32c.extend(crc, change.storage_key() + change.storage_value())
        return crc, revision, compact

    def _live_entries_at(self, revision: int) -> set[tuple[int, int]]:
        live = set()
        for history in self._index.histories_in_range(b"\x00", b"\x00"):
            i = history.index_at(revision)
            if i >= 0 and not history[i].deleted:
                live.add((history[i].main, history[i].sub))
        return live

    def hash(self) -> int:
        """A CRC-32C over the whole stored history (etcd hashes its whole database file)."""
        crc = 0
        for change in self._log:
            crc = google_crc32c.extend(crc, change.storage_key() + change.storage_value())
        return crc


def _change_main(change: Change) -> int:
    return change.main


def _path_length(req: TxnRequest, path: list[bool], pos: int) -> int:
    """How many path entries the txn at ``path[pos]`` and its chosen nested txns occupy."""
    length = 1
    for op in (req.success if path[pos] else req.failure):
        if isinstance(op, TxnRequest):
            length += _path_length(op, path, pos + length)
    return length


def _passes_filters(req: RangeRequest, kv: KeyValue) -> bool:
    if req.max_mod_revision and kv.mod_revision > req.max_mod_revision:
        return False
    if req.min_mod_revision and kv.mod_revision < req.min_mod_revision:
        return False
    if req.max_create_revision and kv.create_revision > req.max_create_revision:
        return False
    if req.min_create_revision and kv.create_revision < req.min_create_revision:
        return False
    return True


def _compare_kv(cmp: Compare, kv: KeyValue | None) -> bool:
    target = cmp.target
    if target == CMP_VALUE:
        actual, operand = (kv.value if kv else b""), cmp.value
    elif target == CMP_CREATE:
        actual, operand = (kv.create_revision if kv else 0), cmp.create_revision
    elif target == CMP_MOD:
        actual, operand = (kv.mod_revision if kv else 0), cmp.mod_revision
    elif target == CMP_VERSION:
        actual, operand = (kv.version if kv else 0), cmp.version
    elif target == CMP_LEASE:
        actual, operand = (kv.lease if kv else 0), cmp.lease
    else:
        actual = operand = 0
    result = cmp.result
    if result == CMP_EQUAL:
        return actual == operand
    if result == CMP_NOT_EQUAL:
        return actual != operand
    if result == CMP_GREATER:
        return actual > operand
    if result == CMP_LESS:
        return actual < operand
    return True
