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


def _status_code(name: str) -> grpc.StatusCode:
    return getattr(grpc.StatusCode, name)


def unary(method: Callable) -> Callable:
    """Wrap an async unary handler: EtcdError → its status; anything else → Unknown, logged."""

    @functools.wraps(method)
    async def handler(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except EtcdError as exc:
            await context.abort(_status_code(exc.code), exc.message)
        except DurabilityError:
            await context.abort(grpc.StatusCode.UNAVAILABLE, SERVER_STOPPED)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:  # a bug must not take the server down
            log.exception("internal error in %s", method.__qualname__)
            await context.abort(grpc.StatusCode.UNKNOWN, str(exc) or type(exc).__name__)

    return handler
