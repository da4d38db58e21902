"""The gRPC server: options as etcd sets them, servicers registered, listening sockets bound."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health as grpc_health
from grpc_health.v1 import health_pb2, health_pb2_grpc

from .api.registration import add_service, unknown_methods_handler
from .api.services import Served, admin_service, etcd_services
from .faults import CallControl
from .node import Node

_MiB = 1024 * 1024
HEALTH_SERVICE = "grpc.health.v1.Health"
UNKNOWN_HEALTH_SERVICE = "unknown service"  # grpc-go's health server


class HealthService(grpc_health.aio.HealthServicer):
    """The standard gRPC health service as etcd registers it: SERVING for "" (the server), and
    grpc-go's NotFound "unknown service" for any other name."""

    async def Check(self, request: health_pb2.HealthCheckRequest,
                    context: grpc.aio.ServicerContext) -> health_pb2.HealthCheckResponse:
        if request.service not in self._server_status:
            await context.abort(grpc.StatusCode.NOT_FOUND, UNKNOWN_HEALTH_SERVICE)
        return await super().Check(request, context)


_PENDING_CALLS = 1_000_000


def grpc_options(max_request_bytes: int) -> list[tuple[str, int]]:
    """etcd's transport settings (reference §1.7)."""
    return [
        # etcd accepts max-request-bytes plus 512 KiB of gRPC overhead, and sends anything.
        ("grpc.max_receive_message_length", max_request_bytes + _MiB // 2),
        ("grpc.max_send_message_length", -1),
        # Clients may ping every 5 s, also without active streams (etcdctl, Go clients with keepalive).
        ("grpc.http2.min_ping_interval_without_data_ms", 5000),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", 5000),
        ("grpc.http2.max_ping_strikes", 0),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.keepalive_time_ms", 2 * 3600 * 1000),
        ("grpc.keepalive_timeout_ms", 20000),
        # Two servers must never share a port silently.
        ("grpc.so_reuseport", 0),
        # grpc core cancels calls that arrive faster than grpc.aio takes them (its defaults: 1,000
        # waiting calls, 3,000 at most), so a burst of a few thousand new streams lost hundreds
        # (the client sees CANCELLED or INTERNAL "Internal error from Core"); grpc-go has no such
        # queue (its streams are bounded only by uint32). Measured: 10,000 streams held a minute,
        # none lost (benchmarks/keepalive_streams.py).
        ("grpc.server.max_pending_requests", _PENDING_CALLS),
        ("grpc.server.max_pending_requests_hard_limit", _PENDING_CALLS),
    ]


def build_server(node: Node, calls: CallControl | None = None,
                 services: list[Served] | None = None) -> grpc.aio.Server:
    """The gRPC server for ``node``. ``calls`` is the interceptor that injects faults and ends
    long-lived calls on reset (see :mod:`etcdlite.faults`); the runtime always passes one.
    ``services`` are the handlers to serve (default: a new set of :func:`etcd_services`)."""
    server = grpc.aio.server(options=grpc_options(node.config.max_request_bytes),
                             interceptors=[calls] if calls is not None else None)
    served = (services if services is not None else etcd_services(node)) + [admin_service(node)]
    for handlers, descriptor in served:
        add_service(server, handlers, descriptor)
    health_pb2_grpc.add_HealthServicer_to_server(HealthService(), server)
    server.add_generic_rpc_handlers((unknown_methods_handler(
        [descriptor.full_name for _, descriptor in served] + [HEALTH_SERVICE]),))
    return server
