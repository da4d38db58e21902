"""The gRPC adapter's one error table: what a handler raised → the status etcd gives."""

from __future__ import annotations

import logging
from typing import Any

import grpc

from ..errors import EtcdError
from ..storage.group_commit import DurabilityError
from .malformed import Malformed, MalformedRequest

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


async def checked_requests(requests: Any) -> Any:
    """A request stream as handlers see it: a malformed message raises :class:`MalformedRequest`;
    a client that went away (cancelled, disconnected) ends the stream."""
    try:
        async for request in requests:
            if type(request) is Malformed:
                raise MalformedRequest(request.reason)
            yield request
    except grpc.RpcError:
        return


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
