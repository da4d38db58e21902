"""The HTTP answers of etcd 3.5.1's gateway that are not a response message: routing refusals,
error bodies (and the HTTP status per gRPC code), the error line of a stream. (etcd's CORS headers,
on every answer of a client URL, are the HTTP server's.)"""

from __future__ import annotations

import html

from ..api.malformed import MalformedRequest
from ..api.status import SERVER_STOPPED, STREAM_UNMARSHAL_PREFIX
from ..errors import EtcdError
from ..http.message import HttpResponse
from ..storage.group_commit import DurabilityError
from . import messages
from .gojson import dumps

#: gRPC code name → number
GRPC_CODES = {
    "OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9, "ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12,
    "INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}
#: grpc-gateway 1.16's HTTPStatusFromCode (etcd 3.5.1; 3.4.23's 1.9 differs in 9 → 412)
_HTTP_STATUS = {0: 200, 1: 408, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400,
                10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401}
#: net/http's StatusText for those
_STATUS_TEXT = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
                404: "Not Found", 408: "Request Timeout", 409: "Conflict",
                429: "Too Many Requests", 500: "Internal Server Error", 501: "Not Implemented",
                503: "Service Unavailable", 504: "Gateway Timeout"}

JSON = ("content-type", "application/json")
#: the gRPC server's response headers, as the gateway forwards them once it has received them
GRPC_METADATA = ("grpc-metadata-content-type", "application/grpc")


def http_status(code: int) -> int:
    return _HTTP_STATUS.get(code, 500)


def status_of(exc: BaseException) -> tuple[int, str]:
    """(gRPC code, message) the gRPC server would have ended the call with for ``exc``."""
    if isinstance(exc, EtcdError):
        return GRPC_CODES.get(exc.code, 2), exc.message
    if isinstance(exc, DurabilityError):
        return GRPC_CODES["UNAVAILABLE"], SERVER_STOPPED
    if isinstance(exc, MalformedRequest):
        return GRPC_CODES["INTERNAL"], STREAM_UNMARSHAL_PREFIX + str(exc)
    return GRPC_CODES["UNKNOWN"], str(exc) or type(exc).__name__


def _omit_empty(fields: dict) -> dict:
    return {key: value for key, value in fields.items() if value not in ("", 0)}


def error_body(code: int, message: str) -> bytes:
    """grpc-gateway's error body, fields in its order (3.4.23's has ``message`` before ``code``)."""
    return dumps(_omit_empty({"error": message, "code": code, "message": message})).encode("utf-8")


def error_response(code: int, message: str) -> HttpResponse:
    return HttpResponse(http_status(code), [JSON], error_body(code, message))


def stream_error_line(code: int, message: str) -> bytes:
    """The error that ends a stream (no newline after it)."""
    status = http_status(code)
    return dumps({"error": _omit_empty({"grpc_code": code, "http_code": status, "message": message,
                                        "http_status": _STATUS_TEXT.get(status, "")})}
                 ).encode("utf-8")


def _plain(status: int, text: str) -> HttpResponse:
    return HttpResponse(status, [("content-type", "text/plain; charset=utf-8"),
                                                ("x-content-type-options", "nosniff")],
                        (text + "\n").encode("utf-8"))


def not_found() -> HttpResponse:
    return _plain(404, messages.NOT_FOUND)


def method_not_allowed() -> HttpResponse:
    return _plain(405, messages.METHOD_NOT_ALLOWED)


def options() -> HttpResponse:
    return HttpResponse(200, [], b"")


def redirect(location: str, method: str) -> HttpResponse:
    """net/http's ServeMux sending "/v3" to the subtree "/v3/" (http.Redirect: a small HTML body
    for GET only)."""
    headers = [("location", location)]
    if method not in ("GET", "HEAD"):
        return HttpResponse(301, headers, b"")
    headers.append(("content-type", "text/html; charset=utf-8"))
    body = f'<a href="{html.escape(location)}">Moved Permanently</a>.\n\n' if method == "GET" else ""
    return HttpResponse(301, headers, body.encode("utf-8"))
