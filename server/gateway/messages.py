"""The texts etcd's JSON gateway (grpc-gateway over Go's net/http and encoding/json) answers with,
where they are not an etcd error's own message."""

from __future__ import annotations

# net/http's status texts, as grpc-gateway's routing answers carry them (text/plain, then "\n")
NOT_FOUND = "Not Found"
METHOD_NOT_ALLOWED = "Method Not Allowed"

# encoding/json: the end of the input inside a value, for json.Unmarshal and json.Decoder
JSON_UNEXPECTED_END = "unexpected end of JSON input"
JSON_UNEXPECTED_EOF = "unexpected EOF"
# json.Unmarshal's UnmarshalTypeError ("number 1.5", "string", …; a Go type name)
JSON_CANNOT_UNMARSHAL = "json: cannot unmarshal {what} into Go value of type {go_type}"
# encoding/base64's CorruptInputError
ILLEGAL_BASE64 = "illegal base64 data at input byte {offset}"
# golang/protobuf 1.4+ jsonpb (etcd 3.5.1): an enum name it does not know, %q of the raw JSON
UNKNOWN_ENUM_VALUE = "unknown value {quoted} for enum {enum}"

# grpc-go's answer to a request over the server's receive limit (the gateway's loopback call)
MESSAGE_TOO_LARGE = "grpc: received message larger than max ({size} vs. {limit})"
