"""Messages → the JSON etcd's gateway writes (golang/protobuf jsonpb with ``OrigName``): proto
field names, zero values left out, 64-bit integers as strings, bytes in standard base64, enums
by name, then Go's JSON text (``<``, ``>``, ``&`` escaped)."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from ..proto._pool import POOL
from .gojson import dumps


def message_dict(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     descriptor_pool=POOL)


def encode_message(message: Any) -> bytes:
    return dumps(message_dict(message)).encode("utf-8")


def encode_chunk(message: Any) -> bytes:
    """One message of a stream: ``{"result": …}`` and the newline grpc-gateway writes after it."""
    return dumps({"result": message_dict(message)}).encode("utf-8") + b"\n"
