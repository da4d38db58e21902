"""Letting go of the resident pages of a file the process has mapped (LMDB's data file).

A restart reads every record of LMDB once, through its read-only shared mapping, into the store's
memory; from then on reads are served from memory and LMDB's pages are only touched again by its
own commits. Left mapped, the whole file stays in the process's resident set twice over (as the
store's objects and as mapped file pages). ``madvise(MADV_DONTNEED)`` on a shared file mapping
drops only the process's page-table entries: the page cache keeps the pages, their content does
not change, and a later access maps them again. Linux only; elsewhere nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform

log = logging.getLogger("etcdlite.storage")

_MADV_DONTNEED = 4


def _load_madvise():
    if platform.system() != "Linux" or not os.path.exists("/proc/self/maps"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        madvise = libc.madvise
    except (OSError, AttributeError):
        return None
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    madvise.restype = ctypes.c_int
    return madvise


_madvise = _load_madvise()


def shared_mappings_of(path: str) -> list[tuple[int, int]]:
    """The (start, end) address ranges of this process's shared mappings of ``path``."""
    target = os.path.realpath(path)
    ranges = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].rstrip("\n") == target and fields[1][3] == "s":
                start, end = fields[0].split("-")
                ranges.append((int(start, 16), int(end, 16)))
    return ranges


def release(path: str, length: int) -> int:
    """Drop the resident pages of the first ``length`` bytes of every shared mapping of ``path``;
    how many mappings were released (0 where this cannot be done)."""
    if _madvise is None or length <= 0:
        return 0
    released = 0
    try:
        ranges = shared_mappings_of(path)
    except OSError:
        return 0
    for start, end in ranges:
        if _madvise(start, min(end - start, length), _MADV_DONTNEED) == 0:
            released += 1
        else:
            log.debug("madvise(%s) failed: %s", path, os.strerror(ctypes.get_errno()))
    return released
