"""The authorize stage of the request path: which permissions a KV request needs.

etcd's rules (etcdserver/apply_auth.go, v3_server.go), with the permission bypasses that later
releases closed closed here too (etcd 3.4.42+/3.5.x): every op of a nested txn is checked, a put
with ``prev_kv`` needs read permission on its key, and a put that joins a lease needs write
permission on every key already attached to that lease.

* Range: read on ``[key, range_end)``.
* Put: write on the key; write on each key of its lease; read on the key with ``prev_kv``.
* DeleteRange: write on the range; read on it too with ``prev_kv``.
* Txn: read on every compare's key or range, then each op of both branches as above.
* LeaseRevoke: write on every attached key.
"""

from __future__ import annotations

from typing import Callable, Iterable

from ..mvcc.requests import DeleteRangeRequest, PutRequest, RangeRequest, TxnRequest
from .store import AuthInfo, AuthStore

LeaseKeys = Callable[[int], Iterable[bytes]]


def authorize(store: AuthStore, caller: AuthInfo | None, request: object, lease_keys: LeaseKeys) -> None:
    """Raise etcd's auth error unless ``caller`` may make ``request`` (a core KV request)."""
    if not store.enabled:
        return
    if isinstance(request, RangeRequest):
        store.check_read(caller, request.key, request.range_end)
    elif isinstance(request, PutRequest):
        _put(store, caller, request, lease_keys)
    elif isinstance(request, DeleteRangeRequest):
        store.check_write(caller, request.key, request.range_end)
        if request.prev_kv:
            store.check_read(caller, request.key, request.range_end)
    elif isinstance(request, TxnRequest):
        for compare in request.compare:
            store.check_read(caller, compare.key, compare.range_end)
        for op in (*request.success, *request.failure):
            if op is not None:
                authorize(store, caller, op, lease_keys)
    else:
        raise TypeError(f"not a KV request: {type(request).__name__}")


def _put(store: AuthStore, caller: AuthInfo | None, request: PutRequest, lease_keys: LeaseKeys) -> None:
    store.check_write(caller, request.key)
    if request.lease:
        authorize_lease_keys(store, caller, request.lease, lease_keys)
    if request.prev_kv:
        store.check_read(caller, request.key)


def authorize_lease_keys(store: AuthStore, caller: AuthInfo | None, lease_id: int,
                         lease_keys: LeaseKeys) -> None:
    """etcd's checkLeasePuts: write permission on every key attached to the lease (LeaseRevoke,
    and a put that joins the lease)."""
    if not store.enabled:
        return
    for key in lease_keys(lease_id):
        store.check_write(caller, key)
