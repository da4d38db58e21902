"""The store's request and result types (etcd's KV messages without any protobuf).

Field names and meanings are those of etcd's ``rpc.proto``; the gRPC layer copies fields across.
Enum values are plain ints with etcd's numbering.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .kv import KeyValue

# RangeRequest.SortOrder
SORT_NONE, SORT_ASCEND, SORT_DESCEND = 0, 1, 2
# RangeRequest.SortTarget
TARGET_KEY, TARGET_VERSION, TARGET_CREATE, TARGET_MOD, TARGET_VALUE = 0, 1, 2, 3, 4
# Compare.CompareResult
CMP_EQUAL, CMP_GREATER, CMP_LESS, CMP_NOT_EQUAL = 0, 1, 2, 3
# Compare.CompareTarget
CMP_VERSION, CMP_CREATE, CMP_MOD, CMP_VALUE, CMP_LEASE = 0, 1, 2, 3, 4


@dataclass(slots=True)
class RangeRequest:
    key: bytes
    range_end: bytes = b""
    limit: int = 0
    revision: int = 0
    sort_order: int = SORT_NONE
    sort_target: int = TARGET_KEY
    serializable: bool = False
    keys_only: bool = False
    count_only: bool = False
    min_mod_revision: int = 0
    max_mod_revision: int = 0
    min_create_revision: int = 0
    max_create_revision: int = 0


@dataclass(slots=True)
class PutRequest:
    key: bytes
    value: bytes = b""
    lease: int = 0
    prev_kv: bool = False
    ignore_value: bool = False
    ignore_lease: bool = False


@dataclass(slots=True)
class DeleteRangeRequest:
    key: bytes
    range_end: bytes = b""
    prev_kv: bool = False


@dataclass(slots=True)
class Compare:
    """One txn guard. Only the operand matching ``target`` is read; the others stay zero."""

    key: bytes
    target: int = CMP_VERSION
    result: int = CMP_EQUAL
    range_end: bytes = b""
    version: int = 0
    create_revision: int = 0
    mod_revision: int = 0
    value: bytes = b""
    lease: int = 0


# None stands for a RequestOp with no operation set (etcd answers "key not found").
RequestOp = Union[RangeRequest, PutRequest, DeleteRangeRequest, "TxnRequest", None]


@dataclass(slots=True)
class TxnRequest:
    compare: list[Compare] = field(default_factory=list)
    success: list[RequestOp] = field(default_factory=list)
    failure: list[RequestOp] = field(default_factory=list)


@dataclass(slots=True)
class RangeResult:
    revision: int
    kvs: list[KeyValue]
    more: bool
    count: int


@dataclass(slots=True)
class PutResult:
    revision: int
    prev_kv: KeyValue | None = None


@dataclass(slots=True)
class DeleteRangeResult:
    revision: int
    deleted: int
    prev_kvs: list[KeyValue] = field(default_factory=list)


@dataclass(slots=True)
class TxnResult:
    """``revision`` is the outer header's; a nested txn's header is sent empty, as etcd does."""

    revision: int
    succeeded: bool
    responses: list["RangeResult | PutResult | DeleteRangeResult | TxnResult"]
