"""The protobuf-encoded size of a request built in the core (etcd checks writes against
--max-request-bytes by their encoded size).

Requests that arrive over gRPC carry their exact size; requests the server makes itself (the Lock
and Election recipes) are measured here with proto3's rules. A Compare's operand is counted as set,
as the recipes always set it.
"""

from __future__ import annotations

from .requests import (CMP_CREATE, CMP_LEASE, CMP_MOD, CMP_VALUE, CMP_VERSION, Compare,
                       DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest)

_MASK64 = (1 << 64) - 1


def varint_size(value: int) -> int:
    """Bytes of the base-128 varint encoding of ``value`` (negative: as 64-bit two's complement)."""
    value &= _MASK64
    size = 1
    while value > 0x7F:
        value >>= 7
        size += 1
    return size


def _tag(field: int) -> int:
    return varint_size(field << 3)


def _int(field: int, value: int) -> int:
    return _tag(field) + varint_size(value) if value else 0


def _bytes(field: int, value: bytes) -> int:
    return _tag(field) + varint_size(len(value)) + len(value) if value else 0


def _message(field: int, size: int) -> int:
    return _tag(field) + varint_size(size) + size


def range_size(r: RangeRequest) -> int:
    return (_bytes(1, r.key) + _bytes(2, r.range_end) + _int(3, r.limit) + _int(4, r.revision)
            + _int(5, r.sort_order) + _int(6, r.sort_target) + _int(7, r.serializable)
            + _int(8, r.keys_only) + _int(9, r.count_only) + _int(10, r.min_mod_revision)
            + _int(11, r.max_mod_revision) + _int(12, r.min_create_revision)
            + _int(13, r.max_create_revision))


def put_size(p: PutRequest) -> int:
    return (_bytes(1, p.key) + _bytes(2, p.value) + _int(3, p.lease) + _int(4, p.prev_kv)
            + _int(5, p.ignore_value) + _int(6, p.ignore_lease))


def delete_size(d: DeleteRangeRequest) -> int:
    return _bytes(1, d.key) + _bytes(2, d.range_end) + _int(3, d.prev_kv)


_OPERANDS = {CMP_VERSION: (4, "version"), CMP_CREATE: (5, "create_revision"), CMP_MOD: (6, "mod_revision"),
             CMP_LEASE: (8, "lease")}


def compare_size(c: Compare) -> int:
    size = _int(1, c.result) + _int(2, c.target) + _bytes(3, c.key) + _bytes(64, c.range_end)
    if c.target == CMP_VALUE:
        size += _tag(7) + varint_size(len(c.value)) + len(c.value)
    elif c.target in _OPERANDS:
        field, name = _OPERANDS[c.target]
        size += _tag(field) + varint_size(getattr(c, name))
    return size


def _op_size(op: RequestOp) -> int:
    if isinstance(op, RangeRequest):
        return _message(1, range_size(op))
    if isinstance(op, PutRequest):
        return _message(2, put_size(op))
    if isinstance(op, DeleteRangeRequest):
        return _message(3, delete_size(op))
    if isinstance(op, TxnRequest):
        return _message(4, txn_size(op))
    return 0


def txn_size(t: TxnRequest) -> int:
    return (sum(_message(1, compare_size(c)) for c in t.compare)
            + sum(_message(2, _op_size(op)) for op in t.success)
            + sum(_message(3, _op_size(op)) for op in t.failure))
