"""The gRPC adapter: etcd's services served by transport-neutral handlers, with grpc-go's answers
where grpcio has its own.

Each handler is a method ``(request message, caller) -> response message`` (an async generator for
server streams; a request stream arrives as an async iterator). Here, once for every method, the
call's credentials become a :class:`~etcdlite.auth.caller.Caller` (metadata ``token`` or
``authorization``; the CN of the verified TLS client certificate, read only if asked for), an
undecodable request becomes grpc-go's Internal status, and whatever the handler raises becomes the
status etcd gives (:mod:`etcdlite.api.status`).

grpcio answers a request it cannot deserialize with Unknown and a Python exception text; grpc-go (so
etcd) answers Internal "grpc: error unmarshalling request: …". Requests are therefore decoded here,
and an unparsable one reaches the handler wrappers in :mod:`etcdlite.api.status` as a
:class:`Malformed` value, which end the call the way etcd does.

grpcio answers a call of a method it has no handler for with "Method not found!", and one whose
servicer lacks the method with a logged traceback and "Method not implemented!". grpc-go says
"unknown service X" or "unknown method Y for service X", and a generated server that does not
implement a method says "method Y not implemented". :func:`add_service` registers etcd's methods
that etcdlite does not serve with that last answer, and :func:`unknown_methods_handler`, registered
after every service, gives the first two.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import DecodeError
from google.protobuf.message_factory import GetMessageClass

from ..auth.caller import Caller
from .malformed import Malformed
from .status import (MALFORMED_METHOD_NAME, METHOD_NOT_IMPLEMENTED, UNKNOWN_METHOD, UNKNOWN_SERVICE,
                     UNMARSHAL_PREFIX, abort_with, checked_requests)

_FACTORIES = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def _decoder(message_class: Any, counts: Any = None):
    """``counts``: where the received bytes are counted (a services.CallCounts), or None."""
    parse = message_class.FromString

    def decode(data: bytes) -> Any:
        if counts is not None:
            counts.received_bytes += len(data)
        try:
            return parse(data)
        except DecodeError as exc:
            return _parse_deep(parse, data, exc)

    return decode


def _parse_deep(parse: Callable, data: bytes, exc: DecodeError) -> Any:
    """Another try for a message nested deeper than upb's default limit (100: a txn nested 50
    levels), which grpc-go decodes (older protobufs do not say that depth was the problem). upb's
    only switch is process-wide, so it is turned on for this one parse (the GIL holds other
    threads off meanwhile); a message that still does not parse is malformed."""
    allow = _allow_oversize()
    if allow is None:
        return Malformed(str(exc))
    allow(True)
    try:
        return parse(data)
    except DecodeError:
        return Malformed(str(exc))
    finally:
        allow(False)


def _allow_oversize() -> Callable[[bool], None] | None:
    try:
        from google._upb import _message
    except ImportError:  # another protobuf implementation: its own limits stand
        return None
    return getattr(_message, "SetAllowOversizeProtos", None)


def _encoder(message_class: Any, counts: Any = None):
    serialize = message_class.SerializeToString
    if counts is None:
        return serialize

    def encode(message: Any) -> bytes:
        data = serialize(message)
        counts.sent_bytes += len(data)
        return data

    return encode


_TOKEN_KEYS = ("token", "authorization")  # etcd's TokenFieldNameGRPC and TokenFieldNameSwagger


def caller_of(context: grpc.aio.ServicerContext) -> Caller:
    """The credentials of a gRPC call."""
    token = None
    gateway = False
    for key, value in context.invocation_metadata() or ():
        if key in _TOKEN_KEYS and token is None:
            token = value
        elif key == "grpcgateway-accept":
            gateway = True  # etcd never takes a gateway's certificate for its client's identity
    return Caller(token, None if gateway else lambda: _common_name(context))


def _common_name(context: grpc.aio.ServicerContext) -> str | None:
    names = context.auth_context().get("x509_common_name")
    return names[0].decode("utf-8", "replace") if names else None


async def _received(request: Any, context: grpc.aio.ServicerContext, request_streaming: bool) -> Any:
    """The request as handlers take it: a stream that raises MalformedRequest on an undecodable
    message, or the message itself; an undecodable single message ends the call as grpc-go does."""
    if request_streaming:
        return checked_requests(request)
    if type(request) is Malformed:
        await context.abort(grpc.StatusCode.INTERNAL, UNMARSHAL_PREFIX + request.reason)
    return request


def _adapt(handler: Callable, name: str, request_streaming: bool, response_streaming: bool) -> Callable:
    """A grpc.aio method handler around a transport-neutral one."""
    where = getattr(handler, "__qualname__", name)

    if response_streaming:
        async def stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
            request = await _received(request, context, request_streaming)
            try:
                async for response in handler(request, caller_of(context)):
                    yield response
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await abort_with(exc, context, where)

        stream.__name__ = name
        return stream

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        request = await _received(request, context, request_streaming)
        try:
            return await handler(request, caller_of(context))
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort_with(exc, context, where)

    unary.__name__ = name
    return unary


def _not_implemented(name: str, request_streaming: bool, counts: Any = None) -> Callable:
    """A handler answering as a grpc-go server does for a method it registers but does not implement:
    the request is decoded first (a malformed one gets the unmarshal error), then UNIMPLEMENTED.
    ``counts`` (a services.MethodCounts, or None) counts the call as go-grpc-prometheus does: once
    the request is decoded (a stream's messages are never read)."""
    details = METHOD_NOT_IMPLEMENTED.format(method=name)

    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> None:
        await _received(request, context, request_streaming)
        if counts is not None:
            counts.started += 1
            if not request_streaming:
                counts.received += 1
            counts.handled["Unimplemented"] += 1
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, details)

    refuse.__name__ = name
    return refuse


def add_service(server: grpc.aio.Server, handlers_object: Any, service: ServiceDescriptor) -> None:
    """Serve every method of ``service`` with the same-named transport-neutral handler of
    ``handlers_object``; methods it does not have (all of them for ``None``) answer UNIMPLEMENTED
    "method Y not implemented"."""
    handlers = {}
    # the counts of a services.CountedHandlers: bytes here, calls of unimplemented methods here
    counts = getattr(handlers_object, "call_counts", None)
    for method in service.methods:
        factory = _FACTORIES[(method.client_streaming, method.server_streaming)]
        handler = getattr(handlers_object, method.name, None) if handlers_object is not None else None
        if handler is not None:
            behaviour = _adapt(handler, method.name, method.client_streaming, method.server_streaming)
        else:
            behaviour = _not_implemented(method.name, method.client_streaming,
                                         counts.of(service, method) if counts is not None else None)
        handlers[method.name] = factory(
            behaviour,
            request_deserializer=_decoder(GetMessageClass(method.input_type), counts),
            response_serializer=_encoder(GetMessageClass(method.output_type), counts))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
    server.add_registered_method_handlers(service.full_name, handlers)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
               "\t": "\\t", "\v": "\\v", '"': '\\"', "\\": "\\\\"}


def _go_quote(text: str) -> str:
    """Go's ``%q`` of a string (strconv.Quote)."""
    out = []
    for char in text:
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def unknown_method_status(path: str, services: Iterable[str]) -> tuple[grpc.StatusCode, str]:
    """What grpc-go answers for a call of ``path`` that no registered method matches."""
    name = path[1:] if path.startswith("/") else path
    slash = name.rfind("/")
    if slash < 0:
        return grpc.StatusCode.RESOURCE_EXHAUSTED, MALFORMED_METHOD_NAME.format(quoted=_go_quote(path))
    service, method = name[:slash], name[slash + 1:]
    if service in services:
        return grpc.StatusCode.UNIMPLEMENTED, UNKNOWN_METHOD.format(method=method, service=service)
    return grpc.StatusCode.UNIMPLEMENTED, UNKNOWN_SERVICE.format(service=service)


class _UnknownMethods(grpc.GenericRpcHandler):
    def __init__(self, services: frozenset[str]) -> None:
        self._services = services

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        code, details = unknown_method_status(handler_call_details.method, self._services)

        async def refuse(requests: Any, context: grpc.aio.ServicerContext) -> None:
            await context.abort(code, details)

        # stream-stream takes any call shape without reading a message, as grpc-go does
        return grpc.stream_stream_rpc_method_handler(refuse)


def unknown_methods_handler(services: Iterable[str]) -> grpc.GenericRpcHandler:
    """A catch-all handler for every call no service took; register it after all services.
    ``services`` are the full names of the served services."""
    return _UnknownMethods(frozenset(services))
