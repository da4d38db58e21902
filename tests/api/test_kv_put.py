"""Put: revision arithmetic, prev_kv, ignore_value / ignore_lease and the order of Put's
validation errors (reference §3.1, §3.2, §5.1, §11.1)."""

from __future__ import annotations

import grpc

from etcd_api_helpers import (EMPTY_KEY, KEY_NOT_FOUND, LEASE_NOT_FOUND, LEASE_PROVIDED,
                              VALUE_PROVIDED, assert_full_header, current_revision, delete, get,
                              kv_tuple, kv_tuples, put, rpc_error)
from etcdlite.proto import rpc_pb2


def test_put_creates_one_revision_per_put_even_for_an_identical_value(target):
    response = put(target, b"a", b"1")
    assert_full_header(response.header, 2)
    assert not response.HasField("prev_kv")
    assert_full_header(put(target, b"a", b"2").header, 3)
    assert_full_header(put(target, b"b", b"").header, 4)  # empty value is fine
    assert_full_header(put(target, b"a", b"3").header, 5)
    assert kv_tuples(get(target, b"a", b"c").kvs) == [(b"a", b"3", 2, 5, 3, 0),
                                                    (b"b", b"", 4, 4, 1, 0)]
    # an identical value still bumps the revision, version and mod_revision
    response = put(target, b"a", b"3", prev_kv=True)
    assert_full_header(response.header, 6)
    assert kv_tuple(response.prev_kv) == (b"a", b"3", 2, 5, 3, 0)
    assert kv_tuples(get(target, b"a").kvs) == [(b"a", b"3", 2, 6, 4, 0)]


def test_put_prev_kv_absent_for_new_key_and_present_for_existing_key(target):
    response = put(target, b"a", b"1", prev_kv=True)
    assert not response.HasField("prev_kv")
    response = put(target, b"a", b"2", prev_kv=True)
    assert response.HasField("prev_kv")
    assert kv_tuple(response.prev_kv) == (b"a", b"1", 2, 2, 1, 0)
    # without the flag there is no prev_kv
    response = put(target, b"a", b"3")
    assert not response.HasField("prev_kv")
    # a deleted key has no previous KeyValue; the new generation starts at version 1
    delete(target, b"a")  # 5
    response = put(target, b"a", b"4", prev_kv=True)
    assert response.header.revision == 6
    assert not response.HasField("prev_kv")
    assert kv_tuples(get(target, b"a").kvs) == [(b"a", b"4", 6, 6, 1, 0)]


def test_put_ignore_value_keeps_the_current_value_and_bumps_version(target):
    put(target, b"a", b"1")
    response = put(target, b"a", ignore_value=True, prev_kv=True)
    assert_full_header(response.header, 3)
    assert kv_tuple(response.prev_kv) == (b"a", b"1", 2, 2, 1, 0)
    assert kv_tuples(get(target, b"a").kvs) == [(b"a", b"1", 2, 3, 2, 0)]


def test_put_ignore_value_or_ignore_lease_on_missing_key_is_key_not_found(target):
    put(target, b"other", b"x")
    with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, KEY_NOT_FOUND):
        put(target, b"a", ignore_value=True)
    with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, KEY_NOT_FOUND):
        put(target, b"a", b"v", ignore_lease=True)
    # a deleted key is missing too
    put(target, b"gone", b"x")
    delete(target, b"gone")
    with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, KEY_NOT_FOUND):
        put(target, b"gone", ignore_value=True)
    assert current_revision(target) == 4
    assert get(target, b"a").count == 0


def test_put_validation_errors_come_in_etcd_order(target):
    put(target, b"exists", b"x")
    cases = [
        # 1. empty key first
        (dict(key=b""), EMPTY_KEY),
        (dict(key=b"", value=b"v", ignore_value=True, lease=7, ignore_lease=True), EMPTY_KEY),
        (dict(key=b"", lease=123456), EMPTY_KEY),
        # 2. ignore_value with a value
        (dict(key=b"exists", value=b"v", ignore_value=True), VALUE_PROVIDED),
        (dict(key=b"missing", value=b"v", ignore_value=True, lease=7, ignore_lease=True),
         VALUE_PROVIDED),
        # 3. ignore_lease with a lease
        (dict(key=b"exists", lease=7, ignore_lease=True), LEASE_PROVIDED),
        (dict(key=b"missing", lease=7, ignore_lease=True, ignore_value=True), LEASE_PROVIDED),
    ]
    for request, message in cases:
        with rpc_error(grpc.StatusCode.INVALID_ARGUMENT, message):
            target.kv.Put(rpc_pb2.PutRequest(**request))
    # 6. unknown lease (NotFound) before 7. ignore_value on a missing key
    with rpc_error(grpc.StatusCode.NOT_FOUND, LEASE_NOT_FOUND):
        put(target, b"missing", lease=123456, ignore_value=True)
    with rpc_error(grpc.StatusCode.NOT_FOUND, LEASE_NOT_FOUND):
        put(target, b"exists", b"v", lease=123456)
    with rpc_error(grpc.StatusCode.NOT_FOUND, LEASE_NOT_FOUND):
        put(target, b"exists", b"v", lease=-5)
    # nothing was written by the rejected puts
    assert current_revision(target) == 2
    assert kv_tuples(get(target, b"\x00", b"\x00").kvs) == [(b"exists", b"x", 2, 2, 1, 0)]


def test_put_with_lease_ignore_lease_keeps_it_and_plain_put_detaches(target):
    lease_id = target.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60)).ID
    put(target, b"a", b"1", lease=lease_id)
    assert kv_tuples(get(target, b"a").kvs) == [(b"a", b"1", 2, 2, 1, lease_id)]
    response = put(target, b"a", b"2", ignore_lease=True, prev_kv=True)
    assert kv_tuple(response.prev_kv) == (b"a", b"1", 2, 2, 1, lease_id)
    assert kv_tuples(get(target, b"a").kvs) == [(b"a", b"2", 2, 3, 2, lease_id)]
    response = put(target, b"a", ignore_value=True, ignore_lease=True)
    assert kv_tuples(get(target, b"a").kvs) == [(b"a", b"2", 2, 4, 3, lease_id)]
    put(target, b"a", b"3")  # a plain put with lease 0 detaches the key
    assert kv_tuples(get(target, b"a").kvs) == [(b"a", b"3", 2, 5, 4, 0)]
