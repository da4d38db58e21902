"""A gateway request body → the request message, accepting exactly what etcd 3.5.1's gateway
accepts (golang/protobuf 1.4+ ``jsonpb``, unknown fields allowed) and refusing the rest with its
error text.

What jsonpb takes that protobuf's own JSON parser does not, or the other way round: an integer as a
number or as any string whose inside is a JSON integer ("  5", "null"); never 1.0 or 1e2; bytes in
standard padded base64 only (newlines skipped), or as an array of byte values; an enum by its name
or any int32; ``null`` anywhere as "not given"; ``Key`` is not ``key``; of two members of a oneof,
the later field wins. Each value is checked and normalised here; ``json_format.ParseDict`` then
builds the message.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from ..proto._pool import POOL
from . import messages
from .gojson import TOO_DEEP, GoJSONError, Value, go_quote, unmarshal

_F = FieldDescriptor
_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
#: integer kinds: (Go type name, smallest, largest)
_INTEGERS = {
    _F.TYPE_INT64: ("int64", -(1 << 63), (1 << 63) - 1),
    _F.TYPE_SINT64: ("int64", -(1 << 63), (1 << 63) - 1),
    _F.TYPE_SFIXED64: ("int64", -(1 << 63), (1 << 63) - 1),
    _F.TYPE_UINT64: ("uint64", 0, (1 << 64) - 1),
    _F.TYPE_FIXED64: ("uint64", 0, (1 << 64) - 1),
    _F.TYPE_INT32: ("int32", -(1 << 31), (1 << 31) - 1),
    _F.TYPE_SINT32: ("int32", -(1 << 31), (1 << 31) - 1),
    _F.TYPE_SFIXED32: ("int32", -(1 << 31), (1 << 31) - 1),
    _F.TYPE_UINT32: ("uint32", 0, (1 << 32) - 1),
    _F.TYPE_FIXED32: ("uint32", 0, (1 << 32) - 1),
}
_ENUM_GO_TYPE = "protoreflect.EnumNumber"
_MESSAGE_GO_TYPE = "map[string]json.RawMessage"
_LIST_GO_TYPE = "[]json.RawMessage"
#: deep enough for any JSON Go accepts (it stops at 10000 nested values)
_MAX_RECURSION = 10001


def _cannot(what: str, go_type: str) -> GoJSONError:
    return GoJSONError(messages.JSON_CANNOT_UNMARSHAL.format(what=what, go_type=go_type))


def parse_request(value: Value | None, message_class: Any) -> Any:
    """The request message ``value`` (the body's first JSON value; None for an empty body)
    stands for. Raises GoJSONError with etcd's text."""
    message = message_class()
    if value is None or value.kind == "null":
        return message
    try:
        fields = _message(value, message.DESCRIPTOR)
    except RecursionError:
        raise GoJSONError(TOO_DEEP) from None
    json_format.ParseDict(fields, message, descriptor_pool=POOL, max_recursion_depth=_MAX_RECURSION)
    return message


def _message(value: Value, descriptor: Descriptor) -> dict[str, Any]:
    if value.kind != "object":
        raise _cannot(value.kind, _MESSAGE_GO_TYPE)
    given: dict[str, Any] = value.data  # type: ignore[assignment]
    out: dict[str, Any] = {}
    for field in descriptor.fields:
        raw = given.get(field.name)
        if field.json_name in given:
            raw = given[field.json_name]
        if raw is None or raw.kind == "null":
            continue
        out[field.name] = _field(raw, field)
        oneof = field.containing_oneof
        if oneof is not None:
            for other in oneof.fields:
                if other is not field:
                    out.pop(other.name, None)
    return out


def _repeated(field: FieldDescriptor) -> bool:
    """protobuf 6+ says ``is_repeated`` (7 dropped ``label``); 4.25 and 5 have only ``label``."""
    if hasattr(field, "is_repeated"):
        return field.is_repeated
    return field.label == FieldDescriptor.LABEL_REPEATED


def _field(value: Value, field: FieldDescriptor) -> Any:
    if _repeated(field):
        if value.kind != "array":
            raise _cannot(value.kind, _LIST_GO_TYPE)
        return [_singular(item, field) for item in value.data]  # type: ignore[union-attr]
    return _singular(value, field)


def _singular(value: Value, field: FieldDescriptor) -> Any:
    kind = field.type
    if kind in _INTEGERS:
        return _integer(unmarshal(_trim_quote(value.raw)), *_INTEGERS[kind])
    if kind == _F.TYPE_BOOL:
        return _plain(value, "bool", "bool", False)
    if kind == _F.TYPE_STRING:
        return _plain(value, "string", "string", "")
    if kind == _F.TYPE_BYTES:
        return base64.b64encode(_bytes(value)).decode("ascii")
    if kind == _F.TYPE_ENUM:
        return _enum(value, field)
    if kind in (_F.TYPE_MESSAGE, _F.TYPE_GROUP):
        return {} if value.kind == "null" else _message(value, field.message_type)
    raise GoJSONError(f"etcdlite's gateway does not read fields of type {kind}")


def _trim_quote(raw: bytes) -> bytes:
    """jsonpb strips one pair of quotes around an integer, without unescaping."""
    if len(raw) >= 2 and raw[:1] == b'"' and raw[-1:] == b'"':
        return raw[1:-1]
    return raw


def _integer(value: Value, go_type: str, low: int, high: int) -> int:
    if value.kind == "null":
        return 0
    if value.kind != "number":
        raise _cannot(value.kind, go_type)
    text = value.data
    if not _INTEGER.fullmatch(text) or not low <= int(text) <= high or (low == 0 and text[0] == "-"):
        raise _cannot(f"number {text}", go_type)
    return int(text)


def _plain(value: Value, kind: str, go_type: str, zero: Any) -> Any:
    if value.kind == "null":
        return zero
    if value.kind != kind:
        raise _cannot(value.kind, go_type)
    return value.data


def _bytes(value: Value) -> bytes:
    if value.kind == "null":
        return b""
    if value.kind == "string":
        return go_base64(value.data.encode("utf-8"))  # type: ignore[union-attr]
    if value.kind == "array":
        return bytes(_integer(item, "uint8", 0, 255) if item.kind != "string"
                     else _raise(_cannot("string", "uint8"))
                     for item in value.data)  # type: ignore[union-attr]
    raise _cannot(value.kind, "[]uint8")


def _raise(error: Exception) -> Any:
    raise error


def _enum(value: Value, field: FieldDescriptor) -> int:
    raw = value.raw
    if len(raw) >= 2 and raw[:1] == b'"' and raw[-1:] == b'"':
        name = raw[1:-1]
        known = field.enum_type.values_by_name.get(name.decode("utf-8", "replace"))
        if known is None or known.name.encode("utf-8") != name:
            raise GoJSONError(messages.UNKNOWN_ENUM_VALUE.format(
                quoted=go_quote(raw), enum=field.enum_type.full_name))
        return known.number
    return _integer(value, _ENUM_GO_TYPE, -(1 << 31), (1 << 31) - 1)


_ALPHABET = {c: i for i, c in enumerate(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_NEWLINES = b"\r\n"


def _corrupt(offset: int) -> GoJSONError:
    return GoJSONError(messages.ILLEGAL_BASE64.format(offset=offset))


def go_base64(src: bytes) -> bytes:
    """Go's ``base64.StdEncoding.DecodeString``: padding required, CR and LF skipped, trailing
    bits ignored; an error names the offending offset as Go does."""
    if len(src) % 4 == 0 and b"\r" not in src and b"\n" not in src:
        try:  # well-formed input, decoded in C; anything else gets Go's exact error below
            return binascii.a2b_base64(src, strict_mode=True)
        except binascii.Error:
            pass
    out = bytearray()
    si, n = 0, len(src)
    while True:
        quantum: list[int] = []
        while len(quantum) < 4:
            if si == n:
                if not quantum:
                    return bytes(out)
                raise _corrupt(si - len(quantum))
            char = src[si]
            si += 1
            if char in _ALPHABET:
                quantum.append(_ALPHABET[char])
                continue
            if char in _NEWLINES:
                continue
            if char != ord("=") or len(quantum) < 2:
                raise _corrupt(si - 1)
            if len(quantum) == 2:  # a second "=" must follow
                while si < n and src[si] in _NEWLINES:
                    si += 1
                if si == n:
                    raise _corrupt(n)
                if src[si] != ord("="):
                    raise _corrupt(si - 1)
                si += 1
            while si < n and src[si] in _NEWLINES:
                si += 1
            if si < n:
                raise _corrupt(si)
            break
        bits = 0
        for index in range(4):
            bits = (bits << 6) | (quantum[index] if index < len(quantum) else 0)
        out += bits.to_bytes(3, "big")[:len(quantum) - 1]
        if len(quantum) < 4:
            return bytes(out)
