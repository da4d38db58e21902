"""The gRPC server: options as etcd sets them, servicers registered, listening sockets bound."""

from __future__ import annotations

import grpc

from .api.admin_service import AdminService
from .api.auth_service import AuthService
from .api.cluster_service import ClusterService
from .api.election_service import ElectionService
from .api.kv_service import KVService
from .api.lease_service import LeaseService
from .api.lock_service import LockService
from .api.watch_service import WatchService
from .api.maintenance_service import MaintenanceService
from .faults import CallControl
from .node import Node
from .api.registration import add_service, unknown_methods_handler
from .proto import etcdlite_admin_pb2, rpc_pb2, v3election_pb2, v3lock_pb2

_MiB = 1024 * 1024


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
    ]


def build_server(node: Node, calls: CallControl | None = None) -> grpc.aio.Server:
    """The gRPC server for ``node``. ``calls`` is the interceptor that injects faults and ends
    long-lived calls on reset (see :mod:`etcdlite.faults`); the runtime always passes one."""
    server = grpc.aio.server(options=grpc_options(node.config.max_request_bytes),
                             interceptors=[calls] if calls is not None else None)
    services = rpc_pb2.DESCRIPTOR.services_by_name
    served = [
        (KVService(node), services["KV"]),
        (MaintenanceService(node), services["Maintenance"]),
        (ClusterService(node), services["Cluster"]),
        (LeaseService(node), services["Lease"]),
        (WatchService(node), services["Watch"]),
        (AuthService(node), services["Auth"]),
        (LockService(node), v3lock_pb2.DESCRIPTOR.services_by_name["Lock"]),
        (ElectionService(node), v3election_pb2.DESCRIPTOR.services_by_name["Election"]),
    ]
    for servicer, service in served:
        add_service(server, servicer, service)
    admin = etcdlite_admin_pb2.DESCRIPTOR.services_by_name["Admin"]
    add_service(server, AdminService(node, node.config.time_control), admin)
    server.add_generic_rpc_handlers((unknown_methods_handler(
        [service.full_name for _, service in served] + [admin.full_name]),))
    return server
