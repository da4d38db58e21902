"""Request checks etcd makes before a request is applied (its API-level validation).

They depend only on the request, never on the store: empty keys, conflicting flags, sort enums,
the txn op budget and the duplicate-key rules of nested txns.
"""

from __future__ import annotations

from .. import errors
from .requests import (
    DeleteRangeRequest,
    PutRequest,
    RangeRequest,
    RequestOp,
    TxnRequest,
)

_SORT_ORDERS = frozenset((0, 1, 2))
_SORT_TARGETS = frozenset((0, 1, 2, 3, 4))


def check_range(req: RangeRequest) -> None:
    if not req.key:
        raise errors.KEY_NOT_PROVIDED
    if req.sort_order not in _SORT_ORDERS or req.sort_target not in _SORT_TARGETS:
        raise errors.INVALID_SORT_OPTION


def check_put(req: PutRequest) -> None:
    if not req.key:
        raise errors.KEY_NOT_PROVIDED
    if req.ignore_value and req.value:
        raise errors.VALUE_PROVIDED
    if req.ignore_lease and req.lease:
        raise errors.LEASE_PROVIDED


def check_delete(req: DeleteRangeRequest) -> None:
    if not req.key:
        raise errors.KEY_NOT_PROVIDED


def check_txn(req: TxnRequest, max_txn_ops: int) -> None:
    _check_txn_ops(req, max_txn_ops)
    _check_intervals(req.success)
    _check_intervals(req.failure)


def is_read_only(req: TxnRequest) -> bool:
    """A txn whose branches hold only ranges is served as a read."""
    for op in req.success:
        if not isinstance(op, RangeRequest):
            return False
    for op in req.failure:
        if not isinstance(op, RangeRequest):
            return False
    return True


def _check_txn_ops(req: TxnRequest, budget: int) -> None:
    count = max(len(req.compare), len(req.success), len(req.failure))
    if count > budget:
        raise errors.TOO_MANY_OPS
    for cmp in req.compare:
        if not cmp.key:
            raise errors.KEY_NOT_PROVIDED
    for op in req.success:
        _check_op(op, budget - count)
    for op in req.failure:
        _check_op(op, budget - count)


def _check_op(op: RequestOp, budget: int) -> None:
    if isinstance(op, RangeRequest):
        check_range(op)
    elif isinstance(op, PutRequest):
        check_put(op)
    elif isinstance(op, DeleteRangeRequest):
        check_delete(op)
    elif isinstance(op, TxnRequest):
        _check_txn_ops(op, budget)
    else:
        raise errors.KEY_NOT_FOUND


# Duplicate keys. etcd keeps delete ranges in an interval tree of "affine" strings, in which the
# empty string sorts after everything; a delete with range_end "\0" therefore becomes the empty
# interval [key, "\0") and conflicts with nothing. The same arithmetic is reproduced here.

_INFINITY = b""


def _affine_less(a: bytes, b: bytes) -> bool:
    if a == _INFINITY:
        return False
    if b == _INFINITY:
        return True
    return a < b


def _interval_holds(begin: bytes, end: bytes, key: bytes) -> bool:
    return not _affine_less(key, begin) and _affine_less(key, end)


def _hits_delete(deletes: list[tuple[bytes, bytes]], key: bytes) -> bool:
    return any(_interval_holds(begin, end, key) for begin, end in deletes)


def _check_intervals(ops: list[RequestOp]) -> tuple[set[bytes], list[tuple[bytes, bytes]]]:
    puts: set[bytes] = set()
    plain = True  # only puts and ranges: a put conflicts only with another put
    for op in ops:
        kind = type(op)
        if kind is PutRequest:
            if op.key in puts:
                raise errors.DUPLICATE_KEY
            puts.add(op.key)
        elif kind is not RangeRequest:
            plain = False
            break
    if plain:
        return puts, []

    deletes: list[tuple[bytes, bytes]] = []
    for op in ops:
        if isinstance(op, DeleteRangeRequest):
            if op.range_end:
                deletes.append((op.key, op.range_end))
            else:
                deletes.append((op.key, op.key + b"\x00"))

    puts = set()
    for op in ops:
        if not isinstance(op, TxnRequest):
            continue
        puts_then, deletes_then = _check_intervals(op.success)
        puts_else, deletes_else = _check_intervals(op.failure)
        for key in puts_then:
            if key in puts or _hits_delete(deletes, key):
                raise errors.DUPLICATE_KEY
            puts.add(key)
        for key in puts_else:
            if key in puts and key not in puts_then:
                raise errors.DUPLICATE_KEY
            if _hits_delete(deletes, key):
                raise errors.DUPLICATE_KEY
            puts.add(key)
        deletes.extend(deletes_then)
        deletes.extend(deletes_else)

    for op in ops:
        if not isinstance(op, PutRequest):
            continue
        if op.key in puts or _hits_delete(deletes, op.key):
            raise errors.DUPLICATE_KEY
        puts.add(op.key)
    return puts, deletes
