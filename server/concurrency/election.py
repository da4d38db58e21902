"""etcd's Election service algorithm (``v3election`` over ``concurrency.Election``), on the node.

The leader of ``name`` is the key with the lowest create revision under ``name/``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import AsyncIterator, Callable

from ..auth.caller import Caller
from ..errors import EtcdError
from ..mvcc.kv import KeyValue
from ..mvcc.requests import (CMP_CREATE, CMP_EQUAL, Compare, DeleteRangeRequest, PutRequest,
                             RangeRequest, TxnRequest, TxnResult)
from ..node import Node
from ..watch.key_ranges import prefix_end
from .errors import NO_LEADER, NOT_LEADER, as_unknown, unknown
from .mutex import lease_key, session_lease
from .waiting import owner_range, queued_behind, wait_deletes

log = logging.getLogger(__name__)


@dataclass
class LeaderKey:
    name: bytes
    key: bytes
    rev: int
    lease: int


async def _txn(node: Node, caller: Caller, request: TxnRequest,
               can_wait: Callable[[TxnResult], bool] | None = None) -> TxnResult:
    try:
        return await node.txn(caller, request, can_wait=can_wait)
    except EtcdError as exc:
        raise as_unknown(exc) from None


def _guarded(key: bytes, rev: int, op) -> TxnRequest:
    return TxnRequest([Compare(key, target=CMP_CREATE, result=CMP_EQUAL, create_revision=rev)], [op], [])


async def campaign(node: Node, caller: Caller, name: bytes, lease: int,
                   value: bytes) -> tuple[int, LeaderKey]:
    """Become leader of ``name`` with ``caller``'s credentials; return (header revision of the
    first txn, leader key)."""
    lease = await session_lease(node, caller, lease)
    prefix = name + b"/"
    key = lease_key(prefix, lease)
    first = await _txn(node, caller, TxnRequest(
        [Compare(key, target=CMP_CREATE, result=CMP_EQUAL, create_revision=0)],
        [PutRequest(key, value, lease)],
        [RangeRequest(key)]), can_wait=lambda result: queued_behind(node, prefix, result.revision))
    if first.succeeded:
        leader_rev = first.revision
    else:
        existing = first.responses[0].kvs[0]
        leader_rev = existing.create_revision
        if existing.value != value:
            try:
                await proclaim(node, caller, LeaderKey(name, key, leader_rev, lease), value)
            except BaseException:
                await resign(node, caller, LeaderKey(name, key, leader_rev, lease))
                raise
    leader = LeaderKey(name, key, leader_rev, lease)
    try:
        await wait_deletes(node, caller, prefix, leader_rev - 1)
    except EtcdError as exc:
        _resign_in_background(node, caller, leader)
        raise as_unknown(exc) from None
    except asyncio.CancelledError:
        _resign_in_background(node, caller, leader)
        raise
    return first.revision, leader


async def proclaim(node: Node, caller: Caller, leader: LeaderKey, value: bytes) -> int:
    lease = await session_lease(node, caller, leader.lease)
    result = await _txn(node, caller, _guarded(leader.key, leader.rev, PutRequest(leader.key, value, lease)))
    if not result.succeeded:
        raise unknown(NOT_LEADER)
    return result.revision


async def resign(node: Node, caller: Caller, leader: LeaderKey) -> int:
    await session_lease(node, caller, leader.lease)  # etcd opens a session even here (lease 0: orphan lease)
    result = await _txn(node, caller, _guarded(leader.key, leader.rev, DeleteRangeRequest(leader.key)))
    return result.revision


def leader(node: Node, caller: Caller, name: bytes) -> tuple[int, KeyValue]:
    try:
        found = node.range(caller, owner_range(name + b"/"))
    except EtcdError as exc:
        raise as_unknown(exc) from None
    if not found.kvs:
        raise unknown(NO_LEADER)
    return found.revision, found.kvs[0]


async def observe(node: Node, caller: Caller, name: bytes) -> AsyncIterator[tuple[int, KeyValue]]:
    """Yield (header revision, leader kv): the leader now, each proclamation, each new leader.

    One internal watch on the whole prefix stays in place for the life of the stream, so nothing
    that happens while the consumer is busy sending is missed.
    """
    prefix = name + b"/"
    changes: asyncio.Queue = asyncio.Queue()
    stop_watching = node.watch_internal(prefix, prefix_end(prefix),
                                        lambda revision, batch: changes.put_nowait((revision, batch)))
    try:
        while True:
            try:
                found = node.range(caller, owner_range(prefix))
            except EtcdError:
                return  # etcd's observer gives up on a failed Get: the stream just ends
            seen = found.revision
            if found.kvs:
                current = found.kvs[0]
                yield seen, current
            else:
                current = None
                while current is None:
                    revision, batch = await changes.get()
                    if revision <= seen:
                        continue
                    current = next((c.kv for c in batch if c.kv is not None), None)
                seen = current.mod_revision
                yield seen, current
            leader_gone = False
            while not leader_gone:
                revision, batch = await changes.get()
                if revision <= seen:
                    continue
                for change in batch:
                    if change.key != current.key:
                        continue
                    if change.kv is None:
                        leader_gone = True
                        break
                    current = change.kv
                    seen = revision
                    yield revision, current
    finally:
        stop_watching()


def _resign_in_background(node: Node, caller: Caller, leader: LeaderKey) -> None:
    async def run() -> None:
        try:
            await node.txn(caller, _guarded(leader.key, leader.rev, DeleteRangeRequest(leader.key)))
        except Exception:
            log.warning("could not resign abandoned campaign %r", leader.key, exc_info=True)

    asyncio.get_running_loop().create_task(run())
