"""The store's hand-written mvccpb.KeyValue codec against protobuf's own serializer and parser.

HashKV hashes the stored encoding, so it must be byte-identical to what etcd (Go protobuf) writes;
Python protobuf serializes proto3 scalars the same way (field order, zero values omitted, negative
int64 as 10-byte varints), so ``kv_pb2.KeyValue.SerializeToString()`` is the reference.
"""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from etcdlite.mvcc.kv import KeyValue, _decode_canonical, decode_key_value, encode_key_value
from etcdlite.proto import kv_pb2

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

int64s = st.one_of(
    st.sampled_from([0, 0, 1, -1, 127, 128, 300, INT64_MAX, INT64_MIN, 1 << 32, -(1 << 31)]),
    st.integers(INT64_MIN, INT64_MAX))
byte_strings = st.one_of(st.just(b""), st.binary(max_size=40),
                         st.binary(min_size=120, max_size=300))

key_values = st.builds(KeyValue, key=byte_strings, create_revision=int64s, mod_revision=int64s,
                       version=int64s, value=byte_strings, lease=int64s)


def protobuf_bytes(kv: KeyValue) -> bytes:
    return kv_pb2.KeyValue(key=kv.key, create_revision=kv.create_revision,
                           mod_revision=kv.mod_revision, version=kv.version, value=kv.value,
                           lease=kv.lease).SerializeToString()


def from_protobuf(message: kv_pb2.KeyValue) -> KeyValue:
    return KeyValue(message.key, message.create_revision, message.mod_revision, message.version,
                    message.value, message.lease)


@settings(max_examples=400)
@given(key_values)
def test_encoding_is_byte_identical_to_protobuf_serialization(kv):
    assert encode_key_value(kv) == protobuf_bytes(kv)


@settings(max_examples=400)
@given(key_values)
def test_decode_inverts_encode(kv):
    assert decode_key_value(encode_key_value(kv)) == kv


def test_all_zero_key_value_encodes_to_nothing_and_tombstone_to_key_only():
    assert encode_key_value(KeyValue(b"", 0, 0, 0, b"", 0)) == b""
    assert decode_key_value(b"") == KeyValue(b"", 0, 0, 0, b"", 0)
    assert encode_key_value(KeyValue(b"k", 0, 0, 0, b"", 0)) == b"\x0a\x01k"


# -- wire records: known fields, unknown fields, wrong wire types, repeats -------------------------

def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


unknown_numbers = st.one_of(st.integers(7, 20), st.integers(1000, (1 << 29) - 1))
any_numbers = st.one_of(st.integers(1, 6), unknown_numbers)


@st.composite
def wire_records(draw, numbers=any_numbers):
    """One field record in any of the wire types protobuf accepts for an unknown field."""
    number = draw(numbers)
    wire_type = draw(st.sampled_from([0, 1, 2, 5]))
    if wire_type == 0:
        return tag(number, 0) + varint(draw(int64s))
    if wire_type == 1:
        return tag(number, 1) + struct.pack("<q", draw(int64s))
    if wire_type == 5:
        return tag(number, 5) + struct.pack("<I", draw(st.integers(0, 2**32 - 1)))
    payload = draw(byte_strings)
    return tag(number, 2) + varint(len(payload)) + payload


@settings(max_examples=400)
@given(key_values, st.lists(wire_records(unknown_numbers), max_size=6), st.integers(0, 6))
def test_decode_skips_unknown_fields_like_protobuf(kv, unknown, position):
    """Unknown fields anywhere (also before the known ones) are skipped; the known fields stay."""
    data = b"".join(unknown[:position]) + protobuf_bytes(kv) + b"".join(unknown[position:])
    assert decode_key_value(data) == kv
    assert decode_key_value(data) == from_protobuf(kv_pb2.KeyValue.FromString(data))


@settings(max_examples=400)
@given(st.lists(wire_records(), max_size=12))
def test_decode_agrees_with_protobuf_parser_on_arbitrary_records(records):
    """Repeated known fields (last one wins), known numbers with the wrong wire type (kept as
    unknown), unknown numbers: whatever protobuf makes of the bytes, decode makes the same."""
    data = b"".join(records)
    assert decode_key_value(data) == from_protobuf(kv_pb2.KeyValue.FromString(data))


non_negative_key_values = st.builds(
    KeyValue, key=byte_strings, create_revision=st.integers(0, INT64_MAX),
    mod_revision=st.integers(0, INT64_MAX), version=st.integers(0, INT64_MAX), value=byte_strings,
    lease=st.integers(0, INT64_MAX))


@settings(max_examples=400)
@given(non_negative_key_values)
def test_what_the_store_writes_is_read_by_the_canonical_path(kv):
    """A restart reads every record; the straight-through reader must take all of them."""
    assert _decode_canonical(encode_key_value(kv)) == tuple(kv)


@settings(max_examples=400)
@given(st.lists(wire_records(), min_size=1, max_size=8))
def test_the_canonical_path_declines_or_agrees_with_protobuf(records):
    data = b"".join(records)
    fields = _decode_canonical(data)
    assert fields is None or fields == tuple(from_protobuf(kv_pb2.KeyValue.FromString(data)))
