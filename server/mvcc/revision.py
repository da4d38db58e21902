"""Revisions as etcd writes them into its ``key`` bucket: the on-disk key of a history entry.

A revision is (main, sub): ``main`` is the store-wide clock clients see, ``sub`` orders the changes made
inside one main revision. etcd's encoding is 8-byte big-endian main, ``_``, 8-byte big-endian sub, and a
trailing ``t`` for a tombstone. HashKV hashes these bytes, so ours are identical.
"""

from __future__ import annotations

import struct

_KEY = struct.Struct(">QcQ")
_TOMBSTONE_KEY = struct.Struct(">QcQc")
_TOMBSTONE_MARK = b"t"
REVISION_BYTES = 17


def revision_to_bytes(main: int, sub: int, tombstone: bool = False) -> bytes:
    if tombstone:
        return _TOMBSTONE_KEY.pack(main, b"_", sub, _TOMBSTONE_MARK)
    return _KEY.pack(main, b"_", sub)


def bytes_to_revision(data: bytes) -> tuple[int, int, bool]:
    """Return (main, sub, is_tombstone) of an encoded revision key."""
    size = len(data)
    if size == REVISION_BYTES:
        main, mark, sub = _KEY.unpack(data)
        if mark == b"_":
            return main, sub, False
    elif size == REVISION_BYTES + 1:
        main, mark, sub, end = _TOMBSTONE_KEY.unpack(data)
        if mark == b"_" and end == _TOMBSTONE_MARK:
            return main, sub, True
    raise ValueError(f"not a revision key: {data!r}")
