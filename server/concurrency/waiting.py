"""Waiting for keys, the building block of both recipes (etcd's ``waitDeletes``)."""

from __future__ import annotations

import asyncio

from ..auth.caller import Caller
from ..mvcc.key_index import Change
from ..mvcc.requests import SORT_ASCEND, SORT_DESCEND, TARGET_CREATE, RangeRequest, RangeResult
from ..node import Node
from ..watch.key_ranges import prefix_end


def owner_range(prefix: bytes) -> RangeRequest:
    """The oldest key under ``prefix``: the lock holder or the election leader."""
    return RangeRequest(prefix, prefix_end(prefix), limit=1, sort_order=SORT_ASCEND,
                        sort_target=TARGET_CREATE)


def queued_behind(node: Node, prefix: bytes, create_revision: int) -> bool:
    """Whether the key created at ``create_revision`` under ``prefix`` waits behind an older one,
    as applied so far: then the write that made it need not be durable before that older key's
    deletion is, and may share its sync (``Node.txn``'s ``can_wait``)."""
    return node.store.has_older_key(prefix, prefix_end(prefix), create_revision)


async def wait_for_delete(node: Node, key: bytes) -> int:
    """Wait until ``key`` is deleted (durably); return the revision of the deletion."""
    loop = asyncio.get_running_loop()
    found: asyncio.Future = loop.create_future()

    def on_change(revision: int, changes: list[Change]) -> None:
        if not found.done() and any(change.deleted for change in changes):
            found.set_result(revision)

    stop_watching = node.watch_internal(key, b"", on_change)
    try:
        return await found
    finally:
        stop_watching()


async def wait_deletes(node: Node, caller: Caller, prefix: bytes, max_create_revision: int) -> RangeResult:
    """Wait until no key under ``prefix`` has a create revision ≤ ``max_create_revision``.

    Each round looks up the newest such key and sleeps until that very key is deleted, so a waiter
    wakes in the loop turn in which its predecessor's deletion becomes durable. Returns the last
    (empty) range, whose revision is the header etcd 3.4 reports.
    """
    while True:
        newest_older = node.range(caller, RangeRequest(
            prefix, prefix_end(prefix), limit=1, sort_order=SORT_DESCEND, sort_target=TARGET_CREATE,
            max_create_revision=max_create_revision))
        if not newest_older.kvs:
            return newest_older
        await wait_for_delete(node, newest_older.kvs[0].key)
