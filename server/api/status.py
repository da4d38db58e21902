"""Turning core errors into gRPC statuses, and response headers."""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable

import grpc

from ..errors import EtcdError
from ..storage.group_commit import DurabilityError

log = logging.getLogger("etcdlite.api")

SERVER_STOPPED = "etcdserver: server stopped"
# grpc-go's texts; what follows them is the decoder's own message, which differs between the two.
UNMARSHAL_PREFIX = "grpc: error unmarshalling request: "
STREAM_UNMARSHAL_PREFIX = "grpc: failed to unmarshal the received message "
# grpc-go's answers for calls it has no handler for (all UNIMPLEMENTED but the malformed path, which
# etcd 3.4.23 and 3.5.1 answer with RESOURCE_EXHAUSTED), and protoc-gen-go-grpc's answer of a
# registered method whose server does not implement it.
UNKNOWN_SERVICE = "unknown service {service}"
UNKNOWN_METHOD = "unknown method {method} for service {service}"
MALFORMED_METHOD_NAME = "malformed method name: {quoted}"
METHOD_NOT_IMPLEMENTED = "method {method} not implemented"


class Malformed:
    """A request message that could not be decoded (see :mod:`etcdlite.api.registration`)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class MalformedRequest(Exception):
    """Raised where a malformed message turns up in a request stream."""


async def _checked(requests: Any) -> Any:
    async for request in requests:
        if type(request) is Malformed:
            raise MalformedRequest(request.reason)
        yield request


def _status_code(name: str) -> grpc.StatusCode:
    return getattr(grpc.StatusCode, name)


async def abort_with(exc: Exception, context: grpc.aio.ServicerContext, where: str) -> None:
    """End the call with the status etcd would give for ``exc``."""
    if isinstance(exc, MalformedRequest):
        await context.abort(grpc.StatusCode.INTERNAL, STREAM_UNMARSHAL_PREFIX + str(exc))
    if isinstance(exc, EtcdError):
        await context.abort(_status_code(exc.code), exc.message)
    if isinstance(exc, DurabilityError):
        await context.abort(grpc.StatusCode.UNAVAILABLE, SERVER_STOPPED)
    log.error("internal error in %s", where, exc_info=exc)  # a bug must not take the server down
    await context.abort(grpc.StatusCode.UNKNOWN, str(exc) or type(exc).__name__)


def unary(method: Callable) -> Callable:
    """Wrap an async unary handler: EtcdError → its status; anything else → Unknown, logged."""

    @functools.wraps(method)
    async def handler(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        if type(request) is Malformed:
            await context.abort(grpc.StatusCode.INTERNAL, UNMARSHAL_PREFIX + request.reason)
        try:
            return await method(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort_with(exc, context, method.__qualname__)

    return handler


def guard_stream(method: Callable) -> Callable:
    """The same for handlers that are async generators (streaming responses)."""

    @functools.wraps(method)
    async def handler(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        if type(request) is Malformed:
            await context.abort(grpc.StatusCode.INTERNAL, UNMARSHAL_PREFIX + request.reason)
        if hasattr(request, "__aiter__"):  # a request stream
            request = _checked(request)
        try:
            async for response in method(self, request, context):
                yield response
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort_with(exc, context, method.__qualname__)

    return handler
