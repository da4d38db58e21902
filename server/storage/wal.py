"""The write-ahead log in front of LMDB: one append and one ``fdatasync`` make a group commit
durable; LMDB takes the same operations afterwards, off the acknowledgement path.

Theory of operation.

* **Durability.** A group commit becomes one *record*: the LMDB operations it stands for (puts and
  deletes in the ``key``, ``meta`` and ``lease`` databases, values already sealed), framed as
  ``length | crc32c | epoch | seq | operations``. :meth:`WriteAheadLog.append` writes it at the log's
  end and calls ``fdatasync`` once; when it returns the commit is durable and may be acknowledged
  (and made visible). The file grows in zero-filled chunks, so an append normally rewrites
  allocated blocks and the sync flushes data only.
* **Order.** Records carry consecutive sequence numbers. LMDB applies them in that order, each
  application an idempotent assignment (a put of a revision's record, a delete, a counter set),
  so applying a suffix of the log again onto a database that already holds it changes nothing.
* **Recovery.** On open, every record of the current epoch is read in sequence until the first one
  that is absent, torn (bad length or checksum) or of another epoch; those are applied to LMDB and
  synced before anything is served. A torn record can only be the last one written (each append is
  synced before the next begins): a damaged record followed by a valid next one is corruption and
  is refused.
* **Truncation.** Once LMDB has synced every record appended so far, :meth:`reset` starts a new
  epoch: a header (magic, epoch, the next sequence number, checksum) is written to the slot the
  last one did not use and synced, and appends start over after the header. The newer valid slot
  counts, so a torn header write leaves the previous epoch. The file is created whole under
  another name and renamed. Records of older epochs left behind in the file are never read again. A crash between
  LMDB's sync and the new header only replays records LMDB already holds.
"""

from __future__ import annotations

import os
import struct
import time
from typing import Iterator

import google_crc32c

from .histogram import DISK_SECONDS, Observations

MAGIC = b"etcdlite-wal-001"
_HEADER = struct.Struct(">16sQQI")  # magic, epoch, first sequence number, crc32c of the rest
_FRAME = struct.Struct(">II")  # payload length, crc32c of the payload
_PAYLOAD_HEAD = struct.Struct(">QQI")  # epoch, seq, operation count
_OP = struct.Struct(">BI")  # database and kind, key length
_LEN = struct.Struct(">I")
_SLOT = 64
HEADER_SIZE = 2 * _SLOT  # two header slots, written in turn (epoch parity), as LMDB's meta pages
CHUNK = 1 << 20  # the file grows by this much (zero-filled) at a time
_MAX_RECORD = 1 << 31

#: databases an operation names (one byte with the kind)
KEYS, META, LEASES = 0, 1, 2
_PUT = 0x80

Operation = tuple[int, bytes, "bytes | None"]  # (database, key, value or None for a delete)


class CorruptLog(ValueError):
    """A record inside the log is damaged (not a torn last write)."""


def encode(epoch: int, seq: int, operations: list[Operation]) -> bytes:
    parts = [_PAYLOAD_HEAD.pack(epoch, seq, len(operations))]
    append = parts.append
    op_pack, len_pack = _OP.pack, _LEN.pack
    for db, key, value in operations:
        if value is None:
            append(op_pack(db, len(key)))
            append(key)
        else:
            append(op_pack(db | _PUT, len(key)))
            append(key)
            append(len_pack(len(value)))
            append(value)
    payload = b"".join(parts)
    return _FRAME.pack(len(payload), google_crc32c.value(payload)) + payload


def decode_operations(payload: bytes) -> tuple[int, int, list[Operation]]:
    """(epoch, seq, operations) of a record's payload whose checksum was verified."""
    epoch, seq, count = _PAYLOAD_HEAD.unpack_from(payload)
    at = _PAYLOAD_HEAD.size
    operations: list[Operation] = []
    for _ in range(count):
        flags, key_length = _OP.unpack_from(payload, at)
        at += _OP.size
        key = payload[at:at + key_length]
        at += key_length
        value = None
        if flags & _PUT:
            (value_length,) = _LEN.unpack_from(payload, at)
            at += _LEN.size
            value = payload[at:at + value_length]
            at += value_length
        operations.append((flags & ~_PUT, key, value))
    if at != len(payload):
        raise ValueError("record longer than its operations")
    return epoch, seq, operations


class WriteAheadLog:
    """One log file, used by one thread at a time (the writer thread; opening and closing).
    ``fsync_seconds`` observes every append's sync (etcd's wal_fsync_duration)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fsync_seconds = Observations(DISK_SECONDS)
        if os.path.exists(path):
            self._fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            self._size = os.fstat(self._fd).st_size
            self.epoch, self.first_seq = self._read_header()
        else:  # made whole under another name, so a crash never leaves a log without a header
            fresh = path + ".new"
            self._fd = os.open(fresh, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            self._size = 0
            self._write_header(1, 1)
            os.rename(fresh, path)
            fsync_path(os.path.dirname(path))
        self._offset = HEADER_SIZE
        self.next_seq = self.first_seq

    # -- reading ----------------------------------------------------------------------------

    def _read_header(self) -> tuple[int, int]:
        """(epoch, first sequence number) of the newer valid slot: a reset torn by a crash
        leaves the other slot, and the records it names are still in place (none is appended
        before the new header is synced)."""
        block = os.pread(self._fd, HEADER_SIZE, 0)
        found = []
        for at in (0, _SLOT):
            if len(block) < at + _HEADER.size:
                continue
            magic, epoch, first_seq, crc = _HEADER.unpack_from(block, at)
            if magic == MAGIC and crc == google_crc32c.value(_HEADER.pack(magic, epoch, first_seq, 0)[:-4]):
                found.append((epoch, first_seq))
        if not found:
            raise CorruptLog(f"{self.path} has no valid header")
        return max(found)

    def records(self) -> Iterator[list[Operation]]:
        """The operations of every record of the current epoch, in order; afterwards the log
        appends after the last of them."""
        offset, seq = HEADER_SIZE, self.first_seq
        while True:
            found = self._record_at(offset, seq)
            if found is None:
                break
            length, operations = found
            yield operations
            offset += length
            seq += 1
        if self._record_after_damage(offset, seq):
            raise CorruptLog(f"record {seq} of {self.path} (at byte {offset}) is damaged, "
                             "and later records follow it")
        self._offset, self.next_seq = offset, seq

    def _record_at(self, offset: int, seq: int) -> tuple[int, list[Operation]] | None:
        head = os.pread(self._fd, _FRAME.size, offset)
        if len(head) < _FRAME.size:
            return None
        length, crc = _FRAME.unpack(head)
        if length < _PAYLOAD_HEAD.size or length > _MAX_RECORD or offset + _FRAME.size + length > self._size:
            return None
        payload = os.pread(self._fd, length, offset + _FRAME.size)
        if len(payload) != length or google_crc32c.value(payload) != crc:
            return None
        try:
            epoch, found_seq, operations = decode_operations(payload)
        except (ValueError, struct.error) as exc:  # its checksum matched: written so, not torn
            raise CorruptLog(f"record {seq} of {self.path} cannot be decoded ({exc})") from None
        if epoch != self.epoch or found_seq != seq:
            return None
        return _FRAME.size + length, operations

    def _record_after_damage(self, offset: int, seq: int) -> bool:
        """Whether a valid record ``seq + 1`` follows a damaged record ``seq`` whose length field
        still reads right (a torn last write has no successor)."""
        head = os.pread(self._fd, _FRAME.size, offset)
        if len(head) < _FRAME.size:
            return False
        length = _FRAME.unpack(head)[0]
        if length < _PAYLOAD_HEAD.size or length > _MAX_RECORD:
            return False
        try:
            return self._record_at(offset + _FRAME.size + length, seq + 1) is not None
        except (ValueError, struct.error):
            return False

    # -- writing ----------------------------------------------------------------------------

    @property
    def used(self) -> int:
        """Bytes of records in the current epoch."""
        return self._offset - HEADER_SIZE

    def append(self, operations: list[Operation]) -> int:
        """Write one record and sync it; returns its sequence number."""
        seq = self.next_seq
        record = encode(self.epoch, seq, operations)
        end = self._offset + len(record)
        if end > self._size:
            self._grow(end)
        os.pwrite(self._fd, record, self._offset)
        started = time.perf_counter()
        os.fdatasync(self._fd)
        self.fsync_seconds.observe(time.perf_counter() - started)
        self._offset = end
        self.next_seq = seq + 1
        return seq

    def _grow(self, end: int) -> None:
        target = (end // CHUNK + 1) * CHUNK
        zeros = bytes(min(CHUNK, target - self._size))
        at = self._size
        while at < target:
            written = os.pwrite(self._fd, zeros[:target - at], at)
            at += written
        self._size = target

    def reset(self, applied_seq: int | None) -> bool:
        """Start a new epoch if the log holds records and LMDB holds all of them (``applied_seq``
        is the last one it has synced); returns whether it did. Sequence numbers go on from where
        they were."""
        if applied_seq != self.next_seq - 1 or self.used == 0:
            return False
        self._write_header(self.epoch + 1, self.next_seq)
        self._offset = HEADER_SIZE
        return True

    def _write_header(self, epoch: int, first_seq: int) -> None:
        head = _HEADER.pack(MAGIC, epoch, first_seq, 0)[:-4]
        block = (head + struct.pack(">I", google_crc32c.value(head))).ljust(_SLOT, b"\0")
        if self._size < HEADER_SIZE:
            os.pwrite(self._fd, bytes(HEADER_SIZE - self._size), self._size)
            self._size = HEADER_SIZE
        os.pwrite(self._fd, block, (epoch % 2) * _SLOT)
        os.fdatasync(self._fd)
        self.epoch, self.first_seq = epoch, first_seq

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def fsync_path(path: str) -> None:
    """fsync a file or directory by name (a directory: so an entry made in it survives)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
