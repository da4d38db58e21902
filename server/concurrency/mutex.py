"""etcd's Lock service algorithm (``v3lock`` over ``concurrency.Mutex``), on the node.

Keys are ``name + "/" + lease-id in hex``; the holder is the key with the lowest create revision
under ``name/``, whoever made it, so this interoperates with client-side recipes.
"""

from __future__ import annotations

import asyncio
import logging

from ..auth.caller import Caller
from ..errors import EtcdError
from ..mvcc.requests import (CMP_CREATE, CMP_EQUAL, Compare, DeleteRangeRequest, PutRequest,
                             RangeRequest, TxnRequest, TxnResult)
from ..node import Node
from .errors import SESSION_EXPIRED, as_unknown, unknown
from .waiting import owner_range, wait_deletes

#: the TTL of the session lease etcd creates when a caller passes lease 0
SESSION_TTL = 60

log = logging.getLogger(__name__)


def lease_key(prefix: bytes, lease: int) -> bytes:
    """Go's ``%x`` of a signed 64-bit lease ID."""
    return prefix + (format(lease, "x")).encode()


async def session_lease(node: Node, caller: Caller, lease: int) -> int:
    if lease:
        return lease
    try:
        return (await node.lease_grant(caller, 0, SESSION_TTL)).id
    except EtcdError as exc:
        raise as_unknown(exc) from None


async def lock(node: Node, caller: Caller, name: bytes, lease: int) -> tuple[int, bytes]:
    """Acquire ``name`` with ``caller``'s credentials (etcd's lock server runs the recipe through
    a client that forwards them); return (header revision, lock key)."""
    lease = await session_lease(node, caller, lease)
    prefix = name + b"/"
    key = lease_key(prefix, lease)
    try:
        acquired = await node.txn(caller, TxnRequest(
            [Compare(key, target=CMP_CREATE, result=CMP_EQUAL, create_revision=0)],
            [PutRequest(key, b"", lease), owner_range(prefix)],
            [RangeRequest(key), owner_range(prefix)]), can_wait=_must_wait)
    except EtcdError as exc:
        raise as_unknown(exc) from None
    if not _must_wait(acquired):
        return acquired.revision, key
    try:
        await wait_deletes(node, caller, prefix, _create_revision(acquired) - 1)
    except EtcdError as exc:
        _delete_in_background(node, caller, key)
        raise as_unknown(exc) from None
    except BaseException:
        _delete_in_background(node, caller, key)
        raise
    try:
        mine = node.range(caller, RangeRequest(key))
    except EtcdError as exc:
        raise as_unknown(exc) from None
    if not mine.kvs:
        raise unknown(SESSION_EXPIRED)
    return mine.revision, key


def _create_revision(result: TxnResult) -> int:
    """The create revision of the caller's key, from the lock txn's result."""
    return result.revision if result.succeeded else result.responses[0].kvs[0].create_revision


def _must_wait(result: TxnResult) -> bool:
    """Whether the lock txn's caller waits for an older key to go (then its write need not be
    durable before the holder's deletion is)."""
    owner = result.responses[1].kvs
    return bool(owner) and owner[0].create_revision != _create_revision(result)


async def unlock(node: Node, caller: Caller, key: bytes) -> int:
    try:
        return (await node.delete_range(caller, DeleteRangeRequest(key))).revision
    except EtcdError as exc:
        raise as_unknown(exc) from None


def _delete_in_background(node: Node, caller: Caller, key: bytes) -> None:
    """A waiter that gives up leaves no key behind, even though its caller is gone."""

    async def delete() -> None:
        try:
            await node.delete_range(caller, DeleteRangeRequest(key))
        except Exception:  # the server may be stopping
            log.warning("could not delete abandoned lock key %r", key, exc_info=True)

    asyncio.get_running_loop().create_task(delete())
