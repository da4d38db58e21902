"""The key-value record of the store and its protobuf wire encoding.

The record is etcd's ``mvccpb.KeyValue``. It is stored (and hashed by HashKV) in its proto3 encoding;
the few lines of encoder/decoder below keep the core free of generated protobuf code and are checked
against protobuf's own serializer in the tests.
"""

from __future__ import annotations

from typing import NamedTuple


class KeyValue(NamedTuple):
    key: bytes
    create_revision: int
    mod_revision: int
    version: int
    value: bytes
    lease: int = 0


_MASK64 = (1 << 64) - 1


def encode_varint(value: int) -> bytes:
    """A proto3 varint (negative numbers as their 64-bit two's complement, as protobuf does)."""
    if 0 <= value < 0x80:
        return _ONE_BYTE[value]
    value &= _MASK64
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_ONE_BYTE = [bytes((i,)) for i in range(0x80)]


def encode_key_value(kv: KeyValue) -> bytes:
    """Encode ``kv`` exactly as protobuf serializes ``mvccpb.KeyValue`` (zero fields omitted).
    Every write encodes its changes for the log, so this is written out for speed."""
    key, create, mod, version, value, lease = kv
    varint = encode_varint
    parts = []
    if key:
        parts += (b"\x0a", varint(len(key)), key)
    if create:
        parts += (b"\x10", varint(create))
    if mod:
        parts += (b"\x18", varint(mod))
    if version:
        parts += (b"\x20", varint(version))
    if value:
        parts += (b"\x2a", varint(len(value)), value)
    if lease:
        parts += (b"\x30", varint(lease))
    return b"".join(parts)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it; ValueError if it is cut off."""
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ValueError("varint too long")


def signed64(value: int) -> int:
    value &= _MASK64
    return value - (1 << 64) if value >> 63 else value


def decode_key_value(data: bytes) -> KeyValue:
    """Decode a proto3 ``mvccpb.KeyValue``; unknown fields are skipped as protobuf does."""
    return _new_tuple(KeyValue, decode_key_value_fields(data))


_new_tuple = tuple.__new__


def decode_key_value_fields(data: bytes) -> tuple[bytes, int, int, int, bytes, int]:
    """:func:`decode_key_value` as a plain tuple of KeyValue's fields. A restart decodes every
    stored revision, so the encoding :func:`encode_key_value` writes (known fields once each, in
    order, none negative) is read straight through; anything else takes the general loop."""
    if type(data) is not bytes:
        data = bytes(data)
    fields = _decode_canonical(data)
    return fields if fields is not None else _decode_any(data)


def _decode_canonical(data: bytes) -> tuple[bytes, int, int, int, bytes, int] | None:
    """The fields of ``data`` if it is in canonical order and in range, else None. Revisions
    take several bytes and are read in line; rarer long varints go through read_varint."""
    end = len(data)
    if not end:
        return b"", 0, 0, 0, b"", 0
    key = value = b""
    create = mod = version = lease = 0
    pos = 0
    try:
        tag = data[0]
        if tag == 0x0A:
            length = data[1]
            if length & 0x80:
                length, pos = read_varint(data, 1)
            else:
                pos = 2
            key = data[pos:pos + length]
            pos += length
            if pos >= end:
                return (key, 0, 0, 0, b"", 0) if pos == end else None
            tag = data[pos]
        if tag == 0x10:
            create = data[pos + 1]
            pos += 2
            if create & 0x80:
                create &= 0x7F
                shift = 7
                while shift < 63:
                    byte = data[pos]
                    pos += 1
                    create |= (byte & 0x7F) << shift
                    if byte < 0x80:
                        break
                    shift += 7
                else:
                    return None
            tag = data[pos] if pos < end else 0
        if tag == 0x18:
            mod = data[pos + 1]
            pos += 2
            if mod & 0x80:
                mod &= 0x7F
                shift = 7
                while shift < 63:
                    byte = data[pos]
                    pos += 1
                    mod |= (byte & 0x7F) << shift
                    if byte < 0x80:
                        break
                    shift += 7
                else:
                    return None
            tag = data[pos] if pos < end else 0
        if tag == 0x20:
            version = data[pos + 1]
            if version & 0x80:
                version, pos = read_varint(data, pos + 1)
            else:
                pos += 2
            tag = data[pos] if pos < end else 0
        if tag == 0x2A:
            length = data[pos + 1]
            if length & 0x80:
                length, pos = read_varint(data, pos + 1)
            else:
                pos += 2
            value = data[pos:pos + length]
            pos += length
            tag = data[pos] if pos < end else 0
        if tag == 0x30:
            lease, pos = read_varint(data, pos + 1)
    except (IndexError, ValueError):
        return None
    if pos != end or (version | lease) >> 63:
        return None
    return key, create, mod, version, value, lease


def _decode_any(data: bytes) -> tuple[bytes, int, int, int, bytes, int]:
    """Any proto3 encoding: fields in any order, repeated (the last wins), unknown (skipped)."""
    key = value = b""
    create = mod = version = lease = 0
    pos = 0
    end = len(data)
    try:
        while pos < end:
            tag = data[pos]
            pos += 1
            if tag & 0x80:
                tag, pos = read_varint(data, pos - 1)
            wire_type = tag & 7
            if wire_type == 0:
                number = data[pos]
                pos += 1
                if number & 0x80:
                    number &= 0x7F
                    shift = 7
                    while True:
                        byte = data[pos]
                        pos += 1
                        number |= (byte & 0x7F) << shift
                        if byte < 0x80:
                            break
                        shift += 7
                        if shift >= 70:
                            raise ValueError("varint too long")
                field = tag >> 3
                if field == 3:
                    mod = number
                elif field == 2:
                    create = number
                elif field == 4:
                    version = number
                elif field == 6:
                    lease = number
            elif wire_type == 2:
                length = data[pos]
                pos += 1
                if length & 0x80:
                    length, pos = read_varint(data, pos - 1)
                field = tag >> 3
                if field == 5:
                    value = data[pos:pos + length]
                elif field == 1:
                    key = data[pos:pos + length]
                pos += length
            elif wire_type == 1:
                pos += 8
            elif wire_type == 5:
                pos += 4
            else:
                raise ValueError(f"unsupported wire type {wire_type}")
    except IndexError:
        raise ValueError("truncated varint") from None
    if pos != end:
        raise ValueError("truncated KeyValue")
    return (key, signed64(create) if create >> 63 else create, signed64(mod) if mod >> 63 else mod,
            signed64(version) if version >> 63 else version, value, signed64(lease) if lease >> 63 else lease)
