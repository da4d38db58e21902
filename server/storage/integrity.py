"""What keeps a damaged data dir from being served: a check of LMDB's file against its own meta
pages before it is mapped (a file shorter than its pages in use would kill the process with
SIGBUS on first touch), and a CRC-32C on every stored record, verified when it is read.

LMDB's data file starts with two meta pages (LMDB's ``MDB_meta`` after a 16-byte page header);
the one with the higher transaction ID is current, and its ``mm_last_pg`` is the last page in use,
so the file must hold at least ``(mm_last_pg + 1)`` pages. The page size is kept in the free-page
database's ``md_pad`` field.
"""

from __future__ import annotations

import os
import struct

import google_crc32c

from .backend import StorageError

_MAGIC = 0xBEEFC0DE
_PAGE_HEADER = 16
_META = struct.Struct("<IIQQ")  # mm_magic, mm_version, mm_address, mm_mapsize
_DB = struct.Struct("<IHHQQQQQ")  # md_pad, md_flags, md_depth, branch, leaf, overflow, entries, root
_TAIL = struct.Struct("<QQ")  # mm_last_pg, mm_txnid
_CRC = struct.Struct(">I")


class CorruptRecord(ValueError):
    pass


def corrupt(data_dir: str, what: str) -> StorageError:
    return StorageError(f"data dir {data_dir} is corrupt: {what}; restore it from a backup "
                        "(etcdctl snapshot save, --initial-snapshot) or remove it to start empty")


def _meta(page: bytes) -> tuple[int, int, int] | None:
    """(page size, last page, txn id) of one meta page, or None if it is not one."""
    if len(page) < _PAGE_HEADER + _META.size + 2 * _DB.size + _TAIL.size:
        return None
    magic, version, _, _ = _META.unpack_from(page, _PAGE_HEADER)
    if magic != _MAGIC or version != 1:
        return None
    page_size = _DB.unpack_from(page, _PAGE_HEADER + _META.size)[0]
    last_page, txn = _TAIL.unpack_from(page, _PAGE_HEADER + _META.size + 2 * _DB.size)
    return page_size, last_page, txn


def check_lmdb_file(data_dir: str, path: str) -> None:
    """Refuse a data file that LMDB would map but that cannot hold the pages it says it uses."""
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        head = file.read(min(size, 65536))
    first = _meta(head)
    if first is None:
        raise corrupt(data_dir, f"{path} does not start with an LMDB meta page")
    page_size = first[0]
    if page_size < 512 or page_size & (page_size - 1):
        raise corrupt(data_dir, f"{path} names an impossible page size {page_size}")
    if size < 2 * page_size:
        raise corrupt(data_dir, f"{path} is truncated ({size} bytes, shorter than its two meta pages)")
    if len(head) < 2 * page_size:
        with open(path, "rb") as file:
            head = file.read(2 * page_size)
    second = _meta(head[page_size:2 * page_size])
    metas = [m for m in (first, second) if m is not None]
    _, last_page, _ = max(metas, key=lambda m: m[2])
    needed = (last_page + 1) * page_size
    if size < needed:
        raise corrupt(data_dir, f"{path} is truncated ({size} bytes; its pages in use need {needed})")


def seal(data: bytes) -> bytes:
    """``data`` with its CRC-32C in front."""
    return _CRC.pack(google_crc32c.value(data)) + data


def unseal(record: bytes) -> bytes:
    """The data of a sealed record; raises CorruptRecord if the checksum does not match."""
    if len(record) < _CRC.size:
        raise CorruptRecord("a record shorter than its checksum")
    data = bytes(record[_CRC.size:])
    if _CRC.unpack_from(record)[0] != google_crc32c.value(data):
        raise CorruptRecord("a record whose checksum does not match")
    return data
